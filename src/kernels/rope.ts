// The fused q/k norm + clamp + RoPE + KV-cache write (shaders/rope.wgsl, reference src/reference/rope_kv.ts).
// The tables come from reference/rope.ts ropeTables (the one builder, transformers' inv_freq rules incl.
// yarn), computed once per model on the CPU; each layer's inv_freq travels in its aux buffer.
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import type { RopeTables } from '../reference/rope.ts';

/** The model's RoPE shape: rotary dims and the cos/sin multiplier (inv_freq is in each layer's aux buffer). */
export interface RopeState {
  attentionScaling: number;
  headDim: number;
  rotDim: number;
}

/** The RoPE state of ropeTables(config, rotDim) (rotDim = int(headDim * partial_rotary_factor), default headDim). */
export function ropeState(t: RopeTables, headDim: number, rotDim = headDim): RopeState {
  if (rotDim > headDim) throw new Error('webmoe: rotary dim > head dim');
  if (t.invFreq.length !== rotDim / 2) throw new Error(`webmoe: rope table has ${t.invFreq.length} frequencies, rotary dim ${rotDim} needs ${rotDim / 2}`);
  return { attentionScaling: t.attentionScaling, headDim, rotDim };
}

export interface RopeKvArgs {
  rope: RopeState;
  /** f32 [tokens, row]: q (nHeads*headDim), then k and v (nKvHeads*headDim each) per row. q is rewritten in place. */
  qkv: GPUBuffer;
  /** Row stride of qkv in elements (default (nHeads + 2 nKvHeads) * headDim). */
  row?: number;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  seqIds: GPUBuffer;
  positions: GPUBuffer;
  seqStart: GPUBuffer;
  /** Cache capacity in slots; tokens at slots >= maxSlots write nothing to the cache. */
  maxSlots: number;
  tokens: number;
  nHeads: number;
  nKvHeads: number;
  /** f32: q norm weights from qNormOffset, k norm weights from kNormOffset, inv_freq (rotDim/2) from freqOffset. */
  aux: GPUBuffer;
  qNormOffset?: number;
  kNormOffset?: number;
  freqOffset: number;
  /** q/k RMSNorm before RoPE: none, per head (weights [headDim]) or over all heads (weights [heads*headDim]). */
  norm: 'none' | 'per_head' | 'full';
  eps?: number;
  /** Clamp q, k, v to [-clip, clip] after the norm (OLMoE's clip_qkv); null/0 = off. */
  clip?: number | null;
}

/**
 * The attention block between the fused q|k|v projection and attention, in one dispatch: q/k norm,
 * clamp, RoPE; q rotated in place, k rotated and v copied into KV-cache slot seqStart[seqIds[t]] + positions[t].
 */
export function encodeRopeKv(gpu: Gpu, pass: GPUComputePassEncoder, a: RopeKvArgs): void {
  const { headDim, rotDim } = a.rope;
  const norm = { none: 0, per_head: 1, full: 2 }[a.norm];
  const params = gpu.uniform([
    a.tokens, a.nHeads, a.nKvHeads, headDim, rotDim, a.row ?? (a.nHeads + 2 * a.nKvHeads) * headDim, norm, a.maxSlots,
    a.eps ?? 1e-6, a.rope.attentionScaling, a.clip ?? 0, a.qNormOffset ?? 0, a.kNormOffset ?? 0, a.freqOffset, 0, 0,
  ], new Set([8, 9, 10]));
  const groups = (norm === 2 ? 2 : a.nHeads + a.nKvHeads) + a.nKvHeads;
  dispatch(gpu, pass, { shader: 'rope', constants: { WG: 64 } },
    [a.qkv, a.kCache, a.vCache, a.seqIds, a.positions, a.seqStart, a.aux, params], grid1d(gpu, Math.ceil((a.tokens * groups) / 64)));
}
