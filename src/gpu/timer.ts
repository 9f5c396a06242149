// GPU-side timing with timestamp queries, for benchmarks. Absent feature -> null timer; callers fall
// back to wall-clock around onSubmittedWorkDone.
import type { Gpu } from './context.ts';
import { Usage, readBuffer } from './buffers.ts';

export class GpuTimer {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private next = 0;

  private constructor(private readonly gpu: Gpu, private readonly capacity: number) {
    this.querySet = gpu.device.createQuerySet({ type: 'timestamp', count: capacity * 2 });
    this.resolveBuf = gpu.device.createBuffer({ size: capacity * 16, usage: Usage.QUERY_RESOLVE | Usage.COPY_SRC });
  }

  static create(gpu: Gpu, capacity = 64): GpuTimer | null {
    return gpu.features.timestamp ? new GpuTimer(gpu, capacity) : null;
  }

  /** timestampWrites for one compute pass; its duration lands in slot i of read(). */
  pass(): GPUComputePassTimestampWrites {
    if (this.next >= this.capacity) throw new Error('GpuTimer: out of query slots; call reset()');
    const i = this.next++;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Durations in milliseconds of the passes recorded since the last reset. */
  async read(): Promise<number[]> {
    const n = this.next;
    if (n === 0) return [];
    const enc = this.gpu.device.createCommandEncoder();
    enc.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuf, 0);
    this.gpu.device.queue.submit([enc.finish()]);
    const t = new BigUint64Array(await readBuffer(this.gpu.device, this.resolveBuf, 16 * n));
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(Number(t[2 * i + 1] - t[2 * i]) / 1e6);
    return out;
  }

  reset(): void {
    this.next = 0;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolveBuf.destroy();
  }
}
