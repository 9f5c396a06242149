// Builds a valid safetensors file in memory: for tests and tools only (not exported by the format
// layer's index, so it stays out of the browser bundle).
import type { Dtype } from './dtype.ts';

export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** Serialises tensors (in the given order, contiguous) with the header padded to 8 bytes, like the Python writer. */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json: Uint8Array = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}
