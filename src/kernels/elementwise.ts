// Elementwise (scaled) adds (see shaders/add.wgsl).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';

export interface AddArgs {
  /** Left operand f32 [n]; updated in place when `out` is omitted. */
  x: GPUBuffer;
  /** Right operand f32 [n]; must differ from x when in place. */
  y: GPUBuffer;
  /** If given: out = x + scale*y (out must differ from x and y). Else x += scale*y. */
  out?: GPUBuffer;
  n: number;
  /** Default 1 (granite: residual_multiplier). */
  scale?: number;
}

/** x += scale * y, or out = x + scale * y. */
export function encodeAdd(gpu: Gpu, pass: GPUComputePassEncoder, a: AddArgs): void {
  const params = gpu.uniform([a.n, a.scale ?? 1, 0, 0], new Set([1]));
  const inplace = !a.out;
  dispatch(gpu, pass, { shader: 'add', defines: { INPLACE: inplace }, constants: { WG: 256 } },
    inplace ? [a.x, a.y, params] : [a.x, a.y, a.out!, params], grid1d(gpu, Math.ceil(a.n / 256)));
}
