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

export type PolicyConfig =
  | { kind: 'baseline' }
  /** minTokens: batches with T < minTokens use the baseline (XShare hurts small batches). */
  | ({ kind: 'xshare'; minTokens?: number } & XShareBudget)
  | { kind: 'sere'; similarity: Float32Array; selectTopK?: number; threshold?: number }
  /** Alloc-T: keep the top round(k*T) (token, expert) pairs, >= 1 per token, at most kMax (= model k) per token. */
  | { kind: 'alloc_t'; k: number; minTokens?: number }
  | { kind: 'reduced_topk'; k: number };

export interface RouteResult {
  /** [T, kMax] expert ids, NO_EXPERT for unused slots; used slots come first, sorted by selection key desc. */
  ids: Uint32Array;
  /** [T, kMax] weights (0 for unused slots). */
  weights: Float32Array;
  /** Number of distinct experts used by the batch. */
  distinct: number;
  kMax: number;
}
