// Greedy token selection on the GPU: argmax per row of logits (shaders/argmax.wgsl, reference
// src/reference/argmax.ts). Sampling with temperature / top-p runs on the CPU (src/runtime/sampling.ts).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import { kernelStyle, type KernelStyle } from './variants.ts';

export interface ArgmaxArgs {
  /** f32 [rows, vocab]. */
  logits: GPUBuffer;
  /** u32 [rows]. */
  out: GPUBuffer;
  rows: number;
  vocab: number;
  /** Force a variant (tests); default: the device's kernel style. */
  style?: KernelStyle;
}

/** out[r] = argmax(logits[r, :]), ties -> lowest index. */
export function encodeArgmax(gpu: Gpu, pass: GPUComputePassEncoder, a: ArgmaxArgs): void {
  const params = gpu.uniform([a.rows, a.vocab, 0, 0]);
  if ((a.style ?? kernelStyle(gpu)) === 'blocked') {
    dispatch(gpu, pass, { shader: 'argmax', defines: { BLOCKED: true, V4: a.vocab % 4 === 0 }, constants: { WG: 4 } },
      [a.logits, a.out, params], grid1d(gpu, Math.ceil(a.rows / 4)));
  } else {
    dispatch(gpu, pass, { shader: 'argmax', constants: { WG: 256 } }, [a.logits, a.out, params], grid1d(gpu, a.rows));
  }
}
