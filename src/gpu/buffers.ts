// GPU buffers: creation with labels, uploads and read-backs.

// The spec's numeric flags, so modules need no GPU globals at import time (Node installs them late).
export const Usage = {
  MAP_READ: 0x1,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  INDIRECT: 0x100,
  QUERY_RESOLVE: 0x200,
} as const;
/** Default usage for storage buffers: readable, writable, copyable. */
export const STORAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;
const MAP_MODE_READ = 0x1;

/** Round a byte size up to 4 (WebGPU copy alignment). */
export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** A storage buffer holding `data` (or `size` zero bytes). */
export function createStorage(device: GPUDevice, data: ArrayBufferView | number, label = 'storage', usage = STORAGE): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  const buf = device.createBuffer({ size: Math.max(4, align4(size)), usage, label, mappedAtCreation: typeof data !== 'number' });
  if (typeof data !== 'number') {
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
  }
  return buf;
}

/** A uniform buffer from 32-bit words; `words` entries are u32 unless given as f32 by `floats`. */
export function createUniform(device: GPUDevice, words: ArrayLike<number>, floats: ReadonlySet<number> = new Set(), label = 'params'): GPUBuffer {
  const ab = new ArrayBuffer(Math.max(16, align4(words.length * 4)));
  const u = new Uint32Array(ab);
  const f = new Float32Array(ab);
  for (let i = 0; i < words.length; i++) {
    if (floats.has(i)) f[i] = words[i];
    else u[i] = words[i] >>> 0;
  }
  const buf = device.createBuffer({ size: ab.byteLength, usage: Usage.UNIFORM | Usage.COPY_DST, label, mappedAtCreation: true });
  new Uint8Array(buf.getMappedRange()).set(new Uint8Array(ab));
  buf.unmap();
  return buf;
}

/** Copy `size` bytes from a GPU buffer back to the CPU. */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, size = src.size, offset = 0): Promise<ArrayBuffer> {
  const n = align4(size);
  const staging = device.createBuffer({ size: n, usage: Usage.MAP_READ | Usage.COPY_DST, label: 'readback' });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, n);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(MAP_MODE_READ);
  const out = staging.getMappedRange().slice(0, size);
  staging.unmap();
  staging.destroy();
  return out;
}
