// SwiGLU gate multiply (shaders/elementwise.wgsl, op SILU_MUL).
import type { Gpu } from '../gpu/context.ts';
import { encodeElementwise } from './elementwise.ts';

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
  encodeElementwise(gpu, pass, 'SILU_MUL', [a.gate, a.up, a.out], {
    n: a.tokens * a.inter, dim: a.inter, gateStride: a.gateStride ?? a.inter, gateOffset: a.gateOffset, upStride: a.upStride ?? a.inter, upOffset: a.upOffset,
  });
}

/** Convenience: fused [T, 2I] gate|up buffer (gate first half of each row). */
export function encodeSiluMulFused(gpu: Gpu, pass: GPUComputePassEncoder, a: { gateUp: GPUBuffer; out: GPUBuffer; tokens: number; inter: number }): void {
  encodeSiluMul(gpu, pass, {
    gate: a.gateUp, up: a.gateUp, out: a.out, tokens: a.tokens, inter: a.inter,
    gateStride: 2 * a.inter, gateOffset: 0, upStride: 2 * a.inter, upOffset: a.inter,
  });
}
