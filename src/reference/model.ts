/**
 * Plain f32 TypeScript forward pass of a whole MoeModelSpec model: slow, and written to be obviously
 * correct (one token row at a time, same order of operations as transformers). Tests use it to check
 * the architecture mappings against HF and the GPU runtime on inputs fixtures don't cover.
 */
import type { Checkpoint } from '../format/checkpoint.ts';
import type { FfnRefs, LayerRefs, MoeModelSpec, WeightRef } from '../models/spec.ts';
import { readWeightF32 } from '../models/weights.ts';

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

/** y[n] = sum_k W[n, k] x[k] (+ b[n]): HF Linear with weight [out, in]. */
function linear(x: Float32Array, w: Float32Array, out: number, b?: Float32Array): Float32Array {
  const K = x.length;
  const y = new Float32Array(out);
  for (let n = 0; n < out; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += w[n * K + k] * x[k];
    y[n] = s + (b ? b[n] : 0);
  }
  return y;
}

/** RMSNorm over consecutive groups of `dim` (dim = x.length for a whole-vector norm). */
export function rmsNorm(x: Float32Array, w: Float32Array, eps: number, dim = x.length): Float32Array {
  const y = new Float32Array(x.length);
  for (let g = 0; g < x.length; g += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[g + i] * x[g + i];
    const inv = 1 / Math.sqrt(s / dim + eps);
    for (let i = 0; i < dim; i++) y[g + i] = x[g + i] * inv * w[i];
  }
  return y;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

function swiglu(x: Float32Array, f: Ffn, I: number): Float32Array {
  const g = linear(x, f.gate, I);
  const u = linear(x, f.up, I);
  for (let i = 0; i < I; i++) g[i] = silu(g[i]) * u[i];
  return linear(g, f.down, x.length);
}

/** HF rotate_half RoPE on each head of `v` ([n, headDim]) at position `pos`. */
export function rope(v: Float32Array, headDim: number, pos: number, spec: MoeModelSpec): void {
  const half = headDim / 2;
  const af = spec.rope.attentionFactor;
  for (let h = 0; h < v.length; h += headDim) {
    for (let i = 0; i < half; i++) {
      // HF computes the angle in f32 (positions x inv_freq); Math.fround keeps us on the same side.
      const ang = Math.fround(pos * spec.rope.invFreq[i]);
      const c = Math.cos(ang) * af;
      const s = Math.sin(ang) * af;
      const a = v[h + i];
      const b = v[h + i + half];
      v[h + i] = a * c - b * s;
      v[h + i + half] = b * c + a * s;
    }
  }
}

/** Router: (expert ids, weights) for one token according to the architecture's normalisation. */
export function routeToken(logits: Float32Array, k: number, mode: MoeModelSpec['router']): { ids: number[]; w: number[] } {
  const E = logits.length;
  let scores: Float64Array;
  if (mode === 'topk_softmax') scores = Float64Array.from(logits);
  else {
    const m = Math.max(...logits);
    scores = new Float64Array(E);
    let z = 0;
    for (let e = 0; e < E; e++) z += scores[e] = Math.exp(logits[e] - m);
    for (let e = 0; e < E; e++) scores[e] /= z;
  }
  // torch.topk: largest first; ties to the lower index
  const order = [...Array(E).keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
  let w = order.map((e) => scores[e]);
  if (mode === 'topk_softmax') {
    const m = Math.max(...w);
    const ex = w.map((v) => Math.exp(v - m));
    const z = ex.reduce((a, b) => a + b, 0);
    w = ex.map((v) => v / z);
  } else if (mode === 'softmax_topk_renorm') {
    const z = w.reduce((a, b) => a + b, 0);
    w = w.map((v) => v / z);
  }
  return { ids: order, w };
}

/** Logits [T, vocab] for every position of one sequence starting at position 0. */
export function referenceForward(spec: MoeModelSpec, W: RefWeights, tokens: number[]): Float32Array[] {
  const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, eps } = spec;
  const T = tokens.length;
  const group = nh / nkv;
  const kCache: Float32Array[][] = spec.layerRefs.map(() => []);
  const vCache: Float32Array[][] = spec.layerRefs.map(() => []);
  const out: Float32Array[] = [];
  for (let t = 0; t < T; t++) {
    const tok = tokens[t];
    if (!(tok >= 0 && tok < spec.vocabSize)) throw new Error(`token id ${tok} out of range [0, ${spec.vocabSize})`);
    let x = new Float32Array(H);
    for (let i = 0; i < H; i++) x[i] = W.embed[tok * H + i] * spec.embeddingMultiplier;
    for (let l = 0; l < spec.layers; l++) {
      const L = W.layers[l];
      // --- attention ---
      const h = rmsNorm(x, L.attnNorm, eps);
      let q = linear(h, L.q, nh * hd, L.qBias);
      let k = linear(h, L.k, nkv * hd, L.kBias);
      const v = linear(h, L.v, nkv * hd, L.vBias);
      if (spec.qkNorm === 'per_head') {
        q = rmsNorm(q, L.qNorm!, eps, hd);
        k = rmsNorm(k, L.kNorm!, eps, hd);
      } else if (spec.qkNorm === 'full') {
        q = rmsNorm(q, L.qNorm!, eps);
        k = rmsNorm(k, L.kNorm!, eps);
      }
      if (spec.clipQkv !== null) {
        const c = spec.clipQkv;
        for (const a of [q, k, v]) for (let i = 0; i < a.length; i++) a[i] = Math.min(c, Math.max(-c, a[i]));
      }
      rope(q, hd, t, spec);
      rope(k, hd, t, spec);
      kCache[l].push(k);
      vCache[l].push(v);
      const att = new Float32Array(nh * hd);
      for (let head = 0; head < nh; head++) {
        const kvh = Math.floor(head / group);
        // causal, and within the sliding window when there is one: positions (t - window, t]
        const j0 = spec.slidingWindow ? Math.max(0, t - spec.slidingWindow + 1) : 0;
        const s = new Float64Array(t + 1).fill(-Infinity);
        let m = -Infinity;
        for (let j = j0; j <= t; j++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[head * hd + i] * kCache[l][j][kvh * hd + i];
          s[j] = d * spec.attnScale;
          m = Math.max(m, s[j]);
        }
        let z = 0;
        for (let j = j0; j <= t; j++) z += s[j] = Math.exp(s[j] - m);
        for (let j = j0; j <= t; j++) {
          const p = s[j] / z;
          for (let i = 0; i < hd; i++) att[head * hd + i] += p * vCache[l][j][kvh * hd + i];
        }
      }
      const o = linear(att, L.o, H, L.oBias);
      for (let i = 0; i < H; i++) x[i] += o[i] * spec.residualMultiplier;
      // --- feed-forward ---
      const h2 = rmsNorm(x, L.mlpNorm, eps);
      const y = new Float32Array(H);
      if (L.dense) {
        y.set(swiglu(h2, L.dense, L.dense.gate.length / H));
      } else {
        const rl = linear(h2, L.router!, spec.numExperts);
        const { ids, w } = routeToken(rl, spec.topK, spec.router);
        for (let j = 0; j < ids.length; j++) {
          const e = swiglu(h2, L.experts![ids[j]], spec.moeIntermediate);
          for (let i = 0; i < H; i++) y[i] += w[j] * e[i];
        }
        if (L.shared) {
          const sh = swiglu(h2, L.shared, L.shared.gate.length / H);
          const g = 1 / (1 + Math.exp(-linear(h2, L.shared.gate1!, 1)[0]));
          for (let i = 0; i < H; i++) y[i] += g * sh[i];
        }
      }
      for (let i = 0; i < H; i++) x[i] += y[i] * spec.residualMultiplier;
    }
    x = rmsNorm(x, W.finalNorm, eps) as Float32Array<ArrayBuffer>;
    const logits = linear(x, W.lmHead, spec.vocabSize);
    for (let i = 0; i < logits.length; i++) logits[i] *= spec.logitScale;
    out.push(logits);
  }
  return out;
}
