import { describe, expect, it } from 'vitest';
import { normalizeConfig, parseConfig } from '../../src/format/config.ts';
import { FormatError } from '../../src/format/errors.ts';

// Hub config of Qwen/Qwen3-30B-A3B (abridged to the keys that matter).
const qwen3 = {
  architectures: ['Qwen3MoeForCausalLM'], model_type: 'qwen3_moe', attention_bias: false, bos_token_id: 151643, eos_token_id: 151645,
  head_dim: 128, hidden_size: 2048, intermediate_size: 6144, max_position_embeddings: 40960, mlp_only_layers: [], moe_intermediate_size: 768,
  norm_topk_prob: true, num_attention_heads: 32, num_experts: 128, num_experts_per_tok: 8, num_hidden_layers: 48, num_key_value_heads: 4,
  rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000000.0, router_aux_loss_coef: 0.001, sliding_window: null, use_sliding_window: false,
  tie_word_embeddings: false, torch_dtype: 'bfloat16', vocab_size: 151936, decoder_sparse_step: 1,
};

describe('normalizeConfig', () => {
  it('qwen3_moe hub keys', () => {
    const c = normalizeConfig(qwen3);
    expect(c).toMatchObject({
      modelType: 'qwen3_moe', hiddenSize: 2048, numLayers: 48, numHeads: 32, numKvHeads: 4, headDim: 128, vocabSize: 151936,
      moeIntermediateSize: 768, intermediateSize: 6144, numExperts: 128, topK: 8, normTopkProb: true, sharedExpertIntermediateSize: 0,
      rmsNormEps: 1e-6, rope: { type: 'default', theta: 1e6 }, partialRotaryFactor: 1, maxPositionEmbeddings: 40960, tieWordEmbeddings: false,
      attentionBias: false, qkvBias: false, slidingWindow: null, bosTokenId: 151643, eosTokenIds: [151645], dtype: 'bfloat16',
      embeddingMultiplier: 1, residualMultiplier: 1, logitsScaling: 1,
    });
    expect(c.attentionScale).toBeCloseTo(1 / Math.sqrt(128));
    expect(c.sparseLayers.every(Boolean)).toBe(true);
  });

  it('transformers 5.x keys give the same config', () => {
    const { num_experts, rope_theta, torch_dtype, rope_scaling, ...rest } = qwen3;
    void num_experts; void rope_theta; void torch_dtype; void rope_scaling;
    const v5 = { ...rest, num_local_experts: 128, rope_parameters: { rope_type: 'default', rope_theta: 1000000 }, dtype: 'bfloat16' };
    const a = normalizeConfig(qwen3);
    const b = normalizeConfig(v5);
    expect({ ...b, raw: null }).toEqual({ ...a, raw: null });
  });

  it('qwen2_moe: shared expert, qkv bias, sparse step, eos list', () => {
    const c = normalizeConfig({
      model_type: 'qwen2_moe', hidden_size: 2048, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 16, vocab_size: 151936,
      intermediate_size: 5632, moe_intermediate_size: 1408, shared_expert_intermediate_size: 5632, num_experts: 60, num_experts_per_tok: 4,
      norm_topk_prob: false, decoder_sparse_step: 2, mlp_only_layers: [1], rope_theta: 1000000, sliding_window: 32768, use_sliding_window: false,
      eos_token_id: [151643, 151645],
    });
    expect(c).toMatchObject({ qkvBias: true, attentionBias: false, sharedExpertIntermediateSize: 5632, normTopkProb: false, headDim: 128, eosTokenIds: [151643, 151645], slidingWindow: null });
    expect(c.sparseLayers.slice(0, 6)).toEqual([false, false, false, true, false, true]);
  });

  it('olmoe, mixtral (rope_scaling), granitemoe multipliers, keys other model types use', () => {
    const olmoe = normalizeConfig({ model_type: 'olmoe', hidden_size: 2048, num_hidden_layers: 16, num_attention_heads: 16, vocab_size: 50304, intermediate_size: 1024, num_experts: 64, num_experts_per_tok: 8, rope_theta: 10000, rms_norm_eps: 1e-5 });
    expect(olmoe).toMatchObject({ moeIntermediateSize: 1024, numKvHeads: 16, normTopkProb: false, rmsNormEps: 1e-5, rope: { type: 'default', theta: 10000 } });
    const mixtral = normalizeConfig({
      model_type: 'mixtral', hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 32000,
      intermediate_size: 14336, num_local_experts: 8, num_experts_per_tok: 2, rope_theta: 1e6, sliding_window: 4096,
      rope_scaling: { type: 'linear', factor: 2.0 },
    });
    expect(mixtral).toMatchObject({ numExperts: 8, topK: 2, normTopkProb: true, moeIntermediateSize: 14336, slidingWindow: 4096, rope: { type: 'linear', theta: 1e6, factor: 2 } });
    const yarn = normalizeConfig({ ...qwen3, rope_scaling: { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 32768 } });
    expect(yarn.rope).toEqual({ type: 'yarn', theta: 1e6, factor: 4, originalMaxPos: 32768, maxPos: 40960 });
    const granite = normalizeConfig({
      model_type: 'granitemoe', hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 8, vocab_size: 49155,
      intermediate_size: 512, num_local_experts: 32, num_experts_per_tok: 8, embedding_multiplier: 12.0, residual_multiplier: 0.22,
      attention_multiplier: 0.015625, logits_scaling: 6.0, tie_word_embeddings: true, partial_rotary_factor: 1.0,
    });
    expect(granite).toMatchObject({ embeddingMultiplier: 12, residualMultiplier: 0.22, attentionScale: 0.015625, logitsScaling: 6, tieWordEmbeddings: true, normTopkProb: true });
    // keys the model type's transformers config does not have are ignored (not read, not range-checked)
    const fk = normalizeConfig({ ...qwen3, first_k_dense_replace: 1 });
    expect(fk.sparseLayers.every(Boolean)).toBe(true);
    const mx = normalizeConfig({ ...mixtral.raw, mlp_only_layers: [0, 99], decoder_sparse_step: 0, shared_expert_intermediate_size: -1, attention_bias: 'x' });
    expect({ ...mx, raw: null }).toEqual({ ...mixtral, raw: null });
  });

  // A config.json with only the sizes must mean what it means to transformers 5.18: its class defaults
  // (printed from Qwen3MoeConfig() etc.: num_key_value_heads, rms_norm_eps, rope_parameters.rope_theta,
  // max_position_embeddings, bos/eos_token_id, qkv_bias).
  it("keys left out take transformers' defaults for the model type", () => {
    const sizes = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 32, vocab_size: 100, intermediate_size: 32, moe_intermediate_size: 16, num_experts: 8, num_experts_per_tok: 2 };
    const want: Record<string, Record<string, unknown>> = {
      qwen3_moe: { numKvHeads: 4, rmsNormEps: 1e-6, rope: { type: 'default', theta: 10000 }, maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [], attentionBias: false, qkvBias: false, normTopkProb: false, tieWordEmbeddings: false },
      qwen2_moe: { numKvHeads: 16, rmsNormEps: 1e-6, rope: { type: 'default', theta: 10000 }, maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [], attentionBias: false, qkvBias: true, normTopkProb: false, tieWordEmbeddings: false },
      olmoe: { numKvHeads: 32, rmsNormEps: 1e-5, rope: { type: 'default', theta: 10000 }, maxPositionEmbeddings: 4096, bosTokenId: null, eosTokenIds: [50279], attentionBias: false, qkvBias: false, normTopkProb: false, clipQkv: null },
      mixtral: { numKvHeads: 8, rmsNormEps: 1e-5, rope: { type: 'default', theta: 1e6 }, maxPositionEmbeddings: 131072, bosTokenId: 1, eosTokenIds: [2], attentionBias: false, qkvBias: false, normTopkProb: true, slidingWindow: null },
      granitemoe: { numKvHeads: 32, rmsNormEps: 1e-6, rope: { type: 'default', theta: 10000 }, maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenIds: [2], attentionBias: false, qkvBias: false, embeddingMultiplier: 1, residualMultiplier: 1, attentionScale: 1, logitsScaling: 1 },
    };
    for (const [model_type, fields] of Object.entries(want)) {
      const extra = model_type === 'qwen2_moe' ? { shared_expert_intermediate_size: 32 } : {};
      expect(normalizeConfig({ model_type, ...sizes, ...extra }), model_type).toMatchObject(fields);
    }
    // explicit values win; an explicit null bos/eos means none (not the default)
    const q2 = { model_type: 'qwen2_moe', ...sizes, shared_expert_intermediate_size: 32 };
    expect(normalizeConfig({ ...q2, qkv_bias: false }).qkvBias).toBe(false);
    // qwen2_moe has no attention_bias key: transformers ignores it (o_proj never has a bias)
    expect(normalizeConfig({ ...q2, attention_bias: 'x' }).attentionBias).toBe(false);
    const mx = { model_type: 'mixtral', ...sizes, num_local_experts: 8 };
    expect(normalizeConfig({ ...mx, bos_token_id: null, eos_token_id: null })).toMatchObject({ bosTokenId: null, eosTokenIds: [] });
    // mixtral reads `head_dim or hidden_size // heads`: 0 means derived
    expect(normalizeConfig({ ...mx, head_dim: 0 }).headDim).toBe(2);
  });

  it('exact errors', () => {
    const cases: [unknown, string][] = [
      [[1], 'config.json: expected a JSON object, got an array'],
      [{ ...qwen3, model_type: 'llama' }, 'config.json: unsupported model_type "llama"; supported: qwen3_moe, qwen2_moe, olmoe, mixtral, granitemoe'],
      [{ ...qwen3, model_type: undefined }, "config.json: missing required key 'model_type'"],
      [{ ...qwen3, hidden_size: undefined }, "config.json: missing required key 'hidden_size'"],
      [{ ...qwen3, hidden_size: '2048' }, `config.json: 'hidden_size' must be an integer, got string "2048"`],
      [{ ...qwen3, hidden_size: 100000 }, "config.json: 'hidden_size' = 100000 is out of range (expected 1..65536)"],
      [{ ...qwen3, num_hidden_layers: 2_000_000 }, "config.json: 'num_hidden_layers' = 2000000 is out of range (expected 1..1000000)"],
      [{ ...qwen3, num_experts: 1e7 }, "config.json: 'num_experts' = 10000000 is out of range (expected 1..1000000)"],
      [{ ...qwen3, num_key_value_heads: 5 }, 'config.json: num_attention_heads (32) is not divisible by num_key_value_heads (5)'],
      [{ ...qwen3, head_dim: undefined, hidden_size: 2050 }, 'config.json: hidden_size (2050) is not divisible by num_attention_heads (32) and no head_dim is given'],
      [{ ...qwen3, num_experts_per_tok: 129 }, 'config.json: num_experts_per_tok (129) exceeds the number of experts (128)'],
      [{ ...qwen3, num_experts: undefined }, "config.json: missing required key 'num_experts' (or 'num_local_experts' / 'n_routed_experts')"],
      [{ ...qwen3, num_local_experts: 64 }, 'config.json: expert counts disagree: num_experts=128, num_local_experts=64'],
      [{ ...qwen3, norm_topk_prob: 'yes' }, `config.json: 'norm_topk_prob' must be a boolean, got string "yes"`],
      [{ ...qwen3, rms_norm_eps: -1 }, "config.json: 'rms_norm_eps' must be > 0, got -1"],
      [{ ...qwen3, mlp_only_layers: 'x' }, `config.json: 'mlp_only_layers' must be an array of layer indices, got "x"`],
      [{ ...qwen3, decoder_sparse_step: 0 }, "config.json: 'decoder_sparse_step' = 0 is out of range (expected 1..1000000)"],
      [{ ...qwen3, rope_parameters: 5 }, "config.json: 'rope_parameters' must be an object, got number 5"],
      [{ ...qwen3, eos_token_id: [1, 'x'] }, `config.json: 'eos_token_id' must be a non-negative integer or a list of them, got string "x"`],
      [{ ...qwen3, moe_intermediate_size: undefined }, "config.json: missing required key 'moe_intermediate_size'"],
    ];
    for (const [raw, msg] of cases) {
      let err: unknown;
      try {
        normalizeConfig(raw);
      } catch (e) {
        err = e;
      }
      expect(err, msg).toBeInstanceOf(FormatError);
      expect((err as FormatError).message).toBe(msg);
      expect((err as FormatError).code).toBe('CONFIG');
    }
    expect(() => parseConfig('{', 'm/config.json')).toThrow(/^m\/config\.json: not valid JSON/);
  });
});
