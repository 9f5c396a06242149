// Mixtral (models/mixtral): block_sparse_moe with experts w1 (gate), w3 (up), w2 (down); softmax ->
// top-k, always renormalised; no biases, no qk-norm.
import { buildDecoderSpec, requireActivation, type ConfigReader } from './common.ts';
import type { MoeModelSpec } from './spec.ts';
import { slidingWindow } from './layout.ts';

export function mixtralSpec(c: ConfigReader, names: ReadonlySet<string>): MoeModelSpec {
  requireActivation(c);
  const fused = names.has('model.layers.0.mlp.experts.gate_up_proj');
  const spec = buildDecoderSpec(c, {
    arch: 'mixtral',
    qkNorm: 'none',
    qkvBias: false,
    oBias: false,
    router: { mode: 'softmax', normTopk: true },
    numExperts: c.int(['num_local_experts', 'num_experts']),
    topK: c.int('num_experts_per_tok'),
    moeIntermediate: c.int('intermediate_size'),
    denseIntermediate: c.int('intermediate_size'),
    layerKinds: new Array(c.int('num_hidden_layers')).fill('moe'),
    // transformers 5 may save the in-memory layout (mlp.gate / mlp.experts.gate_up_proj)
    moePrefix: fused ? 'mlp' : 'block_sparse_moe',
    routerName: fused ? 'mlp.gate.weight' : 'block_sparse_moe.gate.weight',
    experts: fused ? 'fused_gate_up' : 'per_expert_w123',
  });
  spec.slidingWindow = slidingWindow(c);
  return spec;
}
