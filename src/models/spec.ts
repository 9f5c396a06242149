/**
 * The one internal description every supported MoE architecture is mapped into. The reference forward
 * pass (src/reference/model.ts) and the GPU runtime (src/runtime/) only ever read a MoeModelSpec; the
 * per-architecture files (qwen3_moe.ts, ...) are the only places that know Hugging Face names and keys.
 */

import type { RouterMode } from '../routing/types.ts';
import type { RopeTables } from '../reference/rope.ts';

/** qk-norm: none; per_head = RMSNorm over each head's head_dim (Qwen3); full = over the whole projection (OLMoE). */
export type QkNormKind = 'none' | 'per_head' | 'full';

/**
 * The architecture's router rule, in the routing layer's terms (src/routing/types.ts RouterConfig):
 *  { mode: 'softmax', normTopk: false }      softmax over all experts, keep the top-k probabilities (Qwen1.5-MoE, OLMoE)
 *  { mode: 'softmax', normTopk: true }       ... renormalised to sum 1 (Qwen3-MoE norm_topk_prob, Mixtral)
 *  { mode: 'topk_softmax', normTopk: false } top-k on the raw logits, softmax over those k (Granite)
 */
export interface ArchRouter {
  mode: RouterMode;
  normTopk: boolean;
}

/**
 * Where one internal weight comes from: the HF tensor `tensor` (whose full shape is checked against
 * `MoeModelSpec.tensors`), optionally one expert of a stacked [E, ...] tensor, optionally a block of
 * rows of the remaining 2-D matrix (fused gate/up). `shape` is the shape of the piece itself.
 */
export interface WeightRef {
  tensor: string;
  shape: number[];
  expert?: number;
  rowOffset?: number;
}

export interface FfnRefs {
  gate: WeightRef; // [I, H]
  up: WeightRef; // [I, H]
  down: WeightRef; // [H, I]
}

export interface LayerRefs {
  attnNorm: WeightRef;
  q: WeightRef;
  k: WeightRef;
  v: WeightRef;
  o: WeightRef;
  qBias?: WeightRef;
  kBias?: WeightRef;
  vBias?: WeightRef;
  oBias?: WeightRef;
  qNorm?: WeightRef;
  kNorm?: WeightRef;
  mlpNorm: WeightRef;
  /** Sparse layers: router [E, H] and E experts. */
  router?: WeightRef;
  experts?: FfnRefs[];
  /** Qwen1.5-MoE: an always-on expert whose output is scaled by sigmoid(sharedGate . x). */
  shared?: FfnRefs & { gate1: WeightRef };
  /** Dense layers (mlp_only_layers / decoder_sparse_step). */
  dense?: FfnRefs;
}

/** The RoPE tables (reference/rope.ts ropeTables: inv_freq for angle(pos, i) = pos * invFreq[i], HF rotate_half layout, and the cos/sin multiplier) and where they came from. */
export interface RopeSpec extends RopeTables {
  theta: number;
  type: string;
}

export interface MoeModelSpec {
  arch: string;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  eps: number;
  rope: RopeSpec;
  maxPositions: number;
  /** Attend only to the last `slidingWindow` positions (Mixtral's sliding_window); null = full causal. */
  slidingWindow: number | null;
  qkNorm: QkNormKind;
  /** OLMoE clip_qkv: q, k, v clamped to [-c, c] after projection (and qk-norm). */
  clipQkv: number | null;
  /** Attention logit scale (1/sqrt(headDim) unless the architecture says otherwise). */
  attnScale: number;
  embeddingMultiplier: number;
  residualMultiplier: number;
  /** Logits are multiplied by this (Granite: 1 / logits_scaling). */
  logitScale: number;
  numExperts: number;
  topK: number;
  moeIntermediate: number;
  router: ArchRouter;
  /** Per layer: 'moe' or 'dense'. */
  layerKinds: ('moe' | 'dense')[];
  tieEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** Every HF tensor the model needs, with its expected full shape (checked before anything is read). */
  tensors: Map<string, number[]>;
  embed: WeightRef;
  finalNorm: WeightRef;
  lmHead: WeightRef;
  layerRefs: LayerRefs[];
}
