// Qwen1.5/Qwen2-MoE (models/qwen2_moe): q/k/v bias (qkv_bias), no qk-norm, softmax -> top-k (renorm
// only with norm_topk_prob), plus a shared expert scaled by sigmoid(shared_expert_gate . x).
import { buildDecoderSpec, qwenLayerKinds, requireActivation, type ConfigReader } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout, noSlidingWindow } from './layout.ts';

export function qwen2MoeSpec(c: ConfigReader, names: ReadonlySet<string>): MoeModelSpec {
  requireActivation(c);
  noSlidingWindow(c);
  const E = c.int(['num_experts', 'num_local_experts']);
  return buildDecoderSpec(c, {
    arch: 'qwen2_moe',
    qkNorm: 'none',
    qkvBias: c.bool('qkv_bias', true),
    oBias: false,
    router: { mode: 'softmax', normTopk: c.bool('norm_topk_prob', false) },
    numExperts: E,
    topK: c.int('num_experts_per_tok'),
    moeIntermediate: c.int('moe_intermediate_size'),
    denseIntermediate: c.int('intermediate_size'),
    layerKinds: qwenLayerKinds(c, E),
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
    sharedIntermediate: c.int('shared_expert_intermediate_size'),
  });
}
