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
