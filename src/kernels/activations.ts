// SwiGLU gate multiply (see shaders/silu_mul.wgsl).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';

export interface SiluMulArgs {
  /** Gate activations; row t starts at element t*gateStride + gateOffset. */
  gate: GPUBuffer;
  /** Up activations (may be the same buffer as gate); row t starts at t*upStride + upOffset. */
  up: GPUBuffer;
  /** Output f32 [tokens, inter]. */
  out: GPUBuffer;
  tokens: number;
  inter: number;
  /** Defaults: inter (separate [T, I] buffers). For a fused [T, 2I] buffer use stride 2I, upOffset I. */
  gateStride?: number;
  gateOffset?: number;
  upStride?: number;
  upOffset?: number;
}

/** out[t, i] = silu(gate[t, i]) * up[t, i]. */
export function encodeSiluMul(gpu: Gpu, pass: GPUComputePassEncoder, a: SiluMulArgs): void {
  const params = gpu.uniform([
    a.tokens, a.inter, a.gateStride ?? a.inter, a.gateOffset ?? 0, a.upStride ?? a.inter, a.upOffset ?? 0, 0, 0,
  ]);
  dispatch(gpu, pass, { shader: 'silu_mul', constants: { WG: 256 } }, [a.gate, a.up, a.out, params],
    grid1d(gpu, Math.ceil((a.tokens * a.inter) / 256)));
}

/** Convenience: fused [T, 2I] gate|up buffer (gate first half of each row). */
export function encodeSiluMulFused(gpu: Gpu, pass: GPUComputePassEncoder, a: { gateUp: GPUBuffer; out: GPUBuffer; tokens: number; inter: number }): void {
  encodeSiluMul(gpu, pass, {
    gate: a.gateUp, up: a.gateUp, out: a.out, tokens: a.tokens, inter: a.inter,
    gateStride: 2 * a.inter, gateOffset: 0, upStride: 2 * a.inter, upOffset: a.inter,
  });
}
