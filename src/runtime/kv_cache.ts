// KV cache: per layer one K and one V buffer of maxSeqs * maxContext slots; sequence i owns the
// contiguous slot range [i * maxContext, (i + 1) * maxContext). Allocation is a free list of ranges.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';

export class KvCache {
  private readonly layers: { k: GPUBuffer; v: GPUBuffer }[] = [];
  private readonly lengths = new Map<number, number>();
  private readonly freeIds: number[];

  /** Bytes of one layer's K (or V) buffer. */
  static bytesPerLayer(maxSeqs: number, maxContext: number, kvDim: number): number {
    return maxSeqs * maxContext * kvDim * 4;
  }

  constructor(gpu: Gpu, nLayers: number, readonly maxSeqs: number, readonly maxContext: number, readonly kvDim: number) {
    const bytes = KvCache.bytesPerLayer(maxSeqs, maxContext, kvDim);
    const limit = gpu.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new Error(`webmoe: KV cache of ${maxSeqs} sequences x ${maxContext} tokens needs ${bytes} bytes per layer, over the device's binding limit ${limit}; lower maxSeqs or maxContext`);
    }
    for (let l = 0; l < nLayers; l++) {
      this.layers.push({ k: createStorage(gpu.device, bytes, `kv.k${l}`), v: createStorage(gpu.device, bytes, `kv.v${l}`) });
    }
    this.freeIds = [...Array(maxSeqs).keys()].reverse();
  }

  allocate(): number {
    const id = this.freeIds.pop();
    if (id === undefined) throw new Error(`webmoe: all ${this.maxSeqs} KV-cache sequences are in use`);
    this.lengths.set(id, 0);
    return id;
  }

  free(id: number): void {
    if (!this.lengths.has(id)) return;
    this.lengths.delete(id);
    this.freeIds.push(id);
  }

  length(id: number): number {
    const n = this.lengths.get(id);
    if (n === undefined) throw new Error(`webmoe: unknown sequence ${id}`);
    return n;
  }

  /** First cache slot of sequence `id` (allocated or not). */
  base0(id: number): number {
    return id * this.maxContext;
  }

  /** Total slots per layer buffer. */
  get slots(): number {
    return this.maxSeqs * this.maxContext;
  }

  advance(id: number, n: number): void {
    this.lengths.set(id, this.length(id) + n);
  }

  get active(): number {
    return this.lengths.size;
  }

  layer(l: number): { k: GPUBuffer; v: GPUBuffer } {
    return this.layers[l];
  }

  destroy(): void {
    for (const { k, v } of this.layers) {
      k.destroy();
      v.destroy();
    }
  }
}
