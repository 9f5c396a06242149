// The elementwise ops of shaders/elementwise.wgsl (one shader, one define per op): scaled adds, the
// shared expert's sigmoid-gated add, row gather; SwiGLU's silu*up is in activations.ts.
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d, type Binding } from '../gpu/dispatch.ts';

export type ElementwiseOp = 'ADD_INPLACE' | 'ADD' | 'GATED_ADD' | 'GATHER_ROWS' | 'SILU_MUL';

/** Uniform words of shaders/elementwise.wgsl's Params (n = output elements). */
export interface ElementwiseParams {
  n: number;
  dim?: number;
  s?: number;
  gateStride?: number;
  gateOffset?: number;
  upStride?: number;
  upOffset?: number;
}

const WG = 256;

/** One elementwise dispatch: `bindings` in the op's order (see the shader), the uniform appended. */
export function encodeElementwise(gpu: Gpu, pass: GPUComputePassEncoder, op: ElementwiseOp, bindings: readonly Binding[], p: ElementwiseParams): void {
  const params = gpu.uniform([p.n, p.dim ?? 1, p.s ?? 1, 0, p.gateStride ?? 0, p.gateOffset ?? 0, p.upStride ?? 0, p.upOffset ?? 0], new Set([2]));
  dispatch(gpu, pass, { shader: 'elementwise', defines: { [op]: true }, constants: { WG } }, [...bindings, params], grid1d(gpu, Math.ceil(p.n / WG)));
}

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
  if (a.out) encodeElementwise(gpu, pass, 'ADD', [a.x, a.y, a.out], { n: a.n, s: a.scale });
  else encodeElementwise(gpu, pass, 'ADD_INPLACE', [a.x, a.y], { n: a.n, s: a.scale });
}

/** out[r, :] = x[rows[r], :] for R rows of length dim. */
export function encodeGatherRows(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; rows: GPUBuffer; out: GPUBuffer; R: number; dim: number }): void {
  encodeElementwise(gpu, pass, 'GATHER_ROWS', [a.x, a.rows, a.out], { n: a.R * a.dim, dim: a.dim });
}

/** x[t, :] += scale * sigmoid(gate[t]) * y[t, :] (the shared expert's sigmoid gate). */
export function encodeGatedAdd(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; y: GPUBuffer; gate: GPUBuffer; T: number; dim: number; scale?: number }): void {
  encodeElementwise(gpu, pass, 'GATED_ADD', [a.x, a.y, a.gate], { n: a.T * a.dim, dim: a.dim, s: a.scale });
}
