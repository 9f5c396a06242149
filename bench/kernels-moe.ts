// MoE layer benchmark cases for bench/kernels.ts (imported automatically when this file exists).
// One case = one whole MoE layer (encodeMoeLayer: scores -> routing policy -> expert lists -> grouped gated
// expert FFN -> combine) at a decode batch T, for one routing policy and one expert weight format.
// `bytes` = expert weight bytes the layer actually reads = distinct experts x bytes per expert, with the
// distinct count from the pure-TS route() on the same logits (and checked against the GPU's own counter).
//
// moeReport(results) turns the measured rows into the claim webmoe makes: per (shape, format, T), policy
// time / baseline time next to distinct / baseline distinct. It prints that table, writes
// bench/out/kernels-moe.json and adds the same ratios to bench/out/kernels.json as `moeRatios`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Gpu } from '../src/gpu/context.ts';
import { createStorage, readBuffer } from '../src/gpu/buffers.ts';
import { createMoeWorkspace, encodeMoeLayer } from '../src/kernels/moe_ffn.ts';
import type { WeightFormat } from '../src/quant/pack.ts';
import type { GpuPolicy } from '../src/kernels/moe_router.ts';
import { packF16Rows, padRowsF32, quantizeInt8 } from '../src/quant/pack.ts';
import { route } from '../src/routing/policies.ts';
import { NO_EXPERT, type PolicyConfig, type RouterConfig } from '../src/routing/types.ts';
import type { BenchCase, BenchResult } from './kernels.ts';
import { seededRandom } from '../src/util/random.ts';

export interface MoeShape {
  label: string;
  E: number;
  k: number;
  H: number;
  I: number;
}

/** The embedded default model's MoE shape, and a larger one (only with --moe-large: ~8x slower on SwiftShader). */
export const SHAPES: MoeShape[] = [
  { label: 'E32k4', E: 32, k: 4, H: 256, I: 128 },
  { label: 'E64k8', E: 64, k: 8, H: 512, I: 256 },
];
export const TOKENS = [1, 8, 16];
export const FORMATS: WeightFormat[] = ['f32', 'f16', 'int8'];
const ROUTER: RouterConfig = { mode: 'softmax', normTopk: true };


function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/**
 * Router logits [T, E] with shared structure: a global expert popularity, 4 "topics" (each token belongs
 * to one; a topic favours its own experts) and per-token noise. Tokens therefore prefer different experts
 * but overlap, like real decode batches.
 */
export function moeLogits(T: number, E: number, seed = 7): Float32Array {
  const r = seededRandom(seed);
  const global = Array.from({ length: E }, () => 0.8 * gauss(r));
  const topics = Array.from({ length: 4 }, () => Array.from({ length: E }, () => 1.2 * gauss(r)));
  const out = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    const topic = topics[Math.floor(r() * topics.length)];
    for (let e = 0; e < E; e++) out[t * E + e] = global[e] + topic[e] + 1.0 * gauss(r);
  }
  return out;
}

interface NamedPolicy {
  tag: string;
  gpu: GpuPolicy;
  ts: PolicyConfig;
}

/** Policies at batch T: budgets are relative to the baseline's distinct count on the same logits. */
export function moePolicies(k: number, baselineDistinct: number): NamedPolicy[] {
  const half = Math.max(1, Math.floor(k / 2));
  const b50 = Math.max(1, Math.round(0.5 * baselineDistinct));
  const b75 = Math.max(1, Math.round(0.75 * baselineDistinct));
  return [
    { tag: 'baseline', gpu: { kind: 'baseline' }, ts: { kind: 'baseline' } },
    { tag: `xshare50%`, gpu: { kind: 'xshare', budget: b50 }, ts: { kind: 'xshare', budget: b50 } },
    { tag: `xshare75%`, gpu: { kind: 'xshare', budget: b75 }, ts: { kind: 'xshare', budget: b75 } },
    { tag: `topk${half}`, gpu: { kind: 'reduced_topk', k: half }, ts: { kind: 'reduced_topk', k: half } },
    { tag: `allocT${half}`, gpu: { kind: 'alloc_t', k: half }, ts: { kind: 'alloc_t', k: half } },
  ];
}

function expertWeights(E: number, k: number, H: number, I: number, seed: number) {
  const r = seededRandom(seed);
  const gu = new Float32Array(E * 2 * I * H).map(() => (r() - 0.5) * 0.1);
  const dn = new Float32Array(E * H * I).map(() => (r() - 0.5) * 0.1);
  return { gu, dn, E, k, H, I };
}

/** Upload gate/up [E*2I, H] and down [E*H, I] in `format`; returns buffers and bytes per expert. */
function uploadExperts(gpu: Gpu, w: ReturnType<typeof expertWeights>, format: WeightFormat) {
  const { gu, dn, E, H, I } = w;
  const up = (m: Float32Array, rows: number, cols: number): [GPUBuffer, GPUBuffer | undefined] => {
    if (format === 'f32') return [createStorage(gpu.device, padRowsF32(m, rows, cols), 'bench-moe-w'), undefined];
    if (format === 'f16') return [createStorage(gpu.device, packF16Rows(m, rows, cols), 'bench-moe-w'), undefined];
    if (format === 'int8') {
      const q = quantizeInt8(m, rows, cols, 32);
      return [createStorage(gpu.device, q.q, 'bench-moe-w'), createStorage(gpu.device, q.scales, 'bench-moe-s')];
    }
    throw new Error(`bench: format ${format} not wired`);
  };
  const [guB, guS] = up(gu, E * 2 * I, H);
  const [dnB, dnS] = up(dn, E * H, I);
  const total = guB.size + dnB.size + (guS?.size ?? 0) + (dnS?.size ?? 0);
  return {
    guB, dnB, guS, dnS, bytesPerExpert: total / E,
    destroy: () => [guB, dnB, guS, dnS].forEach((b) => b?.destroy()),
  };
}

/**
 * Cases for every shape x format x T x policy: the default model's shape; `--moe-large` adds the larger one;
 * `--quick` drops int8 (the MoE layer takes 25-270 ms per call on SwiftShader).
 */
export async function cases(gpu: Gpu): Promise<BenchCase[]> {
  const quick = process.argv.includes('--quick');
  const shapes = process.argv.includes('--moe-large') ? SHAPES : SHAPES.slice(0, 1);
  const formats = quick ? FORMATS.filter((f) => f !== 'int8') : FORMATS;
  const out: BenchCase[] = [];
  for (const s of shapes) {
    const { E, k, H, I } = s;
    const tMax = Math.max(...TOKENS);
    const ws = createMoeWorkspace(gpu, { maxTokens: tMax, E, k, H, I });
    const allLogits = moeLogits(tMax, E);
    const xb = createStorage(gpu.device, new Float32Array(tMax * H).map((_, i) => Math.sin(i * 0.37)), 'bench-moe-x');
    const outB = createStorage(gpu.device, tMax * H * 4, 'bench-moe-y');
    const logitBufs = new Map<number, GPUBuffer>();
    for (const T of TOKENS) logitBufs.set(T, createStorage(gpu.device, allLogits.subarray(0, T * E), `bench-moe-logits${T}`));
    const w = expertWeights(E, k, H, I, 11);
    const uploads: { destroy: () => void }[] = [];
    const first = out.length;
    for (const format of formats) {
      const ew = uploadExperts(gpu, w, format);
      uploads.push(ew);
      for (const T of TOKENS) {
        const logits = allLogits.subarray(0, T * E);
        const baselineDistinct = route(logits, T, E, k, { kind: 'baseline' }, ROUTER).distinct;
        for (const p of moePolicies(k, baselineDistinct)) {
          const r = route(logits, T, E, k, p.ts, ROUTER);
          let pairs = 0;
          for (const id of r.ids) if (id !== NO_EXPERT) pairs++;
          const encode = (pass: GPUComputePassEncoder) => encodeMoeLayer(gpu, pass, {
            ws, logits: logitBufs.get(T)!, x: xb, out: outB, gateUp: ew.guB, down: ew.dnB, format,
            gateUpScales: ew.guS, downScales: ew.dnS, group: 32, T, mode: ROUTER.mode, normTopk: ROUTER.normTopk, policy: p.gpu,
          });
          // One run now to check the GPU routed to as many experts as the TS reference says.
          const enc = gpu.device.createCommandEncoder();
          const pass = enc.beginComputePass();
          encode(pass);
          pass.end();
          gpu.device.queue.submit([enc.finish()]);
          const gpuDistinct = new Uint32Array(await readBuffer(gpu.device, ws.counters, 4))[0];
          if (gpuDistinct !== r.distinct) console.warn(`bench: ${s.label} ${format} T=${T} ${p.tag}: GPU distinct ${gpuDistinct} != route() ${r.distinct}`);
          out.push({
            name: `moe ${s.label} ${format} T${T} ${p.tag}`,
            bytes: r.distinct * ew.bytesPerExpert,
            flops: pairs * 6 * H * I,
            encode,
            meta: {
              kernel: 'moe', shape: s.label, E, k, H, I, format, policy: p.tag, policyConfig: p.gpu, T,
              distinct: r.distinct, baselineDistinct, gpuDistinct, pairs, bytesPerExpert: ew.bytesPerExpert,
            },
          });
        }
      }
    }
    if (out.length > first) {
      out[out.length - 1].dispose = () => {
        for (const u of uploads) u.destroy();
        for (const b of logitBufs.values()) b.destroy();
        xb.destroy();
        outB.destroy();
        ws.destroy();
      };
    }
  }
  return out;
}

export interface MoeRatio {
  shape: string;
  format: string;
  T: number;
  policy: string;
  ms: number;
  baselineMs: number;
  /** policy ms / baseline ms (< 1 = faster than the baseline). */
  timeRatio: number;
  distinct: number;
  baselineDistinct: number;
  /** distinct / baseline distinct: the fraction of expert weight bytes read. */
  distinctRatio: number;
  timing: string;
}

/** Ratios of every MoE result to the baseline row of the same shape, format and T (same run). */
export function moeRatios(results: BenchResult[]): MoeRatio[] {
  const moe = results.filter((r) => r.meta?.kernel === 'moe');
  const key = (m: Record<string, unknown>) => `${m.shape}|${m.format}|${m.T}`;
  const base = new Map<string, BenchResult>();
  for (const r of moe) if (r.meta!.policy === 'baseline') base.set(key(r.meta!), r);
  const out: MoeRatio[] = [];
  for (const r of moe) {
    const m = r.meta!;
    const b = base.get(key(m));
    if (!b) continue;
    out.push({
      shape: String(m.shape), format: String(m.format), T: Number(m.T), policy: String(m.policy),
      ms: r.ms, baselineMs: b.ms, timeRatio: r.ms / b.ms,
      distinct: Number(m.distinct), baselineDistinct: Number(m.baselineDistinct),
      distinctRatio: Number(m.distinct) / Number(m.baselineDistinct), timing: r.timing,
    });
  }
  return out;
}

/** Print the ratio table, write bench/out/kernels-moe.json and add `moeRatios` to kernels.json. */
export function moeReport(results: BenchResult[], outDir = join(dirname(fileURLToPath(import.meta.url)), 'out')): MoeRatio[] {
  const ratios = moeRatios(results);
  if (!ratios.length) return ratios;
  console.log('');
  console.log('MoE layer, same run: time / baseline time vs distinct experts / baseline distinct (timing: ' + ratios[0].timing + ')');
  console.log(`${'shape'.padEnd(6)} ${'fmt'.padEnd(5)} ${'T'.padStart(3)} ${'policy'.padEnd(10)} ${'ms'.padStart(8)} ${'time/base'.padStart(9)} ${'distinct'.padStart(8)} ${'dist/base'.padStart(9)}`);
  let prev = '';
  for (const r of ratios) {
    const group = `${r.shape}|${r.format}|${r.T}`;
    if (prev && group !== prev) console.log('');
    prev = group;
    console.log([
      r.shape.padEnd(6), r.format.padEnd(5), String(r.T).padStart(3), r.policy.padEnd(10),
      r.ms.toFixed(3).padStart(8), r.timeRatio.toFixed(2).padStart(9),
      `${r.distinct}/${r.baselineDistinct}`.padStart(8), r.distinctRatio.toFixed(2).padStart(9),
    ].join(' '));
  }
  // One-line summary per policy: mean over every (shape, format, T) group of both ratios.
  const pols = [...new Set(ratios.map((r) => r.policy))].filter((p) => p !== 'baseline');
  console.log('');
  for (const p of pols) {
    const rs = ratios.filter((r) => r.policy === p);
    const mt = rs.reduce((a, r) => a + r.timeRatio, 0) / rs.length;
    const md = rs.reduce((a, r) => a + r.distinctRatio, 0) / rs.length;
    console.log(`mean over ${rs.length} rows  ${p.padEnd(10)} time/base ${mt.toFixed(2)}  dist/base ${md.toFixed(2)}`);
  }
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'kernels-moe.json');
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), ratios }, null, 2));
  const main = join(outDir, 'kernels.json');
  if (existsSync(main)) {
    try {
      const j = JSON.parse(readFileSync(main, 'utf8'));
      j.moeRatios = ratios;
      writeFileSync(main, JSON.stringify(j, null, 2));
    } catch {
      /* kernels.json unreadable: kernels-moe.json still has the ratios */
    }
  }
  console.log(`MoE ratios -> ${file} (and kernels.json .moeRatios)`);
  return ratios;
}
