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

const WG = 256;

/** out[r, :] = x[rows[r], :] for R rows of length dim. */
export function encodeGatherRows(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; rows: GPUBuffer; out: GPUBuffer; R: number; dim: number }): void {
  dispatch(gpu, pass, { shader: 'gather_rows', constants: { WG } }, [a.x, a.rows, a.out, gpu.uniform([a.R, a.dim, 0, 0])],
    grid1d(gpu, Math.ceil((a.R * a.dim) / WG)));
}

/** x[t, :] += scale * sigmoid(gate[t]) * y[t, :] (the shared expert's sigmoid gate). */
export function encodeGatedAdd(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; y: GPUBuffer; gate: GPUBuffer; T: number; dim: number; scale?: number }): void {
  dispatch(gpu, pass, { shader: 'gated_add', constants: { WG } }, [a.x, a.y, a.gate, gpu.uniform([a.T, a.dim, a.scale ?? 1, 0], new Set([2]))],
    grid1d(gpu, Math.ceil((a.T * a.dim) / WG)));
}

/** x = clamp(x, -c, c) in place. */
export function encodeClamp(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; n: number; c: number }): void {
  dispatch(gpu, pass, { shader: 'clamp', constants: { WG } }, [a.x, gpu.uniform([a.n, a.c, 0, 0], new Set([1]))], grid1d(gpu, Math.ceil(a.n / WG)));
}
