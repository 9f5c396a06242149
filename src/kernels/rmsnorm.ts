import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';

export interface RmsNormArgs {
  x: GPUBuffer;
  weight: GPUBuffer;
  out: GPUBuffer;
  rows: number;
  dim: number;
  eps: number;
  offset?: number;
}

/** Encode RMSNorm over `rows` rows of length `dim` (see shaders/rmsnorm.wgsl). */
export function encodeRmsNorm(gpu: Gpu, pass: GPUComputePassEncoder, a: RmsNormArgs): void {
  const params = gpu.uniform([a.rows, a.dim, a.eps, a.offset ?? 0], new Set([2, 3]));
  dispatch(gpu, pass, { shader: 'rmsnorm', constants: { WG: 64 } }, [a.x, a.weight, a.out, params], grid1d(gpu, a.rows));
}
