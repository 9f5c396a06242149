// Router scores and routing policies on the GPU (shaders/moe_router.wgsl, shaders/moe_route.wgsl).
// Semantics are those of the pure-TS references in src/routing/ (see types.ts there).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import type { Reroute, RouterMode } from '../routing/types.ts';

export const MOE_MAX_EXPERTS = 256;
export const MOE_MAX_K = 8;

const MODE: Record<RouterMode, number> = { softmax: 0, topk_softmax: 1, sigmoid: 2 };

// Uniform buffers by content, per device: a decode step re-encodes the same few parameter blocks for every
// layer and step, so after the first step the MoE path creates no buffers. Entries are dropped (not
// destroyed: pending command buffers may still use them) when the cache grows past its cap.
export interface MoeScoresArgs {
  /** [T, E] f32 router logits. */
  logits: GPUBuffer;
  /** [T, E] f32 output scores: softmax over E (softmax, topk_softmax) or sigmoid. */
  scores: GPUBuffer;
  T: number;
  E: number;
  mode: RouterMode;
}

/** Encode router scores g = softmax(logits) or sigmoid(logits), one thread per token. */
export function encodeMoeScores(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeScoresArgs): void {
  const params = gpu.uniform([a.T, a.E, MODE[a.mode], 0]);
  dispatch(gpu, pass, { shader: 'moe_router', constants: { WG: 64 } }, [a.logits, a.scores, params], grid1d(gpu, Math.ceil(a.T / 64)));
}

/** One layer's policy as the kernels take it: src/routing's PolicyConfig with similarity matrices on the GPU. */
export type GpuPolicy =
  | { kind: 'baseline' }
  | { kind: 'reduced_topk'; k: number }
  /** At least one of budget / fraction / coverage; combined as in xshareSelect. */
  | { kind: 'xshare'; budget?: number; fraction?: number; coverage?: number; minTokens?: number }
  | { kind: 'alloc_t'; k: number; minTokens?: number }
  /** SERE: baseline top-k, then re-routing with `similarity` f32 [E, E] (row = the expert replaced). */
  | { kind: 'sere'; similarity: GPUBuffer; selectTopK?: number; threshold?: number }
  /** The mass policy (src/routing/types.ts MassPolicyConfig); similarity [E, E] f32 for reroute 'similar'. */
  | { kind: 'mass'; coverage: number; budget?: number; reroute?: Reroute; similarity?: GPUBuffer; minTokens?: number };

const REROUTE: Record<Reroute, number> = { refill: 0, drop: 1, similar: 2 };

/**
 * Rows of a step outside the policy (src/routing/scope.ts TokenScope, on the GPU): the caller wrote the
 * [T] u32 row mask (1 = under the policy) into the route scratch at word `maskOffset` before the step.
 */
export interface GpuTokenScope {
  maskOffset: number;
  /** Rows under the policy (mask ones). */
  count: number;
  /** The other rows' baseline experts count as kept ('decode_union'). */
  union: boolean;
}

export interface MoeRouteArgs {
  /** [T, E] f32 logits (read in topk_softmax mode for the weights; always bound). */
  logits: GPUBuffer;
  /** [T, E] f32 scores from encodeMoeScores. */
  scores: GPUBuffer;
  /** [E] f32 selection bias (sigmoid mode); omit for none. */
  expertBias?: GPUBuffer;
  /** [T, kMax] u32 out: expert ids, 0xFFFFFFFF in unused slots; used slots first, key-descending. */
  ids: GPUBuffer;
  /** [T, kMax] f32 out: weights (0 in unused slots). */
  weights: GPUBuffer;
  /** u32 scratch of at least 2*T words (and the row mask at scope.maskOffset). */
  scratch: GPUBuffer;
  /** u32 buffer: counters[counterIndex] = number of distinct experts used. */
  counters: GPUBuffer;
  counterIndex?: number;
  T: number;
  E: number;
  /** The model's num_experts_per_tok: slots per token in ids/weights (<= 8). */
  kMax: number;
  mode: RouterMode;
  normTopk?: boolean;
  /** routed_scaling_factor (default 1). */
  scale?: number;
  policy: GpuPolicy;
  /** Only the masked rows are under the policy (default: every row). */
  scope?: GpuTokenScope | null;
}

/** Encode one routing policy: a single workgroup of 256 threads, no CPU read-back. */
export function encodeMoeRoute(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeRouteArgs): void {
  if (a.E > MOE_MAX_EXPERTS || a.kMax > MOE_MAX_K) throw new Error(`webmoe: moe route supports E <= ${MOE_MAX_EXPERTS}, k <= ${MOE_MAX_K}`);
  let pol = a.policy;
  const sc = pol.kind === 'baseline' ? null : (a.scope ?? null);
  const nPol = sc ? sc.count : a.T;
  // Small batches: XShare / Alloc-T fall back to the baseline below minTokens (host-side, the count is known).
  if ((pol.kind === 'xshare' || pol.kind === 'alloc_t' || pol.kind === 'mass') && nPol < (pol.minTokens ?? 0)) pol = { kind: 'baseline' };
  const scope = !sc || pol.kind === 'baseline' ? 0 : sc.union ? 2 : 1;
  const policy = pol.kind === 'xshare' ? 1 : pol.kind === 'alloc_t' ? 2 : pol.kind === 'mass' ? 3 : 0;
  const kSel = pol.kind === 'reduced_topk' ? Math.max(1, Math.min(a.kMax, pol.k)) : a.kMax;
  const budget = (pol.kind === 'xshare' || pol.kind === 'mass') && pol.budget !== undefined ? Math.max(1, Math.floor(pol.budget)) : 0xffffffff;
  const fraction = pol.kind === 'xshare' ? (pol.fraction ?? 0) : 0;
  const tau = pol.kind === 'xshare' || pol.kind === 'mass' ? (pol.coverage ?? 0) : 0;
  const kAvg = pol.kind === 'alloc_t' ? pol.k : 0;
  const reroute = pol.kind === 'mass' ? REROUTE[pol.reroute ?? 'similar'] : 0;
  if (pol.kind === 'mass' && reroute === REROUTE.similar && !pol.similarity) throw new Error("webmoe: mass policy with reroute 'similar' needs a similarity matrix");
  const words = [a.T, a.E, a.kMax, kSel, policy, MODE[a.mode], a.normTopk ? 1 : 0, a.expertBias ? 1 : 0,
    a.scale ?? 1, budget, fraction, tau, kAvg, a.counterIndex ?? 0, reroute, scope, sc?.maskOffset ?? 0, nPol, 0, 0];
  const params = gpu.uniform(words, new Set([8, 10, 11, 12]));
  const bias = a.expertBias ?? a.scores; // unread when hasBias = 0
  const binds = [a.logits, a.scores, bias, a.ids, a.weights, a.scratch, a.counters, params];
  if (pol.kind === 'mass') binds.push(pol.similarity ?? a.scores); // unread unless reroute 'similar'
  dispatch(gpu, pass, { shader: 'moe_route', constants: { WG: 256 }, defines: pol.kind === 'mass' ? { MASS: true } : {} }, binds, [1, 1, 1]);
  if (pol.kind === 'sere') {
    encodeMoeSere(gpu, pass, { ids: a.ids, similarity: pol.similarity, counters: a.counters, counterIndex: a.counterIndex,
      T: a.T, E: a.E, kMax: a.kMax, selectTopK: pol.selectTopK, threshold: pol.threshold,
      mask: scope ? { buffer: a.scratch, offset: sc!.maskOffset, union: sc!.union } : undefined });
  }
}

export interface MoeSereArgs {
  /** [T, kMax] u32 baseline ids, rewritten in place. */
  ids: GPUBuffer;
  /** [E, E] f32 similarity, row = the expert being replaced. */
  similarity: GPUBuffer;
  counters: GPUBuffer;
  counterIndex?: number;
  T: number;
  E: number;
  kMax: number;
  /** S (default 2). */
  selectTopK?: number;
  /** default 0.1; <= 0 always replaces. */
  threshold?: number;
  /** Only rows with mask[offset + t] != 0 are re-routed (GpuTokenScope); union: the others' experts join P. */
  mask?: { buffer: GPUBuffer; offset: number; union: boolean };
}

/** Encode SERE re-routing of baseline ids (weights untouched); rewrites the distinct counter. */
export function encodeMoeSere(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeSereArgs): void {
  const m = a.mask;
  const params = gpu.uniform([a.T, a.E, a.kMax, a.selectTopK ?? 2, a.threshold ?? 0.1, a.counterIndex ?? 0, m ? (m.union ? 2 : 1) : 0, m?.offset ?? 0], new Set([4]));
  // unread unless a mask is given
  dispatch(gpu, pass, { shader: 'moe_sere', constants: { WG: 256 } }, [a.ids, a.similarity, a.counters, params, m?.buffer ?? a.similarity], [1, 1, 1]);
}

/** u32 words of routing statistics per layer in the step read-back (see shaders/moe_route_stats.wgsl). */
export const ROUTE_STATS_WORDS = 20;

export interface MoeRouteStatsArgs {
  scores: GPUBuffer;
  expertBias?: GPUBuffer;
  /** [T, kMax] the policy's final ids. */
  ids: GPUBuffer;
  /** u32 out: ROUTE_STATS_WORDS words at word offset `index * ROUTE_STATS_WORDS`. */
  stats: GPUBuffer;
  index: number;
  T: number;
  E: number;
  kMax: number;
}

/**
 * Encode the routing statistics of one layer (reads only; outputs unchanged): the policy's expert set, the
 * baseline top-k's expert set of the same scores, their sizes, and the gating mass the policy kept.
 */
export function encodeMoeRouteStats(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeRouteStatsArgs): void {
  if (a.E > MOE_MAX_EXPERTS || a.kMax > MOE_MAX_K) throw new Error(`webmoe: route stats support E <= ${MOE_MAX_EXPERTS}, k <= ${MOE_MAX_K}`);
  const params = gpu.uniform([a.T, a.E, a.kMax, a.expertBias ? 1 : 0, a.index * ROUTE_STATS_WORDS, 0, 0, 0]);
  dispatch(gpu, pass, { shader: 'moe_route_stats', constants: { WG: 256 } },
    [a.scores, a.expertBias ?? a.scores, a.ids, a.stats, params], [1, 1, 1]);
}

/** One layer's statistics decoded from ROUTE_STATS_WORDS words. */
export interface RouteStats {
  /** Experts the policy used, ascending. */
  experts: number[];
  /** Experts the baseline top-k would have used on the same scores, ascending. */
  baselineExperts: number[];
  /** sum_t sum_{e in token t's (distinct) experts} g[t,e]: gating mass the policy kept. */
  massKept: number;
  /** sum_t sum_{e in token t's baseline top-k} g[t,e]. */
  massBaseline: number;
}

export function decodeRouteStats(words: Uint32Array, E: number): RouteStats {
  const f = new Float32Array(words.buffer, words.byteOffset + 18 * 4, 2);
  const set = (o: number) => {
    const out: number[] = [];
    for (let e = 0; e < E; e++) if ((words[o + (e >>> 5)] >>> (e & 31)) & 1) out.push(e);
    return out;
  };
  return { experts: set(0), baselineExperts: set(8), massKept: f[0], massBaseline: f[1] };
}
