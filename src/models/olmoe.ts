// OLMoE (models/olmoe): q_norm/k_norm over the whole q/k projection (not per head), optional clip_qkv,
// softmax -> top-k without renormalisation (norm_topk_prob false in the released model).
import type { ModelConfig } from '../format/config.ts';
import { buildDecoderSpec } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout } from './layout.ts';

export function olmoeSpec(c: ModelConfig, names: ReadonlySet<string>): MoeModelSpec {
  return buildDecoderSpec(c, {
    qkNorm: 'full',
    oBias: c.attentionBias,
    router: { mode: 'softmax', normTopk: c.normTopkProb },
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
  });
}
