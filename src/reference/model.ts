/**
 * Plain TypeScript forward pass of a whole MoeModelSpec model, composed from the op references (the same
 * ones every kernel is tested against) and the routing policies' reference: slow, obviously correct, same
 * order of operations as transformers. Tests use it to check the architecture mappings against HF and
 * the GPU runtime on inputs fixtures don't cover.
 */
import type { Checkpoint } from '../format/checkpoint.ts';
import type { FfnRefs, LayerRefs, MoeModelSpec, WeightRef } from '../models/spec.ts';
import { readWeightF32 } from '../models/weights.ts';
import { route } from '../routing/policies.ts';
import { NO_EXPERT } from '../routing/types.ts';
import { matmulRef } from './matmul.ts';
import { rmsNormRef } from './rmsnorm.ts';
import { ropeRef } from './rope.ts';
import { attentionRef, kvWriteRef } from './attention.ts';
import { addRef, siluMulRef } from './activations.ts';
import { clampRef, gatedAddRef } from './elementwise.ts';
import { embeddingRef } from './embedding.ts';

type Ffn = { gate: Float32Array; up: Float32Array; down: Float32Array };
type Weights<T> = { [K in keyof T]: T[K] extends WeightRef | undefined ? Float32Array : T[K] extends FfnRefs[] | undefined ? Ffn[] : T[K] extends FfnRefs | undefined ? Ffn & { gate1?: Float32Array } : never };
export type RefLayer = Weights<LayerRefs>;

export interface RefWeights {
  embed: Float32Array;
  finalNorm: Float32Array;
  lmHead: Float32Array;
  layers: RefLayer[];
}

/** Read every weight of `spec` from the checkpoint as f32 (fine for test-sized models). */
export async function loadReferenceWeights(ckpt: Checkpoint, spec: MoeModelSpec): Promise<RefWeights> {
  const rd = (r: WeightRef) => readWeightF32(ckpt, r);
  const ffn = async (f: FfnRefs) => ({ gate: await rd(f.gate), up: await rd(f.up), down: await rd(f.down) });
  const layers: RefLayer[] = [];
  for (const r of spec.layerRefs) {
    const l: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined) continue;
      if (k === 'experts') l[k] = await Promise.all((v as FfnRefs[]).map(ffn));
      else if (k === 'shared') l[k] = { ...(await ffn(v as FfnRefs)), gate1: await rd((v as { gate1: WeightRef }).gate1) };
      else if (k === 'dense') l[k] = await ffn(v as FfnRefs);
      else l[k] = await rd(v as WeightRef);
    }
    layers.push(l as RefLayer);
  }
  const embed = await rd(spec.embed);
  return { embed, finalNorm: await rd(spec.finalNorm), lmHead: spec.tieEmbeddings ? embed : await rd(spec.lmHead), layers };
}

/** down(silu(gate x) * up x) for rows x [T, H]. */
function swiglu(x: Float32Array, f: Ffn, T: number, H: number): Float32Array {
  const I = f.gate.length / H;
  const g = matmulRef(x, f.gate, T, I, H);
  const u = matmulRef(x, f.up, T, I, H);
  return matmulRef(siluMulRef(g, u, T, I), f.down, T, H, I);
}

/**
 * Logits [T, vocab] for every position of one sequence starting at position 0: the whole prompt at once
 * through the op references (src/reference/*.ts) and the routing reference, in the GPU runtime's order.
 */
export function referenceForward(spec: MoeModelSpec, W: RefWeights, tokens: number[]): Float32Array[] {
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, eps, vocabSize: V } = spec;
  const T = tokens.length;
  for (const tok of tokens) if (!(Number.isInteger(tok) && tok >= 0 && tok < V)) throw new Error(`token id ${tok} out of range [0, ${V})`);
  const positions = tokens.map((_, t) => t);
  const seqIds = new Array<number>(T).fill(0);
  const seqStart = [0];
  const addScaled = (x: Float32Array, y: Float32Array) => x.set(addRef(x, y, spec.residualMultiplier));
  const x = embeddingRef(tokens, W.embed, V, H, spec.embeddingMultiplier);
  for (let l = 0; l < spec.layers; l++) {
    const L = W.layers[l];
    // --- attention ---
    const h = rmsNormRef(x, L.attnNorm, T, H, eps);
    let q = matmulRef(h, L.q, T, nh * hd, H, L.qBias);
    let k = matmulRef(h, L.k, T, nkv * hd, H, L.kBias);
    let v = matmulRef(h, L.v, T, nkv * hd, H, L.vBias);
    if (spec.qkNorm === 'per_head') {
      q = rmsNormRef(q, L.qNorm!, T * nh, hd, eps);
      k = rmsNormRef(k, L.kNorm!, T * nkv, hd, eps);
    } else if (spec.qkNorm === 'full') {
      q = rmsNormRef(q, L.qNorm!, T, nh * hd, eps);
      k = rmsNormRef(k, L.kNorm!, T, nkv * hd, eps);
    }
    if (spec.clipQkv !== null) [q, k, v] = [q, k, v].map((a) => clampRef(a, spec.clipQkv!));
    q = ropeRef(q, T, nh, hd, hd, positions, spec.rope);
    k = ropeRef(k, T, nkv, hd, hd, positions, spec.rope);
    const kCache = new Float32Array(T * nkv * hd);
    const vCache = new Float32Array(T * nkv * hd);
    kvWriteRef(k, v, kCache, vCache, seqIds, positions, seqStart, nkv, hd);
    const att = attentionRef(q, kCache, vCache, seqIds, positions, seqStart, { nHeads: nh, nKvHeads: nkv, headDim: hd }, spec.attnScale, spec.slidingWindow ?? 0);
    addScaled(x, matmulRef(att, L.o, T, H, nh * hd, L.oBias));
    // --- feed-forward ---
    const h2 = rmsNormRef(x, L.mlpNorm, T, H, eps);
    if (L.dense) {
      addScaled(x, swiglu(h2, L.dense, T, H));
      continue;
    }
    const E = spec.numExperts;
    const r = route(matmulRef(h2, L.router!, T, E, H), T, E, spec.topK, { kind: 'baseline' }, spec.router);
    const y = new Float32Array(T * H);
    for (let t = 0; t < T; t++) {
      const row = h2.subarray(t * H, (t + 1) * H);
      for (let j = 0; j < r.kMax; j++) {
        const e = r.ids[t * r.kMax + j];
        if (e === NO_EXPERT) continue;
        const out = swiglu(row, L.experts![e], 1, H);
        for (let i = 0; i < H; i++) y[t * H + i] += r.weights[t * r.kMax + j] * out[i];
      }
    }
    if (L.shared) {
      const gate = matmulRef(h2, L.shared.gate1!, T, 1, H);
      y.set(gatedAddRef(y, swiglu(h2, L.shared, T, H), gate, H));
    }
    addScaled(x, y);
  }
  const logits = matmulRef(rmsNormRef(x, W.finalNorm, T, H, eps), W.lmHead, T, V, H);
  for (let i = 0; i < logits.length; i++) logits[i] *= spec.logitScale;
  return Array.from({ length: T }, (_, t) => logits.subarray(t * V, (t + 1) * V));
}
