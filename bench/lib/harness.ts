// The whole benchmark as one function of a GPU and model sources, the same in Node (bench/run.ts) and
// in a browser page (bench/browser/page.ts): every section runs on the same adapter in the same run, so
// every ratio in the report is measured against its baseline under the same conditions.
import type { Gpu } from '../../src/gpu/context.ts';
import { benchCase, benchCopy, matmulCases, type BenchResult } from './timing.ts';
import { loadBenchModel, type BenchModel, type ModelSource } from './model.ts';
import { Sequences, forwardCases, profileCases, schedulerCases, type DecodeRow, type ProfileRow, type SchedulerRow } from './decode.ts';
import { strategyCases, type StrategyRow } from './strategies.ts';
import { BASELINE, policiesFor } from './policies.ts';

/** What to run for one model. Empty lists skip a section. */
export interface ModelPlan {
  src: ModelSource;
  /** Decode batch sizes of the forward cases (and sequences prefilled: the largest). */
  batches: number[];
  /** Policies besides the baseline (names in lib/policies.ts), or 'all' that apply. */
  policies: string[] | 'all';
  reps: number;
  /** Batch sizes profiled per dispatch with the baseline; every policy is profiled at the last one. */
  profileBatches: number[];
  strategyTs: number[];
  strategyReps: number;
  concurrency: number[];
  /** Policies besides the baseline through the scheduler, at schedPolicyConcurrency requests (the baseline runs at every C). */
  schedPolicies: string[] | 'all';
  schedPolicyConcurrency: number[];
  schedReps: number;
  promptLen: number;
  /** Tokens generated per request in the scheduler cases. */
  genTokens: number;
  maxContext: number;
}

export interface BenchConfig {
  quick: boolean;
  /** Matmul shapes for the "best matmul" yardstick. */
  matmul: { n: number; k: number; ts: number[]; formats: ('f32' | 'f16' | 'int8' | 'int4')[] };
  copyBytes: number;
  models: ModelPlan[];
}

export interface ModelInfo {
  name: string;
  note: string;
  shape: Record<string, number | string>;
  loadMs: number;
  bytesPerExpert: number;
  denseBytes: number;
}

export interface BenchReport {
  date: string;
  env: string;
  adapter: string;
  features: Record<string, boolean>;
  limits: Record<string, number>;
  quick: boolean;
  copy: BenchResult;
  matmul: BenchResult[];
  bestMatmul: { name: string; gflops: number };
  models: ModelInfo[];
  forward: DecodeRow[];
  profile: ProfileRow[];
  strategies: StrategyRow[];
  scheduler: SchedulerRow[];
  elapsedS: number;
  sectionS: Record<string, number>;
  /** Node runs: CPU seconds the process used (the rest of elapsedS it waited for a core). */
  processCpuS?: number;
}

export async function runBench(gpu: Gpu, cfg: BenchConfig, env: string, log: (s: string) => void = console.log): Promise<BenchReport> {
  const start = performance.now();
  const sectionS: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      sectionS[name] = (sectionS[name] ?? 0) + (performance.now() - t0) / 1e3;
    }
  };
  log(`adapter: ${gpu.describe()}`);
  const copy = await timed('copy+matmul', () => benchCopy(gpu, cfg.copyBytes, { reps: 5, sampleMs: 50 }));
  log(`copy ${(cfg.copyBytes / 2 ** 20).toFixed(0)} MiB: ${copy.gbps.toFixed(2)} GB/s`);
  const matmul: BenchResult[] = [];
  await timed('copy+matmul', async () => {
    const cases = matmulCases(gpu, cfg.matmul.n, cfg.matmul.k, cfg.matmul.ts, cfg.matmul.formats);
    for (const c of cases) {
      matmul.push(await benchCase(gpu, c, { reps: 3, sampleMs: 20 }));
      c.dispose?.();
    }
  });
  const best = matmul.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  log(`best matmul: ${best.name} ${best.gflops.toFixed(2)} GFLOP/s (${best.timing})`);

  const report: BenchReport = {
    date: new Date().toISOString(), env, adapter: gpu.describe(), features: { ...gpu.features } as unknown as Record<string, boolean>,
    limits: { maxBufferSize: gpu.limits.maxBufferSize, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize },
    quick: cfg.quick, copy, matmul, bestMatmul: { name: best.name, gflops: best.gflops }, models: [], forward: [], profile: [], strategies: [], scheduler: [],
    elapsedS: 0, sectionS,
  };
  for (const plan of cfg.models) {
    const maxB = Math.max(1, ...plan.batches, ...plan.concurrency);
    log(`\nmodel ${plan.src.name}: loading (${plan.src.weightFormat})`);
    const m: BenchModel = await timed(`load ${plan.src.name}`, () => loadBenchModel(gpu, plan.src, {
      maxSeqs: maxB, maxContext: plan.maxContext, maxBatchTokens: 256, promptLen: plan.promptLen,
    }));
    log(`  loaded in ${(m.loadMs / 1e3).toFixed(1)} s: ${JSON.stringify(m.shape)}`);
    report.models.push({ name: plan.src.name, note: plan.src.note, shape: m.shape, loadMs: m.loadMs, bytesPerExpert: m.bytesPerExpert, denseBytes: m.denseBytes });
    try {
      const calibrated = m.model.getCalibration() !== null;
      const pols = policiesFor(m.model.spec, plan.policies, calibrated);
      if (plan.batches.length) {
        const seqs = new Sequences(m);
        await timed(`prefill ${m.src.name}`, () => seqs.prefill(Math.max(...plan.batches)));
        report.forward.push(...await timed(`forward ${m.src.name}`, () => forwardCases(seqs, pols, plan.batches, plan.reps, log)));
        if (plan.profileBatches.length) {
          const wall = (p: string, B: number) => report.forward.find((r) => r.model === m.src.name && r.policy === p && r.B === B)?.ms.median;
          const base = pols.filter((p) => p.name === BASELINE);
          const lastB = plan.profileBatches[plan.profileBatches.length - 1];
          const prof = await timed(`profile ${m.src.name}`, async () => [
            ...await profileCases(gpu, seqs, base, plan.profileBatches, best.gflops, log),
            ...await profileCases(gpu, seqs, pols.filter((p) => p.name !== BASELINE), [lastB], best.gflops, log),
          ]);
          for (const p of prof) p.wallMs = wall(p.policy, p.B);
          report.profile.push(...prof);
        }
        seqs.free();
      }
      if (plan.strategyTs.length) report.strategies.push(...await timed(`strategies ${m.src.name}`, () => strategyCases(gpu, m, plan.strategyTs, plan.strategyReps, log)));
      if (plan.concurrency.length) {
        const sp = policiesFor(m.model.spec, plan.schedPolicies, calibrated);
        report.scheduler.push(...await timed(`scheduler ${m.src.name}`, () => schedulerCases(m, sp, plan.concurrency, plan.schedPolicyConcurrency, plan.schedReps, plan.promptLen, plan.genTokens, log)));
      }
    } finally {
      m.model.destroy();
    }
  }
  report.elapsedS = (performance.now() - start) / 1e3;
  return report;
}
