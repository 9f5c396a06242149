// Granite-MoE (models/granitemoe): router = top-k on raw logits then softmax over the k; experts fused
// as input_linear [E, 2I, H] (gate rows, then up rows) and output_linear [E, H, I]; the multipliers
// (embedding, residual, attention, logits_scaling) come from the config. Embeddings are usually tied.
import type { ModelConfig } from '../format/config.ts';
import { buildDecoderSpec } from './common.ts';
import type { MoeModelSpec } from './spec.ts';

export function graniteMoeSpec(c: ModelConfig): MoeModelSpec {
  return buildDecoderSpec(c, {
    qkNorm: 'none',
    oBias: c.attentionBias,
    router: { mode: 'topk_softmax', normTopk: false },
    moePrefix: 'block_sparse_moe',
    routerName: 'block_sparse_moe.router.layer.weight',
    experts: 'granite',
  });
}
