// Row softmax with optional temperature (see shaders/softmax.wgsl).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';

export interface SoftmaxArgs {
  /** Input f32 [rows, n]. */
  x: GPUBuffer;
  /** Output f32 [rows, n]; must be a different buffer from x. */
  out: GPUBuffer;
  rows: number;
  n: number;
  /** softmax(x / temperature); default 1, must be > 0. */
  temperature?: number;
}

/** out[r, :] = softmax(x[r, :] / temperature). One workgroup per row. */
export function encodeSoftmax(gpu: Gpu, pass: GPUComputePassEncoder, a: SoftmaxArgs): void {
  const temp = a.temperature ?? 1;
  if (!(temp > 0)) throw new Error('webmoe: softmax temperature must be > 0');
  const params = gpu.uniform([a.rows, a.n, 1 / temp, 0], new Set([2]));
  dispatch(gpu, pass, { shader: 'softmax', constants: { WG: 256 } }, [a.x, a.out, params], grid1d(gpu, a.rows));
}
