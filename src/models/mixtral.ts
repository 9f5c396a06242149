// Mixtral (models/mixtral): block_sparse_moe with experts w1 (gate), w3 (up), w2 (down); softmax ->
// top-k, always renormalised; no biases, no qk-norm; sliding_window on every layer when set.
import type { ModelConfig } from '../format/config.ts';
import { buildDecoderSpec } from './common.ts';
import type { MoeModelSpec } from './spec.ts';

export function mixtralSpec(c: ModelConfig, names: ReadonlySet<string>): MoeModelSpec {
  // transformers 5 may save the in-memory layout (mlp.gate / mlp.experts.gate_up_proj)
  const fused = names.has('model.layers.0.mlp.experts.gate_up_proj');
  return buildDecoderSpec(c, {
    qkNorm: 'none',
    oBias: false,
    router: { mode: 'softmax', normTopk: true },
    moePrefix: fused ? 'mlp' : 'block_sparse_moe',
    routerName: fused ? 'mlp.gate.weight' : 'block_sparse_moe.gate.weight',
    experts: fused ? 'fused_gate_up' : 'per_expert_w123',
  });
}
