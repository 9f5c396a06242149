/**
 * The plain-TS model behind the same step interface as MoeModel (forward({seqs, logits, policy})): per-sequence
 * KV caches, every token of a step routed TOGETHER through src/routing's route() (the GPU kernels'
 * reference), routing statistics from routeStats(). Same operations as reference/model.ts (its rmsNorm and
 * rope), with matrix products done for all of a step's tokens at once so lockstep decode evaluation and
 * calibration sweeps run fast on a CPU. Tests check it against the WebGPU runtime.
 */
import type { MoeModelSpec } from '../models/spec.ts';
import { rmsNorm, rope, type RefWeights } from './model.ts';
import { route, routeStats } from '../routing/policies.ts';
import { resolvePolicy } from '../routing/resolve.ts';
import type { Calibration } from '../routing/calibration.ts';
import type { Policy, PolicyConfig, RouterConfig } from '../routing/types.ts';
import type { LayerRouting, StepRequest, StepResult } from '../runtime/model.ts';

/** Y[t, n] = sum_k W[n, k] X[t, k] for T rows (W [N, K] row-major, HF Linear layout). */
function linearRows(X: Float32Array, T: number, K: number, W: Float32Array, N: number, b?: Float32Array): Float32Array {
  const Y = new Float32Array(T * N);
  for (let n = 0; n < N; n++) {
    const o = n * K;
    for (let t = 0; t < T; t++) {
      const xo = t * K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let k = 0;
      for (; k + 3 < K; k += 4) {
        s0 += W[o + k] * X[xo + k];
        s1 += W[o + k + 1] * X[xo + k + 1];
        s2 += W[o + k + 2] * X[xo + k + 2];
        s3 += W[o + k + 3] * X[xo + k + 3];
      }
      for (; k < K; k++) s0 += W[o + k] * X[xo + k];
      Y[t * N + n] = s0 + s1 + s2 + s3 + (b ? b[n] : 0);
    }
  }
  return Y;
}

const silu = (v: number) => v / (1 + Math.exp(-v));

function swigluRows(X: Float32Array, T: number, H: number, f: { gate: Float32Array; up: Float32Array; down: Float32Array }, I: number): Float32Array {
  const g = linearRows(X, T, H, f.gate, I);
  const u = linearRows(X, T, H, f.up, I);
  for (let i = 0; i < g.length; i++) g[i] = silu(g[i]) * u[i];
  return linearRows(g, T, I, f.down, H);
}

const normRows = (x: Float32Array, T: number, D: number, w: Float32Array, eps: number, group = D) => {
  const out = new Float32Array(T * D);
  for (let t = 0; t < T; t++) out.set(rmsNorm(x.subarray(t * D, (t + 1) * D), w, eps, group), t * D);
  return out;
};

export class ReferenceStepModel {
  readonly maxBatchTokens: number;
  private next = 0;
  private readonly caches = new Map<number, { k: Float32Array[][]; v: Float32Array[][] }>();
  private readonly resolved = new Map<string, (PolicyConfig | null)[]>();

  constructor(readonly spec: MoeModelSpec, readonly W: RefWeights, private calibration: Calibration | null = null, opts: { maxBatchTokens?: number; policy?: Policy } = {}) {
    this.maxBatchTokens = opts.maxBatchTokens ?? 4096;
    this.policy = opts.policy ?? { kind: 'baseline' };
  }

  readonly policy: Policy;

  setCalibration(c: Calibration | null): void {
    this.calibration = c;
    this.resolved.clear();
  }

  createSequence(): number {
    const id = this.next++;
    this.caches.set(id, { k: this.spec.layerKinds.map(() => []), v: this.spec.layerKinds.map(() => []) });
    return id;
  }

  freeSequence(id: number): void {
    this.caches.delete(id);
  }

  sequenceLength(id: number): number {
    return this.caches.get(id)?.k[0].length ?? 0;
  }

  private resolve(p: Policy): (PolicyConfig | null)[] {
    const key = JSON.stringify(p);
    let r = this.resolved.get(key);
    if (!r) {
      const s = this.spec;
      r = resolvePolicy(p, { isMoe: s.layerKinds.map((k) => k === 'moe'), topK: s.topK, E: s.numExperts, calibration: this.calibration });
      this.resolved.set(key, r);
    }
    return r;
  }

  async forward(req: StepRequest): Promise<StepResult> {
    const spec = this.spec;
    const W = this.W;
    const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, eps, vocabSize: V } = spec;
    const group = nh / nkv;
    const mode = req.logits ?? 'last';
    const pol = this.resolve(req.policy ?? this.policy);
    const tokSeq: number[] = [];
    const tokPos: number[] = [];
    const ids: number[] = [];
    for (const q of req.seqs) {
      const c = this.caches.get(q.id);
      if (!c) throw new Error(`webmoe: sequence ${q.id} does not exist`);
      q.tokens.forEach((tok, i) => {
        if (!(tok >= 0 && tok < V)) throw new Error(`webmoe: token id ${tok} out of range [0, ${V})`);
        ids.push(tok);
        tokSeq.push(q.id);
        tokPos.push(c.k[0].length + i);
      });
    }
    const T = ids.length;
    const x = new Float32Array(T * H);
    ids.forEach((tok, t) => {
      for (let i = 0; i < H; i++) x[t * H + i] = W.embed[tok * H + i] * spec.embeddingMultiplier;
    });
    const routerCfg: RouterConfig = { mode: spec.router === 'topk_softmax' ? 'topk_softmax' : 'softmax', normTopk: spec.router === 'softmax_topk_renorm' };
    const routing: LayerRouting[] = [];
    const distinctExperts: number[] = [];
    for (let l = 0; l < spec.layers; l++) {
      const L = W.layers[l];
      const h = normRows(x, T, H, L.attnNorm, eps);
      let q = linearRows(h, T, H, L.q, nh * hd, L.qBias);
      let k = linearRows(h, T, H, L.k, nkv * hd, L.kBias);
      const v = linearRows(h, T, H, L.v, nkv * hd, L.vBias);
      if (spec.qkNorm === 'per_head') {
        q = normRows(q, T, nh * hd, L.qNorm!, eps, hd);
        k = normRows(k, T, nkv * hd, L.kNorm!, eps, hd);
      } else if (spec.qkNorm === 'full') {
        q = normRows(q, T, nh * hd, L.qNorm!, eps);
        k = normRows(k, T, nkv * hd, L.kNorm!, eps);
      }
      if (spec.clipQkv !== null) {
        const c = spec.clipQkv;
        for (const a of [q, k, v]) for (let i = 0; i < a.length; i++) a[i] = Math.min(c, Math.max(-c, a[i]));
      }
      // cache writes first (a sequence's tokens of this step see each other causally)
      for (let t = 0; t < T; t++) {
        const qt = q.subarray(t * nh * hd, (t + 1) * nh * hd);
        const kt = k.slice(t * nkv * hd, (t + 1) * nkv * hd);
        rope(qt, hd, tokPos[t], spec);
        rope(kt, hd, tokPos[t], spec);
        const c = this.caches.get(tokSeq[t])!;
        c.k[l].push(kt);
        c.v[l].push(v.slice(t * nkv * hd, (t + 1) * nkv * hd));
      }
      const att = new Float32Array(T * nh * hd);
      for (let t = 0; t < T; t++) {
        const c = this.caches.get(tokSeq[t])!;
        const pos = tokPos[t];
        for (let head = 0; head < nh; head++) {
          const kvh = Math.floor(head / group);
          const j0 = spec.slidingWindow ? Math.max(0, pos - spec.slidingWindow + 1) : 0;
          const s = new Float64Array(pos + 1).fill(-Infinity);
          let m = -Infinity;
          for (let j = j0; j <= pos; j++) {
            let d = 0;
            const kj = c.k[l][j];
            for (let i = 0; i < hd; i++) d += q[t * nh * hd + head * hd + i] * kj[kvh * hd + i];
            s[j] = d * spec.attnScale;
            m = Math.max(m, s[j]);
          }
          let z = 0;
          for (let j = j0; j <= pos; j++) z += s[j] = Math.exp(s[j] - m);
          for (let j = j0; j <= pos; j++) {
            const p = s[j] / z;
            const vj = c.v[l][j];
            for (let i = 0; i < hd; i++) att[t * nh * hd + head * hd + i] += p * vj[kvh * hd + i];
          }
        }
      }
      const o = linearRows(att, T, nh * hd, L.o, H, L.oBias);
      for (let i = 0; i < T * H; i++) x[i] += o[i] * spec.residualMultiplier;
      const h2 = normRows(x, T, H, L.mlpNorm, eps);
      const y = new Float32Array(T * H);
      if (L.dense) {
        y.set(swigluRows(h2, T, H, L.dense, L.dense.gate.length / H));
        routing.push({ experts: [], baselineExperts: [], massKept: 1, massKeptSum: 0, massBaselineSum: 0 });
        distinctExperts.push(0);
      } else {
        const E = spec.numExperts;
        const K = spec.topK;
        const rl = linearRows(h2, T, H, L.router!, E);
        const r = route(rl, T, E, K, pol[l] ?? { kind: 'baseline' }, routerCfg);
        const st = routeStats(rl, T, E, K, r.ids, routerCfg);
        routing.push({ experts: st.experts, baselineExperts: st.baselineExperts, massKept: st.massBaseline > 0 ? st.massKept / st.massBaseline : 1, massKeptSum: st.massKept, massBaselineSum: st.massBaseline });
        distinctExperts.push(r.distinct);
        // each active expert on its tokens, then the weighted sum in (token, slot) order
        const per = new Map<number, number[]>();
        for (let i = 0; i < r.ids.length; i++) {
          const e = r.ids[i];
          if (e === 0xffffffff) continue;
          if (!per.has(e)) per.set(e, []);
          per.get(e)!.push(i);
        }
        const slotOut = new Map<number, Float32Array>();
        for (const [e, slots] of per) {
          const toks = [...new Set(slots.map((i) => Math.floor(i / K)))];
          const X = new Float32Array(toks.length * H);
          toks.forEach((t, j) => X.set(h2.subarray(t * H, (t + 1) * H), j * H));
          const Y = swigluRows(X, toks.length, H, L.experts![e], spec.moeIntermediate);
          for (const i of slots) {
            const j = toks.indexOf(Math.floor(i / K));
            slotOut.set(i, Y.subarray(j * H, (j + 1) * H));
          }
        }
        for (let i = 0; i < r.ids.length; i++) {
          const yo = slotOut.get(i);
          if (!yo) continue;
          const t = Math.floor(i / K);
          const w = r.weights[i];
          for (let c = 0; c < H; c++) y[t * H + c] += w * yo[c];
        }
        if (L.shared) {
          const sh = swigluRows(h2, T, H, L.shared, L.shared.gate.length / H);
          const g1 = linearRows(h2, T, H, L.shared.gate1!, 1);
          for (let t = 0; t < T; t++) {
            const g = 1 / (1 + Math.exp(-g1[t]));
            for (let c = 0; c < H; c++) y[t * H + c] += g * sh[t * H + c];
          }
        }
      }
      for (let i = 0; i < T * H; i++) x[i] += y[i] * spec.residualMultiplier;
    }
    // rows that get logits
    const rows: number[] = [];
    const rowsPerSeq: number[] = [];
    let off = 0;
    for (const q of req.seqs) {
      if (mode === 'all') for (let i = 0; i < q.tokens.length; i++) rows.push(off + i);
      else rows.push(off + q.tokens.length - 1);
      rowsPerSeq.push(mode === 'all' ? q.tokens.length : 1);
      off += q.tokens.length;
    }
    const R = rows.length;
    const xs = new Float32Array(R * H);
    rows.forEach((t, j) => xs.set(x.subarray(t * H, (t + 1) * H), j * H));
    const logitsAll = linearRows(normRows(xs, R, H, W.finalNorm, eps), R, H, W.lmHead, V);
    if (spec.logitScale !== 1) for (let i = 0; i < logitsAll.length; i++) logitsAll[i] *= spec.logitScale;
    const next: number[] = [];
    const logits: Float32Array[] = [];
    let r0 = 0;
    for (const n of rowsPerSeq) {
      const last = logitsAll.subarray((r0 + n - 1) * V, (r0 + n) * V);
      let b = 0;
      for (let i = 1; i < V; i++) if (last[i] > last[b]) b = i;
      next.push(b);
      logits.push(logitsAll.subarray(r0 * V, (r0 + n) * V));
      r0 += n;
    }
    return { next, logits: mode === 'none' ? undefined : logits, distinctExperts, routing };
  }
}
