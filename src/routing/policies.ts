// Pure-TS references of every routing policy (see shared/notes/papers.md). One entry point: route().
import { NO_EXPERT, type MassPolicyConfig, type PolicyConfig, type RouteResult, type RouterConfig, type XShareBudget } from './types.ts';
import { countDistinct, routerScores, selectionKeys, topkToken, writeToken } from './scores.ts';
import type { TokenScope } from './scope.ts';

interface Ctx {
  logits: Float32Array;
  g: Float32Array;
  key: Float32Array;
  T: number;
  E: number;
  k: number;
  router: RouterConfig;
  /** [E] experts already read by the step's other rows (scope 'decode_union'): kept in every batch set. */
  extra: Uint8Array | null;
}

/** chosen |= extra (in place). */
function withExtra(chosen: Uint8Array, extra: Uint8Array | null): Uint8Array {
  if (extra) for (let e = 0; e < chosen.length; e++) chosen[e] |= extra[e];
  return chosen;
}

function result(ctx: Ctx, perToken: number[][], kMax = ctx.k): RouteResult {
  const ids = new Uint32Array(ctx.T * kMax);
  const weights = new Float32Array(ctx.T * kMax);
  for (let t = 0; t < ctx.T; t++) writeToken(ids, weights, t, kMax, perToken[t], ctx.g, ctx.logits, ctx.E, ctx.router);
  return { ids, weights, distinct: countDistinct(ids), kMax };
}

function perTokenTopk(ctx: Ctx, k: number, allowed: Uint8Array | null = null): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < ctx.T; t++) out.push(topkToken(ctx.key, t, ctx.E, k, allowed));
  return out;
}

export interface XShareSelection {
  /** [E] 1 for experts in the chosen set S. */
  chosen: Uint8Array;
  /** [E] column sums sum_t g[t, e]. */
  colsum: Float32Array;
  /** [E] 1 for experts that are some token's top-1 (warm-up set). */
  warm: Uint8Array;
  /** [E] 1 for experts in the baseline union (candidate pool). */
  pool: Uint8Array;
  /** Effective budget B (Infinity when none). */
  budget: number;
}

/**
 * XShare's set selection. Candidate pool = union of the baseline top-k (experts no token would pick are
 * never added, so a budget >= baseline distinct reproduces the baseline exactly). Order: warm-up experts
 * (some token's top-1 by key) first, then by column sum of g descending, ties to the lower index; S = the
 * first B of that order. When the warm-up set alone exceeds B, the B warm-up experts with the largest
 * column sums are kept (tokens whose top-1 is dropped route inside S). With `coverage` tau, S stops at the
 * first prefix (never shorter than the warm-up set) whose mass reaches tau * total mass over all E.
 */
export function xshareSelect(g: Float32Array, key: Float32Array, T: number, E: number, k: number, b: XShareBudget): XShareSelection {
  // f32 accumulation in token order, exactly like the GPU kernel, so both order experts identically.
  const colsum = new Float32Array(E);
  for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) colsum[e] = Math.fround(colsum[e] + g[t * E + e]);
  const { warm, pool } = warmAndPool(key, T, E, k);
  const d0 = pool.reduce((a, v) => a + v, 0);
  let B = Infinity;
  if (b.budget !== undefined) B = Math.max(1, Math.floor(b.budget));
  if (b.fraction !== undefined) B = Math.min(B, Math.max(1, Math.ceil(b.fraction * d0 - 1e-6)));
  return { chosen: chooseByRank(colsum, warm, pool, B, b.coverage ?? 0), colsum, warm, pool, budget: B };
}

/** Baseline top-k per token (selection order), its warm-up set (top-1s) and union (pool). */
function warmAndPool(key: Float32Array, T: number, E: number, k: number): { warm: Uint8Array; pool: Uint8Array; top: number[][] } {
  const warm = new Uint8Array(E);
  const pool = new Uint8Array(E);
  const top: number[][] = [];
  for (let t = 0; t < T; t++) {
    const tk = topkToken(key, t, E, k);
    top.push(tk);
    if (tk.length) warm[tk[0]] = 1;
    for (const e of tk) pool[e] = 1;
  }
  return { warm, pool, top };
}

/**
 * The batch set shared by xshare and mass: pool experts ordered warm-up first, then by colsum desc, ties to
 * the lower index; expert e is chosen when its rank < B and, with coverage tau > 0, unless it lies past the
 * warm-up set and the mass ranked before it already reaches tau * total. Sums in f32 in the GPU kernel's
 * order (total over experts by index, mass-before over the experts ranked before, by index).
 */
function chooseByRank(colsum: Float32Array, warm: Uint8Array, pool: Uint8Array, B: number, tau: number): Uint8Array {
  const E = colsum.length;
  let total = 0;
  for (let e = 0; e < E; e++) total = Math.fround(total + colsum[e]);
  const nWarm = warm.reduce((a, v) => a + v, 0);
  const limit = Math.fround(Math.fround(tau) * total);
  const chosen = new Uint8Array(E);
  for (let e = 0; e < E; e++) {
    if (!pool[e]) continue;
    let rank = 0;
    let before = 0;
    for (let f = 0; f < E; f++) {
      if (f === e || !pool[f]) continue;
      if (warm[f] > warm[e] || (warm[f] === warm[e] && (colsum[f] > colsum[e] || (colsum[f] === colsum[e] && f < e)))) {
        rank++;
        before = Math.fround(before + colsum[f]);
      }
    }
    let ok = rank < B;
    if (tau > 0 && rank >= nWarm && before >= limit) ok = false;
    chosen[e] = ok ? 1 : 0;
  }
  return chosen;
}

/**
 * The mass policy's set S (see MassPolicyConfig): column sums over each token's baseline top-k only, in
 * token order (f32), and the same rank rule as XShare with the coverage measured against that mass.
 */
export function massSelect(g: Float32Array, key: Float32Array, T: number, E: number, k: number, coverage: number, budget?: number): { chosen: Uint8Array; top: number[][] } {
  const { warm, pool, top } = warmAndPool(key, T, E, k);
  const colsum = new Float32Array(E);
  for (let t = 0; t < T; t++) {
    const inTop = new Set(top[t]);
    for (let e = 0; e < E; e++) if (inTop.has(e)) colsum[e] = Math.fround(colsum[e] + g[t * E + e]);
  }
  const B = budget !== undefined ? Math.max(1, Math.floor(budget)) : Infinity;
  return { chosen: chooseByRank(colsum, warm, pool, B, coverage), top };
}

/** Most similar expert to e inside `chosen` by sim[e, :] (ties -> lower index); -1 when chosen is empty. */
function mostSimilar(sim: Float32Array, E: number, e: number, chosen: Uint8Array): number {
  let best = -1;
  for (let f = 0; f < E; f++) if (chosen[f] && (best < 0 || sim[e * E + f] > sim[e * E + best])) best = f;
  return best;
}

function mass(ctx: Ctx, p: MassPolicyConfig): RouteResult {
  const { T, E, k } = ctx;
  const { chosen: set, top } = massSelect(ctx.g, ctx.key, T, E, k, p.coverage, p.budget);
  const chosen = withExtra(set, ctx.extra);
  const reroute = p.reroute ?? 'similar';
  if (reroute === 'refill') return result(ctx, perTokenTopk(ctx, k, chosen));
  if (reroute === 'drop') {
    return result(ctx, top.map((tk, t) => {
      const kept = tk.filter((e) => chosen[e]);
      return kept.length ? kept : topkToken(ctx.key, t, E, k, chosen);
    }));
  }
  if (!p.similarity) throw new Error("webmoe: mass policy with reroute 'similar' needs a similarity matrix");
  const base = result(ctx, top);
  const ids = base.ids;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== NO_EXPERT && !chosen[ids[i]]) ids[i] = mostSimilar(p.similarity, E, ids[i], chosen);
  return { ids, weights: base.weights, distinct: countDistinct(ids), kMax: base.kMax };
}

/**
 * SERE re-routing of a baseline result (in place on a copy): slots j >= selectTopK whose expert is not in
 * the primary set P (union of every token's top-S) are replaced by their most similar primary expert
 * (ties -> lower index) unless threshold > 0 and that similarity < threshold. Weights are unchanged;
 * duplicate ids may appear.
 */
function sere(base: RouteResult, E: number, sim: Float32Array, S: number, threshold: number, extra: Uint8Array | null = null): RouteResult {
  const { kMax } = base;
  const T = base.ids.length / kMax;
  const ids = base.ids.slice();
  const primary: number[] = [];
  const inP = new Uint8Array(E);
  for (let t = 0; t < T; t++) for (let j = 0; j < Math.min(S, kMax); j++) {
    const e = ids[t * kMax + j];
    if (e !== NO_EXPERT && !inP[e]) {
      inP[e] = 1;
      primary.push(e);
    }
  }
  if (extra) for (let e = 0; e < E; e++) if (extra[e] && !inP[e]) {
    inP[e] = 1;
    primary.push(e);
  }
  primary.sort((a, b) => a - b);
  for (let t = 0; t < T; t++) for (let j = S; j < kMax; j++) {
    const e = ids[t * kMax + j];
    if (e === NO_EXPERT || inP[e] || primary.length === 0) continue;
    let best = primary[0];
    for (const p of primary) if (sim[e * E + p] > sim[e * E + best]) best = p;
    if (threshold > 0 && sim[e * E + best] < threshold) continue;
    ids[t * kMax + j] = best;
  }
  return { ids, weights: base.weights.slice(), distinct: countDistinct(ids), kMax };
}

/**
 * Alloc-T: every token keeps its top-1; the remaining round(k*T) - T pairs are the best remaining
 * (token, expert) pairs by key over the whole batch (ties: lower token, then lower expert), at most kMax
 * per token. Per-token weights by the architecture's rule over what the token kept.
 */
function allocT(ctx: Ctx, kAvg: number): number[][] {
  const { T, E, k } = ctx;
  const full = perTokenTopk(ctx, k);
  const M = Math.max(0, Math.round(kAvg * T) - T);
  const cand: { t: number; j: number; s: number }[] = [];
  for (let t = 0; t < T; t++) for (let j = 1; j < full[t].length; j++) cand.push({ t, j, s: ctx.key[t * E + full[t][j]] });
  cand.sort((a, b) => b.s - a.s || a.t - b.t || a.j - b.j);
  const n = full.map((f) => Math.min(1, f.length));
  for (let i = 0; i < Math.min(M, cand.length); i++) n[cand[i].t]++;
  return full.map((f, t) => f.slice(0, n[t]));
}

/** Route a batch: logits [T, E] -> ids/weights [T, k] (NO_EXPERT / 0 in unused slots) and distinct count. */
export function route(logits: Float32Array, T: number, E: number, k: number, policy: PolicyConfig, router: RouterConfig, scope: TokenScope | null = null): RouteResult {
  if (scope && policy.kind !== 'baseline') return routeScoped(logits, T, E, k, policy, router, scope);
  return routeRows(logits, T, E, k, policy, router, null);
}

/**
 * A step with prompt-chunk rows outside the policy (src/routing/scope.ts): those rows get the baseline
 * top-k; the policy runs on the other rows as if they were the whole step (its batch statistics, budget,
 * minTokens and Alloc-T total see only them), with the prompt rows' baseline experts kept when scope.union.
 */
function routeScoped(logits: Float32Array, T: number, E: number, k: number, policy: PolicyConfig, router: RouterConfig, scope: TokenScope): RouteResult {
  if (scope.policy.length !== T) throw new Error(`webmoe: token scope has ${scope.policy.length} rows, the step ${T}`);
  const base = routeRows(logits, T, E, k, { kind: 'baseline' }, router, null);
  const rows: number[] = [];
  for (let t = 0; t < T; t++) if (scope.policy[t]) rows.push(t);
  if (rows.length === 0) return base;
  let extra: Uint8Array | null = null;
  if (scope.union) {
    extra = new Uint8Array(E);
    for (let t = 0; t < T; t++) if (!scope.policy[t]) for (let j = 0; j < k; j++) {
      const e = base.ids[t * k + j];
      if (e !== NO_EXPERT) extra[e] = 1;
    }
  }
  const sub = new Float32Array(rows.length * E);
  rows.forEach((t, i) => sub.set(logits.subarray(t * E, (t + 1) * E), i * E));
  const r = routeRows(sub, rows.length, E, k, policy, router, extra);
  const ids = base.ids;
  const weights = base.weights;
  rows.forEach((t, i) => {
    ids.set(r.ids.subarray(i * k, (i + 1) * k), t * k);
    weights.set(r.weights.subarray(i * k, (i + 1) * k), t * k);
  });
  return { ids, weights, distinct: countDistinct(ids), kMax: k };
}

function routeRows(logits: Float32Array, T: number, E: number, k: number, policy: PolicyConfig, router: RouterConfig, extra: Uint8Array | null): RouteResult {
  const g = routerScores(logits, T, E, router.mode);
  const ctx: Ctx = { logits, g, key: selectionKeys(g, T, E, router), T, E, k, router, extra };
  if ((policy.kind === 'xshare' || policy.kind === 'alloc_t' || policy.kind === 'mass') && T < (policy.minTokens ?? 0)) policy = { kind: 'baseline' };
  switch (policy.kind) {
    case 'baseline':
      return result(ctx, perTokenTopk(ctx, k));
    case 'reduced_topk':
      return result(ctx, perTokenTopk(ctx, Math.max(1, Math.min(k, policy.k))));
    case 'xshare': {
      const sel = xshareSelect(g, ctx.key, T, E, k, policy);
      return result(ctx, perTokenTopk(ctx, k, withExtra(sel.chosen, extra)));
    }
    case 'alloc_t':
      return result(ctx, allocT(ctx, policy.k));
    case 'mass':
      return mass(ctx, policy);
    case 'sere':
      return sere(result(ctx, perTokenTopk(ctx, k)), E, policy.similarity, policy.selectTopK ?? 2, policy.threshold ?? 0.1, extra);
  }
}

export { routerScores, selectionKeys, topkToken } from './scores.ts';

/** Reference of shaders/moe_route_stats.wgsl: policy set, baseline set and gating mass of one layer. */
export function routeStats(logits: Float32Array, T: number, E: number, k: number, ids: Uint32Array, router: RouterConfig): { experts: number[]; baselineExperts: number[]; massKept: number; massBaseline: number } {
  const g = routerScores(logits, T, E, router.mode);
  const key = selectionKeys(g, T, E, router);
  const base = new Set<number>();
  const pol = new Set<number>();
  let massKept = 0;
  let massBaseline = 0;
  for (let t = 0; t < T; t++) {
    for (const e of topkToken(key, t, E, k)) {
      base.add(e);
      massBaseline += g[t * E + e];
    }
    const mine = new Set<number>();
    for (let j = 0; j < k; j++) {
      const e = ids[t * k + j];
      if (e !== NO_EXPERT) mine.add(e);
    }
    for (const e of mine) {
      pol.add(e);
      massKept += g[t * E + e];
    }
  }
  const asc = (s: Set<number>) => [...s].sort((a, b) => a - b);
  return { experts: asc(pol), baselineExperts: asc(base), massKept, massBaseline };
}
