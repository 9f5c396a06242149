// Decode steps of a real model, per routing policy and batch size, through MoeModel.forward (one step of
// B running sequences) and through the scheduler (B concurrent requests: throughput, time to first
// token, prefill speed, and the pure-decode steps). Repetitions are interleaved across cases; every
// ratio divides by the baseline of the same run.
import type { Policy as GpuPolicy } from '../../src/routing/types.ts';
import { MoeBatchModel } from '../../src/api/batch-model.ts';
import { Scheduler, type StepMetrics } from '../../src/scheduler/scheduler.ts';
import type { BenchModel } from './model.ts';
import { stepFlops } from './model.ts';
import { DispatchProfiler, splitByFamily, type FamilySplit } from './profile.ts';
import { BASELINE } from './policies.ts';
import { interleaved, median, summarize, type Summary } from './stats.ts';
import type { Gpu } from '../../src/gpu/context.ts';

export interface NamedPolicy {
  name: string;
  policy: GpuPolicy;
}

export interface DecodeRow {
  model: string;
  via: 'forward' | 'scheduler';
  policy: string;
  B: number;
  /** Wall ms of one step (forward: around model.forward; scheduler: the scheduler's own step time). */
  ms: Summary;
  /** median ms / baseline median ms at the same B. */
  timeRatio: number;
  /** Per round: ms / the baseline's ms of the same round (interleaved), summarised. */
  pairedRatio: Summary;
  /** Distinct experts per step summed over MoE layers (mean over the steps). */
  distinct: number;
  distinctRatio: number;
  /** Expert weight bytes read per step = distinct x bytes per expert. */
  expertBytes: number;
  /** All weight bytes read per step (experts + every dense weight) / median ms. */
  stepGBps: number;
}

function rows(model: string, via: DecodeRow['via'], cases: { policy: string; B: number }[], ms: number[][], distinct: number[][], m: BenchModel): DecodeRow[] {
  const out: DecodeRow[] = [];
  const base = (B: number) => cases.findIndex((c) => c.B === B && c.policy === BASELINE);
  cases.forEach((c, i) => {
    const b = base(c.B);
    const s = summarize(ms[i]);
    const d = distinct[i].reduce((a, v) => a + v, 0) / distinct[i].length;
    const bd = b >= 0 ? distinct[b].reduce((a, v) => a + v, 0) / distinct[b].length : NaN;
    const paired = b >= 0 ? ms[i].slice(0, ms[b].length).map((v, r) => v / ms[b][r]) : [NaN];
    const expertBytes = d * m.bytesPerExpert;
    out.push({
      model, via, policy: c.policy, B: c.B, ms: s,
      timeRatio: b >= 0 ? s.median / median(ms[b]) : NaN,
      pairedRatio: summarize(paired),
      distinct: d, distinctRatio: d / bd, expertBytes,
      stepGBps: (expertBytes + m.denseBytes) / (s.median / 1e3) / 1e9,
    });
  });
  return out;
}

/** Running sequences of a model for forward-step cases: prefilled once, then fed their own greedy tokens. */
export class Sequences {
  readonly ids: number[] = [];
  readonly last: number[] = [];

  constructor(readonly m: BenchModel) {}

  async prefill(n: number): Promise<void> {
    const { model } = this.m;
    for (let i = 0; i < n; i++) this.ids.push(model.createSequence());
    // chunks of whole prompts within maxBatchTokens
    let i = 0;
    while (i < n) {
      const seqs: { id: number; tokens: number[] }[] = [];
      let t = 0;
      while (i < n && t + this.m.prompts[i].length <= model.maxBatchTokens) {
        seqs.push({ id: this.ids[i], tokens: this.m.prompts[i] });
        t += this.m.prompts[i].length;
        i++;
      }
      const r = await model.forward({ seqs, logits: 'none' });
      this.last.push(...r.next);
    }
  }

  /** One decode step of the first B sequences; returns wall ms and distinct experts summed over layers. */
  async step(B: number, policy: GpuPolicy, beginPass?: (enc: GPUCommandEncoder) => GPUComputePassEncoder): Promise<{ ms: number; distinct: number; attended: number }> {
    const { model } = this.m;
    let attended = 0;
    for (let i = 0; i < B; i++) attended += model.sequenceLength(this.ids[i]) + 1;
    const t0 = performance.now();
    const r = await model.forward({ seqs: this.ids.slice(0, B).map((id, i) => ({ id, tokens: [this.last[i]] })), logits: 'none', policy, beginPass });
    const ms = performance.now() - t0;
    r.next.forEach((t, i) => (this.last[i] = t));
    return { ms, distinct: r.distinctExperts.reduce((a, v) => a + v, 0), attended };
  }

  free(): void {
    for (const id of this.ids) this.m.model.freeSequence(id);
    this.ids.length = 0;
    this.last.length = 0;
  }
}

export async function forwardCases(seqs: Sequences, policies: NamedPolicy[], batches: number[], reps: number, log: (s: string) => void): Promise<DecodeRow[]> {
  const cases = batches.flatMap((B) => policies.map((p) => ({ policy: p.name, B, gpu: p.policy })));
  // warm-up: compile every pipeline variant (decode tile sizes per B, every policy) outside the timings
  for (const c of cases) await seqs.step(c.B, c.gpu);
  const samples = await interleaved(cases, reps, (c) => seqs.step(c.B, c.gpu));
  const ms = samples.map((s) => s.map((x) => x.ms));
  const distinct = samples.map((s) => s.map((x) => x.distinct));
  const out = rows(seqs.m.src.name, 'forward', cases, ms, distinct, seqs.m);
  for (const r of out) log(`  forward ${r.policy.padEnd(11)} B=${String(r.B).padStart(2)} ${r.ms.median.toFixed(1).padStart(8)} ms  x${r.timeRatio.toFixed(2)}  distinct ${r.distinct.toFixed(1)} (x${r.distinctRatio.toFixed(2)})`);
  return out;
}

export interface ProfileRow {
  model: string;
  policy: string;
  B: number;
  /** Sum of every dispatch's GPU time (one timed pass per dispatch). */
  gpuMs: number;
  /** The same step unprofiled, wall ms (median of the forward cases). */
  wallMs?: number;
  dispatches: number;
  families: (FamilySplit & { gflops?: number; ofBestMatmul?: number; gbps?: number })[];
  /** MoE part (router scores, routing, lists, expert FFN, combine; not the router matmul). */
  moeMs: number;
  expertBytes: number;
  moeGBps: number;
  /** (experts + dense weights) bytes / gpuMs. */
  stepGBps: number;
}

const MOE_FAMILY = /^moe_/;

/** One profiled step per (policy, B): GPU time per dispatch family, dispatches, MoE GB/s, kernel GFLOP/s vs the best matmul. */
export async function profileCases(gpu: Gpu, seqs: Sequences, policies: NamedPolicy[], batches: number[], bestMatmulGflops: number, log: (s: string) => void): Promise<ProfileRow[]> {
  const prof = DispatchProfiler.create(gpu);
  if (!prof) {
    log('  (no timestamp-query on this device: no per-dispatch profile)');
    return [];
  }
  const out: ProfileRow[] = [];
  const m = seqs.m;
  const k = m.model.spec.topK;
  try {
    for (const p of policies) {
      for (const B of batches) {
        await seqs.step(B, p.policy, prof.beginPass); // warm-up of the split-pass encoding
        await prof.read();
        const r = await seqs.step(B, p.policy, prof.beginPass);
        const times = await prof.read();
        const fams = splitByFamily(times);
        const gpuMs = times.reduce((a, t) => a + t.ms, 0);
        const moeMs = fams.filter((f) => MOE_FAMILY.test(f.family)).reduce((a, f) => a + f.ms, 0);
        const expertBytes = r.distinct * m.bytesPerExpert;
        // FLOPs are exact for the baseline (every token uses k experts); other policies' pair counts are not read back.
        const flops = p.name === BASELINE ? stepFlops(m, B, B, B * k, r.attended) : {};
        const families = fams.map((f) => {
          const fl = flops[f.family];
          const gflops = fl ? fl / (f.ms / 1e3) / 1e9 : undefined;
          return { ...f, gflops, ofBestMatmul: gflops !== undefined ? gflops / bestMatmulGflops : undefined };
        });
        const row: ProfileRow = {
          model: m.src.name, policy: p.name, B, gpuMs, dispatches: times.length, families, moeMs, expertBytes,
          moeGBps: expertBytes / (moeMs / 1e3) / 1e9, stepGBps: (expertBytes + m.denseBytes) / (gpuMs / 1e3) / 1e9,
        };
        out.push(row);
        log(`  profile ${p.name} B=${B}: ${gpuMs.toFixed(1)} ms GPU, ${times.length} dispatches; ` +
          fams.slice(0, 4).map((f) => `${f.family} ${(100 * f.share).toFixed(0)}%`).join(', '));
      }
    }
  } finally {
    prof.destroy();
  }
  return out;
}

export interface SchedulerRow {
  model: string;
  policy: string;
  /** Concurrent requests. */
  C: number;
  promptTokens: number;
  maxTokens: number;
  wallMs: Summary;
  /** Generated tokens / wall time, all requests together. */
  tokensPerS: number;
  /** Pure decode steps (no prefill) at the largest decode batch reached (decodeBatch): tokens / step time. */
  decodeTokensPerS: number;
  decodeBatch: number;
  decodeStepMs: Summary;
  ttftMs: Summary;
  prefillTokensPerS: number;
  /** decode step ms / baseline's at the same C. */
  timeRatio?: number;
  distinct: number;
  distinctRatio?: number;
}

interface SchedSample {
  wallMs: number;
  decodeBatch: number;
  ttft: number[];
  decodeMs: number[];
  decodeDistinct: number[];
  prefillTokens: number;
  prefillMs: number;
  generated: number;
}

async function schedulerRun(m: BenchModel, policy: GpuPolicy, C: number, P: number, N: number): Promise<SchedSample> {
  const steps: StepMetrics[] = [];
  const sched = new Scheduler(new MoeBatchModel(m.model, m.model.spec.eosTokenIds, policy), {
    maxBatchTokens: m.model.maxBatchTokens, onStep: (s) => steps.push(s),
  });
  const t0 = performance.now();
  const ttft: number[] = [];
  let generated = 0;
  await Promise.all(Array.from({ length: C }, async (_, i) => {
    const stream = sched.submit({ prompt: m.prompts[i].slice(0, P), maxTokens: N, ignoreEos: true, seed: i });
    let first = true;
    for await (const _tok of stream) {
      if (first) ttft.push(performance.now() - t0);
      first = false;
      generated++;
    }
    await stream.result;
  }));
  const wallMs = performance.now() - t0;
  // pure decode steps (no prefill) at the largest decode batch reached (requests arrive one by one, so
  // the first ones may finish before the last one's prefill: that batch can be below C)
  const decodeOnly = steps.filter((s) => s.batchTokens === s.decodeTokens);
  const decodeBatch = Math.max(0, ...decodeOnly.map((s) => s.decodeTokens));
  const pure = decodeOnly.filter((s) => s.decodeTokens === decodeBatch);
  const pre = steps.filter((s) => s.batchTokens > s.decodeTokens);
  return {
    wallMs, ttft, generated, decodeBatch,
    decodeMs: pure.map((s) => s.ms),
    decodeDistinct: pure.map((s) => (s.distinctExperts ?? []).reduce((a, v) => a + v, 0)),
    prefillTokens: pre.reduce((a, s) => a + s.batchTokens - s.decodeTokens, 0),
    prefillMs: pre.reduce((a, s) => a + s.ms, 0),
  };
}

/** The baseline (policies[0]) at every C, the other policies at policyC; interleaved rounds. */
export async function schedulerCases(m: BenchModel, policies: NamedPolicy[], concurrency: number[], policyC: number[], reps: number, P: number, N: number, log: (s: string) => void): Promise<SchedulerRow[]> {
  const cases = concurrency.flatMap((C) => policies.filter((p, i) => i === 0 || policyC.includes(C)).map((p) => ({ C, p })));
  await schedulerRun(m, policies[0].policy, Math.max(...concurrency), P, 2); // warm-up
  const samples = await interleaved(cases, reps, (c) => schedulerRun(m, c.p.policy, c.C, P, N));
  const out: SchedulerRow[] = cases.map((c, i) => {
    const ss = samples[i];
    const all = <K extends keyof SchedSample>(key: K) => ss.flatMap((s) => s[key] as unknown as number[]);
    const decodeMs = all('decodeMs');
    const dd = all('decodeDistinct');
    const sum = (v: number[]) => v.reduce((a, x) => a + x, 0);
    return {
      model: m.src.name, policy: c.p.name, C: c.C, promptTokens: P, maxTokens: N,
      wallMs: summarize(ss.map((s) => s.wallMs)),
      tokensPerS: sum(ss.map((s) => s.generated)) / (sum(ss.map((s) => s.wallMs)) / 1e3),
      decodeBatch: Math.min(...ss.map((s) => s.decodeBatch)),
      decodeTokensPerS: decodeMs.length ? sum(ss.map((s) => s.decodeBatch * s.decodeMs.length)) / (sum(decodeMs) / 1e3) : NaN,
      decodeStepMs: summarize(decodeMs.length ? decodeMs : [NaN]),
      ttftMs: summarize(all('ttft')),
      prefillTokensPerS: sum(ss.map((s) => s.prefillTokens)) / (sum(ss.map((s) => s.prefillMs)) / 1e3),
      distinct: dd.length ? sum(dd) / dd.length : NaN,
    };
  });
  for (const r of out) {
    const b = out.find((x) => x.C === r.C && x.policy === BASELINE);
    if (b) {
      r.timeRatio = r.decodeStepMs.median / b.decodeStepMs.median;
      r.distinctRatio = r.distinct / b.distinct;
    }
    log(`  scheduler ${r.policy.padEnd(11)} C=${String(r.C).padStart(2)} ${r.tokensPerS.toFixed(2).padStart(7)} tok/s  decode step ${r.decodeStepMs.median.toFixed(1)} ms (B=${r.decodeBatch})` +
      `  ttft ${r.ttftMs.median.toFixed(0)} ms  prefill ${r.prefillTokensPerS.toFixed(1)} tok/s`);
  }
  return out;
}
