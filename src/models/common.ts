// Shared pieces of the per-architecture mappings: reading config.json (old and transformers-5 keys),
// RoPE inverse frequencies, and the generic HF decoder layout most MoE models share.
import { FormatError } from '../format/errors.ts';
import type { FfnRefs, LayerRefs, MoeModelSpec, QkNormKind, RopeSpec, ArchRouter, WeightRef } from './spec.ts';

export const CONFIG_FILE = 'config.json';

type Json = Record<string, unknown>;

function configError(msg: string): FormatError {
  return new FormatError('CONFIG', CONFIG_FILE, msg);
}

/** Typed access to config.json; the first key present wins, so new and old HF key names both work. */
export class ConfigReader {
  constructor(readonly raw: Json) {}

  has(...keys: string[]): boolean {
    return keys.some((k) => this.raw[k] !== undefined && this.raw[k] !== null);
  }

  private get(keys: string[]): unknown {
    for (const k of keys) if (this.raw[k] !== undefined && this.raw[k] !== null) return this.raw[k];
    return undefined;
  }

  int(keys: string | string[], dflt?: number, min = 1): number {
    const ks = typeof keys === 'string' ? [keys] : keys;
    const v = this.get(ks) ?? dflt;
    if (v === undefined) throw configError(`missing required key '${ks[0]}'`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw configError(`'${ks[0]}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  num(keys: string | string[], dflt?: number): number {
    const ks = typeof keys === 'string' ? [keys] : keys;
    const v = this.get(ks) ?? dflt;
    if (v === undefined) throw configError(`missing required key '${ks[0]}'`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(`'${ks[0]}' must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.get([key]) ?? dflt;
    if (typeof v !== 'boolean') throw configError(`'${key}' must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(key: string): number[] {
    const v = this.get([key]) ?? [];
    if (!Array.isArray(v) || v.some((x) => !Number.isSafeInteger(x))) throw configError(`'${key}' must be a list of integers`);
    return v as number[];
  }

  /** eos_token_id may be an int or a list. */
  idList(key: string): number[] {
    const v = this.get([key]);
    if (v === undefined) return [];
    if (typeof v === 'number') return [v];
    return this.intList(key);
  }

  optInt(key: string): number | null {
    const v = this.get([key]);
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
  }

  obj(key: string): Json | null {
    const v = this.get([key]);
    if (v === undefined) return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw configError(`'${key}' must be an object`);
    return v as Json;
  }
}

/** Parse config.json text: malformed JSON is a FormatError naming the file. */
export function parseConfigJson(text: string): ConfigReader {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw configError(`not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw configError('expected a JSON object');
  return new ConfigReader(raw as Json);
}

/** RoPE from `rope_parameters` (transformers 5) or `rope_theta` + `rope_scaling` (older configs). */
export function ropeFromConfig(c: ConfigReader, headDim: number): RopeSpec {
  const params = c.obj('rope_parameters') ?? c.obj('rope_scaling') ?? {};
  const p = new ConfigReader(params);
  const type = String(params.rope_type ?? params.type ?? 'default');
  const theta = p.has('rope_theta') ? p.num('rope_theta') : c.num('rope_theta', 10000);
  if (headDim % 2 !== 0) throw configError(`head_dim ${headDim} must be even for RoPE`);
  if (p.has('partial_rotary_factor') && p.num('partial_rotary_factor') !== 1) throw configError('partial_rotary_factor != 1 is not supported');
  const half = headDim / 2;
  const inv = new Float64Array(half);
  // HF computes base ** (arange(0, dim, 2) / dim) in float32; the same in f64 is well within tolerance.
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  if (type === 'default') {
    // nothing to do
  } else if (type === 'linear') {
    const f = p.num('factor');
    for (let i = 0; i < half; i++) inv[i] /= f;
  } else if (type === 'llama3') {
    const f = p.num('factor');
    const lowF = p.num('low_freq_factor');
    const highF = p.num('high_freq_factor');
    const oldCtx = p.num('original_max_position_embeddings');
    const lowWave = oldCtx / lowF;
    const highWave = oldCtx / highF;
    for (let i = 0; i < half; i++) {
      const wave = (2 * Math.PI) / inv[i];
      if (wave > lowWave) inv[i] = inv[i] / f;
      else if (wave >= highWave) {
        const smooth = (oldCtx / wave - lowF) / (highF - lowF);
        inv[i] = (1 - smooth) * (inv[i] / f) + smooth * inv[i];
      }
    }
  } else {
    throw new FormatError('UNSUPPORTED', CONFIG_FILE, `rope type '${type}' is not supported (default, linear, llama3)`);
  }
  return { invFreq: Float32Array.from(inv), attentionFactor: 1, theta, type };
}

/** Options an architecture file passes to the generic HF MoE decoder builder. */
export interface ArchOptions {
  arch: string;
  qkNorm: QkNormKind;
  qkvBias: boolean;
  oBias: boolean;
  router: ArchRouter;
  numExperts: number;
  topK: number;
  moeIntermediate: number;
  denseIntermediate: number;
  layerKinds: ('moe' | 'dense')[];
  /** Names inside `model.layers.N.`: the MoE block prefix and its router tensor. */
  moePrefix: string; // e.g. 'mlp' or 'block_sparse_moe'
  routerName: string; // e.g. 'mlp.gate.weight'
  /** How the experts are stored (see expertRefs). */
  experts: 'per_expert' | 'per_expert_w123' | 'fused_gate_up' | 'granite';
  sharedIntermediate?: number;
  attnScale?: number;
  embeddingMultiplier?: number;
  residualMultiplier?: number;
  logitScale?: number;
  clipQkv?: number | null;
}

/** Accumulates tensor names + expected shapes, and hands out WeightRefs. */
export class TensorTable {
  readonly shapes = new Map<string, number[]>();

  /** A whole tensor used as one weight. */
  whole(name: string, shape: number[]): WeightRef {
    this.declare(name, shape);
    return { tensor: name, shape };
  }

  /** Expert `e` of a stacked [E, rows, cols] tensor, optionally a block of rows. */
  slice(name: string, full: number[], expert: number, shape: number[], rowOffset = 0): WeightRef {
    this.declare(name, full);
    return { tensor: name, shape, expert, rowOffset };
  }

  private declare(name: string, shape: number[]): void {
    const prev = this.shapes.get(name);
    if (prev && prev.join() !== shape.join()) throw new Error(`internal: tensor ${name} declared with two shapes`);
    this.shapes.set(name, shape);
  }
}

function ffn(t: TensorTable, prefix: string, I: number, H: number, names = ['gate_proj', 'up_proj', 'down_proj']): FfnRefs {
  return {
    gate: t.whole(`${prefix}.${names[0]}.weight`, [I, H]),
    up: t.whole(`${prefix}.${names[1]}.weight`, [I, H]),
    down: t.whole(`${prefix}.${names[2]}.weight`, [H, I]),
  };
}

function expertRefs(t: TensorTable, o: ArchOptions, p: string, H: number): FfnRefs[] {
  const E = o.numExperts;
  const I = o.moeIntermediate;
  const out: FfnRefs[] = [];
  for (let e = 0; e < E; e++) {
    switch (o.experts) {
      case 'per_expert':
        out.push(ffn(t, `${p}.${o.moePrefix}.experts.${e}`, I, H));
        break;
      case 'per_expert_w123': // Mixtral: w1 gate, w3 up, w2 down
        out.push(ffn(t, `${p}.${o.moePrefix}.experts.${e}`, I, H, ['w1', 'w3', 'w2']));
        break;
      case 'fused_gate_up': {
        // transformers 5 in-memory layout: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I]
        const gu = `${p}.${o.moePrefix}.experts.gate_up_proj`;
        const d = `${p}.${o.moePrefix}.experts.down_proj`;
        out.push({
          gate: t.slice(gu, [E, 2 * I, H], e, [I, H], 0),
          up: t.slice(gu, [E, 2 * I, H], e, [I, H], I),
          down: t.slice(d, [E, H, I], e, [H, I]),
        });
        break;
      }
      case 'granite': {
        // input_linear [E, 2I, H] (gate rows then up rows), output_linear [E, H, I]
        const il = `${p}.${o.moePrefix}.input_linear.weight`;
        const ol = `${p}.${o.moePrefix}.output_linear.weight`;
        out.push({
          gate: t.slice(il, [E, 2 * I, H], e, [I, H], 0),
          up: t.slice(il, [E, 2 * I, H], e, [I, H], I),
          down: t.slice(ol, [E, H, I], e, [H, I]),
        });
        break;
      }
    }
  }
  return out;
}

/** The generic HF decoder: model.embed_tokens, model.layers.N.{input_layernorm,self_attn,post_attention_layernorm,<moe>}, model.norm, lm_head. */
export function buildDecoderSpec(c: ConfigReader, o: ArchOptions): MoeModelSpec {
  const H = c.int('hidden_size');
  const L = c.int('num_hidden_layers');
  const nh = c.int('num_attention_heads');
  const nkv = c.int('num_key_value_heads', nh);
  const V = c.int('vocab_size');
  const headDim = c.has('head_dim') ? c.int('head_dim') : H / nh;
  if (!Number.isInteger(headDim)) throw configError(`hidden_size ${H} is not divisible by num_attention_heads ${nh} (and no head_dim)`);
  if (nh % nkv !== 0) throw configError(`num_attention_heads ${nh} is not a multiple of num_key_value_heads ${nkv}`);
  if (o.topK > o.numExperts) throw configError(`num_experts_per_tok ${o.topK} > number of experts ${o.numExperts}`);
  if (o.layerKinds.length !== L) throw new Error('internal: layerKinds length');
  const eps = c.num('rms_norm_eps', 1e-6);
  const t = new TensorTable();
  const layerRefs: LayerRefs[] = [];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const r: LayerRefs = {
      attnNorm: t.whole(`${p}.input_layernorm.weight`, [H]),
      q: t.whole(`${a}.q_proj.weight`, [nh * headDim, H]),
      k: t.whole(`${a}.k_proj.weight`, [nkv * headDim, H]),
      v: t.whole(`${a}.v_proj.weight`, [nkv * headDim, H]),
      o: t.whole(`${a}.o_proj.weight`, [H, nh * headDim]),
      mlpNorm: t.whole(`${p}.post_attention_layernorm.weight`, [H]),
    };
    if (o.qkvBias) {
      r.qBias = t.whole(`${a}.q_proj.bias`, [nh * headDim]);
      r.kBias = t.whole(`${a}.k_proj.bias`, [nkv * headDim]);
      r.vBias = t.whole(`${a}.v_proj.bias`, [nkv * headDim]);
    }
    if (o.oBias) r.oBias = t.whole(`${a}.o_proj.bias`, [H]);
    if (o.qkNorm === 'per_head') {
      r.qNorm = t.whole(`${a}.q_norm.weight`, [headDim]);
      r.kNorm = t.whole(`${a}.k_norm.weight`, [headDim]);
    } else if (o.qkNorm === 'full') {
      r.qNorm = t.whole(`${a}.q_norm.weight`, [nh * headDim]);
      r.kNorm = t.whole(`${a}.k_norm.weight`, [nkv * headDim]);
    }
    if (o.layerKinds[l] === 'moe') {
      r.router = t.whole(`${p}.${o.routerName}`, [o.numExperts, H]);
      r.experts = expertRefs(t, o, p, H);
      if (o.sharedIntermediate) {
        r.shared = {
          ...ffn(t, `${p}.${o.moePrefix}.shared_expert`, o.sharedIntermediate, H),
          gate1: t.whole(`${p}.${o.moePrefix}.shared_expert_gate.weight`, [1, H]),
        };
      }
    } else {
      r.dense = ffn(t, `${p}.mlp`, o.denseIntermediate, H);
    }
    layerRefs.push(r);
  }
  const tie = c.bool('tie_word_embeddings', false);
  const embed = t.whole('model.embed_tokens.weight', [V, H]);
  const finalNorm = t.whole('model.norm.weight', [H]);
  const lmHead = tie ? embed : t.whole('lm_head.weight', [V, H]);
  return {
    arch: o.arch,
    vocabSize: V,
    hidden: H,
    layers: L,
    heads: nh,
    kvHeads: nkv,
    headDim,
    eps,
    rope: ropeFromConfig(c, headDim),
    maxPositions: c.int('max_position_embeddings', 4096),
    slidingWindow: null,
    qkNorm: o.qkNorm,
    clipQkv: o.clipQkv ?? null,
    attnScale: o.attnScale ?? 1 / Math.sqrt(headDim),
    embeddingMultiplier: o.embeddingMultiplier ?? 1,
    residualMultiplier: o.residualMultiplier ?? 1,
    logitScale: o.logitScale ?? 1,
    numExperts: o.numExperts,
    topK: o.topK,
    moeIntermediate: o.moeIntermediate,
    router: o.router,
    layerKinds: o.layerKinds,
    tieEmbeddings: tie,
    bosTokenId: c.optInt('bos_token_id'),
    eosTokenIds: c.idList('eos_token_id'),
    tensors: t.shapes,
    embed,
    finalNorm,
    lmHead,
    layerRefs,
  };
}

/** Qwen-style dense/sparse layer pattern: sparse unless in mlp_only_layers or (l+1) % decoder_sparse_step != 0. */
export function qwenLayerKinds(c: ConfigReader, E: number): ('moe' | 'dense')[] {
  const L = c.int('num_hidden_layers');
  const step = c.int('decoder_sparse_step', 1);
  const only = new Set(c.intList('mlp_only_layers'));
  const kinds: ('moe' | 'dense')[] = [];
  for (let l = 0; l < L; l++) kinds.push(!only.has(l) && E > 0 && (l + 1) % step === 0 ? 'moe' : 'dense');
  return kinds;
}

export function requireActivation(c: ConfigReader): void {
  const act = c.raw.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') throw new FormatError('UNSUPPORTED', CONFIG_FILE, `hidden_act '${String(act)}' is not supported (silu)`);
}
