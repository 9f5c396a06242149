// Choosing the kernel family by measurement: time the matmul at a decode shape with each style on
// this device and keep the faster one (src/kernels/variants.ts holds the choice). Costs the compile of
// both variants (about a second on SwiftShader) and a few milliseconds of GPU time.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import { GpuTimer } from '../gpu/timer.ts';
import { encodeMatmul } from './matmul.ts';
import { destroyWeight, uploadWeight } from '../quant/upload.ts';
import { setKernelStyle, type KernelStyle } from './variants.ts';

export interface KernelStyleMeasurement {
  style: KernelStyle;
  /** Median ms of one matmul call per style (GPU timestamps when available, else wall clock). */
  ms: Record<KernelStyle, number>;
}

/** Time both kernel styles on a [T=8, K=256] x [N=512, K]^T matmul, set the faster one on `gpu`, return both times. */
export async function measureKernelStyle(gpu: Gpu, reps = 5): Promise<KernelStyleMeasurement> {
  const [n, k, t] = [512, 256, 8];
  const w = uploadWeight(gpu, new Float32Array(n * k).map((_, i) => Math.sin(i) * 0.05), n, k, 'f32');
  const x = createStorage(gpu.device, new Float32Array(t * k).map((_, i) => Math.cos(i)));
  const y = createStorage(gpu.device, t * n * 4);
  const ms = {} as Record<KernelStyle, number>;
  try {
    for (const style of ['blocked', 'lanes'] as const) {
      setKernelStyle(gpu, style);
      const run = async (timer: GpuTimer | null) => {
        const enc = gpu.device.createCommandEncoder();
        const pass = enc.beginComputePass(timer ? { timestampWrites: timer.pass() } : undefined);
        encodeMatmul(gpu, pass, { x, w, out: y, t });
        pass.end();
        const t0 = performance.now();
        gpu.device.queue.submit([enc.finish()]);
        await gpu.device.queue.onSubmittedWorkDone();
        return performance.now() - t0;
      };
      await run(null); // compile, first touch
      const timer = GpuTimer.create(gpu, reps);
      const wall: number[] = [];
      for (let r = 0; r < reps; r++) wall.push(await run(timer));
      const samples = timer ? await timer.read() : wall;
      timer?.destroy();
      ms[style] = [...samples].sort((a, b) => a - b)[samples.length >> 1];
    }
  } finally {
    destroyWeight(w);
    x.destroy();
    y.destroy();
  }
  const style: KernelStyle = ms.blocked <= ms.lanes ? 'blocked' : 'lanes';
  setKernelStyle(gpu, style);
  return { style, ms };
}
