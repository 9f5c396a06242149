// The generic HF decoder layout most MoE models share, built from the one typed config
// (format/config.ts normalizeConfig); the architecture files only say where their tensors live.
import type { ModelConfig } from '../format/config.ts';
import { ropeTables } from '../reference/rope.ts';
import type { FfnRefs, LayerRefs, MoeModelSpec, QkNormKind, ArchRouter, WeightRef } from './spec.ts';

export const CONFIG_FILE = 'config.json';

/** What an architecture file adds to the config: its tensor layout and its rules that no key sets. */
export interface ArchOptions {
  qkNorm: QkNormKind;
  /** Bias on o_proj (q/k/v biases follow config.qkvBias). */
  oBias: boolean;
  router: ArchRouter;
  /** Names inside `model.layers.N.`: the MoE block prefix and its router tensor. */
  moePrefix: string; // e.g. 'mlp' or 'block_sparse_moe'
  routerName: string; // e.g. 'mlp.gate.weight'
  /** How the experts are stored (see expertRefs). */
  experts: 'per_expert' | 'per_expert_w123' | 'fused_gate_up' | 'granite';
}

/** Accumulates tensor names + expected shapes, and hands out WeightRefs. */
export class TensorTable {
  readonly shapes = new Map<string, number[]>();

  /** A whole tensor used as one weight. */
  whole(name: string, shape: number[]): WeightRef {
    this.declare(name, shape);
    return { tensor: name, shape };
  }

  /** Expert `e` of a stacked [E, rows, cols] tensor, optionally a block of rows. */
  slice(name: string, full: number[], expert: number, shape: number[], rowOffset = 0): WeightRef {
    this.declare(name, full);
    return { tensor: name, shape, expert, rowOffset };
  }

  private declare(name: string, shape: number[]): void {
    const prev = this.shapes.get(name);
    if (prev && prev.join() !== shape.join()) throw new Error(`internal: tensor ${name} declared with two shapes`);
    this.shapes.set(name, shape);
  }
}

function ffn(t: TensorTable, prefix: string, I: number, H: number, names = ['gate_proj', 'up_proj', 'down_proj']): FfnRefs {
  return {
    gate: t.whole(`${prefix}.${names[0]}.weight`, [I, H]),
    up: t.whole(`${prefix}.${names[1]}.weight`, [I, H]),
    down: t.whole(`${prefix}.${names[2]}.weight`, [H, I]),
  };
}

/** Expert e of stacked tensors: gateUp [E, 2I, H] (gate rows, then up rows), down [E, H, I]. */
function stacked(t: TensorTable, gateUp: string, down: string, E: number, I: number, H: number, e: number): FfnRefs {
  return {
    gate: t.slice(gateUp, [E, 2 * I, H], e, [I, H], 0),
    up: t.slice(gateUp, [E, 2 * I, H], e, [I, H], I),
    down: t.slice(down, [E, H, I], e, [H, I]),
  };
}

function expertRefs(t: TensorTable, c: ModelConfig, o: ArchOptions, p: string, H: number): FfnRefs[] {
  const E = c.numExperts;
  const I = c.moeIntermediateSize;
  const out: FfnRefs[] = [];
  for (let e = 0; e < E; e++) {
    switch (o.experts) {
      case 'per_expert':
        out.push(ffn(t, `${p}.${o.moePrefix}.experts.${e}`, I, H));
        break;
      case 'per_expert_w123': // Mixtral: w1 gate, w3 up, w2 down
        out.push(ffn(t, `${p}.${o.moePrefix}.experts.${e}`, I, H, ['w1', 'w3', 'w2']));
        break;
      // transformers 5 in-memory layout: gate_up_proj [E, 2I, H] (gate rows first), down_proj [E, H, I]
      case 'fused_gate_up':
        out.push(stacked(t, `${p}.${o.moePrefix}.experts.gate_up_proj`, `${p}.${o.moePrefix}.experts.down_proj`, E, I, H, e));
        break;
      // granite: input_linear [E, 2I, H] (gate rows then up rows), output_linear [E, H, I]
      case 'granite':
        out.push(stacked(t, `${p}.${o.moePrefix}.input_linear.weight`, `${p}.${o.moePrefix}.output_linear.weight`, E, I, H, e));
        break;
    }
  }
  return out;
}

/** The generic HF decoder: model.embed_tokens, model.layers.N.{input_layernorm,self_attn,post_attention_layernorm,<moe>}, model.norm, lm_head. */
export function buildDecoderSpec(c: ModelConfig, o: ArchOptions): MoeModelSpec {
  const { hiddenSize: H, numLayers: L, numHeads: nh, numKvHeads: nkv, vocabSize: V, headDim } = c;
  const t = new TensorTable();
  const layerRefs: LayerRefs[] = [];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    const r: LayerRefs = {
      attnNorm: t.whole(`${p}.input_layernorm.weight`, [H]),
      q: t.whole(`${a}.q_proj.weight`, [nh * headDim, H]),
      k: t.whole(`${a}.k_proj.weight`, [nkv * headDim, H]),
      v: t.whole(`${a}.v_proj.weight`, [nkv * headDim, H]),
      o: t.whole(`${a}.o_proj.weight`, [H, nh * headDim]),
      mlpNorm: t.whole(`${p}.post_attention_layernorm.weight`, [H]),
    };
    if (c.qkvBias) {
      r.qBias = t.whole(`${a}.q_proj.bias`, [nh * headDim]);
      r.kBias = t.whole(`${a}.k_proj.bias`, [nkv * headDim]);
      r.vBias = t.whole(`${a}.v_proj.bias`, [nkv * headDim]);
    }
    if (o.oBias) r.oBias = t.whole(`${a}.o_proj.bias`, [H]);
    if (o.qkNorm === 'per_head') {
      r.qNorm = t.whole(`${a}.q_norm.weight`, [headDim]);
      r.kNorm = t.whole(`${a}.k_norm.weight`, [headDim]);
    } else if (o.qkNorm === 'full') {
      r.qNorm = t.whole(`${a}.q_norm.weight`, [nh * headDim]);
      r.kNorm = t.whole(`${a}.k_norm.weight`, [nkv * headDim]);
    }
    if (c.sparseLayers[l]) {
      r.router = t.whole(`${p}.${o.routerName}`, [c.numExperts, H]);
      r.experts = expertRefs(t, c, o, p, H);
      if (c.sharedExpertIntermediateSize > 0) {
        r.shared = {
          ...ffn(t, `${p}.${o.moePrefix}.shared_expert`, c.sharedExpertIntermediateSize, H),
          gate1: t.whole(`${p}.${o.moePrefix}.shared_expert_gate.weight`, [1, H]),
        };
      }
    } else {
      r.dense = ffn(t, `${p}.mlp`, c.intermediateSize!, H);
    }
    layerRefs.push(r);
  }
  const embed = t.whole('model.embed_tokens.weight', [V, H]);
  const finalNorm = t.whole('model.norm.weight', [H]);
  const lmHead = c.tieWordEmbeddings ? embed : t.whole('lm_head.weight', [V, H]);
  return {
    arch: c.modelType,
    vocabSize: V,
    hidden: H,
    layers: L,
    heads: nh,
    kvHeads: nkv,
    headDim,
    eps: c.rmsNormEps,
    rope: { ...ropeTables(c.rope, headDim), theta: c.rope.theta, type: c.rope.type },
    maxPositions: c.maxPositionEmbeddings,
    slidingWindow: c.slidingWindow,
    qkNorm: o.qkNorm,
    clipQkv: c.clipQkv,
    attnScale: c.attentionScale,
    embeddingMultiplier: c.embeddingMultiplier,
    residualMultiplier: c.residualMultiplier,
    logitScale: 1 / c.logitsScaling,
    numExperts: c.numExperts,
    topK: c.topK,
    moeIntermediate: c.moeIntermediateSize,
    router: o.router,
    layerKinds: c.sparseLayers.map((s) => (s ? 'moe' : 'dense')),
    tieEmbeddings: c.tieWordEmbeddings,
    bosTokenId: c.bosTokenId,
    eosTokenIds: c.eosTokenIds,
    tensors: t.shapes,
    embed,
    finalNorm,
    lmHead,
    layerRefs,
  };
}
