/**
 * config.json -> ModelConfig, accepting hub (transformers 4.x) keys and transformers 5.x keys
 * (num_local_experts for qwen3_moe, rope_parameters instead of rope_theta / rope_scaling).
 */
import { FormatError } from './errors.ts';

export const SUPPORTED_MODEL_TYPES = ['qwen3_moe', 'qwen2_moe', 'olmoe', 'mixtral', 'granitemoe'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

export interface RopeConfig {
  /** 'default', 'linear', 'dynamic', 'yarn', 'llama3', ... */
  type: string;
  theta: number;
  factor?: number;
  /** Remaining scaling parameters as given (original_max_position_embeddings, beta_fast, ...). */
  [key: string]: unknown;
}

export interface ModelConfig {
  modelType: ModelType;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Dense MLP size (shared/dense layers); for olmoe/mixtral/granitemoe equal to the expert size. */
  intermediateSize: number | null;
  /** Per-expert FFN size. */
  moeIntermediateSize: number;
  numExperts: number;
  topK: number;
  /** Renormalise the top-k weights to sum to 1 (mixtral/granitemoe always do). */
  normTopkProb: boolean;
  /** 0 when there is no shared expert. */
  sharedExpertIntermediateSize: number;
  /** sparseLayers[i]: layer i uses the MoE block (else a dense MLP of intermediateSize). */
  sparseLayers: boolean[];
  rmsNormEps: number;
  rope: RopeConfig;
  partialRotaryFactor: number;
  maxPositionEmbeddings: number | null;
  tieWordEmbeddings: boolean;
  /** Bias on o_proj (and q/k/v unless qkvBias says otherwise). */
  attentionBias: boolean;
  /** Bias on q/k/v projections (qwen2_moe: true). */
  qkvBias: boolean;
  slidingWindow: number | null;
  /** granite multipliers; 1 for other models. */
  embeddingMultiplier: number;
  residualMultiplier: number;
  /** Softmax scale: granite's attention_multiplier, else 1/sqrt(headDim). */
  attentionScale: number;
  /** Logits are divided by this (granite); 1 otherwise. */
  logitsScaling: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** torch_dtype / dtype as written ('bfloat16', ...), or null. */
  dtype: string | null;
  raw: Record<string, unknown>;
}

export const CONFIG_LIMITS = {
  layers: 1_000_000,
  experts: 1_000_000,
  hidden: 65_536,
  heads: 65_536,
  headDim: 65_536,
  vocab: 16_777_216,
  intermediate: 1_048_576,
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export function normalizeConfig(raw: unknown, file = 'config.json'): ModelConfig {
  const fail = (msg: string): never => {
    throw new FormatError('CONFIG', file, msg);
  };
  if (!isObj(raw)) return fail(`expected a JSON object, got ${show(raw)}`);
  const has = (k: string) => raw[k] !== undefined && raw[k] !== null;

  const int = (k: string, max: number, opts: { min?: number; required?: boolean; fallback?: number } = {}): number => {
    const v = raw[k];
    if (v === undefined || v === null) {
      if (opts.fallback !== undefined) return opts.fallback;
      return fail(`missing required key '${k}'`);
    }
    const min = opts.min ?? 1;
    if (typeof v !== 'number' || !Number.isInteger(v)) return fail(`'${k}' must be an integer, got ${show(v)}`);
    if (v < min || v > max) return fail(`'${k}' = ${v} is out of range (expected ${min}..${max})`);
    return v;
  };
  const num = (v: unknown, k: string, fallback: number, positive = true): number => {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) return fail(`'${k}' must be a finite number, got ${show(v)}`);
    if (positive && !(v > 0)) return fail(`'${k}' must be > 0, got ${v}`);
    return v;
  };
  const bool = (k: string, fallback: boolean): boolean => {
    const v = raw[k];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') return fail(`'${k}' must be a boolean, got ${show(v)}`);
    return v;
  };

  const mt = raw.model_type;
  if (mt === undefined) fail(`missing required key 'model_type'`);
  if (typeof mt !== 'string') fail(`'model_type' must be a string, got ${show(mt)}`);
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(mt as string)) {
    fail(`unsupported model_type ${JSON.stringify(mt)}; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const modelType = mt as ModelType;

  const hiddenSize = int('hidden_size', CONFIG_LIMITS.hidden);
  const numLayers = int('num_hidden_layers', CONFIG_LIMITS.layers);
  const numHeads = int('num_attention_heads', CONFIG_LIMITS.heads);
  const numKvHeads = int('num_key_value_heads', CONFIG_LIMITS.heads, { fallback: numHeads });
  if (numHeads % numKvHeads !== 0) fail(`num_attention_heads (${numHeads}) is not divisible by num_key_value_heads (${numKvHeads})`);
  let headDim: number;
  if (has('head_dim')) headDim = int('head_dim', CONFIG_LIMITS.headDim);
  else {
    if (hiddenSize % numHeads !== 0) fail(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and no head_dim is given`);
    headDim = hiddenSize / numHeads;
  }
  const vocabSize = int('vocab_size', CONFIG_LIMITS.vocab);

  // Expert count: any of the three names; they must agree when several are given.
  const expertKeys = ['num_experts', 'num_local_experts', 'n_routed_experts'].filter(has);
  if (expertKeys.length === 0) fail(`missing required key 'num_experts' (or 'num_local_experts' / 'n_routed_experts')`);
  const counts = expertKeys.map((k) => int(k, CONFIG_LIMITS.experts));
  if (counts.some((c) => c !== counts[0])) fail(`expert counts disagree: ${expertKeys.map((k, i) => `${k}=${counts[i]}`).join(', ')}`);
  const numExperts = counts[0];
  const topK = int('num_experts_per_tok', CONFIG_LIMITS.experts);
  if (topK > numExperts) fail(`num_experts_per_tok (${topK}) exceeds the number of experts (${numExperts})`);

  const intermediateSize = has('intermediate_size') ? int('intermediate_size', CONFIG_LIMITS.intermediate) : null;
  let moeIntermediateSize: number;
  if (modelType === 'qwen3_moe' || modelType === 'qwen2_moe') moeIntermediateSize = int('moe_intermediate_size', CONFIG_LIMITS.intermediate);
  else if (has('moe_intermediate_size')) moeIntermediateSize = int('moe_intermediate_size', CONFIG_LIMITS.intermediate);
  else if (intermediateSize !== null) moeIntermediateSize = intermediateSize;
  else moeIntermediateSize = fail(`missing required key 'intermediate_size'`);

  const normTopkProb = modelType === 'mixtral' || modelType === 'granitemoe' ? bool('norm_topk_prob', true) : bool('norm_topk_prob', false);
  const sharedExpertIntermediateSize = has('shared_expert_intermediate_size')
    ? int('shared_expert_intermediate_size', CONFIG_LIMITS.intermediate, { min: 0 })
    : 0;

  const step = int('decoder_sparse_step', CONFIG_LIMITS.layers, { fallback: 1 });
  const firstDense = int('first_k_dense_replace', CONFIG_LIMITS.layers, { min: 0, fallback: 0 });
  const mlpOnly = raw.mlp_only_layers ?? [];
  if (!Array.isArray(mlpOnly) || mlpOnly.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= numLayers)) {
    fail(`'mlp_only_layers' must be an array of layer indices in 0..${numLayers - 1}, got ${JSON.stringify(mlpOnly).slice(0, 80)}`);
  }
  const dense = new Set(mlpOnly as number[]);
  const sparseLayers = Array.from({ length: numLayers }, (_, i) => !dense.has(i) && i >= firstDense && (i + 1) % step === 0);
  if (sparseLayers.some((s) => !s) && intermediateSize === null) fail(`dense layers present but 'intermediate_size' is missing`);

  const rmsNormEps = num(raw.rms_norm_eps ?? raw.layer_norm_eps, 'rms_norm_eps', 1e-6);

  // RoPE: rope_parameters (5.x) > rope_scaling + rope_theta (4.x).
  const rp = raw.rope_parameters;
  const rs = raw.rope_scaling;
  if (rp !== undefined && rp !== null && !isObj(rp)) fail(`'rope_parameters' must be an object, got ${show(rp)}`);
  if (rs !== undefined && rs !== null && !isObj(rs)) fail(`'rope_scaling' must be an object or null, got ${show(rs)}`);
  const ropeSrc: Record<string, unknown> = { ...(isObj(rs) ? rs : {}), ...(isObj(rp) ? rp : {}) };
  const ropeType = ropeSrc.rope_type ?? ropeSrc.type ?? 'default';
  if (typeof ropeType !== 'string') fail(`rope type must be a string, got ${show(ropeType)}`);
  const theta = num(ropeSrc.rope_theta ?? raw.rope_theta, 'rope_theta', 10000);
  const rope: RopeConfig = { type: ropeType as string, theta };
  for (const [k, v] of Object.entries(ropeSrc)) {
    if (k === 'rope_type' || k === 'type' || k === 'rope_theta') continue;
    if (k === 'factor') rope.factor = num(v, 'rope factor', 1);
    else if (k !== 'partial_rotary_factor') rope[k] = v;
  }
  const partialRotaryFactor = num(ropeSrc.partial_rotary_factor ?? raw.partial_rotary_factor, 'partial_rotary_factor', 1);
  if (partialRotaryFactor > 1) fail(`'partial_rotary_factor' must be in (0, 1], got ${partialRotaryFactor}`);

  const maxPositionEmbeddings = has('max_position_embeddings') ? int('max_position_embeddings', 2 ** 31) : null;
  const tieWordEmbeddings = bool('tie_word_embeddings', false);
  const attentionBias = bool('attention_bias', false);
  const qkvBias = bool('qkv_bias', modelType === 'qwen2_moe' ? true : attentionBias);
  let slidingWindow: number | null = has('sliding_window') ? int('sliding_window', 2 ** 31) : null;
  if (raw.use_sliding_window === false) slidingWindow = null;

  const granite = modelType === 'granitemoe';
  const embeddingMultiplier = granite ? num(raw.embedding_multiplier, 'embedding_multiplier', 1) : 1;
  const residualMultiplier = granite ? num(raw.residual_multiplier, 'residual_multiplier', 1) : 1;
  const attentionScale = granite && has('attention_multiplier') ? num(raw.attention_multiplier, 'attention_multiplier', 1) : 1 / Math.sqrt(headDim);
  const logitsScaling = granite ? num(raw.logits_scaling, 'logits_scaling', 1) : 1;

  const tokenId = (v: unknown, k: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return fail(`'${k}' must be a non-negative integer or a list of them, got ${show(v)}`);
    return v;
  };
  const bosTokenId = has('bos_token_id') ? tokenId(raw.bos_token_id, 'bos_token_id') : null;
  const eosRaw = raw.eos_token_id;
  const eosTokenIds = eosRaw === undefined || eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw.map((v) => tokenId(v, 'eos_token_id')) : [tokenId(eosRaw, 'eos_token_id')];

  const dt = raw.dtype ?? raw.torch_dtype ?? null;
  if (dt !== null && typeof dt !== 'string') fail(`'torch_dtype' must be a string, got ${show(dt)}`);

  return {
    modelType, hiddenSize, numLayers, numHeads, numKvHeads, headDim, vocabSize,
    intermediateSize, moeIntermediateSize, numExperts, topK, normTopkProb, sharedExpertIntermediateSize, sparseLayers,
    rmsNormEps, rope, partialRotaryFactor, maxPositionEmbeddings, tieWordEmbeddings, attentionBias, qkvBias, slidingWindow,
    embeddingMultiplier, residualMultiplier, attentionScale, logitsScaling, bosTokenId, eosTokenIds, dtype: dt as string | null,
    raw,
  };
}

/** Parses config.json text (JSON errors become FormatError) and normalises it. */
export function parseConfig(text: string, file = 'config.json'): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FormatError('CONFIG', file, `not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return normalizeConfig(raw, file);
}
