// Shared types of the routing policies (pure TS references; the GPU kernels in src/kernels/moe_router.ts
// implement the same semantics bit-for-bit in selection and to f32 rounding in weights).

/** Sentinel id of an unused (token, slot) entry; its weight is 0. */
export const NO_EXPERT = 0xffffffff;

/**
 * How the architecture turns router logits into scores and per-token weights.
 * - 'softmax': g = softmax(logits over all E); weights = g of the chosen experts, divided by their sum
 *   when normTopk (qwen norm_topk_prob / mixtral), else kept as is (olmoe, qwen2_moe).
 * - 'topk_softmax': selection on logits; weights = softmax over the chosen experts' logits
 *   (granitemoe, gpt-oss). Scores g (for batch mass) are still softmax over all E. normTopk is ignored.
 * - 'sigmoid': g = sigmoid(logits); the selection key is g + expertBias[e] (bias affects SELECTION only);
 *   weights = g of the chosen experts, renormalised when normTopk.
 * Every mode then multiplies the weights by `scale` (routed_scaling_factor, default 1).
 */
export type RouterMode = 'softmax' | 'topk_softmax' | 'sigmoid';

export interface RouterConfig {
  mode: RouterMode;
  normTopk?: boolean;
  scale?: number;
  /** [E] per-expert selection bias (sigmoid mode only, e.g. DeepSeek-V3 / LFM2 e_score_correction_bias). */
  expertBias?: Float32Array;
}

export type XShareBudget =
  /** Absolute: at most `budget` distinct experts. */
  | { budget: number; fraction?: undefined; coverage?: undefined }
  /** At most ceil(fraction * baseline distinct) experts (at least 1). */
  | { fraction: number; budget?: undefined; coverage?: undefined }
  /** Smallest set (warm-up first, then greedy) whose column mass >= coverage * total mass, optionally capped. */
  | { coverage: number; budget?: number; fraction?: undefined };

/**
 * One MoE layer's routing, resolved (from a `Policy` and the calibration, see src/routing/resolve.ts): what
 * the TS references (route()) and the GPU kernels (src/kernels/moe_router.ts) execute. Not serialisable
 * (SERE's similarity is a matrix); users write a `Policy`.
 */
export type PolicyConfig =
  | { kind: 'baseline' }
  /** minTokens: batches with T < minTokens use the baseline (XShare hurts small batches). */
  | ({ kind: 'xshare'; minTokens?: number } & XShareBudget)
  | { kind: 'sere'; similarity: Float32Array; selectTopK?: number; threshold?: number }
  /** Alloc-T: keep the top round(k*T) (token, expert) pairs, >= 1 per token, at most kMax (= model k) per token. */
  | { kind: 'alloc_t'; k: number; minTokens?: number }
  | { kind: 'reduced_topk'; k: number }
  | MassPolicyConfig;

/**
 * webmoe's combined policy on one layer ('mass'): a per-step expert set S from routing mass, then every
 * token's baseline slots outside S handled by `reroute`.
 * S = warm-up experts (some token's top-1) first, then the other baseline-union experts by the gating mass
 * the baseline top-k gives them (sum over tokens of g[t,e] for e in the token's top-k), desc, ties to the
 * lower index; S is the shortest such prefix (never shorter than the warm-up set) whose mass >= coverage
 * of the step's whole baseline top-k mass, capped at `budget` experts.
 * reroute: 'similar' (default) = a dropped slot's expert becomes its most similar expert in S (weight kept,
 * SERE's rule), 'refill' = top-k inside S renormalised (XShare's rule), 'drop' = the token keeps only its
 * baseline experts that are in S, renormalised.
 */
export interface MassPolicyConfig {
  kind: 'mass';
  coverage: number;
  budget?: number;
  reroute?: Reroute;
  /** [E, E] row = the expert replaced; needed by reroute 'similar'. */
  similarity?: Float32Array;
  minTokens?: number;
}

export type Reroute = 'similar' | 'refill' | 'drop';

/** A per-layer setting: one value for every MoE layer, or one per layer (index = layer index, dense layers ignored). */
export type PerLayer = number | number[];

/** Which of SERE's similarity forms (paper code): linear CKA, mean cosine mapped to [0, 1], 1 - Frobenius distance / max. */
export type SimilarityKind = 'cka' | 'cosine' | 'frobenius';

/**
 * The routing policy a user picks: plain JSON (crosses to a Worker, goes in a config file), switchable per
 * step. Policies marked "calibrated" need the model's calibration file (`webmoe calibrate`).
 * - baseline: every token's own top-k, exactly as Hugging Face computes it.
 * - reduced_topk: k experts per token, one k or one per layer (arXiv 2505.03531).
 * - xshare: a batch-wide expert set per layer (XShare): `budget` experts, `fraction` of the baseline's
 *   distinct count, or `coverage` of the batch's gating mass; each may be per layer.
 * - sere: SERE re-routing to the most similar primary expert (calibrated similarity matrices).
 * - alloc: Alloc-MoE. Alloc-L per-layer k from the calibrated sensitivity by dynamic programming, with
 *   `k` experts per token per layer on average (total budget k * MoE layers); `tokens: true` adds Alloc-T
 *   inside each layer (calibrated).
 * - alloc_t: Alloc-T alone with k experts per token on average.
 * - mass: webmoe's combined policy (see MassPolicyConfig): per-step budget from routing mass, per-layer
 *   coverage, dropped slots re-routed to the most similar kept expert ('similar' is calibrated).
 * - auto: the mass policy with per-layer coverages chosen from the calibration's measured sensitivity so
 *   that the predicted held-out perplexity rise stays <= maxPerplexityRise (e.g. 0.01) (calibrated).
 * minTokens: steps with fewer tokens than this use the baseline.
 * scope: which tokens of a mixed step (prompt chunks and decode tokens) the policy covers (PolicyScope).
 */
export type Policy = PolicyKinds & { scope?: PolicyScope };

/**
 * Which tokens of a step a policy covers (src/routing/scope.ts). A prompt chunk is an item the caller marks
 * `prefill: true` (the scheduler marks every prompt chunk, however short); every other item is decode.
 * - 'all': every token of the step, prompt chunks included.
 * - 'decode': only decode tokens; prompt-chunk tokens get the baseline top-k and take no part in the
 *   batch statistics (set, budget, minTokens, Alloc-T's total).
 * - 'decode_union': as 'decode', and the experts the prompt chunks' baseline reads anyway count as kept
 *   for the decode tokens (xshare, mass and sere add them to the kept set; per-token policies, reduced_topk
 *   and alloc_t, have no set and behave as 'decode').
 * Steps with no prompt chunk route exactly alike under all three. Default 'decode_union'
 * (DEFAULT_POLICY_SCOPE in resolve.ts; measured in docs/results/mixed-steps.md).
 */
export type PolicyScope = 'all' | 'decode' | 'decode_union';

type PolicyKinds =
  | { kind: 'baseline' }
  | { kind: 'reduced_topk'; k: PerLayer }
  | { kind: 'xshare'; budget?: PerLayer; fraction?: PerLayer; coverage?: PerLayer; minTokens?: number }
  | { kind: 'sere'; selectTopK?: number; threshold?: number; similarity?: SimilarityKind }
  | { kind: 'alloc'; k: number; tokens?: boolean; minTokens?: number }
  | { kind: 'alloc_t'; k: number; minTokens?: number }
  | { kind: 'mass'; coverage: PerLayer; budget?: PerLayer; reroute?: Reroute; similarity?: SimilarityKind; minTokens?: number }
  | { kind: 'auto'; maxPerplexityRise: number; reroute?: Reroute; minTokens?: number };

export type PolicyKind = Policy['kind'];

export interface RouteResult {
  /** [T, kMax] expert ids, NO_EXPERT for unused slots; used slots come first, sorted by selection key desc. */
  ids: Uint32Array;
  /** [T, kMax] weights (0 for unused slots). */
  weights: Float32Array;
  /** Number of distinct experts used by the batch. */
  distinct: number;
  kMax: number;
}
