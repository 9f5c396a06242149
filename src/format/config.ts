/**
 * config.json -> ModelConfig: the one reader of config.json. Every architecture file (src/models/*.ts)
 * builds its spec from the ModelConfig alone. Keys are read with transformers' semantics per model type
 * (a key the model's HF config class does not use is ignored, not range-checked), hub (transformers
 * 4.x) and transformers 5.x spellings alike (num_local_experts, rope_parameters, dtype). Values that size
 * an allocation (layers, experts, hidden, heads, vocab, intermediate) have hard upper limits.
 */
import { FormatError } from './errors.ts';
import type { RopeConfig, RopeType } from '../reference/rope.ts';

export type { RopeConfig, RopeType } from '../reference/rope.ts';

/** The model types webmoe runs: src/models/index.ts has one builder per entry. */
export const SUPPORTED_MODEL_TYPES = ['qwen3_moe', 'qwen2_moe', 'olmoe', 'mixtral', 'granitemoe'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

const ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'llama3', 'yarn'];

/**
 * transformers 5.18's class defaults (models/<type>/configuration_<type>.py) of the keys webmoe reads with a
 * fallback, where they differ by model type: a config.json without the key means this value there.
 * kvHeads null: the class sets num_key_value_heads = num_attention_heads. rope_theta is the class's
 * default_theta. bos/eos apply only when the key is absent (an explicit null means none).
 */
export const HF_CONFIG_DEFAULTS: Record<ModelType, {
  kvHeads: number | null; rmsNormEps: number; ropeTheta: number; maxPositionEmbeddings: number; bosTokenId: number | null; eosTokenIds: number[];
}> = {
  qwen3_moe: { kvHeads: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [] },
  qwen2_moe: { kvHeads: 16, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [] },
  olmoe: { kvHeads: null, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: 4096, bosTokenId: null, eosTokenIds: [50279] },
  mixtral: { kvHeads: 8, rmsNormEps: 1e-5, ropeTheta: 1e6, maxPositionEmbeddings: 131072, bosTokenId: 1, eosTokenIds: [2] },
  granitemoe: { kvHeads: null, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenIds: [2] },
};

export interface ModelConfig {
  modelType: ModelType;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Dense MLP size (qwen dense layers); for olmoe/mixtral/granitemoe equal to the expert size; null if unused and absent. */
  intermediateSize: number | null;
  /** Per-expert FFN size. */
  moeIntermediateSize: number;
  numExperts: number;
  topK: number;
  /** The chosen experts' weights sum to 1 (qwen/olmoe norm_topk_prob; mixtral and granitemoe always). */
  normTopkProb: boolean;
  /** qwen2_moe's always-on shared expert; 0 when the model has none. */
  sharedExpertIntermediateSize: number;
  /** sparseLayers[i]: layer i uses the MoE block (else a dense MLP of intermediateSize). */
  sparseLayers: boolean[];
  rmsNormEps: number;
  rope: RopeConfig;
  partialRotaryFactor: number;
  /** max_position_embeddings, or the model type's transformers default. */
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** attention_bias: bias on q/k/v/o (qwen3_moe, olmoe, granitemoe); false for mixtral and qwen2_moe (no such key). */
  attentionBias: boolean;
  /** Bias on the q/k/v projections (qwen2_moe: qkv_bias, default true; elsewhere = attentionBias). */
  qkvBias: boolean;
  /** OLMoE clip_qkv; null otherwise. */
  clipQkv: number | null;
  /** Mixtral's attention window; null = full causal (qwen's use_sliding_window true is refused). */
  slidingWindow: number | null;
  /** granite multipliers; 1 for other models. */
  embeddingMultiplier: number;
  residualMultiplier: number;
  /** Softmax scale: granite's attention_multiplier (default 1 as in transformers), else 1/sqrt(headDim). */
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
  const unsupported = (msg: string): never => {
    throw new FormatError('UNSUPPORTED', file, msg);
  };
  if (!isObj(raw)) return fail(`expected a JSON object, got ${show(raw)}`);
  const has = (k: string) => raw[k] !== undefined && raw[k] !== null;

  const int = (k: string, max: number, opts: { min?: number; fallback?: number } = {}): number => {
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
  const qwen = modelType === 'qwen3_moe' || modelType === 'qwen2_moe';
  const granite = modelType === 'granitemoe';
  const dflt = HF_CONFIG_DEFAULTS[modelType];

  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') unsupported(`hidden_act ${JSON.stringify(act)} is not supported (silu)`);

  const hiddenSize = int('hidden_size', CONFIG_LIMITS.hidden);
  const numLayers = int('num_hidden_layers', CONFIG_LIMITS.layers);
  const numHeads = int('num_attention_heads', CONFIG_LIMITS.heads);
  const numKvHeads = int('num_key_value_heads', CONFIG_LIMITS.heads, { fallback: dflt.kvHeads ?? numHeads });
  if (numHeads % numKvHeads !== 0) fail(`num_attention_heads (${numHeads}) is not divisible by num_key_value_heads (${numKvHeads})`);
  let headDim: number;
  // mixtral: `head_dim or hidden // heads` (0 means derived); the others: head_dim when given
  if (has('head_dim') && !(modelType === 'mixtral' && raw.head_dim === 0)) headDim = int('head_dim', CONFIG_LIMITS.headDim);
  else {
    if (hiddenSize % numHeads !== 0) fail(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and no head_dim is given`);
    headDim = hiddenSize / numHeads;
  }
  if (headDim % 2 !== 0) fail(`head_dim ${headDim} must be even for RoPE`);
  const vocabSize = int('vocab_size', CONFIG_LIMITS.vocab);

  // Expert count: any of the names; they must agree when several are given.
  const expertKeys = ['num_experts', 'num_local_experts', 'n_routed_experts'].filter(has);
  if (expertKeys.length === 0) fail(`missing required key 'num_experts' (or 'num_local_experts' / 'n_routed_experts')`);
  const counts = expertKeys.map((k) => int(k, CONFIG_LIMITS.experts));
  if (counts.some((c) => c !== counts[0])) fail(`expert counts disagree: ${expertKeys.map((k, i) => `${k}=${counts[i]}`).join(', ')}`);
  const numExperts = counts[0];
  const topK = int('num_experts_per_tok', CONFIG_LIMITS.experts);
  if (topK > numExperts) fail(`num_experts_per_tok (${topK}) exceeds the number of experts (${numExperts})`);

  // Which layers are sparse: qwen's mlp_only_layers / decoder_sparse_step (transformers:
  // `layer not in mlp_only_layers and (layer + 1) % decoder_sparse_step == 0`); every layer elsewhere.
  let sparseLayers = new Array<boolean>(numLayers).fill(true);
  if (qwen) {
    const step = int('decoder_sparse_step', CONFIG_LIMITS.layers, { fallback: 1 });
    const mlpOnly = raw.mlp_only_layers ?? [];
    if (!Array.isArray(mlpOnly) || mlpOnly.some((x) => typeof x !== 'number' || !Number.isInteger(x))) {
      fail(`'mlp_only_layers' must be an array of layer indices, got ${JSON.stringify(mlpOnly).slice(0, 80)}`);
    }
    const dense = new Set(mlpOnly as number[]);
    sparseLayers = sparseLayers.map((_, i) => !dense.has(i) && (i + 1) % step === 0);
  }
  const anyDense = sparseLayers.some((s) => !s);

  // FFN sizes: qwen experts have their own size (dense layers use intermediate_size, needed only when
  // there are dense layers); the other types' intermediate_size is the expert size.
  let intermediateSize: number | null;
  let moeIntermediateSize: number;
  if (qwen) {
    moeIntermediateSize = int('moe_intermediate_size', CONFIG_LIMITS.intermediate);
    intermediateSize = anyDense || has('intermediate_size') ? int('intermediate_size', CONFIG_LIMITS.intermediate) : null;
  } else {
    intermediateSize = int('intermediate_size', CONFIG_LIMITS.intermediate);
    moeIntermediateSize = intermediateSize;
  }
  const sharedExpertIntermediateSize = modelType === 'qwen2_moe' ? int('shared_expert_intermediate_size', CONFIG_LIMITS.intermediate) : 0;
  const normTopkProb = qwen || modelType === 'olmoe' ? bool('norm_topk_prob', false) : true;

  const rmsNormEps = num(raw.rms_norm_eps, 'rms_norm_eps', dflt.rmsNormEps);
  const maxPositionEmbeddings = int('max_position_embeddings', 2 ** 31, { fallback: dflt.maxPositionEmbeddings });

  // RoPE: rope_parameters (5.x) > rope_scaling + rope_theta (4.x); only the chosen type's keys are read.
  const rp = raw.rope_parameters;
  const rs = raw.rope_scaling;
  if (rp !== undefined && rp !== null && !isObj(rp)) fail(`'rope_parameters' must be an object, got ${show(rp)}`);
  if (rs !== undefined && rs !== null && !isObj(rs)) fail(`'rope_scaling' must be an object or null, got ${show(rs)}`);
  const ropeSrc: Record<string, unknown> = { ...(isObj(rs) ? rs : {}), ...(isObj(rp) ? rp : {}) };
  const ropeType = ropeSrc.rope_type ?? ropeSrc.type ?? 'default';
  if (typeof ropeType !== 'string') fail(`rope type must be a string, got ${show(ropeType)}`);
  if (!ROPE_TYPES.includes(ropeType as RopeType)) unsupported(`rope type '${String(ropeType)}' is not supported (${ROPE_TYPES.join(', ')})`);
  const rope: RopeConfig = { type: ropeType as RopeType, theta: num(ropeSrc.rope_theta ?? raw.rope_theta, 'rope_theta', dflt.ropeTheta) };
  // rope[field] = rope parameter `k` (a finite number, > 0 unless `positive` is false) when given
  const ropeNum = (field: keyof RopeConfig, k: string, required: boolean, positive = true): void => {
    const v = ropeSrc[k];
    if (v === undefined || v === null) {
      if (required) fail(`rope type '${rope.type}' needs '${k}'`);
      return;
    }
    (rope as unknown as Record<string, number>)[field] = num(v, k, 0, positive);
  };
  if (rope.type === 'linear') ropeNum('factor', 'factor', true);
  else if (rope.type === 'llama3') {
    ropeNum('factor', 'factor', true);
    ropeNum('lowFreqFactor', 'low_freq_factor', true);
    ropeNum('highFreqFactor', 'high_freq_factor', true);
    ropeNum('originalMaxPos', 'original_max_position_embeddings', true);
  } else if (rope.type === 'yarn') {
    rope.maxPos = maxPositionEmbeddings;
    ropeNum('factor', 'factor', rope.maxPos === undefined);
    ropeNum('originalMaxPos', 'original_max_position_embeddings', false);
    rope.originalMaxPos ??= rope.maxPos;
    if (rope.originalMaxPos === undefined) fail(`rope type 'yarn' needs 'original_max_position_embeddings' or 'max_position_embeddings'`);
    ropeNum('betaFast', 'beta_fast', false);
    ropeNum('betaSlow', 'beta_slow', false);
    ropeNum('attentionFactor', 'attention_factor', false);
    ropeNum('mscale', 'mscale', false, false);
    ropeNum('mscaleAllDim', 'mscale_all_dim', false, false);
    if (ropeSrc.truncate !== undefined && ropeSrc.truncate !== null) {
      if (typeof ropeSrc.truncate !== 'boolean') fail(`rope 'truncate' must be a boolean, got ${show(ropeSrc.truncate)}`);
      rope.truncate = ropeSrc.truncate as boolean;
    }
  }
  const partialRotaryFactor = num(ropeSrc.partial_rotary_factor ?? raw.partial_rotary_factor, 'partial_rotary_factor', 1);
  if (partialRotaryFactor !== 1) unsupported(`partial_rotary_factor ${partialRotaryFactor} is not supported (1)`);

  const tieWordEmbeddings = bool('tie_word_embeddings', false);
  // transformers: mixtral has no attention biases; qwen2_moe's q/k/v follow qkv_bias (default true), o_proj has none
  const attentionBias = modelType === 'mixtral' || modelType === 'qwen2_moe' ? false : bool('attention_bias', false);
  const qkvBias = modelType === 'qwen2_moe' ? bool('qkv_bias', true) : attentionBias;
  const clipQkv = modelType === 'olmoe' && has('clip_qkv') ? num(raw.clip_qkv, 'clip_qkv', 0) : null;

  // Attention window: qwen's is off unless use_sliding_window (then sliding_window is read, and refused
  // as unsupported); mixtral's sliding_window applies to every layer (null or 0: none).
  let slidingWindow: number | null = null;
  if (qwen && bool('use_sliding_window', false)) unsupported('use_sliding_window: true is not supported (full causal attention only)');
  if (modelType === 'mixtral' && has('sliding_window')) {
    const w = int('sliding_window', 2 ** 31, { min: 0 });
    slidingWindow = w > 0 ? w : null;
  }

  const embeddingMultiplier = granite ? num(raw.embedding_multiplier, 'embedding_multiplier', 1) : 1;
  const residualMultiplier = granite ? num(raw.residual_multiplier, 'residual_multiplier', 1) : 1;
  const attentionScale = granite ? num(raw.attention_multiplier, 'attention_multiplier', 1) : 1 / Math.sqrt(headDim);
  const logitsScaling = granite ? num(raw.logits_scaling, 'logits_scaling', 1) : 1;

  const tokenId = (v: unknown, k: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return fail(`'${k}' must be a non-negative integer or a list of them, got ${show(v)}`);
    return v;
  };
  const bosTokenId = raw.bos_token_id === undefined ? dflt.bosTokenId : has('bos_token_id') ? tokenId(raw.bos_token_id, 'bos_token_id') : null;
  const eosRaw = raw.eos_token_id;
  const eosTokenIds = eosRaw === undefined ? [...dflt.eosTokenIds] : eosRaw === null ? [] : Array.isArray(eosRaw) ? eosRaw.map((v) => tokenId(v, 'eos_token_id')) : [tokenId(eosRaw, 'eos_token_id')];

  const dt = raw.dtype ?? raw.torch_dtype ?? null;
  if (dt !== null && typeof dt !== 'string') fail(`'torch_dtype' must be a string, got ${show(dt)}`);

  return {
    modelType, hiddenSize, numLayers, numHeads, numKvHeads, headDim, vocabSize,
    intermediateSize, moeIntermediateSize, numExperts, topK, normTopkProb, sharedExpertIntermediateSize, sparseLayers,
    rmsNormEps, rope, partialRotaryFactor, maxPositionEmbeddings, tieWordEmbeddings, attentionBias, qkvBias, clipQkv, slidingWindow,
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
