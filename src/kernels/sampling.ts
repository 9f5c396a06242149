// Token selection on the GPU: argmax and temperature/top-k/top-p sampling per row of logits
// (see shaders/argmax.wgsl, shaders/sample.wgsl; exact semantics in src/reference/sampling.ts).
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

export interface SampleParams {
  /** <= 0: greedy (argmax). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = off. Values <= 0 keep only the top token. */
  topP: number;
  /** Keep at most this many tokens; 0 = off. */
  topK: number;
  /** Uniform random number in [0, 1) drawn on the CPU. */
  u: number;
}

/** Per-row parameter buffer contents for encodeSample: f32 [rows, 4] = (temperature, topP, topK, u). */
export function packSampleParams(rows: readonly SampleParams[]): Float32Array {
  const out = new Float32Array(rows.length * 4);
  rows.forEach((r, i) => out.set([r.temperature, r.topP, r.topK, r.u], i * 4));
  return out;
}

export interface SampleArgs {
  /** f32 [rows, vocab]. */
  logits: GPUBuffer;
  /** f32 [rows, 4] from packSampleParams (update u each step with queue.writeBuffer). */
  params: GPUBuffer;
  /** u32 [rows]: sampled token ids. */
  out: GPUBuffer;
  rows: number;
  vocab: number;
}

/** Sample one token per row; same index as sampleRef for the same parameters and u. */
export function encodeSample(gpu: Gpu, pass: GPUComputePassEncoder, a: SampleArgs): void {
  if (a.vocab < 1 || a.vocab >= 2 ** 31) throw new Error('webmoe: sample vocab out of range');
  const nbits = 32 - Math.clz32(a.vocab);
  const params = gpu.uniform([a.rows, a.vocab, nbits, 0]);
  dispatch(gpu, pass, { shader: 'sample', constants: { WG: 256 } }, [a.logits, a.params, a.out, params], grid1d(gpu, a.rows));
}
