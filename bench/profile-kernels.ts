// Kernel variants side by side at the default model's shapes (profiling aid for issue 8 item 7).
// Reports wall ms and process CPU ms per call (SwiftShader runs kernels on the process's own threads,
// so CPU time is far less sensitive to other load on a shared machine than wall time), interleaving
// the variants over --rounds rounds and taking medians.
//   bash scripts/with-gpu.sh npx tsx bench/profile-kernels.ts [--rounds 5] [--only blocked]
import { createNodeGpu } from '../src/gpu/node.ts';
import { createStorage } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/context.ts';
import { setBlockedMaxRows, encodeMatmul, type MatmulVariant } from '../src/kernels/matmul.ts';
import { uploadWeight } from '../src/quant/upload.ts';

const argOf = (n: string) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : undefined);
const rounds = Number(argOf('--rounds') ?? 5);
const only = argOf('--only') ?? '';
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** Wall and CPU ms per call of `encode`, `inner` calls in one submission. */
export async function timeCalls(gpu: Gpu, encode: (pass: GPUComputePassEncoder) => void, inner: number): Promise<{ wall: number; cpu: number }> {
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let i = 0; i < inner; i++) encode(pass);
  pass.end();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  gpu.device.queue.submit([enc.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  const wall = (performance.now() - t0) / inner;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e3 / inner };
}

async function main(): Promise<void> {
  const gpu = await createNodeGpu();
  console.log(gpu.describe());
  const shapes: [number, number, number][] = [[256, 256, 1], [256, 256, 16], [8192, 256, 1], [8192, 256, 16], [512, 512, 64]];
  type V = MatmulVariant | 'blocked4';
  const variants: V[] = (['decode', 'prefill', 'blocked', 'blocked4'] as V[]).filter((v) => !only || v.startsWith(only));
  for (const [n, k, t] of shapes) {
    const w = uploadWeight(gpu, new Float32Array(n * k).map((_, i) => Math.sin(i)), n, k, 'f32');
    const x = createStorage(gpu.device, new Float32Array(t * k).map((_, i) => Math.cos(i)));
    const y = createStorage(gpu.device, t * n * 4);
    const enc = (v: V) => (pass: GPUComputePassEncoder) => {
      setBlockedMaxRows(v === 'blocked4' ? 4 : 8);
      encodeMatmul(gpu, pass, { x, w, out: y, t, variant: v === 'blocked4' ? 'blocked' : v });
    };
    const res = new Map<V, { wall: number[]; cpu: number[] }>(variants.map((v) => [v, { wall: [], cpu: [] }]));
    const inner = new Map<V, number>();
    for (const v of variants) {
      const est = await timeCalls(gpu, enc(v), 1); // compile + warm
      const e2 = await timeCalls(gpu, enc(v), 1);
      inner.set(v, Math.max(1, Math.min(50, Math.round(30 / Math.max(e2.wall, 0.01)))));
      void est;
    }
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const m = await timeCalls(gpu, enc(v), inner.get(v)!);
        res.get(v)!.wall.push(m.wall);
        res.get(v)!.cpu.push(m.cpu);
      }
    }
    for (const v of variants) {
      const m = res.get(v)!;
      const cpu = median(m.cpu);
      console.log(`matmul ${n}x${k} T=${t} ${v.padEnd(8)} wall ${median(m.wall).toFixed(3).padStart(9)} ms  cpu ${cpu.toFixed(3).padStart(9)} ms  ${((2 * n * k * t) / cpu / 1e6).toFixed(3).padStart(7)} GFLOP/cpu-s`);
    }
    w.data.destroy();
    x.destroy();
    y.destroy();
  }
  setBlockedMaxRows(8);
  gpu.destroy();
}
if (process.argv[1]?.endsWith("profile-kernels.ts")) main();
