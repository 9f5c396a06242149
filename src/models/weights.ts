// Reading one WeightRef (a whole tensor, or one expert / row block of a stacked tensor) as f32,
// touching only the bytes of that piece.
import type { Checkpoint } from '../format/checkpoint.ts';
import { DTYPE_SIZE, bytesToF32 } from '../format/dtype.ts';
import type { WeightRef } from './spec.ts';

export async function readWeightF32(ckpt: Checkpoint, ref: WeightRef): Promise<Float32Array> {
  const t = ckpt.get(ref.tensor);
  if (ref.expert === undefined && !ref.rowOffset) return ckpt.readTensorF32(ref.tensor);
  const size = DTYPE_SIZE[t.info.dtype];
  const full = t.info.shape;
  const perExpert = full.slice(1).reduce((a, b) => a * b, 1);
  const cols = full[full.length - 1];
  const count = ref.shape.reduce((a, b) => a * b, 1);
  const startElem = (ref.expert ?? 0) * perExpert + (ref.rowOffset ?? 0) * cols;
  const bytes = await t.source.read(t.info.begin + startElem * size, count * size);
  return bytesToF32(bytes, t.info.dtype);
}
