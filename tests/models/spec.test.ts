// Architecture mappings: config.json -> MoeModelSpec semantics, and the errors for bad configs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/format/errors.ts';
import { ARCHITECTURES, parseConfigJson, specFromConfig } from '../../src/models/index.ts';
import { ropeFromConfig, ConfigReader } from '../../src/models/common.ts';
import { FIXTURE_ROOT } from '../conformance/fixtures.ts';

const cfg = (name: string) => JSON.parse(readFileSync(path.join(FIXTURE_ROOT, name, 'config.json'), 'utf8'));
const spec = (raw: Record<string, unknown>, names: string[] = []) => specFromConfig(new ConfigReader(raw), new Set(names));

describe('architecture specs', () => {
  it('registers the five architectures', () => {
    expect(Object.keys(ARCHITECTURES).sort()).toEqual(['granitemoe', 'mixtral', 'olmoe', 'qwen2_moe', 'qwen3_moe']);
  });

  it('qwen3_moe: per-head qk-norm, renormalised top-k, every tensor shape from the config', () => {
    const s = spec(cfg('qwen3_moe'));
    expect(s.qkNorm).toBe('per_head');
    expect(s.router).toEqual({ mode: 'softmax', normTopk: true });
    expect(s.tensors.get('model.layers.0.self_attn.q_norm.weight')).toEqual([s.headDim]);
    expect(s.tensors.get('model.layers.1.mlp.experts.7.down_proj.weight')).toEqual([s.hidden, s.moeIntermediate]);
    expect(s.attnScale).toBeCloseTo(1 / Math.sqrt(s.headDim));
  });

  it('qwen3_moe transformers-5 keys (num_local_experts, rope_parameters) give the same spec', () => {
    const a = spec(cfg('qwen3_moe'));
    const b = spec(cfg('qwen3_moe_v5'));
    expect(b.numExperts).toBe(a.numExperts);
    expect(Array.from(b.rope.invFreq)).toEqual(Array.from(a.rope.invFreq));
  });

  it('qwen3_moe mlp_only_layers / decoder_sparse_step make dense layers', () => {
    const s = spec({ ...cfg('qwen3_moe'), num_hidden_layers: 4, mlp_only_layers: [0], decoder_sparse_step: 2 });
    expect(s.layerKinds).toEqual(['dense', 'moe', 'dense', 'moe']);
    expect(s.tensors.get('model.layers.0.mlp.gate_proj.weight')).toEqual([48, 32]);
    expect(s.tensors.has('model.layers.0.mlp.gate.weight')).toBe(false);
  });

  it('fused transformers-5 expert tensors are sliced per expert', () => {
    const s = spec(cfg('qwen3_moe'), ['model.layers.0.mlp.experts.gate_up_proj']);
    const e = s.layerRefs[0].experts![3];
    expect(e.up).toEqual({ tensor: 'model.layers.0.mlp.experts.gate_up_proj', shape: [16, 32], expert: 3, rowOffset: 16 });
    expect(s.tensors.get('model.layers.0.mlp.experts.gate_up_proj')).toEqual([8, 32, 32]);
  });

  it('qwen2_moe: qkv bias, shared expert with its gate, no renorm', () => {
    const s = spec(cfg('qwen2_moe'));
    expect(s.router).toEqual({ mode: 'softmax', normTopk: false });
    expect(s.tensors.get('model.layers.0.self_attn.q_proj.bias')).toEqual([s.heads * s.headDim]);
    expect(s.tensors.has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(s.tensors.get('model.layers.0.mlp.shared_expert_gate.weight')).toEqual([1, s.hidden]);
  });

  it('olmoe: qk-norm over the whole projection', () => {
    const s = spec(cfg('olmoe'));
    expect(s.qkNorm).toBe('full');
    expect(s.tensors.get('model.layers.0.self_attn.k_norm.weight')).toEqual([s.kvHeads * s.headDim]);
  });

  it('mixtral: w1/w3/w2 experts under block_sparse_moe, renormalised', () => {
    const s = spec(cfg('mixtral'));
    expect(s.router).toEqual({ mode: 'softmax', normTopk: true });
    expect(s.layerRefs[0].experts![1].up.tensor).toBe('model.layers.0.block_sparse_moe.experts.1.w3.weight');
  });

  it('granitemoe: topk-then-softmax, multipliers, fused input_linear, tied embeddings', () => {
    const c = cfg('granitemoe');
    const s = spec(c);
    expect(s.router).toEqual({ mode: 'topk_softmax', normTopk: false });
    expect(s.attnScale).toBe(c.attention_multiplier);
    expect(s.embeddingMultiplier).toBe(c.embedding_multiplier);
    expect(s.residualMultiplier).toBe(c.residual_multiplier);
    expect(s.logitScale).toBeCloseTo(1 / c.logits_scaling);
    expect(s.layerRefs[0].experts![2].up.rowOffset).toBe(s.moeIntermediate);
    expect(s.lmHead).toBe(s.embed);
    expect(s.tensors.has('lm_head.weight')).toBe(false);
  });

  it('rope scaling: linear divides, llama3 keeps high frequencies', () => {
    const base = ropeFromConfig(new ConfigReader({ rope_theta: 10000 }), 16).invFreq;
    const lin = ropeFromConfig(new ConfigReader({ rope_theta: 10000, rope_scaling: { rope_type: 'linear', factor: 4 } }), 16).invFreq;
    expect(lin[3]).toBeCloseTo(base[3] / 4, 10);
    const l3 = ropeFromConfig(new ConfigReader({ rope_parameters: { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }), 16).invFreq;
    expect(l3[0]).toBe(base[0]);
    expect(l3[7]).toBeCloseTo(base[7] / 8, 10);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['unknown model_type', { model_type: 'llama' }, /model_type 'llama' is not supported/],
    ['missing key', { model_type: 'qwen3_moe' }, /missing required key/],
    ['heads not a multiple of kv heads', { ...cfg('qwen3_moe'), num_key_value_heads: 3 }, /num_key_value_heads/],
    ['top-k above experts', { ...cfg('qwen3_moe'), num_experts_per_tok: 9 }, /num_experts_per_tok/],
    ['sliding window on', { ...cfg('qwen2_moe'), use_sliding_window: true }, /use_sliding_window/],
    ['unsupported rope', { ...cfg('qwen3_moe'), rope_scaling: { rope_type: 'yarn', factor: 2 } }, /rope type 'yarn'/],
    ['bad activation', { ...cfg('mixtral'), hidden_act: 'gelu' }, /hidden_act/],
    ['non-integer size', { ...cfg('olmoe'), hidden_size: 32.5 }, /hidden_size/],
  ];
  for (const [name, raw, re] of bad) {
    it(`rejects ${name} with a FormatError naming config.json`, () => {
      let err: unknown;
      try {
        spec(raw);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(/^config\.json: /);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('malformed JSON', () => {
    expect(() => parseConfigJson('{"a":')).toThrow(/config\.json: not valid JSON/);
  });
});

describe('config size limits (format layer normalisation runs first)', () => {
  it('refuses an absurd layer count before building anything', () => {
    expect(() => spec({ ...cfg('qwen3_moe'), num_hidden_layers: 1e9 })).toThrow(/config\.json/);
  });
});
