// Kernel-vs-reference checks that run inside a real browser (page and module Worker). Each returns
// the worst absolute error; the Playwright spec asserts on them.
import type { Gpu } from '../../src/gpu/context.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeRmsNorm } from '../../src/kernels/rmsnorm.ts';
import { rmsNormRef } from '../../src/reference/rmsnorm.ts';
import { encodeMatmul } from '../../src/kernels/matmul.ts';
import { uploadWeight } from '../../src/quant/upload.ts';
import { matmulRef } from '../../src/reference/matmul.ts';
import { roundToF16 } from '../../src/quant/f16.ts';
import { dequantizeInt4, quantizeInt4 } from '../../src/quant/pack.ts';
import { encodeAttention } from '../../src/kernels/attention.ts';
import { attentionRef, kvWriteRef } from '../../src/reference/attention.ts';
import { encodeMoeRoute, encodeMoeScores } from '../../src/kernels/moe_router.ts';
import { route } from '../../src/routing/policies.ts';

export interface CheckResult {
  name: string;
  maxErr: number;
  tol: number;
  ok: boolean;
}

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

type Check = (gpu: Gpu) => Promise<CheckResult>;

const checks: Record<string, Check> = {
  async rmsnorm(gpu) {
    const rows = 3, dim = 37;
    const x = rand(rows * dim, 1), w = rand(dim, 2);
    const out = createStorage(gpu.device, rows * dim * 4);
    await runPass(gpu, (p) =>
      encodeRmsNorm(gpu, p, { x: createStorage(gpu.device, x), weight: createStorage(gpu.device, w), out, rows, dim, eps: 1e-6 }),
    );
    const got = new Float32Array(await readBuffer(gpu.device, out, rows * dim * 4));
    const err = maxAbsDiff(got, rmsNormRef(x, w, rows, dim, 1e-6));
    return { name: 'rmsnorm', maxErr: err, tol: 1e-4, ok: err <= 1e-4 };
  },
};

async function matmulCheck(gpu: Gpu, format: 'f32' | 'f16' | 'int4', t: number): Promise<CheckResult> {
  const n = 33, k = 70;
  const x = rand(t * k, 3), w = rand(n * k, 4);
  const wRef = format === 'f32' ? w : format === 'f16' ? roundToF16(w) : dequantizeInt4(quantizeInt4(w, n, k, 32));
  const out = createStorage(gpu.device, t * n * 4);
  const wt = uploadWeight(gpu, w, n, k, format);
  await runPass(gpu, (p) => encodeMatmul(gpu, p, { x: createStorage(gpu.device, x), w: wt, out, t }));
  const got = new Float32Array(await readBuffer(gpu.device, out, t * n * 4));
  const err = maxAbsDiff(got, matmulRef(x, wRef, t, n, k));
  return { name: `matmul ${format} T=${t}`, maxErr: err, tol: 1e-3, ok: err <= 1e-3 };
}
checks['matmul f32 decode'] = (g) => matmulCheck(g, 'f32', 1);
checks['matmul f16 prefill'] = (g) => matmulCheck(g, 'f16', 40);
checks['matmul int4 decode'] = (g) => matmulCheck(g, 'int4', 5);

// Attention over a KV cache: a decode batch of three sequences of different lengths, GQA 4:2.
checks['attention decode batch'] = async (gpu) => {
  const nHeads = 4, nKvHeads = 2, headDim = 16, maxSlots = 64;
  const seqStart = new Uint32Array([0, 20, 40]);
  const seqIds = new Uint32Array([0, 1, 2]);
  const positions = new Uint32Array([0, 6, 19]);
  const row = nKvHeads * headDim, T = 3;
  const kc = rand(maxSlots * row, 11), vc = rand(maxSlots * row, 12);
  const k = rand(T * row, 13), v = rand(T * row, 14), q = rand(T * nHeads * headDim, 15);
  // this batch's k/v in the cache (on the GPU the fused RoPE dispatch writes them)
  kvWriteRef(k, v, kc, vc, seqIds, positions, seqStart, nKvHeads, headDim);
  const kcb = createStorage(gpu.device, kc), vcb = createStorage(gpu.device, vc);
  const out = createStorage(gpu.device, T * nHeads * headDim * 4);
  const meta = { seqIds: createStorage(gpu.device, seqIds), positions: createStorage(gpu.device, positions), seqStart: createStorage(gpu.device, seqStart) };
  await runPass(gpu, (p) => {
    encodeAttention(gpu, p, { ...meta, q: createStorage(gpu.device, q), kCache: kcb, vCache: vcb, out, tokens: T, nHeads, nKvHeads, headDim, scale: 0.25 });
  });
  const want = attentionRef(q, kc, vc, seqIds, positions, seqStart, { nHeads, nKvHeads, headDim }, 0.25);
  const err = maxAbsDiff(new Float32Array(await readBuffer(gpu.device, out, T * nHeads * headDim * 4)), want);
  return { name: 'attention decode batch', maxErr: err, tol: 1e-4, ok: err <= 1e-4 };
};

// Batch-level expert selection (XShare, budget 3) on the GPU equals the TypeScript policy.
checks['moe xshare route'] = async (gpu) => {
  const T = 6, E = 16, k = 4;
  const logits = rand(T * E, 21).map((x) => Math.round(x * 40) / 10);
  const policy = { kind: 'xshare' as const, budget: 3 };
  const want = route(logits, T, E, k, policy, { mode: 'softmax', normTopk: true });
  const ids = createStorage(gpu.device, T * k * 4), weights = createStorage(gpu.device, T * k * 4);
  const counters = createStorage(gpu.device, 16);
  const lb = createStorage(gpu.device, logits), sb = createStorage(gpu.device, T * E * 4);
  await runPass(gpu, (p) => {
    encodeMoeScores(gpu, p, { logits: lb, scores: sb, T, E, mode: 'softmax' });
    encodeMoeRoute(gpu, p, {
      logits: lb, scores: sb, ids, weights, scratch: createStorage(gpu.device, 2 * T * 4), counters, T, E, kMax: k, mode: 'softmax', normTopk: true, policy,
    });
  });
  const gotIds = new Uint32Array(await readBuffer(gpu.device, ids, T * k * 4));
  const gotW = new Float32Array(await readBuffer(gpu.device, weights, T * k * 4));
  const distinct = new Uint32Array(await readBuffer(gpu.device, counters, 4))[0];
  const idsOk = gotIds.every((v, i) => v === want.ids[i]) && distinct === want.distinct;
  const err = idsOk ? maxAbsDiff(gotW, want.weights) : Infinity;
  return { name: 'moe xshare route', maxErr: err, tol: 1e-5, ok: err <= 1e-5 };
};

export async function runChecks(gpu: Gpu): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [name, check] of Object.entries(checks)) {
    try {
      out.push(await check(gpu));
    } catch (e) {
      out.push({ name: `${name}: ${(e as Error).message}`, maxErr: Infinity, tol: 0, ok: false });
    }
  }
  return out;
}
