// Granite-MoE (models/granitemoe): router = top-k on raw logits then softmax over the k; experts fused
// as input_linear [E, 2I, H] (gate rows, then up rows) and output_linear [E, H, I]; multipliers:
// embeddings x embedding_multiplier, each residual branch x residual_multiplier, attention_multiplier
// is the attention scale, logits / logits_scaling. Embeddings are usually tied.
import { buildDecoderSpec, requireActivation, type ConfigReader } from './common.ts';
import type { MoeModelSpec } from './spec.ts';

export function graniteMoeSpec(c: ConfigReader): MoeModelSpec {
  requireActivation(c);
  const bias = c.bool('attention_bias', false);
  return buildDecoderSpec(c, {
    arch: 'granitemoe',
    qkNorm: 'none',
    qkvBias: bias,
    oBias: bias,
    router: { mode: 'topk_softmax', normTopk: false },
    numExperts: c.int(['num_local_experts', 'num_experts']),
    topK: c.int('num_experts_per_tok'),
    moeIntermediate: c.int('intermediate_size'),
    denseIntermediate: c.int('intermediate_size'),
    layerKinds: new Array(c.int('num_hidden_layers')).fill('moe'),
    moePrefix: 'block_sparse_moe',
    routerName: 'block_sparse_moe.router.layer.weight',
    experts: 'granite',
    attnScale: c.num('attention_multiplier', 1),
    embeddingMultiplier: c.num('embedding_multiplier', 1),
    residualMultiplier: c.num('residual_multiplier', 1),
    logitScale: 1 / c.num('logits_scaling', 1),
  });
}
