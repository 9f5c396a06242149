// Timing of GPU work for every benchmark, Node or browser (no node: imports here): one case = something
// recorded into a compute pass, timed by GPU timestamps when the device has them and by batched wall
// clock always; a buffer-to-buffer copy is the memory-bandwidth yardstick; matmul cases at given shapes.
import type { Gpu } from '../../src/gpu/context.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import { createStorage } from '../../src/gpu/buffers.ts';
import { encodeMatmul } from '../../src/kernels/matmul.ts';
import type { WeightFormat } from '../../src/quant/pack.ts';
import { uploadWeight, destroyWeight } from '../../src/quant/upload.ts';
import { median } from './stats.ts';

export interface BenchCase {
  name: string;
  /** Bytes of weights (or other "must stream" data) one call reads: for effective GB/s. */
  bytes: number;
  /** Floating-point operations of one call (2 per multiply-add). */
  flops: number;
  /** Record one call into an open compute pass. */
  encode: (pass: GPUComputePassEncoder) => void;
  /** Free buffers after measuring. */
  dispose?: () => void;
  /** Extra columns for the JSON. */
  meta?: Record<string, unknown>;
}

export interface BenchResult {
  name: string;
  ms: number;
  /** 'gpu-timestamp' or 'wall' (batched submissions around onSubmittedWorkDone). */
  timing: string;
  gflops: number;
  gbps: number;
  /** Batched wall-clock ms per call (always measured; the copy is only timed this way). */
  wallMs: number;
  /** Kernel GB/s over the copy GB/s, both by wall clock, measured in the same run. */
  vsCopy?: number;
  meta?: Record<string, unknown>;
}

export interface BenchOptions {
  reps?: number;
  /** Target wall time per sample in ms: several calls are batched into one submission to reach it. */
  sampleMs?: number;
}

/** Time `record` (one call) by wall clock: `inner` calls per submission, median over reps, per call. */
export async function wallTime(gpu: Gpu, record: (enc: GPUCommandEncoder) => void, reps: number, sampleMs: number): Promise<number> {
  const run = async (inner: number) => {
    const enc = gpu.device.createCommandEncoder();
    for (let i = 0; i < inner; i++) record(enc);
    const t0 = performance.now();
    gpu.device.queue.submit([enc.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / inner;
  };
  await run(1); // warm-up (pipeline compile, first-touch)
  const est = await run(1);
  const inner = Math.max(1, Math.min(200, Math.round(sampleMs / Math.max(est, 1e-3))));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(await run(inner));
  return median(samples);
}

/** Measure one case: GPU timestamps when the device has them, else batched wall clock. */
export async function benchCase(gpu: Gpu, c: BenchCase, opts: BenchOptions = {}): Promise<BenchResult> {
  const reps = opts.reps ?? 5;
  const sampleMs = opts.sampleMs ?? 100;
  let ms: number;
  let timing: string;
  const wallMs = await wallTime(gpu, (enc) => {
    const pass = enc.beginComputePass();
    c.encode(pass);
    pass.end();
  }, reps, sampleMs);
  const timer = GpuTimer.create(gpu, reps + 2);
  if (timer) {
    const enc0 = gpu.device.createCommandEncoder();
    const p0 = enc0.beginComputePass();
    c.encode(p0);
    p0.end();
    gpu.device.queue.submit([enc0.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    const enc = gpu.device.createCommandEncoder();
    for (let r = 0; r < reps; r++) {
      const pass = enc.beginComputePass({ timestampWrites: timer.pass() });
      c.encode(pass);
      pass.end();
    }
    gpu.device.queue.submit([enc.finish()]);
    ms = median(await timer.read());
    timer.destroy();
    timing = 'gpu-timestamp';
  } else {
    ms = wallMs;
    timing = 'wall';
  }
  const s = ms / 1e3;
  return { name: c.name, ms, wallMs, timing, gflops: c.flops / s / 1e9, gbps: c.bytes / s / 1e9, meta: c.meta };
}

/** GB/s of copyBufferToBuffer of `bytes` (bytes copied per second, not read+write). */
export async function benchCopy(gpu: Gpu, bytes: number, opts: BenchOptions = {}): Promise<BenchResult> {
  const size = Math.ceil(bytes / 4) * 4;
  const src = createStorage(gpu.device, size, 'bench-copy-src');
  const dst = createStorage(gpu.device, size, 'bench-copy-dst');
  const ms = await wallTime(gpu, (enc) => enc.copyBufferToBuffer(src, 0, dst, 0, size), opts.reps ?? 5, opts.sampleMs ?? 100);
  src.destroy();
  dst.destroy();
  return { name: `copy ${(size / 2 ** 20).toFixed(1)} MiB`, ms, wallMs: ms, timing: 'wall', gflops: 0, gbps: size / (ms / 1e3) / 1e9, meta: { bytes: size } };
}

/** Matmul cases for every weight format at the given shapes. */
export function matmulCases(gpu: Gpu, n: number, k: number, ts: number[], formats: WeightFormat[] = ['f32', 'f16', 'int8', 'int4']): BenchCase[] {
  const w = new Float32Array(n * k);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.618) * 0.05;
  const tMax = Math.max(...ts);
  const x = createStorage(gpu.device, new Float32Array(tMax * k).map((_, i) => Math.cos(i)), 'bench-x');
  const out = createStorage(gpu.device, tMax * n * 4, 'bench-y');
  const cases: BenchCase[] = [];
  const weights = formats.map((f) => uploadWeight(gpu, w, n, k, f, { group: 32 }));
  for (const wd of weights) {
    for (const t of ts) {
      cases.push({
        name: `matmul ${wd.format} T=${t} ${n}x${k}`,
        bytes: wd.bytes!,
        flops: 2 * t * n * k,
        encode: (pass) => encodeMatmul(gpu, pass, { x, w: wd, out, t }),
        meta: { kernel: 'matmul', format: wd.format, t, n, k, variant: t <= 32 ? 'decode' : 'prefill' },
      });
    }
  }
  cases[cases.length - 1].dispose = () => {
    for (const wd of weights) destroyWeight(wd);
    x.destroy();
    out.destroy();
  };
  return cases;
}

