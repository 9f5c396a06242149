// One MoE layer of the default model's shape (E 32, top-4, H 256, I 128) at decode batch sizes, next to
// the best matmul of the same run: the issue-8 target "MoE layer at 16 tokens >= 30% of the best matmul
// GFLOP/s". Process CPU time per call (SwiftShader runs kernels on this process's threads; wall time
// on a shared machine is mostly other people's load), medians of interleaved rounds.
//   bash scripts/with-gpu.sh npx tsx bench/profile-moe.ts [--rounds 5] [--formats f32,f16]
import { createNodeGpu } from '../src/gpu/node.ts';
import { createStorage } from '../src/gpu/buffers.ts';
import { createMoeWorkspace, encodeMoeLayer } from '../src/kernels/moe_ffn.ts';
import { encodeMatmul } from '../src/kernels/matmul.ts';
import { uploadWeight } from '../src/quant/upload.ts';
import { packF16Rows, padRowsF32, type WeightFormat } from '../src/quant/pack.ts';
import { moeLogits } from './kernels-moe.ts';
import { timeCalls } from './profile-kernels.ts';

const argOf = (n: string) => (process.argv.includes(n) ? process.argv[process.argv.indexOf(n) + 1] : undefined);
const rounds = Number(argOf('--rounds') ?? 5);
const formats = (argOf('--formats') ?? 'f32,f16').split(',') as WeightFormat[];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

async function main(): Promise<void> {
  const gpu = await createNodeGpu();
  console.log(gpu.describe());
  const [E, k, H, I] = [32, 4, 256, 128];
  const Ts = [1, 8, 16];
  const ws = createMoeWorkspace(gpu, { maxTokens: 16, E, k, H, I });
  const x = createStorage(gpu.device, new Float32Array(16 * H).map((_, i) => Math.sin(i)));
  const out = createStorage(gpu.device, 16 * H * 4);
  const gu = new Float32Array(E * 2 * I * H).map((_, i) => Math.sin(i * 0.7) * 0.05);
  const dn = new Float32Array(E * H * I).map((_, i) => Math.cos(i * 0.3) * 0.05);
  const logits = new Map(Ts.map((T) => [T, createStorage(gpu.device, moeLogits(T, E))]));
  // the compute yardstick: the best of a few matmul shapes (blocked/decode kernels as the device picks)
  const mm: { name: string; flops: number; enc: (p: GPUComputePassEncoder) => void }[] = [];
  for (const [n, kk, t] of [[512, 512, 64], [8192, 256, 16], [1024, 1024, 8]]) {
    const w = uploadWeight(gpu, new Float32Array(n * kk).map((_, i) => Math.sin(i)), n, kk, 'f32');
    const xb = createStorage(gpu.device, new Float32Array(t * kk).fill(0.5));
    const yb = createStorage(gpu.device, t * n * 4);
    mm.push({ name: `matmul f32 ${n}x${kk} T=${t}`, flops: 2 * n * kk * t, enc: (p) => encodeMatmul(gpu, p, { x: xb, w, out: yb, t }) });
  }
  const moe: { name: string; flops: number; enc: (p: GPUComputePassEncoder) => void }[] = [];
  for (const f of formats) {
    const pack = (w: Float32Array, rows: number, cols: number) => createStorage(gpu.device, f === 'f16' ? packF16Rows(w, rows, cols) : padRowsF32(w, rows, cols));
    if (f !== 'f32' && f !== 'f16') throw new Error('profile-moe: f32 or f16');
    const gateUp = pack(gu, E * 2 * I, H);
    const down = pack(dn, E * H, I);
    for (const T of Ts) {
      moe.push({
        name: `moe layer ${f} T=${T}`, flops: 2 * 3 * H * I * T * k,
        enc: (p) => encodeMoeLayer(gpu, p, { ws, logits: logits.get(T)!, x, out, gateUp, down, format: f, T, mode: 'softmax', normTopk: true, policy: { kind: 'baseline' } }),
      });
    }
  }
  const all = [...mm, ...moe];
  const cpu = new Map(all.map((c) => [c.name, [] as number[]]));
  const inner = new Map<string, number>();
  for (const c of all) {
    await timeCalls(gpu, c.enc, 1);
    const e = await timeCalls(gpu, c.enc, 1);
    inner.set(c.name, Math.max(1, Math.min(20, Math.round(40 / Math.max(e.wall, 0.05)))));
  }
  for (let r = 0; r < rounds; r++) for (const c of all) cpu.get(c.name)!.push((await timeCalls(gpu, c.enc, inner.get(c.name)!)).cpu);
  let best = 0;
  for (const c of mm) best = Math.max(best, c.flops / median(cpu.get(c.name)!) / 1e6);
  for (const c of all) {
    const ms = median(cpu.get(c.name)!);
    const g = c.flops / ms / 1e6;
    console.log(`${c.name.padEnd(28)} ${ms.toFixed(3).padStart(9)} cpu-ms  ${g.toFixed(3).padStart(7)} GFLOP/cpu-s  ${((100 * g) / best).toFixed(0).padStart(4)}% of best matmul`);
  }
  gpu.destroy();
}
main();
