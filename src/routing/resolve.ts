// From the user's JSON `Policy` to what each MoE layer runs (PolicyConfig), with the calibration where the
// policy needs it. Every check of a policy's fields lives here (CLI, Worker and API input all pass it).
import { allocateBudget, CalibrationMissingError, type Calibration } from './calibration.ts';
import type { MassPolicyConfig, PerLayer, Policy, PolicyConfig, PolicyScope, Reroute, SimilarityKind } from './types.ts';

export interface ResolveContext {
  /** All layers; isMoe[l] false for dense layers (they get no routing). */
  isMoe: readonly boolean[];
  /** The model's num_experts_per_tok. */
  topK: number;
  E: number;
  calibration: Calibration | null;
}

const KINDS = ['baseline', 'reduced_topk', 'xshare', 'sere', 'alloc', 'alloc_t', 'mass', 'auto'];
const REROUTES: Reroute[] = ['similar', 'refill', 'drop'];

export class PolicyError extends Error {
  constructor(policy: unknown, detail: string) {
    super(`webmoe: policy ${JSON.stringify(policy)}: ${detail}`);
  }
}

function perLayer(p: Policy, v: PerLayer | undefined, name: string, L: number, ok: (x: number) => boolean, want: string): ((l: number) => number) | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length !== L) throw new PolicyError(p, `${name} has ${v.length} values, the model has ${L} layers (one value per layer, dense layers ignored)`);
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !ok(x)) throw new PolicyError(p, `${name}[${i}] = ${x}: expected ${want}`);
    });
    return (l) => v[l];
  }
  if (typeof v !== 'number' || !ok(v)) throw new PolicyError(p, `${name} = ${JSON.stringify(v)}: expected ${want} or an array of them`);
  return () => v;
}

const minTokensOf = (p: Policy): number | undefined => {
  const m = (p as { minTokens?: unknown }).minTokens;
  if (m === undefined) return undefined;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 0) throw new PolicyError(p, `minTokens = ${JSON.stringify(m)}: expected an integer >= 0`);
  return m;
};

const SCOPES: PolicyScope[] = ['all', 'decode', 'decode_union'];
/**
 * The scope of a policy that does not name one: decode tokens only, the prompt chunks' experts kept. Decided
 * by measurement (docs/results/mixed-steps.md; the reason in docs/ARCHITECTURE.md, "Mixed steps").
 */
export const DEFAULT_POLICY_SCOPE: PolicyScope = 'decode_union';

/** Which tokens of a mixed step `p` covers (see PolicyScope); checked like every other field. */
export function policyScopeOf(p: Policy): PolicyScope {
  const s = (p as { scope?: unknown }).scope;
  if (s === undefined) return DEFAULT_POLICY_SCOPE;
  if (typeof s !== 'string' || !SCOPES.includes(s as PolicyScope)) throw new PolicyError(p, `scope = ${JSON.stringify(s)}: expected one of ${SCOPES.join(', ')}`);
  return s as PolicyScope;
}

function similarityOf(p: Policy, kind: SimilarityKind | undefined, ctx: ResolveContext): (l: number) => Float32Array {
  const cal = ctx.calibration;
  if (!cal) throw new CalibrationMissingError(`SERE's expert similarity (policy '${p.kind}')`);
  const k = kind ?? cal.defaultSimilarity;
  const per = cal.similarity[k];
  if (!per) throw new PolicyError(p, `the calibration file has no '${k}' similarity (it has: ${Object.keys(cal.similarity).join(', ') || 'none'})`);
  return (l) => {
    const m = per[l];
    if (!m) throw new PolicyError(p, `the calibration file has no similarity for MoE layer ${l}`);
    return m;
  };
}

/**
 * Alloc-L: per-layer experts per token minimising the calibrated loss increase with sum over MoE layers =
 * round(kAvg * MoE layers). Returns k per layer (0 for dense layers).
 */
export function allocLayers(ctx: ResolveContext, kAvg: number): number[] {
  const s = ctx.calibration?.alloc;
  if (!s) throw new CalibrationMissingError("Alloc-L's per-layer sensitivity (policy 'alloc')");
  const moe = ctx.isMoe.map((m, l) => (m ? l : -1)).filter((l) => l >= 0);
  const levels = s.levels.map(Math.round);
  const total = Math.round(kAvg * moe.length);
  const pick = allocateBudget(levels, moe.map((l) => s.dloss[l]), total);
  const out = ctx.isMoe.map(() => 0);
  moe.forEach((l, i) => (out[l] = levels[pick[i]]));
  return out;
}

/**
 * auto's per-layer coverages for a target rise: the calibration's checked choice for the largest target
 * <= maxRise (the baseline set, coverage 1, below its smallest target); without a checked table, the
 * per-layer program with a loss budget of log(1 + maxRise).
 */
export function autoPolicyCoverages(ctx: ResolveContext, maxRise: number): number[] {
  const t = ctx.calibration?.auto;
  if (!t) return autoCoverages(ctx, Math.log1p(maxRise));
  let pick = -1;
  // f32 in the file: 0.01 is stored as 0.0099999998
  t.targets.forEach((x, i) => x <= maxRise * (1 + 1e-6) && (pick = i));
  return pick < 0 ? ctx.isMoe.map(() => 1) : ctx.isMoe.map((m, l) => (m ? t.coverages[pick][l] : 1));
}

/**
 * auto: per-layer coverage of the mass policy chosen from the calibration's mass sensitivity: maximise the
 * predicted cut in distinct experts (sum over layers of baseline - measured distinct at that coverage)
 * subject to the predicted NLL rise (sum of the single-layer rises) <= `budget` nats per token (log(1 + r)
 * for a rise r). Coverage 1 (the baseline set) is always allowed. DP over the budget in 2000 steps.
 */
export function autoCoverages(ctx: ResolveContext, budget: number): number[] {
  const s = ctx.calibration?.mass;
  if (!s || !s.distinct || !s.baseDistinct) throw new CalibrationMissingError("the mass policy's per-layer sensitivity (policy 'auto')");
  const moe = ctx.isMoe.map((m, l) => (m ? l : -1)).filter((l) => l >= 0);
  if (!(budget > 0)) return ctx.isMoe.map(() => 1);
  const STEPS = 2000;
  const unit = budget / STEPS;
  // options per layer: [coverage, cost bins, gain]
  // A lower coverage never costs less than a higher one: a measured rise below that of a higher coverage
  // is noise, and taken at face value it would make the lowest coverage free (running max, high to low).
  const order = s.levels.map((_, i) => i).sort((i, j) => s.levels[j] - s.levels[i]);
  const cost = moe.map((l) => {
    const c = new Array<number>(s.levels.length);
    let run = 0;
    for (const i of order) c[i] = run = Math.max(run, s.dloss[l][i]);
    return c;
  });
  const opts = moe.map((l, li) => [[1, 0, 0] as [number, number, number]].concat(
    s.levels.map((c, i) => [c, Math.max(0, Math.ceil(cost[li][i] / unit - 1e-9)), s.baseDistinct![l] - s.distinct![l][i]] as [number, number, number])
      .filter(([, bins]) => bins <= STEPS)));
  let best = new Float64Array(STEPS + 1).fill(-Infinity);
  best[0] = 0;
  const choice: Int32Array[] = [];
  for (const o of opts) {
    const nb = new Float64Array(STEPS + 1).fill(-Infinity);
    const ch = new Int32Array(STEPS + 1).fill(-1);
    for (let b = 0; b <= STEPS; b++) {
      if (best[b] === -Infinity) continue;
      o.forEach(([, bins, gain], i) => {
        const b2 = b + bins;
        if (b2 <= STEPS && best[b] + gain > nb[b2] + 1e-12) {
          nb[b2] = best[b] + gain;
          ch[b2] = i;
        }
      });
    }
    // keep the back-pointers of every bin; the previous bin is b2 - bins of the chosen option
    choice.push(ch);
    best = nb;
  }
  let bb = 0;
  for (let b = 0; b <= STEPS; b++) if (best[b] > best[bb] + 1e-12) bb = b;
  const cov = new Array<number>(moe.length);
  for (let i = moe.length - 1; i >= 0; i--) {
    const o = opts[i][choice[i][bb]];
    cov[i] = o[0];
    bb -= o[1];
  }
  const out = ctx.isMoe.map(() => 1);
  moe.forEach((l, i) => (out[l] = cov[i]));
  return out;
}

/** Resolve `policy` for every layer (null for dense layers). Throws PolicyError / CalibrationMissingError. */
export function resolvePolicy(policy: Policy, ctx: ResolveContext): (PolicyConfig | null)[] {
  const p = policy;
  if (!p || typeof p !== 'object' || !KINDS.includes((p as { kind: string }).kind)) {
    throw new PolicyError(p, `kind must be one of ${KINDS.join(', ')}`);
  }
  const L = ctx.isMoe.length;
  const minTokens = minTokensOf(p);
  policyScopeOf(p); // checked here with the other fields; applied per step (src/routing/scope.ts)
  const layer = (f: (l: number) => PolicyConfig): (PolicyConfig | null)[] => ctx.isMoe.map((m, l) => (m ? f(l) : null));
  const pos = (x: number) => Number.isFinite(x) && x > 0;
  const unit = (x: number) => Number.isFinite(x) && x > 0 && x <= 1;
  switch (p.kind) {
    case 'baseline':
      return layer(() => ({ kind: 'baseline' }));
    case 'reduced_topk': {
      const k = perLayer(p, p.k, 'k', L, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
      if (!k) throw new PolicyError(p, 'k is required');
      return layer((l) => ({ kind: 'reduced_topk', k: Math.min(ctx.topK, k(l)) }));
    }
    case 'xshare': {
      const b = perLayer(p, p.budget, 'budget', L, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
      const f = perLayer(p, p.fraction, 'fraction', L, unit, 'a number in (0, 1]');
      const c = perLayer(p, p.coverage, 'coverage', L, unit, 'a number in (0, 1]');
      if (!b && !f && !c) throw new PolicyError(p, 'give budget, fraction or coverage');
      if (f && c) throw new PolicyError(p, 'give fraction or coverage, not both');
      return layer((l) => {
        if (c) return { kind: 'xshare', coverage: c(l), budget: b?.(l), minTokens };
        if (f) return { kind: 'xshare', fraction: f(l), minTokens, ...(b ? { budget: b(l) } : {}) } as PolicyConfig;
        return { kind: 'xshare', budget: b!(l), minTokens };
      });
    }
    case 'sere': {
      const S = p.selectTopK ?? 2;
      if (!Number.isInteger(S) || S < 1) throw new PolicyError(p, `selectTopK = ${S}: expected an integer >= 1`);
      const th = p.threshold ?? 0.1;
      if (!Number.isFinite(th) || th < 0 || th > 1) throw new PolicyError(p, `threshold = ${th}: expected a number in [0, 1]`);
      const sim = similarityOf(p, p.similarity, ctx);
      return layer((l) => ({ kind: 'sere', similarity: sim(l), selectTopK: S, threshold: th }));
    }
    case 'alloc_t':
      if (!pos(p.k) || p.k > ctx.topK) throw new PolicyError(p, `k = ${p.k}: expected a number in (0, ${ctx.topK}]`);
      return layer(() => ({ kind: 'alloc_t', k: p.k, minTokens }));
    case 'alloc': {
      if (!pos(p.k) || p.k > ctx.topK) throw new PolicyError(p, `k = ${p.k}: expected a number in (0, ${ctx.topK}] (experts per token per layer on average)`);
      const ks = allocLayers(ctx, p.k);
      return layer((l) => (p.tokens ? { kind: 'alloc_t', k: ks[l], minTokens } : { kind: 'reduced_topk', k: ks[l] }));
    }
    case 'mass':
    case 'auto': {
      // auto re-routes as its sensitivity was measured (the calibration picks the better reroute)
      const reroute = p.reroute ?? (p.kind === 'auto' ? ctx.calibration?.mass?.reroute : undefined) ?? 'similar';
      if (!REROUTES.includes(reroute)) throw new PolicyError(p, `reroute '${reroute}': expected one of ${REROUTES.join(', ')}`);
      let cov: (l: number) => number;
      let budget: ((l: number) => number) | undefined;
      if (p.kind === 'auto') {
        if (!Number.isFinite(p.maxPerplexityRise) || p.maxPerplexityRise < 0) throw new PolicyError(p, 'maxPerplexityRise must be a number >= 0 (0.01 = +1%)');
        const c = autoPolicyCoverages(ctx, p.maxPerplexityRise);
        cov = (l) => c[l];
      } else {
        const c = perLayer(p, p.coverage, 'coverage', L, unit, 'a number in (0, 1]');
        if (!c) throw new PolicyError(p, 'coverage is required');
        cov = c;
        budget = perLayer(p, p.budget, 'budget', L, (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
      }
      const sim = reroute === 'similar' ? similarityOf(p, p.kind === 'mass' ? p.similarity : undefined, ctx) : undefined;
      return layer((l): MassPolicyConfig => ({ kind: 'mass', coverage: cov(l), budget: budget?.(l), reroute, similarity: sim?.(l), minTokens }));
    }
  }
}

/** Whether the policy (as resolved) needs the calibration file; for error messages before loading. */
export function needsCalibration(p: Policy): boolean {
  return p.kind === 'sere' || p.kind === 'alloc' || p.kind === 'auto' || (p.kind === 'mass' && (p.reroute ?? 'similar') === 'similar');
}
