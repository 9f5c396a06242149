/**
 * Mixed-step evaluation: what a serving step under load routes, one decode token of each of B running
 * sequences plus prompt chunks of newly arrived ones (the scheduler's order: decode tokens first).
 *   decode lanes: B held-out segments of C + N tokens (decodeSegments), a baseline prefill of C tokens in
 *     steps of their own, then N teacher-forced mixed steps scoring c_{C+i} (as `--mode decode` does);
 *   arrivals: in every mixed step `arrivals` other segments each feed a `chunk`-token piece of their
 *     `prompt`-token prompt (items marked prefill); a new segment starts as one finishes, so each group
 *     sees N * arrivals / (prompt / chunk) of them;
 *   after the group's mixed steps, the arrivals decode `after` teacher-forced tokens in lockstep with the
 *     BASELINE policy, so their perplexity differs between runs only by the KV cache their prompt left
 *     (the harm of computing it with fewer experts).
 * Every run sees the same tokens in the same steps; only the policy (and its scope) changes. The read set
 * per layer per mixed step (all rows) is the step's distinct experts.
 */
import type { Policy } from '../routing/types.ts';
import { RouteTally, decodeSegments, tokenNll, type Segment, type StepModel } from './decode.ts';

export interface MixedEvalOptions {
  /** Decode lanes (sequences decoding in every mixed step). */
  batch: number;
  /** Decode lanes' prefill tokens (default 32). */
  context?: number;
  /** Mixed steps per group (default 32). */
  steps?: number;
  /** Prompt tokens of an arriving sequence (default 64). */
  prompt?: number;
  /** Prompt tokens one arrival feeds per step (default 32, the scheduler's prefillChunk). */
  chunk?: number;
  /** Arrivals prefilling in every mixed step (default 1). */
  arrivals?: number;
  /** Arrivals' later decode tokens, scored under the baseline (default 16). */
  after?: number;
  /** Groups at most (default all the text allows). */
  groups?: number;
  bos: number;
  /** Bytes of one expert's weights as loaded, for expert_bytes_per_step. */
  expertBytes: number;
  onProgress?: (done: number, total: number) => void;
}

export interface MixedRun {
  policy: Policy;
  /** Decode lanes' tokens in the mixed steps. */
  decode_ppl: number;
  decode_nll: number;
  /** Arrivals' later tokens (baseline routing; their prompts went through the mixed steps). */
  arrival_ppl: number;
  arrival_nll: number;
  /** Mean over MoE layers and mixed steps of the step's distinct experts (all rows). */
  distinct_experts: number;
  distinct_experts_per_layer: number[];
  /** The baseline top-k's distinct experts in the same steps (same router inputs). */
  baseline_distinct_experts_same_steps: number;
  expert_bytes_per_step: number;
  /** Gating mass kept in the mixed steps, all rows (kept / baseline top-k mass). */
  mass_kept: number;
  decodeNlls: number[];
  arrivalNlls: number[];
}

export interface MixedPlan {
  batch: number;
  context: number;
  steps: number;
  prompt: number;
  chunk: number;
  arrivals: number;
  after: number;
  groups: number;
  /** Arrivals per group. */
  perGroup: number;
  /** Rows of one mixed step. */
  rows: number;
  lanes: Segment[][];
  arrivalSegs: Segment[][];
}

/** Cut the text into groups of B decode segments and their arrivals; checks every setting. */
export function planMixed(ids: number[], o: MixedEvalOptions, maxBatchTokens: number): MixedPlan {
  const B = o.batch;
  const C = o.context ?? 32;
  const N = o.steps ?? 32;
  const P = o.prompt ?? 64;
  const ch = o.chunk ?? 32;
  const A = o.arrivals ?? 1;
  const M = o.after ?? 16;
  const int = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`webmoe: mixed eval ${name} must be an integer >= ${min}, got ${v}`);
  };
  int(B, 'batch', 1);
  int(C, 'context', 2);
  int(N, 'steps', 1);
  int(P, 'prompt', 1);
  int(ch, 'chunk', 1);
  int(A, 'arrivals', 1);
  int(M, 'after', 1);
  if (P % ch !== 0) throw new Error(`webmoe: mixed eval prompt (${P}) must be a multiple of chunk (${ch})`);
  const per = P / ch;
  if (N % per !== 0) throw new Error(`webmoe: mixed eval steps (${N}) must be a multiple of prompt/chunk (${per}) so every arrival's prompt ends inside the group`);
  const rows = B + A * ch;
  if (rows > maxBatchTokens) throw new Error(`webmoe: a mixed step carries ${rows} tokens (batch ${B} + arrivals ${A} x chunk ${ch}), more than the model's maxBatchTokens ${maxBatchTokens}`);
  const perGroup = A * (N / per);
  const laneLen = C + N;
  const arrLen = P + M;
  const groupLen = B * laneLen + perGroup * arrLen;
  let G = Math.floor(ids.length / groupLen);
  if (o.groups !== undefined) G = Math.min(G, o.groups);
  if (G < 1) throw new Error(`webmoe: the text has ${ids.length} tokens: a mixed-eval group needs ${groupLen} (lower --batch, --steps, --prompt or --after)`);
  const lanes: Segment[][] = [];
  const arrivalSegs: Segment[][] = [];
  for (let g = 0; g < G; g++) {
    const at = g * groupLen;
    lanes.push(decodeSegments(ids.slice(at, at + B * laneLen), C, N, o.bos));
    arrivalSegs.push(decodeSegments(ids.slice(at + B * laneLen, at + groupLen), P, M, o.bos));
  }
  return { batch: B, context: C, steps: N, prompt: P, chunk: ch, arrivals: A, after: M, groups: G, perGroup, rows, lanes, arrivalSegs };
}

/** One policy over every group (teacher forcing). */
export async function runMixed(model: StepModel, plan: MixedPlan, policy: Policy, expertBytesPerExpert: number, progress?: () => void): Promise<MixedRun> {
  const { batch: B, context: C, steps: N, chunk: ch, arrivals: A, after: M, prompt: P } = plan;
  const spec = model.spec;
  const per = P / ch;
  const decodeNlls: number[] = [];
  const arrivalNlls: number[] = [];
  const tally = new RouteTally(spec);
  const baseline: Policy = { kind: 'baseline' };
  for (let g = 0; g < plan.groups; g++) {
    const lanes = plan.lanes[g];
    const arr = plan.arrivalSegs[g];
    const laneSeqs: number[] = [];
    const arrSeqs: number[] = [];
    try {
      for (let j = 0; j < B; j++) laneSeqs.push(model.createSequence());
      const perStep = Math.max(1, Math.floor(model.maxBatchTokens / C));
      for (let i = 0; i < B; i += perStep) {
        await model.forward({ seqs: laneSeqs.slice(i, i + perStep).map((id, j) => ({ id, tokens: lanes[i + j].input.slice(0, C), prefill: true })), logits: 'none', policy: baseline });
      }
      const nll = new Array<number>(B * N);
      for (let i = 0; i < N; i++) {
        const seqs: { id: number; tokens: number[]; prefill?: boolean }[] = laneSeqs.map((id, j) => ({ id, tokens: [lanes[j].input[C + i]] }));
        const c = i % per;
        for (let s = 0; s < A; s++) {
          const a = s + A * Math.floor(i / per);
          if (c === 0) arrSeqs[a] = model.createSequence();
          seqs.push({ id: arrSeqs[a], tokens: arr[a].input.slice(c * ch, (c + 1) * ch), prefill: true });
        }
        const r = await model.forward({ seqs, logits: 'last', policy });
        lanes.forEach((s, j) => (nll[j * N + i] = tokenNll(r.logits![j], s.targets[C + i])));
        tally.add(r.routing);
        progress?.();
      }
      decodeNlls.push(...nll);
      // arrivals' later tokens, baseline routing, lockstep
      const an = new Array<number>(arr.length * M);
      for (let i = 0; i < M; i++) {
        const r = await model.forward({ seqs: arrSeqs.map((id, a) => ({ id, tokens: [arr[a].input[P + i]] })), logits: 'last', policy: baseline });
        arr.forEach((s, a) => (an[a * M + i] = tokenNll(r.logits![a], s.targets[P + i])));
        progress?.();
      }
      arrivalNlls.push(...an);
    } finally {
      for (const id of [...laneSeqs, ...arrSeqs]) if (id !== undefined) model.freeSequence(id);
    }
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const dn = mean(decodeNlls);
  const an = mean(arrivalNlls);
  return {
    policy, decode_ppl: Math.exp(dn), decode_nll: dn, arrival_ppl: Math.exp(an), arrival_nll: an,
    ...tally.summary(expertBytesPerExpert), decodeNlls, arrivalNlls,
  };
}

/** Mean and paired standard error of a - b (same tokens). */
export function pairedDiff(a: number[], b: number[]): { mean: number; se: number } {
  if (a.length !== b.length || a.length === 0) throw new Error(`webmoe: paired difference of ${a.length} and ${b.length} values`);
  const d = a.map((v, i) => v - b[i]);
  const mean = d.reduce((x, y) => x + y, 0) / d.length;
  const variance = d.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, d.length - 1);
  return { mean, se: Math.sqrt(variance / d.length) };
}

/** One run against the baseline on the same tokens. */
export interface MixedComparison extends Omit<MixedRun, 'decodeNlls' | 'arrivalNlls'> {
  /** Decode lanes: ppl ratio to the baseline, mean NLL difference (nats) and its paired standard error. */
  decode_ppl_ratio: number;
  decode_nll_diff: number;
  decode_nll_diff_se: number;
  arrival_ppl_ratio: number;
  arrival_nll_diff: number;
  arrival_nll_diff_se: number;
  /** distinct_experts / the baseline run's. */
  distinct_ratio: number;
}

export interface MixedEvalResult {
  mode: 'mixed';
  batch: number;
  context: number;
  steps: number;
  prompt: number;
  chunk: number;
  arrivals: number;
  after: number;
  groups: number;
  rows_per_step: number;
  decode_tokens: number;
  arrival_tokens: number;
  baseline: Omit<MixedRun, 'decodeNlls' | 'arrivalNlls'>;
  runs: MixedComparison[];
  seconds: number;
}

export function compareMixed(run: MixedRun, base: MixedRun): MixedComparison {
  const { decodeNlls, arrivalNlls, ...rest } = run;
  const d = pairedDiff(decodeNlls, base.decodeNlls);
  const a = pairedDiff(arrivalNlls, base.arrivalNlls);
  return {
    ...rest,
    decode_ppl_ratio: run.decode_ppl / base.decode_ppl, decode_nll_diff: d.mean, decode_nll_diff_se: d.se,
    arrival_ppl_ratio: run.arrival_ppl / base.arrival_ppl, arrival_nll_diff: a.mean, arrival_nll_diff_se: a.se,
    distinct_ratio: run.distinct_experts / base.distinct_experts,
  };
}

/** The baseline and every policy on the same mixed steps. */
export async function evalMixed(model: StepModel, ids: number[], o: MixedEvalOptions, policies: Policy[]): Promise<MixedEvalResult> {
  const plan = planMixed(ids, o, model.maxBatchTokens);
  const t0 = performance.now();
  const total = (policies.length + 1) * plan.groups * (plan.steps + plan.after);
  let done = 0;
  const tick = () => o.onProgress?.(++done, total);
  const base = await runMixed(model, plan, { kind: 'baseline' }, o.expertBytes, tick);
  const runs: MixedComparison[] = [];
  for (const p of policies) runs.push(compareMixed(await runMixed(model, plan, p, o.expertBytes, tick), base));
  const { decodeNlls, arrivalNlls, ...b } = base;
  return {
    mode: 'mixed', batch: plan.batch, context: plan.context, steps: plan.steps, prompt: plan.prompt, chunk: plan.chunk,
    arrivals: plan.arrivals, after: plan.after, groups: plan.groups, rows_per_step: plan.rows,
    decode_tokens: decodeNlls.length, arrival_tokens: arrivalNlls.length, baseline: b, runs,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The policy under each scope (its own `scope` replaced), for a side-by-side. */
export function scopeVariants(p: Policy): Policy[] {
  return (['all', 'decode', 'decode_union'] as const).map((scope) => ({ ...p, scope }));
}
