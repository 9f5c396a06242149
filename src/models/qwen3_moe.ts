// Qwen3-MoE (transformers models/qwen3_moe): per-head q/k RMSNorm, softmax -> top-k (renormalised when
// norm_topk_prob), dense layers via mlp_only_layers / decoder_sparse_step, no shared expert.
import type { ModelConfig } from '../format/config.ts';
import { buildDecoderSpec } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout } from './layout.ts';

export function qwen3MoeSpec(c: ModelConfig, names: ReadonlySet<string>): MoeModelSpec {
  return buildDecoderSpec(c, {
    qkNorm: 'per_head',
    oBias: c.attentionBias,
    router: { mode: 'softmax', normTopk: c.normTopkProb },
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
  });
}
