/**
 * The plain-TS model behind MoeModel's step interface (forward({seqs, logits, policy})): KV caches laid out
 * as the GPU's (slot = seqStart[seq] + position), every token of a step routed TOGETHER by src/routing's
 * route() (the GPU kernels' reference) under any Policy, routing statistics by routeStats(). Composed from
 * the op references (src/reference/*.ts) in the GPU runtime's order; referenceForward is one step of it.
 * Lockstep decode evaluation and calibration sweeps use it to run fast on a CPU; tests check it against
 * the WebGPU runtime.
 */
import type { MoeModelSpec } from '../models/spec.ts';
import { route, routeStats } from '../routing/policies.ts';
import { resolvePolicy } from '../routing/resolve.ts';
import { tokenScope } from '../routing/scope.ts';
import type { Calibration } from '../routing/calibration.ts';
import { NO_EXPERT, type Policy, type PolicyConfig } from '../routing/types.ts';
import type { ForwardRequest, ForwardResult, LayerRouting } from '../runtime/model.ts';
import { matmulRef } from './matmul.ts';
import { rmsNormRef } from './rmsnorm.ts';
import { ropeRef } from './rope.ts';
import { attentionRef, kvWriteRef } from './attention.ts';
import { addRef, siluMulRef } from './activations.ts';
import { clampRef, gatedAddRef } from './elementwise.ts';
import { embeddingRef } from './embedding.ts';
import type { RefWeights } from './model.ts';

type Ffn = { gate: Float32Array; up: Float32Array; down: Float32Array };

/** down(silu(gate x) * up x) for rows x [T, H]. */
export function swigluRef(x: Float32Array, f: Ffn, T: number, H: number): Float32Array {
  const I = f.gate.length / H;
  return matmulRef(siluMulRef(matmulRef(x, f.gate, T, I, H), matmulRef(x, f.up, T, I, H), T, I), f.down, T, H, I);
}

export interface ReferenceStepOptions {
  maxSeqs?: number;
  maxContext?: number;
  policy?: Policy;
  calibration?: Calibration | null;
  /** Called with each MoE layer's input rows h [T, H] (calibration collects them). */
  onMoeInput?: (layer: number, h: Float32Array, T: number) => void;
}

export class ReferenceStepModel {
  readonly maxBatchTokens = Number.MAX_SAFE_INTEGER;
  readonly maxSeqs: number;
  readonly maxContext: number;
  readonly policy: Policy;
  onMoeInput?: (layer: number, h: Float32Array, T: number) => void;
  private calibration: Calibration | null;
  private readonly kCache: Float32Array[];
  private readonly vCache: Float32Array[];
  private readonly lengths = new Map<number, number>();
  private readonly seqStart: number[];
  private readonly resolved = new Map<string, (PolicyConfig | null)[]>();

  constructor(readonly spec: MoeModelSpec, readonly W: RefWeights, o: ReferenceStepOptions = {}) {
    this.maxSeqs = o.maxSeqs ?? 4;
    this.maxContext = o.maxContext ?? 512;
    this.policy = o.policy ?? { kind: 'baseline' };
    this.calibration = o.calibration ?? null;
    this.onMoeInput = o.onMoeInput;
    const row = spec.kvHeads * spec.headDim;
    this.kCache = spec.layerKinds.map(() => new Float32Array(this.maxSeqs * this.maxContext * row));
    this.vCache = spec.layerKinds.map(() => new Float32Array(this.maxSeqs * this.maxContext * row));
    this.seqStart = Array.from({ length: this.maxSeqs }, (_, i) => i * this.maxContext);
  }

  setCalibration(c: Calibration | null): void {
    this.calibration = c;
    this.resolved.clear();
  }

  createSequence(): number {
    for (let i = 0; i < this.maxSeqs; i++) {
      if (!this.lengths.has(i)) {
        this.lengths.set(i, 0);
        return i;
      }
    }
    throw new Error(`webmoe: all ${this.maxSeqs} sequences are in use`);
  }

  freeSequence(id: number): void {
    this.lengths.delete(id);
  }

  sequenceLength(id: number): number {
    return this.lengths.get(id) ?? 0;
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

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    return this.step(req);
  }

  /** One step (synchronous). */
  step(req: ForwardRequest): ForwardResult {
    const spec = this.spec;
    const W = this.W;
    const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, eps, vocabSize: V } = spec;
    const mode = req.logits ?? 'last';
    const policy = req.policy ?? this.policy;
    const pol = this.resolve(policy);
    const scope = tokenScope(req.seqs, policy);
    const tokens: number[] = [];
    const seqIds: number[] = [];
    const positions: number[] = [];
    for (const q of req.seqs) {
      const len = this.lengths.get(q.id);
      if (len === undefined) throw new Error(`webmoe: sequence ${q.id} does not exist`);
      if (len + q.tokens.length > this.maxContext) throw new Error(`webmoe: sequence ${q.id} would hold ${len + q.tokens.length} tokens, more than maxContext ${this.maxContext}`);
      q.tokens.forEach((tok, i) => {
        if (!(Number.isInteger(tok) && tok >= 0 && tok < V)) throw new Error(`token id ${tok} out of range [0, ${V})`);
        tokens.push(tok);
        seqIds.push(q.id);
        positions.push(len + i);
      });
    }
    const T = tokens.length;
    const rope = spec.rope;
    const addScaled = (x: Float32Array, y: Float32Array) => x.set(addRef(x, y, spec.residualMultiplier));
    const x = embeddingRef(tokens, W.embed, V, H, spec.embeddingMultiplier);
    const routing: LayerRouting[] = [];
    const distinctExperts: number[] = [];
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
      q = ropeRef(q, T, nh, hd, hd, positions, rope);
      k = ropeRef(k, T, nkv, hd, hd, positions, rope);
      kvWriteRef(k, v, this.kCache[l], this.vCache[l], seqIds, positions, this.seqStart, nkv, hd);
      const att = attentionRef(q, this.kCache[l], this.vCache[l], seqIds, positions, this.seqStart, { nHeads: nh, nKvHeads: nkv, headDim: hd }, spec.attnScale, spec.slidingWindow ?? 0);
      addScaled(x, matmulRef(att, L.o, T, H, nh * hd, L.oBias));
      // --- feed-forward ---
      const h2 = rmsNormRef(x, L.mlpNorm, T, H, eps);
      if (L.dense) {
        addScaled(x, swigluRef(h2, L.dense, T, H));
        routing.push({ experts: [], baselineExperts: [], massKept: 1, massKeptSum: 0, massBaselineSum: 0 });
        distinctExperts.push(0);
        continue;
      }
      this.onMoeInput?.(l, h2, T);
      const E = spec.numExperts;
      const logits = matmulRef(h2, L.router!, T, E, H);
      const r = route(logits, T, E, spec.topK, pol[l] ?? { kind: 'baseline' }, spec.router, scope);
      const st = routeStats(logits, T, E, spec.topK, r.ids, spec.router);
      routing.push({ experts: st.experts, baselineExperts: st.baselineExperts, massKept: st.massBaseline > 0 ? st.massKept / st.massBaseline : 1, massKeptSum: st.massKept, massBaselineSum: st.massBaseline });
      distinctExperts.push(r.distinct);
      // each used expert once over its tokens (rows are independent: same values as row by row), then the
      // weighted sum in (token, slot) order
      const rowsOf = new Map<number, number[]>();
      for (let i = 0; i < r.ids.length; i++) {
        const e = r.ids[i];
        if (e === NO_EXPERT) continue;
        const t = Math.floor(i / r.kMax);
        const list = rowsOf.get(e) ?? [];
        if (list[list.length - 1] !== t) list.push(t);
        rowsOf.set(e, list);
      }
      const outOf = new Map<number, { rows: number[]; y: Float32Array }>();
      for (const [e, rows] of rowsOf) {
        const X = new Float32Array(rows.length * H);
        rows.forEach((t, j) => X.set(h2.subarray(t * H, (t + 1) * H), j * H));
        outOf.set(e, { rows, y: swigluRef(X, L.experts![e], rows.length, H) });
      }
      const y = new Float32Array(T * H);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < r.kMax; j++) {
          const e = r.ids[t * r.kMax + j];
          if (e === NO_EXPERT) continue;
          const o = outOf.get(e)!;
          const row = o.rows.indexOf(t);
          const w = r.weights[t * r.kMax + j];
          for (let i = 0; i < H; i++) y[t * H + i] += w * o.y[row * H + i];
        }
      }
      if (L.shared) {
        const gate = matmulRef(h2, L.shared.gate1!, T, 1, H);
        y.set(gatedAddRef(y, swigluRef(h2, L.shared, T, H), gate, H));
      }
      addScaled(x, y);
    }
    for (const q of req.seqs) this.lengths.set(q.id, this.lengths.get(q.id)! + q.tokens.length);
    // logits for the rows asked for
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
    const all = matmulRef(rmsNormRef(xs, W.finalNorm, R, H, eps), W.lmHead, R, V, H);
    for (let i = 0; i < all.length; i++) all[i] *= spec.logitScale;
    const next: number[] = [];
    const logits: Float32Array[] = [];
    let r0 = 0;
    for (const n of rowsPerSeq) {
      const last = all.subarray((r0 + n - 1) * V, (r0 + n) * V);
      let b = 0;
      for (let i = 1; i < V; i++) if (last[i] > last[b]) b = i;
      next.push(b);
      logits.push(all.subarray(r0 * V, (r0 + n) * V));
      r0 += n;
    }
    return { next, logits: mode === 'none' ? undefined : logits, distinctExperts, routing };
  }
}
