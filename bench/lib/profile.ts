// GPU time of a forward step split by dispatch family. MoeModel.forward takes a `beginPass` hook; the
// splitter below hands it a stand-in compute pass that opens a new real pass, with timestamp writes, at
// every setPipeline — so each dispatch gets its own timed pass — and labels it with the pipeline's
// label ("shader:entry", from the pipeline cache). Splitting adds a pass boundary per dispatch, so the
// profiled total is a little above the single-pass step: use the shares, not the absolute sum.
import type { Gpu } from '../../src/gpu/context.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';

export interface DispatchTime {
  /** Pipeline label, e.g. "matmul:main", "moe_ffn:ffn_gate_up". */
  family: string;
  ms: number;
}

export class DispatchProfiler {
  private readonly timer: GpuTimer;
  private families: string[] = [];

  private constructor(timer: GpuTimer) {
    this.timer = timer;
  }

  /** Null when the device has no timestamp-query. */
  static create(gpu: Gpu, capacity = 2048): DispatchProfiler | null {
    const t = GpuTimer.create(gpu, capacity);
    return t ? new DispatchProfiler(t) : null;
  }

  /** For StepRequest.beginPass: a compute pass stand-in that times every dispatch on its own. */
  readonly beginPass = (enc: GPUCommandEncoder): GPUComputePassEncoder => {
    let real: GPUComputePassEncoder | null = null;
    const open = (label: string) => {
      real?.end();
      this.families.push(label || 'unlabelled');
      real = enc.beginComputePass({ label, timestampWrites: this.timer.pass() });
      return real;
    };
    const need = () => {
      if (!real) throw new Error('bench profiler: a dispatch came before any setPipeline');
      return real;
    };
    const proxy = {
      label: 'step (profiled)',
      setPipeline: (p: GPUComputePipeline) => open(p.label).setPipeline(p),
      setBindGroup: (i: number, g: GPUBindGroup | null, offs?: Iterable<number>) => need().setBindGroup(i, g, offs as number[] | undefined),
      dispatchWorkgroups: (x: number, y?: number, z?: number) => need().dispatchWorkgroups(x, y, z),
      dispatchWorkgroupsIndirect: (b: GPUBuffer, o: number) => need().dispatchWorkgroupsIndirect(b, o),
      pushDebugGroup: (s: string) => real?.pushDebugGroup(s),
      popDebugGroup: () => real?.popDebugGroup(),
      insertDebugMarker: (s: string) => real?.insertDebugMarker(s),
      end: () => {
        real?.end();
        real = null;
      },
    };
    return proxy as unknown as GPUComputePassEncoder;
  };

  /** Times of the dispatches recorded since the last read (submit the step first), then reset. */
  async read(): Promise<DispatchTime[]> {
    const ms = await this.timer.read();
    const out = ms.map((t, i) => ({ family: this.families[i], ms: t }));
    this.timer.reset();
    this.families = [];
    return out;
  }

  destroy(): void {
    this.timer.destroy();
  }
}

export interface FamilySplit {
  family: string;
  ms: number;
  dispatches: number;
  share: number;
}

/** Sum dispatch times per family, largest first. */
export function splitByFamily(times: readonly DispatchTime[]): FamilySplit[] {
  const m = new Map<string, { ms: number; n: number }>();
  for (const t of times) {
    const e = m.get(t.family) ?? { ms: 0, n: 0 };
    e.ms += t.ms;
    e.n++;
    m.set(t.family, e);
  }
  const total = times.reduce((a, t) => a + t.ms, 0);
  return [...m.entries()].map(([family, e]) => ({ family, ms: e.ms, dispatches: e.n, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
}
