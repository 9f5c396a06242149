// A model under benchmark: the MoeModel, the prompts its sequences start from, and the byte / FLOP
// accounting of one step computed from the model's own GPU weights (never guessed from config sizes).
import type { Gpu } from '../../src/gpu/context.ts';
import type { CheckpointFiles } from '../../src/format/checkpoint.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import type { MatmulWeight } from '../../src/kernels/matmul.ts';
import type { WeightFormat } from '../../src/quant/pack.ts';
import { weightBytes } from '../../src/quant/upload.ts';
import { QUANT_GROUP } from '../../src/runtime/weights.ts';
import { seededRandom } from '../../src/util/random.ts';

export interface ModelSource {
  /** Short name in tables ("webmoe-tiny", "synth-olmoe"). */
  name: string;
  /** Why this model is in the bench, one line for the report. */
  note: string;
  files: CheckpointFiles;
  weightFormat: WeightFormat;
  /** Token ids of the prompts (one per sequence); random ids are drawn when absent. */
  prompts?: number[][];
}

export interface BenchModel {
  src: ModelSource;
  model: MoeModel;
  prompts: number[][];
  loadMs: number;
  /** GPU bytes of one expert (gate + up + down rows, padding and int scales included). */
  bytesPerExpert: number;
  /** Bytes of every non-expert weight a decode step reads (attention, router, shared/dense FFN, LM head). */
  denseBytes: number;
  shape: Record<string, number | string>;
}

const matBytes = (w: MatmulWeight | undefined) => w?.bytes ?? 0;

export async function loadBenchModel(gpu: Gpu, src: ModelSource, o: { maxSeqs: number; maxContext: number; maxBatchTokens: number; promptLen: number; maxBindingBytes?: number }): Promise<BenchModel> {
  const t0 = performance.now();
  const model = await MoeModel.load(src.files, gpu, { weightFormat: src.weightFormat, maxSeqs: o.maxSeqs, maxContext: o.maxContext, maxBatchTokens: o.maxBatchTokens, maxBindingBytes: o.maxBindingBytes });
  const loadMs = performance.now() - t0;
  const s = model.spec;
  const W = model.weights;
  const bytesPerExpert = weightBytes(W.format, 2 * s.moeIntermediate, s.hidden, QUANT_GROUP) + weightBytes(W.format, s.hidden, s.moeIntermediate, QUANT_GROUP);
  let denseBytes = matBytes(W.lmHead);
  for (const L of W.layers) {
    denseBytes += matBytes(L.qkv) + matBytes(L.o) + matBytes(L.router);
    for (const f of [L.shared, L.dense]) if (f) denseBytes += matBytes(f.gateUp) + matBytes(f.down);
    if (L.shared) denseBytes += matBytes(L.shared.gate1);
  }
  const rand = seededRandom(1234);
  const prompts: number[][] = [];
  for (let i = 0; i < o.maxSeqs; i++) {
    const p = src.prompts?.[i % src.prompts.length];
    prompts.push(p && p.length >= o.promptLen ? p.slice(0, o.promptLen) : Array.from({ length: o.promptLen }, () => 2 + Math.floor(rand() * (s.vocabSize - 2))));
  }
  return {
    src, model, prompts, loadMs, bytesPerExpert, denseBytes,
    shape: {
      arch: s.arch, layers: s.layers, hidden: s.hidden, experts: s.numExperts, topK: s.topK, moeIntermediate: s.moeIntermediate,
      heads: s.heads, kvHeads: s.kvHeads, headDim: s.headDim, vocab: s.vocabSize, weightFormat: W.format, gpuBytes: W.bytes,
    },
  };
}

/** FLOPs of the step's families that do arithmetic (for throughput vs the best matmul): T tokens, R logit rows, pairs used (token, expert), sum of attended positions. */
export function stepFlops(m: BenchModel, T: number, R: number, pairs: number, attended: number): Record<string, number> {
  const s = m.model.spec;
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, numExperts: E, moeIntermediate: I } = s;
  let linear = 2 * R * H * s.vocabSize;
  for (const L of m.model.weights.layers) {
    linear += 2 * T * H * (nh * hd + 2 * nkv * hd) + 2 * T * nh * hd * H;
    if (L.router) linear += 2 * T * H * E;
    for (const f of [L.shared, L.dense]) if (f) linear += 2 * T * 3 * H * f.inter;
    if (L.shared) linear += 2 * T * H;
  }
  const moeLayers = s.layerKinds.filter((k) => k === 'moe').length;
  return {
    'matmul:main': linear,
    'moe_ffn:ffn_gate_up': moeLayers * pairs * 2 * 2 * I * H,
    'moe_ffn:ffn_down': moeLayers * pairs * 2 * H * I,
    'attention:main': s.layers * 4 * nh * hd * attended,
  };
}
