// Packing an f32 weight on the CPU (src/quant/pack.ts layouts) and uploading it as the MatmulWeight the
// matmul kernel reads; the model loader (runtime/weights.ts), kernel tuning, benchmarks and kernel tests all upload through here.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import type { MatmulWeight } from '../kernels/matmul.ts';
import { packF16Rows, padRowsF32, paddedCols, quantizeInt4, quantizeInt8, type WeightFormat } from './pack.ts';

export interface UploadWeightOptions {
  /** int8/int4 group size (multiple of 8); default 32. */
  group?: number;
  label?: string;
}

/** Bytes a packed weight of this shape takes on the GPU (data + scales). */
export function weightBytes(format: WeightFormat, n: number, k: number, group = 32): number {
  const kPad = paddedCols(format, k, group);
  const bits = { f32: 32, f16: 16, int8: 8, int4: 4 }[format];
  const scales = format === 'int8' || format === 'int4' ? (n * kPad * 4) / group : 0;
  return (n * kPad * bits) / 8 + scales;
}

/**
 * Pack an f32 weight W [n, k] (row = output channel) on the CPU in `format` and upload it: the
 * descriptor encodeMatmul takes, with `bytes` set. Convert bf16/f16 checkpoints with src/quant/f16.ts first.
 */
export function uploadWeight(gpu: Gpu, w: Float32Array, n: number, k: number, format: WeightFormat, opts: UploadWeightOptions = {}): MatmulWeight {
  const group = opts.group ?? 32;
  const label = opts.label ?? `weight-${format}`;
  const dev = gpu.device;
  let data: GPUBuffer;
  let scales: GPUBuffer | undefined;
  let kPad: number;
  if (format === 'f32' || format === 'f16') {
    kPad = paddedCols(format, k, group);
    data = createStorage(dev, format === 'f32' ? padRowsF32(w, n, k, kPad) : packF16Rows(w, n, k, kPad), label);
  } else {
    const q = format === 'int8' ? quantizeInt8(w, n, k, group) : quantizeInt4(w, n, k, group);
    kPad = q.kPad;
    data = createStorage(dev, q.q, label);
    scales = createStorage(dev, q.scales, `${label}-scales`);
  }
  return { format, data, scales, n, k, kPad, group, bytes: data.size + (scales?.size ?? 0) };
}

/** Free a weight's GPU buffers. */
export function destroyWeight(w: MatmulWeight): void {
  w.data.destroy();
  w.scales?.destroy();
}
