// Qwen3-MoE (transformers models/qwen3_moe): per-head q/k RMSNorm, softmax -> top-k (renormalised when
// norm_topk_prob), dense layers via mlp_only_layers / decoder_sparse_step, no shared expert.
import { buildDecoderSpec, qwenLayerKinds, requireActivation, type ConfigReader } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout, noSlidingWindow } from './layout.ts';

export function qwen3MoeSpec(c: ConfigReader, names: ReadonlySet<string>): MoeModelSpec {
  requireActivation(c);
  noSlidingWindow(c);
  const E = c.int(['num_experts', 'num_local_experts']);
  const bias = c.bool('attention_bias', false);
  return buildDecoderSpec(c, {
    arch: 'qwen3_moe',
    qkNorm: 'per_head',
    qkvBias: bias,
    oBias: bias,
    router: { mode: 'softmax', normTopk: c.bool('norm_topk_prob', false) },
    numExperts: E,
    topK: c.int('num_experts_per_tok'),
    moeIntermediate: c.int('moe_intermediate_size'),
    denseIntermediate: c.int('intermediate_size'),
    layerKinds: qwenLayerKinds(c, E),
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
  });
}
