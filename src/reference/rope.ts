// RoPE parameters and application, following transformers' modeling_rope_utils.py
// (_compute_default / linear / llama3 / yarn rope parameters) and the llama-style apply_rotary_pos_emb
// with rotate_half: q' = q*cos + rotate_half(q)*sin, cos/sin = cos/sin(pos*inv_freq) * attention_scaling.

export type RopeType = 'default' | 'linear' | 'llama3' | 'yarn';

export interface RopeConfig {
  type: RopeType;
  /** rope_theta (base). */
  theta: number;
  /** linear / llama3 / yarn scaling factor. yarn: if omitted, maxPos / originalMaxPos (DeepSeek-V3 style). */
  factor?: number;
  /** llama3: low_freq_factor (1 in Llama 3.1). */
  lowFreqFactor?: number;
  /** llama3: high_freq_factor (4 in Llama 3.1). */
  highFreqFactor?: number;
  /** llama3 / yarn: original_max_position_embeddings. */
  originalMaxPos?: number;
  /** yarn: max_position_embeddings (only used when factor is omitted). */
  maxPos?: number;
  /** yarn: beta_fast (default 32), beta_slow (default 1). */
  betaFast?: number;
  betaSlow?: number;
  /** yarn: explicit attention_factor; else derived from factor, mscale, mscaleAllDim. */
  attentionFactor?: number;
  mscale?: number;
  mscaleAllDim?: number;
  /** yarn: truncate the correction range (default true). */
  truncate?: boolean;
}

export interface RopeTables {
  /** rotDim/2 inverse frequencies, f32 (as torch computes them). */
  invFreq: Float32Array;
  /** Multiplier on cos and sin (yarn's attention factor; 1 otherwise). */
  attentionScaling: number;
}

/** inv_freq and attention scaling for a rotary dimension rotDim (= int(head_dim * partial_rotary_factor)). */
export function ropeTables(cfg: RopeConfig, rotDim: number): RopeTables {
  if (rotDim % 2 !== 0 || rotDim <= 0) throw new Error(`webmoe: rotary dim must be even and > 0 (got ${rotDim})`);
  const base = cfg.theta;
  const half = rotDim / 2;
  const f = (x: number) => Math.fround(x);
  // torch: base ** (arange(0, dim, 2).float() / dim), exponent in f32.
  const posFreq = (i: number) => f(base ** f((2 * i) / rotDim));
  const inv = new Float32Array(half);
  let attentionScaling = 1;
  switch (cfg.type) {
    case 'default':
      for (let i = 0; i < half; i++) inv[i] = 1 / posFreq(i);
      break;
    case 'linear': {
      const factor = req(cfg.factor, 'factor');
      for (let i = 0; i < half; i++) inv[i] = f(1 / posFreq(i)) / factor;
      break;
    }
    case 'llama3': {
      const factor = req(cfg.factor, 'factor');
      const low = req(cfg.lowFreqFactor, 'lowFreqFactor');
      const high = req(cfg.highFreqFactor, 'highFreqFactor');
      const old = req(cfg.originalMaxPos, 'originalMaxPos');
      const lowWavelen = old / low;
      const highWavelen = old / high;
      for (let i = 0; i < half; i++) {
        const invf = f(1 / posFreq(i));
        const wavelen = (2 * Math.PI) / invf;
        let v = wavelen > lowWavelen ? invf / factor : invf;
        if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
          const smooth = (old / wavelen - low) / (high - low);
          v = ((1 - smooth) * v) / factor + smooth * v;
        }
        inv[i] = v;
      }
      break;
    }
    case 'yarn': {
      const old = req(cfg.originalMaxPos, 'originalMaxPos');
      const factor = cfg.factor ?? req(cfg.maxPos, 'maxPos or factor') / old;
      const getMscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
      if (cfg.attentionFactor !== undefined) attentionScaling = cfg.attentionFactor;
      else if (cfg.mscale && cfg.mscaleAllDim) attentionScaling = getMscale(factor, cfg.mscale) / getMscale(factor, cfg.mscaleAllDim);
      else attentionScaling = getMscale(factor);
      const betaFast = cfg.betaFast || 32;
      const betaSlow = cfg.betaSlow || 1;
      const corrDim = (rot: number) => (rotDim * Math.log(old / (rot * 2 * Math.PI))) / (2 * Math.log(base));
      let lo = corrDim(betaFast);
      let hi = corrDim(betaSlow);
      if (cfg.truncate ?? true) {
        lo = Math.floor(lo);
        hi = Math.ceil(hi);
      }
      lo = Math.max(lo, 0);
      hi = Math.min(hi, rotDim - 1);
      if (lo === hi) hi += 0.001;
      for (let i = 0; i < half; i++) {
        const pf = posFreq(i);
        const extra = f(1 / pf);
        const inter = f(1 / f(factor * pf));
        const ramp = f(Math.min(1, Math.max(0, (i - lo) / (hi - lo))));
        const extraFactor = f(1 - ramp);
        inv[i] = inter * (1 - extraFactor) + extra * extraFactor;
      }
      break;
    }
    default:
      throw new Error(`webmoe: unsupported rope type '${(cfg as { type: string }).type}'`);
  }
  return { invFreq: inv, attentionScaling };
}

function req(v: number | undefined, name: string): number {
  if (v === undefined) throw new Error(`webmoe: rope config needs ${name}`);
  return v;
}

/**
 * Apply RoPE to rows of x [tokens, heads, headDim] (copy returned); the angle is computed in f32 like
 * torch (fround(pos * inv_freq)), cos/sin in f64.
 */
export function ropeRef(
  x: Float32Array, tokens: number, heads: number, headDim: number, rotDim: number,
  positions: ArrayLike<number>, tables: RopeTables,
): Float32Array {
  const out = Float32Array.from(x);
  const half = rotDim / 2;
  for (let t = 0; t < tokens; t++) {
    for (let h = 0; h < heads; h++) {
      const b = (t * heads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const ang = Math.fround(positions[t] * tables.invFreq[i]);
        const c = Math.cos(ang) * tables.attentionScaling;
        const s = Math.sin(ang) * tables.attentionScaling;
        const x1 = x[b + i];
        const x2 = x[b + i + half];
        out[b + i] = x1 * c - x2 * s;
        out[b + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}
