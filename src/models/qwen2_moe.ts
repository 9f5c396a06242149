// Qwen1.5/Qwen2-MoE (models/qwen2_moe): q/k/v bias (qkv_bias), no qk-norm, softmax -> top-k (renorm
// only with norm_topk_prob), plus a shared expert scaled by sigmoid(shared_expert_gate . x).
import type { ModelConfig } from '../format/config.ts';
import { buildDecoderSpec } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout } from './layout.ts';

export function qwen2MoeSpec(c: ModelConfig, names: ReadonlySet<string>): MoeModelSpec {
  return buildDecoderSpec(c, {
    qkNorm: 'none',
    oBias: false,
    router: { mode: 'softmax', normTopk: c.normTopkProb },
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
  });
}
