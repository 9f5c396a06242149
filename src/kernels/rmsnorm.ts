import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import { kernelStyle, type KernelStyle } from './variants.ts';

export interface RmsNormArgs {
  x: GPUBuffer;
  weight: GPUBuffer;
  out: GPUBuffer;
  rows: number;
  dim: number;
  eps: number;
  offset?: number;
  /** Force a variant (tests); default: the device's kernel style. */
  style?: KernelStyle;
}

/** Invocations per workgroup of the blocked variant (one row each). */
const BLOCKED_WG = 16;

/** Encode RMSNorm over `rows` rows of length `dim` (see shaders/rmsnorm.wgsl). */
export function encodeRmsNorm(gpu: Gpu, pass: GPUComputePassEncoder, a: RmsNormArgs): void {
  const params = gpu.uniform([a.rows, a.dim, a.eps, a.offset ?? 0], new Set([2, 3]));
  const bindings = [a.x, a.weight, a.out, params];
  if ((a.style ?? kernelStyle(gpu)) === 'blocked') {
    dispatch(gpu, pass, { shader: 'rmsnorm', defines: { BLOCKED: true, V4: a.dim % 4 === 0 }, constants: { WG: BLOCKED_WG } },
      bindings, grid1d(gpu, Math.ceil(a.rows / BLOCKED_WG)));
  } else {
    dispatch(gpu, pass, { shader: 'rmsnorm', constants: { WG: 64 } }, bindings, grid1d(gpu, a.rows));
  }
}
