// Pure-TS references of every routing policy (see shared/notes/papers.md). One entry point: route().
import { NO_EXPERT, type PolicyConfig, type RouteResult, type RouterConfig, type XShareBudget } from './types.ts';
import { countDistinct, routerScores, selectionKeys, topkToken, writeToken } from './scores.ts';

interface Ctx {
  logits: Float32Array;
  g: Float32Array;
  key: Float32Array;
  T: number;
  E: number;
  k: number;
  router: RouterConfig;
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
  const warm = new Uint8Array(E);
  const pool = new Uint8Array(E);
  for (let t = 0; t < T; t++) {
    const top = topkToken(key, t, E, k);
    if (top.length) warm[top[0]] = 1;
    for (const e of top) pool[e] = 1;
  }
  const d0 = pool.reduce((a, v) => a + v, 0);
  let B = Infinity;
  if (b.budget !== undefined) B = Math.max(1, Math.floor(b.budget));
  if (b.fraction !== undefined) B = Math.min(B, Math.max(1, Math.ceil(b.fraction * d0 - 1e-6)));
  const order = [...Array(E).keys()].filter((e) => pool[e]);
  order.sort((a, c) => warm[c] - warm[a] || colsum[c] - colsum[a] || a - c);
  const nWarm = warm.reduce((a, v) => a + v, 0);
  let total = 0;
  for (let e = 0; e < E; e++) total += colsum[e];
  const chosen = new Uint8Array(E);
  let mass = 0;
  for (let r = 0; r < order.length && r < B; r++) {
    if (b.coverage !== undefined && r >= nWarm && mass >= b.coverage * total) break;
    chosen[order[r]] = 1;
    mass += colsum[order[r]];
  }
  return { chosen, colsum, warm, pool, budget: B };
}

/**
 * SERE re-routing of a baseline result (in place on a copy): slots j >= selectTopK whose expert is not in
 * the primary set P (union of every token's top-S) are replaced by their most similar primary expert
 * (ties -> lower index) unless threshold > 0 and that similarity < threshold. Weights are unchanged;
 * duplicate ids may appear.
 */
function sere(base: RouteResult, E: number, sim: Float32Array, S: number, threshold: number): RouteResult {
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
export function route(logits: Float32Array, T: number, E: number, k: number, policy: PolicyConfig, router: RouterConfig): RouteResult {
  const g = routerScores(logits, T, E, router.mode);
  const ctx: Ctx = { logits, g, key: selectionKeys(g, T, E, router), T, E, k, router };
  if ((policy.kind === 'xshare' || policy.kind === 'alloc_t') && T < (policy.minTokens ?? 0)) policy = { kind: 'baseline' };
  switch (policy.kind) {
    case 'baseline':
      return result(ctx, perTokenTopk(ctx, k));
    case 'reduced_topk':
      return result(ctx, perTokenTopk(ctx, Math.max(1, Math.min(k, policy.k))));
    case 'xshare': {
      const sel = xshareSelect(g, ctx.key, T, E, k, policy);
      return result(ctx, perTokenTopk(ctx, k, sel.chosen));
    }
    case 'alloc_t':
      return result(ctx, allocT(ctx, policy.k));
    case 'sere':
      return sere(result(ctx, perTokenTopk(ctx, k)), E, policy.similarity, policy.selectTopK ?? 2, policy.threshold ?? 0.1);
  }
}

export { routerScores, selectionKeys, topkToken } from './scores.ts';
