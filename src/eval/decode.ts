/**
 * Decode-mode evaluation (lockstep teacher forcing): B held-out segments decode together, so every step's
 * batch is one token of each of B different sequences, exactly what a serving decode step routes.
 *   segment = C + N tokens c0 .. c_{C+N-1}; input [bos, c0 .. c_{C+N-2}] (the prefill protocol's shift)
 *   prefill: each segment's first C inputs, baseline routing (one step for the whole group)
 *   decode:  N steps; step i feeds input[C+i] of every segment under the policy and scores c_{C+i}
 * Perplexity counts the N decode predictions per segment only (those the policy routes). Optionally the
 * baseline runs on the same tokens, and both free-run N greedy tokens after the context of the first group
 * (greedy agreement).
 */
import type { Policy } from '../routing/types.ts';
import type { ForwardRequest as StepRequest, ForwardResult as StepResult, LayerRouting } from '../runtime/model.ts';
import type { MoeModelSpec } from '../models/spec.ts';

/** What the evaluation needs from a model: MoeModel (WebGPU) or ReferenceStepModel (plain TS). */
export interface StepModel {
  readonly spec: MoeModelSpec;
  readonly maxBatchTokens: number;
  createSequence(): number;
  freeSequence(id: number): void;
  forward(req: StepRequest): Promise<StepResult>;
}

export interface DecodeEvalOptions {
  batch: number;
  /** Prefill tokens per segment (default 32). */
  context?: number;
  /** Teacher-forced decode steps per segment (default 64). */
  steps?: number;
  /** Segments to evaluate at most (default all that fit; rounded down to a multiple of batch). */
  segments?: number;
  policy: Policy;
  /** Also run this policy (the baseline) on the same tokens and free-run both for greedy agreement. */
  compare?: Policy;
  /** Free-running greedy tokens for agreement (default = steps), over the first group. */
  agreeSteps?: number;
  bos: number;
  /** Bytes of one expert's weights as loaded (gate, up and down), for expert_bytes_per_step. */
  expertBytes: number;
  onProgress?: (done: number, total: number) => void;
}

export interface DecodeRun {
  ppl: number;
  /** Mean NLL per scored token (nats). */
  nll: number;
  tokens: number;
  /** Mean over MoE layers and decode steps of distinct experts per layer per step. */
  distinct_experts: number;
  /** Per layer (0 for dense layers): mean distinct experts per step. */
  distinct_experts_per_layer: number[];
  /** The baseline top-k's distinct experts of the same steps (same router inputs), computed on the GPU alongside. */
  baseline_distinct_experts_same_steps: number;
  expert_bytes_per_step: number;
  /** Gating mass kept over all decode steps and MoE layers (kept / baseline top-k mass). */
  mass_kept: number;
  /** Per token NLL in segment order (for paired statistics). */
  nlls: number[];
}

export interface DecodeEvalResult extends Omit<DecodeRun, 'nlls'> {
  mode: 'decode';
  batch: number;
  policy: Policy;
  context: number;
  steps: number;
  segments: number;
  seconds: number;
  baseline?: Omit<DecodeRun, 'nlls'>;
  ppl_ratio?: number;
  distinct_ratio?: number;
  /** Paired standard error of the mean NLL difference (policy - baseline), nats. */
  nll_diff_se?: number;
  agreement?: number;
  first_divergence?: number;
}

export interface Segment {
  input: number[];
  targets: number[];
}

/** Cut the token stream into segments of context + steps tokens (bos first, shifted by one). */
export function decodeSegments(ids: number[], context: number, steps: number, bos: number): Segment[] {
  const n = context + steps;
  const out: Segment[] = [];
  for (let i = 0; i + n <= ids.length; i += n) {
    const c = ids.slice(i, i + n);
    out.push({ input: [bos, ...c.slice(0, -1)], targets: c });
  }
  return out;
}

/** -log softmax(logits)[target] in f64. */
export function tokenNll(logits: Float32Array, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - m);
  return m + Math.log(z) - logits[target];
}

async function prefill(model: StepModel, group: Segment[], context: number): Promise<number[]> {
  const seqs = group.map(() => model.createSequence());
  // as many whole segments per step as maxBatchTokens allows
  const per = Math.max(1, Math.floor(model.maxBatchTokens / context));
  for (let i = 0; i < seqs.length; i += per) {
    await model.forward({ seqs: seqs.slice(i, i + per).map((id, j) => ({ id, tokens: group[i + j].input.slice(0, context) })), logits: 'none', policy: { kind: 'baseline' } });
  }
  return seqs;
}

/** One policy over the segments (teacher forcing). */
export async function runDecode(model: StepModel, segs: Segment[], o: DecodeEvalOptions, policy: Policy, progress?: () => void): Promise<DecodeRun> {
  const C = o.context ?? 32;
  const N = o.steps ?? 64;
  const B = o.batch;
  const spec = model.spec;
  const nlls: number[] = new Array(segs.length * N);
  const tally = new RouteTally(spec);
  for (let g = 0; g < segs.length; g += B) {
    const group = segs.slice(g, g + B);
    const seqs = await prefill(model, group, C);
    try {
      for (let i = 0; i < N; i++) {
        const r = await model.forward({ seqs: seqs.map((id, j) => ({ id, tokens: [group[j].input[C + i]] })), logits: 'last', policy });
        group.forEach((s, j) => (nlls[(g + j) * N + i] = tokenNll(r.logits![j], s.targets[C + i])));
        tally.add(r.routing);
        progress?.();
      }
    } finally {
      seqs.forEach((id) => model.freeSequence(id));
    }
  }
  const nll = nlls.reduce((a, b) => a + b, 0) / nlls.length;
  return { ppl: Math.exp(nll), nll, tokens: nlls.length, ...tally.summary(o.expertBytes), nlls };
}

/** Routing statistics summed over steps: distinct experts per MoE layer (the policy's and the baseline's), mass kept. */
export class RouteTally {
  private readonly dSum: Float64Array;
  private baseSum = 0;
  private kept = 0;
  private massBase = 0;
  private steps = 0;
  constructor(private readonly spec: MoeModelSpec) {
    this.dSum = new Float64Array(spec.layers);
  }

  add(routing: readonly LayerRouting[]): void {
    routing.forEach((lr, l) => {
      if (this.spec.layerKinds[l] !== 'moe') return;
      this.dSum[l] += lr.experts.length;
      this.baseSum += lr.baselineExperts.length;
      this.kept += lr.massKeptSum;
      this.massBase += lr.massBaselineSum;
    });
    this.steps++;
  }

  /** Means per step; `expertBytes`: bytes of one expert's weights. */
  summary(expertBytes: number) {
    const moeLayers = this.spec.layerKinds.filter((k) => k === 'moe').length;
    const perLayer = Array.from(this.dSum, (d) => d / this.steps);
    const sum = perLayer.reduce((a, b) => a + b, 0);
    return {
      distinct_experts: sum / moeLayers, distinct_experts_per_layer: perLayer,
      baseline_distinct_experts_same_steps: this.baseSum / this.steps / moeLayers,
      expert_bytes_per_step: sum * expertBytes,
      mass_kept: this.massBase > 0 ? this.kept / this.massBase : 1,
    };
  }
}

/** Free-run `n` greedy tokens after each segment's context; returns the ids per sequence. */
export async function freeRun(model: StepModel, group: Segment[], C: number, n: number, policy: Policy): Promise<number[][]> {
  const seqs = await prefill(model, group.map((s) => ({ ...s, input: s.input.slice(0, C - 1) })), C - 1);
  const out: number[][] = group.map(() => []);
  try {
    let cur = group.map((s) => s.input[C - 1]);
    for (let i = 0; i < n; i++) {
      const r = await model.forward({ seqs: seqs.map((id, j) => ({ id, tokens: [cur[j]] })), logits: 'none', policy });
      cur = r.next;
      cur.forEach((t, j) => out[j].push(t));
    }
  } finally {
    seqs.forEach((id) => model.freeSequence(id));
  }
  return out;
}

const strip = ({ nlls: _n, ...rest }: DecodeRun) => rest;

/** The whole evaluation: the policy, and with `compare` the baseline on the same tokens plus agreement. */
export async function evalDecode(model: StepModel, ids: number[], o: DecodeEvalOptions): Promise<DecodeEvalResult> {
  const C = o.context ?? 32;
  const N = o.steps ?? 64;
  const B = o.batch;
  if (!Number.isInteger(B) || B < 1) throw new Error(`webmoe: decode eval batch must be an integer >= 1, got ${B}`);
  if (!Number.isInteger(C) || C < 2) throw new Error(`webmoe: decode eval context must be an integer >= 2, got ${C}`);
  if (!Number.isInteger(N) || N < 1) throw new Error(`webmoe: decode eval steps must be an integer >= 1, got ${N}`);
  let segs = decodeSegments(ids, C, N, o.bos);
  if (o.segments !== undefined) segs = segs.slice(0, o.segments);
  segs = segs.slice(0, Math.floor(segs.length / B) * B);
  if (segs.length === 0) throw new Error(`webmoe: the text has ${ids.length} tokens: too few for ${B} segments of ${C + N} tokens (lower --batch, --context or --steps)`);
  const t0 = performance.now();
  const agree = o.compare ? (o.agreeSteps ?? N) : 0;
  const total = (segs.length / B) * N * (o.compare ? 2 : 1) + agree * 2;
  let done = 0;
  const tick = () => o.onProgress?.(++done, total);
  const run = await runDecode(model, segs, o, o.policy, tick);
  const res: DecodeEvalResult = { mode: 'decode', batch: B, policy: o.policy, context: C, steps: N, segments: segs.length, seconds: 0, ...strip(run) };
  if (o.compare) {
    const base = await runDecode(model, segs, o, o.compare, tick);
    res.baseline = strip(base);
    res.ppl_ratio = run.ppl / base.ppl;
    res.distinct_ratio = run.distinct_experts / base.distinct_experts;
    const d = run.nlls.map((v, i) => v - base.nlls[i]);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const variance = d.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, d.length - 1);
    res.nll_diff_se = Math.sqrt(variance / d.length);
    const group = segs.slice(0, B);
    const mine = await freeRun(model, group, C, agree, o.policy);
    done += agree;
    const theirs = await freeRun(model, group, C, agree, o.compare);
    done += agree;
    let same = 0;
    let firstSum = 0;
    mine.forEach((m, j) => {
      let first = agree;
      m.forEach((t, i) => {
        if (t === theirs[j][i]) same++;
        else if (first === agree) first = i;
      });
      firstSum += first;
    });
    res.agreement = same / (agree * B);
    res.first_divergence = firstSum / B;
  }
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}

/** Bytes of one routed expert's weights (gate, up, down) in a weight format, per-group scales included. */
export function expertBytes(spec: MoeModelSpec, format: 'f32' | 'f16' | 'int8' | 'int4'): number {
  const per = { f32: 4, f16: 2, int8: 1 + 4 / 32, int4: 0.5 + 4 / 32 }[format];
  return 3 * spec.hidden * spec.moeIntermediate * per;
}
