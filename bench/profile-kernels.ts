// Kernel variants side by side at the default model's shapes (my profiling aid for issue 8 item 7):
//   bash scripts/with-gpu.sh npx tsx bench/profile-kernels.ts [--reps 3]
import { createNodeGpu } from '../src/gpu/node.ts';
import { createStorage } from '../src/gpu/buffers.ts';
import { benchCase } from './kernels.ts';
import { encodeMatmul, uploadWeight, type MatmulVariant } from '../src/kernels/matmul.ts';

const argOf = (n: string) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : undefined);
const reps = Number(argOf('--reps') ?? 3);
const only = argOf('--only') ?? '';

async function main(): Promise<void> {
  const gpu = await createNodeGpu();
  console.log(gpu.describe());
  const shapes: [number, number, number][] = [[256, 256, 1], [256, 256, 16], [8192, 256, 1], [8192, 256, 16], [512, 512, 64]];
  for (const [n, k, t] of shapes) {
    const w = uploadWeight(gpu, new Float32Array(n * k).map((_, i) => Math.sin(i)), n, k, 'f32');
    const x = createStorage(gpu.device, new Float32Array(t * k).map((_, i) => Math.cos(i)));
    const y = createStorage(gpu.device, t * n * 4);
    for (const variant of ['decode', 'prefill', 'blocked'] as MatmulVariant[]) {
      if (only && !variant.startsWith(only)) continue;
      const r = await benchCase(gpu, { name: '', bytes: 0, flops: 2 * n * k * t, encode: (pass) => encodeMatmul(gpu, pass, { x, w, out: y, t, variant }) }, { reps, sampleMs: 30 });
      console.log(`matmul ${n}x${k} T=${t} ${variant.padEnd(8)} ${r.ms.toFixed(3).padStart(9)} ms ${r.gflops.toFixed(3).padStart(7)} GFLOP/s`);
    }
  }
  gpu.destroy();
}
main();
