// RoPE in place on q and k (see shaders/rope.wgsl); the tables come from reference/rope.ts ropeTables
// (the one builder, transformers' inv_freq rules incl. yarn), computed once per model on the CPU.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import type { RopeTables } from '../reference/rope.ts';

/** Per-layer-shared RoPE state: the inv_freq table on the GPU and the cos/sin multiplier. */
export interface RopeState {
  invFreq: GPUBuffer;
  attentionScaling: number;
  headDim: number;
  rotDim: number;
}

/** Upload ropeTables(config, rotDim) (rotDim = int(headDim * partial_rotary_factor), default headDim). */
export function createRope(gpu: Gpu, t: RopeTables, headDim: number, rotDim = headDim): RopeState {
  if (rotDim > headDim) throw new Error('webmoe: rotary dim > head dim');
  if (t.invFreq.length !== rotDim / 2) throw new Error(`webmoe: rope table has ${t.invFreq.length} frequencies, rotary dim ${rotDim} needs ${rotDim / 2}`);
  return { invFreq: createStorage(gpu.device, t.invFreq, 'rope_inv_freq'), attentionScaling: t.attentionScaling, headDim, rotDim };
}

export interface RopeArgs {
  rope: RopeState;
  /** q f32, row t (nHeads*headDim values) at element t*qStride. Rotated in place. */
  q: GPUBuffer;
  /** k f32, row t (nKvHeads*headDim values) at element t*kStride. Rotated in place; must differ from q. */
  k: GPUBuffer;
  /** u32 [tokens] absolute positions. */
  positions: GPUBuffer;
  tokens: number;
  nHeads: number;
  nKvHeads: number;
  /** Defaults nHeads*headDim and nKvHeads*headDim. */
  qStride?: number;
  kStride?: number;
}

/** Rotate q and k of `tokens` tokens at their positions. */
export function encodeRope(gpu: Gpu, pass: GPUComputePassEncoder, a: RopeArgs): void {
  const { headDim, rotDim } = a.rope;
  const params = gpu.uniform([
    a.tokens, a.nHeads, a.nKvHeads, headDim, rotDim,
    a.qStride ?? a.nHeads * headDim, a.kStride ?? a.nKvHeads * headDim, a.rope.attentionScaling,
  ], new Set([7]));
  const n = a.tokens * (a.nHeads + a.nKvHeads) * (rotDim / 2);
  dispatch(gpu, pass, { shader: 'rope', constants: { WG: 64 } }, [a.q, a.k, a.positions, a.rope.invFreq, params], grid1d(gpu, Math.ceil(n / 64)));
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
  dispatch(gpu, pass, { shader: 'rope', defines: { FUSED: true }, constants: { WG: 64 } },
    [a.qkv, a.kCache, a.vCache, a.seqIds, a.positions, a.seqStart, a.aux, params], grid1d(gpu, Math.ceil((a.tokens * groups) / 64)));
}
