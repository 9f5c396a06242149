// A synthetic checkpoint with the layer shapes of a real fine-grained MoE, written as a normal Hugging
// Face folder (config.json + sharded model.safetensors + index) with the project's safetensors writer,
// so the bench loads it through the same loader real checkpoints take. Random f16 weights (std 0.02,
// OLMoE's initializer_range); the router rows and the embeddings share one random "popularity"
// direction so that tokens overlap in their expert choices the way trained routers make them, instead
// of the uniform routing pure noise would give. No tokenizer: the bench feeds random token ids.
//   npx tsx bench/synth-model.ts [--quick] [out-dir]
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../src/format/safetensors-writer.ts';
import { f32ToF16Bits } from '../src/quant/f16.ts';
import { seededRandom } from '../src/util/random.ts';
import type { WeightFormat } from '../src/quant/pack.ts';

export interface SynthShape {
  name: string;
  note: string;
  hidden: number;
  moeIntermediate: number;
  experts: number;
  topK: number;
  heads: number;
  headDim: number;
  layers: number;
  vocab: number;
  /** Storage on the GPU (the checkpoint itself is f16). */
  weightFormat: WeightFormat;
}

/**
 * OLMoE-1B-7B's layer shapes (hidden 2048, 64 experts top-8, expert width 1024, 16 heads of 128), two
 * layers, a 4096-token vocabulary (the LM head is not what is measured; 50304 would add 200 MB), int8 on
 * the GPU (7 MiB per expert). Chosen over Qwen3-30B-A3B (128 experts of width 768) because half the
 * experts at a larger width give the same fine-grained top-8 routing with half the checkpoint (1.6 GB).
 */
export const SYNTH_FULL: SynthShape = {
  name: 'synth-olmoe', note: 'OLMoE-1B-7B layer shapes, 2 layers, random weights: expert bytes dominate',
  hidden: 2048, moeIntermediate: 1024, experts: 64, topK: 8, heads: 16, headDim: 128, layers: 2, vocab: 4096, weightFormat: 'int8',
};

/** --quick / CI stand-in: OLMoE's 64 experts top-8 at 1/8 of its widths (25 MB). */
export const SYNTH_QUICK: SynthShape = {
  name: 'synth-olmoe-mini', note: "OLMoE's 64 experts top-8 at 1/8 of its widths (the --quick stand-in for synth-olmoe)",
  hidden: 256, moeIntermediate: 128, experts: 64, topK: 8, heads: 2, headDim: 128, layers: 2, vocab: 1024, weightFormat: 'int8',
};

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** f16 bits of n values ~ N(0, std^2): a 64 Ki-entry table of quantiles indexed by a fast PRNG. */
function randomF16(n: number, std: number, seed: number): Uint8Array {
  const table = new Uint16Array(65536);
  const r = seededRandom(seed ^ 0x5bd1e995);
  for (let i = 0; i < table.length; i++) table[i] = f32ToF16Bits(std * gauss(r));
  const out = new Uint16Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = table[s & 0xffff];
    if (i + 1 < n) out[i + 1] = table[s >>> 16];
  }
  return new Uint8Array(out.buffer);
}

function f16Of(v: Float32Array): Uint8Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = f32ToF16Bits(v[i]);
  return new Uint8Array(out.buffer);
}

export function synthConfig(s: SynthShape): Record<string, unknown> {
  return {
    architectures: ['OlmoeForCausalLM'], model_type: 'olmoe', hidden_act: 'silu', attention_bias: false, clip_qkv: null,
    hidden_size: s.hidden, intermediate_size: s.moeIntermediate, num_experts: s.experts, num_experts_per_tok: s.topK,
    num_attention_heads: s.heads, num_key_value_heads: s.heads, num_hidden_layers: s.layers, vocab_size: s.vocab,
    max_position_embeddings: 4096, rope_theta: 10000.0, rms_norm_eps: 1e-5, norm_topk_prob: false, tie_word_embeddings: false,
    bos_token_id: null, eos_token_id: null, torch_dtype: 'float16', initializer_range: 0.02,
  };
}

/** Write the checkpoint into dir (one shard per layer plus one for embeddings / head). */
export function writeSynthModel(dir: string, s: SynthShape): void {
  mkdirSync(dir, { recursive: true });
  const H = s.hidden;
  const I = s.moeIntermediate;
  const A = s.heads * s.headDim;
  const std = 0.02;
  const r = seededRandom(2026);
  const u = Float32Array.from({ length: H }, () => gauss(r));
  const un = Math.hypot(...u);
  for (let i = 0; i < H; i++) u[i] /= un;
  const t16 = (shape: number[], data: Uint8Array): TensorToWrite => ({ dtype: 'F16', shape, data });
  const ones = (n: number) => t16([n], f16Of(new Float32Array(n).fill(1)));
  const weightMap: Record<string, string> = {};
  let seed = 1;
  const shards: { file: string; tensors: Record<string, TensorToWrite> }[] = [];
  // embeddings: noise + a shared component along u (same norm as the noise), untied LM head
  const emb = new Float32Array(s.vocab * H);
  for (let v = 0; v < s.vocab; v++) for (let i = 0; i < H; i++) emb[v * H + i] = std * gauss(r) + std * Math.sqrt(H) * u[i];
  shards.push({ file: 'model-embed.safetensors', tensors: {
    'model.embed_tokens.weight': t16([s.vocab, H], f16Of(emb)),
    'model.norm.weight': ones(H),
    'lm_head.weight': t16([s.vocab, H], randomF16(s.vocab * H, std, seed++)),
  } });
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    const ts: Record<string, TensorToWrite> = {
      [`${p}.input_layernorm.weight`]: ones(H),
      [`${p}.post_attention_layernorm.weight`]: ones(H),
      [`${p}.self_attn.q_proj.weight`]: t16([A, H], randomF16(A * H, std, seed++)),
      [`${p}.self_attn.k_proj.weight`]: t16([A, H], randomF16(A * H, std, seed++)),
      [`${p}.self_attn.v_proj.weight`]: t16([A, H], randomF16(A * H, std, seed++)),
      [`${p}.self_attn.o_proj.weight`]: t16([H, A], randomF16(A * H, std, seed++)),
      [`${p}.self_attn.q_norm.weight`]: ones(A),
      [`${p}.self_attn.k_norm.weight`]: ones(A),
    };
    // router rows: noise + popularity_e * u, so the shared component of every hidden state favours some experts
    const router = new Float32Array(s.experts * H);
    for (let e = 0; e < s.experts; e++) {
      const pop = 1.5 * gauss(r);
      for (let i = 0; i < H; i++) router[e * H + i] = std * gauss(r) + pop * u[i];
    }
    ts[`${p}.mlp.gate.weight`] = t16([s.experts, H], f16Of(router));
    for (let e = 0; e < s.experts; e++) {
      const q = `${p}.mlp.experts.${e}`;
      ts[`${q}.gate_proj.weight`] = t16([I, H], randomF16(I * H, std, seed++));
      ts[`${q}.up_proj.weight`] = t16([I, H], randomF16(I * H, std, seed++));
      ts[`${q}.down_proj.weight`] = t16([H, I], randomF16(I * H, std, seed++));
    }
    shards.push({ file: `model-layer${l}.safetensors`, tensors: ts });
  }
  let total = 0;
  for (const sh of shards) {
    const bytes = writeSafetensors(sh.tensors, { format: 'pt' });
    writeFileSync(join(dir, sh.file), bytes);
    total += bytes.byteLength;
    for (const name of Object.keys(sh.tensors)) weightMap[name] = sh.file;
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 1));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(synthConfig(s), null, 1));
}

/** The checkpoint's folder under root, written first if missing (config.json last marks it complete). */
export async function ensureSynthModel(root: string, s: SynthShape, log: (s: string) => void = () => {}): Promise<string> {
  const dir = join(root, s.name);
  if (existsSync(join(dir, 'config.json'))) return dir;
  const tmp = `${dir}.partial`;
  log(`writing the synthetic checkpoint ${s.name} to ${dir} ...`);
  const t0 = performance.now();
  writeSynthModel(tmp, s);
  renameSync(tmp, dir);
  log(`  written in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
  return dir;
}
