// Causal GQA attention for mixed prefill/decode batches (see shaders/attention.wgsl); the step's k and v
// reach the cache in the fused RoPE dispatch (kernels/rope.ts encodeRopeKv).
//
// Per layer: kCache, vCache f32 [maxSlots, nKvHeads, headDim]; sequence s owns the contiguous slots
// seqStart[s] .. seqStart[s] + capacity - 1, and the token at position p of s lives in slot seqStart[s] + p.
// Per batch (T tokens, any mix of sequences): seqIds u32 [T], positions u32 [T]; seqStart u32 [nSeqs].
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import { kernelStyle, type KernelStyle } from './variants.ts';

/** Token -> (sequence, position) metadata shared by encodeAttention and encodeRopeKv. */
export interface BatchMeta {
  /** u32 [T]: sequence index of each token (indexes seqStart). */
  seqIds: GPUBuffer;
  /** u32 [T]: absolute position of each token within its sequence. */
  positions: GPUBuffer;
  /** u32 [nSeqs]: first cache slot of each sequence. */
  seqStart: GPUBuffer;
}

export interface AttentionArgs extends BatchMeta {
  /** Queries f32: row t (nHeads*headDim values) at element t*qStride + qOffset. */
  q: GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** Output f32 [T, nHeads*headDim] (row stride outStride, default nHeads*headDim). */
  out: GPUBuffer;
  tokens: number;
  nHeads: number;
  nKvHeads: number;
  /** <= 256. */
  headDim: number;
  /** Logit scale: 1/sqrt(headDim) usually, granite's attention_multiplier. */
  scale: number;
  /** Sliding window: attend to positions (pos - window, pos]; 0 = full causal. */
  window?: number;
  qStride?: number;
  qOffset?: number;
  outStride?: number;
  /** Force a variant (tests); default: the device's kernel style where the shapes allow it. */
  style?: KernelStyle;
}

export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * out[t, h] = softmax_j(scale * q[t,h] . k[slot_j, h/g]) v[slot_j, h/g] over the token's own sequence
 * slots j in [seqStart, seqStart + pos] (causal; the token's own k/v must already be written).
 */
export function encodeAttention(gpu: Gpu, pass: GPUComputePassEncoder, a: AttentionArgs): void {
  if (a.headDim > ATTENTION_MAX_HEAD_DIM) throw new Error(`webmoe: attention head_dim ${a.headDim} > ${ATTENTION_MAX_HEAD_DIM}`);
  if (a.nHeads % a.nKvHeads !== 0) throw new Error('webmoe: n_heads must be a multiple of n_kv_heads');
  const row = a.nHeads * a.headDim;
  const params = gpu.uniform([
    a.tokens, a.nHeads, a.nKvHeads, a.headDim, a.scale, a.window ?? 0, a.qStride ?? row, a.qOffset ?? 0,
    a.outStride ?? row, 0, 0, 0,
  ], new Set([4]));
  const bindings = [a.q, a.kCache, a.vCache, a.out, a.seqIds, a.positions, a.seqStart, params];
  // the blocked variant reads everything as vec4
  const v4 = [a.headDim, a.qStride ?? row, a.qOffset ?? 0, a.outStride ?? row].every((n) => n % 4 === 0);
  if ((a.style ?? kernelStyle(gpu)) === 'blocked' && v4) {
    dispatch(gpu, pass, { shader: 'attention', defines: { BLOCKED: true }, constants: { WG: 16 } }, bindings, grid1d(gpu, Math.ceil((a.tokens * a.nHeads) / 16)));
  } else {
    dispatch(gpu, pass, { shader: 'attention', constants: { WG: 64 } }, bindings, grid1d(gpu, a.tokens * a.nHeads));
  }
}
