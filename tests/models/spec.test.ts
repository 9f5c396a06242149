// Architecture mappings: config.json -> MoeModelSpec semantics, and the errors for bad configs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/format/errors.ts';
import { ARCHITECTURES, specFromConfig } from '../../src/models/index.ts';
import { normalizeConfig, parseConfig, SUPPORTED_MODEL_TYPES } from '../../src/format/config.ts';
import { FIXTURE_ROOT } from '../conformance/fixtures.ts';

const cfg = (name: string) => JSON.parse(readFileSync(path.join(FIXTURE_ROOT, name, 'config.json'), 'utf8'));
const spec = (raw: Record<string, unknown>, names: string[] = []) => specFromConfig(normalizeConfig(raw), new Set(names));

describe('architecture specs', () => {
  it('registers the five architectures: one builder per supported model type', () => {
    expect(Object.keys(ARCHITECTURES).sort()).toEqual(['granitemoe', 'mixtral', 'olmoe', 'qwen2_moe', 'qwen3_moe']);
    expect([...SUPPORTED_MODEL_TYPES].sort()).toEqual(Object.keys(ARCHITECTURES).sort());
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
    // the fixture's config.json (saved by transformers) has no qkv_bias key: its default true is what made
    // those biases, and the conformance test checks the logits with them
    expect('qkv_bias' in cfg('qwen2_moe')).toBe(false);
    const nb = spec({ ...cfg('qwen2_moe'), qkv_bias: false });
    expect(['q', 'k', 'v'].some((x) => nb.tensors.has(`model.layers.0.self_attn.${x}_proj.bias`))).toBe(false);
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

  it('rope scaling: linear divides, llama3 keeps high frequencies, yarn scales cos/sin', () => {
    const base = spec(cfg('qwen3_moe')).rope;
    const theta = cfg('qwen3_moe').rope_theta;
    const lin = spec({ ...cfg('qwen3_moe'), rope_scaling: { rope_type: 'linear', factor: 4 } }).rope.invFreq;
    expect(lin[3]).toBeCloseTo(base.invFreq[3] / 4, 10);
    const l3 = spec({ ...cfg('qwen3_moe'), rope_theta: undefined, rope_parameters: { rope_type: 'llama3', rope_theta: theta, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }).rope;
    expect(l3.invFreq[0]).toBe(base.invFreq[0]);
    const half = base.invFreq.length;
    expect(l3.invFreq[half - 1]).toBeCloseTo(base.invFreq[half - 1] / 8, 10);
    const yarn = spec({ ...cfg('qwen3_moe'), rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }).rope;
    expect(yarn.type).toBe('yarn');
    expect(yarn.attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    expect(base.attentionScaling).toBe(1);
  });

  // Qwen/Qwen3-30B-A3B's config.json as on the hub, with the yarn rope_scaling its model card gives for
  // 131072-token contexts. transformers loads it; before one config reader, models/ refused 'yarn'.
  const qwen3Hub = {
    architectures: ['Qwen3MoeForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, decoder_sparse_step: 1,
    eos_token_id: 151645, head_dim: 128, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 6144,
    max_position_embeddings: 40960, max_window_layers: 48, mlp_only_layers: [], model_type: 'qwen3_moe', moe_intermediate_size: 768,
    norm_topk_prob: true, num_attention_heads: 32, num_experts: 128, num_experts_per_tok: 8, num_hidden_layers: 48, num_key_value_heads: 4,
    output_router_logits: false, rms_norm_eps: 1e-6, rope_scaling: { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 32768 },
    rope_theta: 1000000.0, router_aux_loss_coef: 0.001, sliding_window: null, tie_word_embeddings: false, torch_dtype: 'bfloat16',
    transformers_version: '4.51.0', use_cache: true, use_sliding_window: false, vocab_size: 151936,
  };
  it('a hub Qwen3-MoE config with yarn RoPE (accepted by transformers) builds a spec', () => {
    const s = spec(qwen3Hub);
    expect(s.rope.type).toBe('yarn');
    expect(s.rope.invFreq).toHaveLength(64);
    expect(s.rope.attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    expect(s.layerKinds.every((k) => k === 'moe')).toBe(true);
    expect(s.tensors.get('model.layers.47.mlp.experts.127.down_proj.weight')).toEqual([2048, 768]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['unknown model_type', { model_type: 'llama' }, /unsupported model_type "llama"/],
    ['missing key', { model_type: 'qwen3_moe' }, /missing required key/],
    ['heads not a multiple of kv heads', { ...cfg('qwen3_moe'), num_key_value_heads: 3 }, /num_key_value_heads/],
    ['top-k above experts', { ...cfg('qwen3_moe'), num_experts_per_tok: 9 }, /num_experts_per_tok/],
    ['sliding window on', { ...cfg('qwen2_moe'), use_sliding_window: true }, /use_sliding_window/],
    ['unsupported rope', { ...cfg('qwen3_moe'), rope_scaling: { rope_type: 'dynamic', factor: 2 } }, /rope type 'dynamic' is not supported/],
    ['rope type without its parameters', { ...cfg('qwen3_moe'), rope_scaling: { rope_type: 'linear' } }, /rope type 'linear' needs 'factor'/],
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
    expect(() => parseConfig('{"a":')).toThrow(/config\.json: not valid JSON/);
  });
});

describe('config size limits (format layer normalisation runs first)', () => {
  it('refuses an absurd layer count before building anything', () => {
    expect(() => spec({ ...cfg('qwen3_moe'), num_hidden_layers: 1e9 })).toThrow(/config\.json/);
  });
});
