// OLMoE (models/olmoe): q_norm/k_norm over the whole q/k projection (not per head), optional clip_qkv,
// softmax -> top-k without renormalisation (norm_topk_prob false in the released model).
import { buildDecoderSpec, requireActivation, type ConfigReader } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { expertLayout } from './layout.ts';

export function olmoeSpec(c: ConfigReader, names: ReadonlySet<string>): MoeModelSpec {
  requireActivation(c);
  const E = c.int(['num_experts', 'num_local_experts']);
  const bias = c.bool('attention_bias', false);
  const clip = c.has('clip_qkv') ? c.num('clip_qkv') : null;
  return buildDecoderSpec(c, {
    arch: 'olmoe',
    qkNorm: 'full',
    qkvBias: bias,
    oBias: bias,
    router: { mode: 'softmax', normTopk: c.bool('norm_topk_prob', false) },
    numExperts: E,
    topK: c.int('num_experts_per_tok'),
    moeIntermediate: c.int('intermediate_size'),
    denseIntermediate: c.int('intermediate_size'),
    layerKinds: new Array(c.int('num_hidden_layers')).fill('moe'),
    moePrefix: 'mlp',
    routerName: 'mlp.gate.weight',
    experts: expertLayout(names, 'mlp'),
    clipQkv: clip,
  });
}
