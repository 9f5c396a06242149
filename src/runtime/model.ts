/**
 * MoeModel: a checkpoint on the GPU plus a KV cache, and the forward pass of one step for a batch of
 * sequences (prefill chunks and decode tokens mixed). The whole step is encoded into one compute pass
 * and read back once: next ids per sequence and, when asked, logits.
 *
 *   embed -> per layer: RMSNorm -> q,k,v (+bias) -> qk-norm -> RoPE -> KV write -> attention -> O-proj
 *   + residual -> RMSNorm -> router -> routing policy + grouped experts (+ shared expert) + residual
 *   -> gather each sequence's last row (or all rows) -> final RMSNorm -> LM head -> argmax
 */
import type { Gpu } from '../gpu/context.ts';
import { Usage, createStorage } from '../gpu/buffers.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFiles, type LoadProgress } from '../format/checkpoint.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { encodeMatmul, type MatmulWeight, type WeightFormat } from '../kernels/matmul.ts';
import { encodeRmsNorm } from '../kernels/rmsnorm.ts';
import { encodeEmbedding } from '../kernels/embedding.ts';
import { encodeSiluMul } from '../kernels/activations.ts';
import { encodeAdd, encodeClamp, encodeGatedAdd, encodeGatherRows } from '../kernels/elementwise.ts';
import { createMoeWorkspace, encodeMoeLayer, type MoeWorkspace } from '../kernels/moe_ffn.ts';
import { ROUTE_STATS_WORDS, decodeRouteStats, encodeMoeRouteStats, type GpuPolicy as GpuPolicy_ } from '../kernels/moe_router.ts';
import type { Policy, PolicyConfig, RouterMode } from '../routing/types.ts';
import { resolvePolicy } from '../routing/resolve.ts';
import { loadCalibration, type Calibration } from '../routing/calibration.ts';
import { uploadWeights, type GpuFfn, type GpuWeights } from './weights.ts';
import { KvCache } from './kv_cache.ts';
import { encodeRope, type RopeState } from '../kernels/rope.ts';
import { encodeAttention, encodeKvWrite } from '../kernels/attention.ts';
import { encodeArgmax } from '../kernels/sampling.ts';
import { sampleToken, seededRandom } from './sampling.ts';

export type { Policy } from '../routing/types.ts';
/** @deprecated the policy type is `Policy` (plain JSON); kept so existing callers compile. */
export type GpuPolicy = Policy;

export interface LoadOptions {
  /** Weight storage on the GPU (default 'f32'); f16/bf16/f32 checkpoints are converted on load. */
  weightFormat?: WeightFormat;
  /** Sequences that can hold KV cache at once (default 4). */
  maxSeqs?: number;
  /** Tokens per sequence (default min(max_position_embeddings, 512)). */
  maxContext?: number;
  /** Tokens one forward step may carry, all sequences together (default 256). */
  maxBatchTokens?: number;
  /** Default routing policy of every step (default baseline top-k, HF semantics). */
  policy?: Policy;
  /**
   * The calibration calibrated policies need (sere, alloc, auto, mass with reroute 'similar'). load() reads
   * the model folder's calibration.safetensors when this is undefined; null = none.
   */
  calibration?: Calibration | null;
  /** Weight bytes read from the checkpoint so far, after each tensor (or expert slice). */
  onProgress?: (p: LoadProgress) => void;
}

export interface StepSequence {
  /** From createSequence(); its cache grows by tokens.length. */
  id: number;
  tokens: number[];
}

export interface StepRequest {
  seqs: StepSequence[];
  /** 'last' (default: logits of each sequence's last new token), 'all' (every new token), 'none'. */
  logits?: 'none' | 'last' | 'all';
  policy?: Policy;
}

/** One MoE layer's routing in a step (from the step's single read-back; dense layers: empty sets, mass 1). */
export interface LayerRouting {
  /** Experts the step's policy used, ascending. */
  experts: number[];
  /** Experts the baseline top-k would have used in the same step (same router scores), ascending. */
  baselineExperts: number[];
  /** Gating mass kept: sum over tokens of g over each token's (distinct) experts / the same over its baseline top-k. */
  massKept: number;
  /** The two sums (massKept = kept / baseline), for averaging over steps. */
  massKeptSum: number;
  massBaselineSum: number;
}

export interface StepResult {
  /** Greedy next id per sequence (argmax at its last new token). */
  next: number[];
  /** Per sequence: [V] ('last') or [n, V] flattened ('all'); absent with logits 'none'. */
  logits?: Float32Array[];
  /** Distinct experts the whole batch used, per layer (0 for dense layers): the MoE memory-traffic metric. */
  distinctExperts: number[];
  /** Per layer: the policy's and the baseline's expert sets of this step and the gating mass kept. */
  routing: LayerRouting[];
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0 (default) = greedy on the GPU; > 0 samples on the CPU from the read-back logits. */
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Stop after emitting one of these ids (default: the config's eos ids). */
  stopIds?: number[];
  /** Called with each new id; return false to stop. */
  onToken?: (id: number) => void | boolean;
  policy?: Policy;
}

interface Scratch {
  ids: GPUBuffer; // u32 [T]
  seqIds: GPUBuffer; // u32 [T] KV-cache sequence of each token
  positions: GPUBuffer; // u32 [T]
  seqStart: GPUBuffer; // u32 [maxSeqs] first cache slot of each sequence (constant)
  rows: GPUBuffer; // u32 [R] rows that get logits
  x: GPUBuffer; // residual stream [T, H]
  h: GPUBuffer; // normed [T, H]
  tmp: GPUBuffer; // [T, H]
  q: GPUBuffer;
  q2: GPUBuffer;
  k: GPUBuffer;
  k2: GPUBuffer;
  v: GPUBuffer;
  att: GPUBuffer;
  f1: GPUBuffer; // [T, maxI]
  f2: GPUBuffer;
  f3: GPUBuffer;
  routerLogits: GPUBuffer; // [T, E]
  gate1: GPUBuffer; // [T]
  xs: GPUBuffer; // gathered rows [T, H]
  xsn: GPUBuffer;
  logits: GPUBuffer; // [T, V]
  next: GPUBuffer; // u32 [T]
  readback: GPUBuffer; // MAP_READ
  counters: GPUBuffer;
  routeStats: GPUBuffer; // u32 [L, ROUTE_STATS_WORDS]
}

const routerMode = (s: MoeModelSpec): RouterMode => (s.router === 'topk_softmax' ? 'topk_softmax' : 'softmax');

export class MoeModel {
  readonly kv: KvCache;
  private readonly ws: MoeWorkspace | null;
  private readonly s: Scratch;
  private busy: Promise<unknown> = Promise.resolve();
  private readonly rope: RopeState;

  private constructor(
    readonly gpu: Gpu,
    readonly spec: MoeModelSpec,
    readonly weights: GpuWeights,
    readonly maxBatchTokens: number,
    readonly maxContext: number,
    readonly maxSeqs: number,
    readonly policy: Policy,
    private calibration: Calibration | null,
  ) {
    const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, vocabSize: V } = spec;
    const T = maxBatchTokens;
    this.kv = new KvCache(gpu, spec.layers, maxSeqs, maxContext, nkv * hd);
    const maxI = Math.max(
      spec.moeIntermediate,
      ...spec.layerRefs.map((r) => Math.max(r.dense?.gate.shape[0] ?? 0, r.shared?.gate.shape[0] ?? 0)),
    );
    const b = (n: number, label: string) => createStorage(gpu.device, Math.max(16, n * 4), `step.${label}`);
    this.s = {
      ids: b(T, 'ids'),
      seqIds: b(T, 'seqIds'),
      positions: b(T, 'positions'),
      seqStart: createStorage(gpu.device, Uint32Array.from({ length: maxSeqs }, (_, i) => this.kv.base0(i)), 'step.seqStart'),
      rows: b(T, 'rows'),
      x: b(T * H, 'x'),
      h: b(T * H, 'h'),
      tmp: b(T * H, 'tmp'),
      q: b(T * nh * hd, 'q'),
      q2: b(T * nh * hd, 'q2'),
      k: b(T * nkv * hd, 'k'),
      k2: b(T * nkv * hd, 'k2'),
      v: b(T * nkv * hd, 'v'),
      att: b(T * nh * hd, 'att'),
      f1: b(T * maxI, 'f1'),
      f2: b(T * maxI, 'f2'),
      f3: b(T * maxI, 'f3'),
      routerLogits: b(T * Math.max(1, spec.numExperts), 'routerLogits'),
      gate1: b(T, 'gate1'),
      xs: b(T * H, 'xs'),
      xsn: b(T * H, 'xsn'),
      // sized for one row per sequence; grown on demand by steps that want logits at every position
      logits: b(maxSeqs * V, 'logits'),
      next: b(T, 'next'),
      readback: this.readbackBuffer(maxSeqs),
      counters: b(Math.max(1, spec.layers), 'counters'),
      routeStats: b(spec.layers * ROUTE_STATS_WORDS, 'routeStats'),
    };
    this.ws = spec.layerKinds.includes('moe')
      ? createMoeWorkspace(gpu, { maxTokens: T, E: spec.numExperts, k: spec.topK, H, I: spec.moeIntermediate })
      : null;
    this.rope = { invFreq: weights.invFreq, attentionScaling: spec.rope.attentionFactor, headDim: hd, rotDim: hd };
  }

  /** Host-visible buffer for a step's results with `rows` logit rows: next ids, counters, logits. */
  private readbackBuffer(rows: number): GPUBuffer {
    const bytes = Math.max(this.maxBatchTokens, rows) * 4 + this.spec.layers * 4 * (1 + ROUTE_STATS_WORDS) + rows * this.spec.vocabSize * 4;
    return this.gpu.device.createBuffer({ size: Math.max(16, bytes), usage: Usage.MAP_READ | Usage.COPY_DST, label: 'step.readback' });
  }

  /** Make room for `rows` rows of logits (steps with logits 'all' over many tokens). */
  private ensureLogitRows(rows: number): void {
    const V = this.spec.vocabSize;
    if (this.s.logits.size >= rows * V * 4) return;
    this.s.logits.destroy();
    this.s.readback.destroy();
    this.s.logits = createStorage(this.gpu.device, rows * V * 4, 'step.logits');
    this.s.readback = this.readbackBuffer(rows);
  }

  /** Open the checkpoint, check every tensor against config.json, upload the weights. */
  static async load(files: CheckpointFiles, gpu: Gpu, opts: LoadOptions = {}): Promise<MoeModel> {
    const ckpt = await openCheckpoint(files);
    try {
      const spec = await resolveSpec(ckpt);
      const calibration = opts.calibration !== undefined ? opts.calibration : await loadCalibration(files, { layers: spec.layers, E: spec.numExperts });
      return await MoeModel.fromCheckpoint(ckpt, spec, gpu, { ...opts, calibration });
    } finally {
      await ckpt.close();
    }
  }

  /** Upload an already opened and checked checkpoint (see resolveSpec); the caller closes it. */
  static async fromCheckpoint(ckpt: Checkpoint, spec: MoeModelSpec, gpu: Gpu, opts: LoadOptions = {}): Promise<MoeModel> {
    const weights = await uploadWeights(gpu, ckpt, spec, opts.weightFormat ?? 'f32', opts.onProgress);
    const maxContext = Math.min(opts.maxContext ?? 512, spec.maxPositions);
    const model = new MoeModel(gpu, spec, weights, opts.maxBatchTokens ?? 256, maxContext, opts.maxSeqs ?? 4, opts.policy ?? { kind: 'baseline' }, opts.calibration ?? null);
    try {
      model.resolve(model.policy); // a bad default policy fails at load, not at the first step
    } catch (e) {
      model.destroy();
      throw e;
    }
    return model;
  }

  private resolved = new Map<string, (GpuPolicy_ | null)[]>();
  private simBuffers = new Map<Float32Array, GPUBuffer>();

  /** Replace the calibration (e.g. after `webmoe calibrate`); policies resolve again on their next step. */
  setCalibration(c: Calibration | null): void {
    this.calibration = c;
    this.resolved.clear();
    for (const b of this.simBuffers.values()) b.destroy();
    this.simBuffers.clear();
  }

  getCalibration(): Calibration | null {
    return this.calibration;
  }

  /** Per-layer kernel policies of a JSON policy (cached by its JSON; similarity matrices uploaded once). */
  resolve(policy: Policy): (GpuPolicy_ | null)[] {
    const key = JSON.stringify(policy);
    let r = this.resolved.get(key);
    if (r) return r;
    const spec = this.spec;
    const cfg = resolvePolicy(policy, { isMoe: spec.layerKinds.map((k) => k === 'moe'), topK: spec.topK, E: spec.numExperts, calibration: this.calibration });
    const sim = (m: Float32Array) => {
      let b = this.simBuffers.get(m);
      if (!b) this.simBuffers.set(m, (b = createStorage(this.gpu.device, m, 'calibration.similarity')));
      return b;
    };
    r = cfg.map((c: PolicyConfig | null): GpuPolicy_ | null => {
      if (!c) return null;
      if (c.kind === 'sere') return { ...c, similarity: sim(c.similarity) };
      if (c.kind === 'mass') return { ...c, similarity: c.similarity ? sim(c.similarity) : undefined };
      return c as GpuPolicy_;
    });
    if (this.resolved.size > 64) this.resolved.clear();
    this.resolved.set(key, r);
    return r;
  }

  /** A new empty sequence (a KV-cache region); free it with freeSequence. */
  createSequence(): number {
    return this.kv.allocate();
  }

  freeSequence(id: number): void {
    this.kv.free(id);
  }

  /** Tokens already in the sequence's cache. */
  sequenceLength(id: number): number {
    return this.kv.length(id);
  }

  /** One step for a batch of sequences; steps are serialised (one at a time on the device). */
  forward(req: StepRequest): Promise<StepResult> {
    const run = this.busy.then(() => this.step(req));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async step(req: StepRequest): Promise<StepResult> {
    const { gpu, spec, s } = this;
    const W = this.weights;
    const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, vocabSize: V } = spec;
    const mode = req.logits ?? 'last';
    // Flatten the batch: token rows with their sequence and position, and the rows that get logits.
    const ids: number[] = [];
    const seqIds: number[] = [];
    const positions: number[] = [];
    const rows: number[] = [];
    const rowsPerSeq: number[] = [];
    const seen = new Set<number>();
    for (const q of req.seqs) {
      if (seen.has(q.id)) throw new Error(`webmoe: sequence ${q.id} appears twice in one step`);
      seen.add(q.id);
      if (q.tokens.length === 0) throw new Error(`webmoe: sequence ${q.id} has no tokens in this step`);
      const start = this.kv.length(q.id);
      if (start + q.tokens.length > this.maxContext) {
        throw new Error(`webmoe: sequence ${q.id} would hold ${start + q.tokens.length} tokens, more than maxContext ${this.maxContext}`);
      }
      q.tokens.forEach((tok, i) => {
        if (!Number.isInteger(tok) || tok < 0 || tok >= V) throw new Error(`webmoe: token id ${tok} out of range [0, ${V})`);
        if (mode === 'all') rows.push(ids.length);
        ids.push(tok);
        seqIds.push(q.id);
        positions.push(start + i);
      });
      if (mode !== 'all') rows.push(ids.length - 1);
      rowsPerSeq.push(mode === 'all' ? q.tokens.length : 1);
    }
    const T = ids.length;
    if (T === 0) return { next: [], logits: mode === 'none' ? undefined : [], distinctExperts: [], routing: [] };
    if (T > this.maxBatchTokens) throw new Error(`webmoe: step has ${T} tokens, more than maxBatchTokens ${this.maxBatchTokens}`);
    const R = rows.length;
    this.ensureLogitRows(R);
    const dev = gpu.device;
    gpu.assertAlive();
    dev.queue.writeBuffer(s.ids, 0, new Uint32Array(ids));
    dev.queue.writeBuffer(s.seqIds, 0, new Uint32Array(seqIds));
    dev.queue.writeBuffer(s.positions, 0, new Uint32Array(positions));
    dev.queue.writeBuffer(s.rows, 0, new Uint32Array(rows));
    const layerPolicy = this.resolve(req.policy ?? this.policy);

    // A validation error (a kernel bug, a limit exceeded) must fail the step, not return zeros.
    dev.pushErrorScope('validation');
    const enc = dev.createCommandEncoder({ label: 'step' });
    const pass = enc.beginComputePass({ label: 'step' });
    const mm = (x: GPUBuffer, w: MatmulWeight, out: GPUBuffer, bias?: GPUBuffer, accumulate = false) =>
      encodeMatmul(gpu, pass, { x, w, out, t: T, bias, accumulate });
    // out-projection-like branch output in `y` [T, H] added to the residual stream with the multiplier
    const addResidual = (y: GPUBuffer) => encodeAdd(gpu, pass, { x: s.x, y, n: T * H, scale: spec.residualMultiplier });
    const swiglu = (f: GpuFfn, out: GPUBuffer, accumulate = false) => {
      const I = f.gate.n;
      mm(s.h, f.gate, s.f1);
      mm(s.h, f.up, s.f2);
      encodeSiluMul(gpu, pass, { gate: s.f1, up: s.f2, out: s.f3, tokens: T, inter: I });
      mm(s.f3, f.down, out, undefined, accumulate);
    };

    encodeEmbedding(gpu, pass, { ids: s.ids, table: W.embed, out: s.x, tokens: T, dim: H, vocab: V, scale: spec.embeddingMultiplier, format: W.embedFormat });
    for (let l = 0; l < spec.layers; l++) {
      const L = W.layers[l];
      // attention
      encodeRmsNorm(gpu, pass, { x: s.x, weight: L.attnNorm, out: s.h, rows: T, dim: H, eps: spec.eps });
      mm(s.h, L.q, s.q, L.qBias);
      mm(s.h, L.k, s.k, L.kBias);
      mm(s.h, L.v, s.v, L.vBias);
      let q = s.q;
      let k = s.k;
      if (spec.qkNorm !== 'none') {
        const perHead = spec.qkNorm === 'per_head';
        encodeRmsNorm(gpu, pass, { x: s.q, weight: L.qNorm!, out: s.q2, rows: perHead ? T * nh : T, dim: perHead ? hd : nh * hd, eps: spec.eps });
        encodeRmsNorm(gpu, pass, { x: s.k, weight: L.kNorm!, out: s.k2, rows: perHead ? T * nkv : T, dim: perHead ? hd : nkv * hd, eps: spec.eps });
        q = s.q2;
        k = s.k2;
      }
      if (spec.clipQkv !== null) {
        encodeClamp(gpu, pass, { x: q, n: T * nh * hd, c: spec.clipQkv });
        encodeClamp(gpu, pass, { x: k, n: T * nkv * hd, c: spec.clipQkv });
        encodeClamp(gpu, pass, { x: s.v, n: T * nkv * hd, c: spec.clipQkv });
      }
      const batch = { seqIds: s.seqIds, positions: s.positions, seqStart: s.seqStart };
      encodeRope(gpu, pass, { rope: this.rope, q, k, positions: s.positions, tokens: T, nHeads: nh, nKvHeads: nkv });
      const cache = this.kv.layer(l);
      encodeKvWrite(gpu, pass, { ...batch, k, v: s.v, kCache: cache.k, vCache: cache.v, tokens: T, nKvHeads: nkv, headDim: hd, maxSlots: this.kv.slots });
      encodeAttention(gpu, pass, {
        ...batch, q, kCache: cache.k, vCache: cache.v, out: s.att, tokens: T, nHeads: nh, nKvHeads: nkv, headDim: hd, scale: spec.attnScale,
        window: spec.slidingWindow ?? 0,
      });
      if (spec.residualMultiplier === 1) mm(s.att, L.o, s.x, L.oBias, true);
      else {
        mm(s.att, L.o, s.tmp, L.oBias);
        addResidual(s.tmp);
      }
      // feed-forward
      encodeRmsNorm(gpu, pass, { x: s.x, weight: L.mlpNorm, out: s.h, rows: T, dim: H, eps: spec.eps });
      if (L.experts) {
        mm(s.h, L.router!, s.routerLogits);
        const e = L.experts;
        encodeMoeLayer(gpu, pass, {
          ws: this.ws!, logits: s.routerLogits, x: s.h, out: s.x, accumulate: true,
          gateUp: e.gateUp, down: e.down, gateUpScales: e.gateUpScales, downScales: e.downScales, format: W.format, group: 32,
          T, mode: routerMode(spec), normTopk: spec.router === 'softmax_topk_renorm', scale: spec.residualMultiplier,
          policy: layerPolicy[l] ?? { kind: 'baseline' }, counters: s.counters, counterIndex: l,
        });
        encodeMoeRouteStats(gpu, pass, { scores: this.ws!.scores, ids: this.ws!.ids, stats: s.routeStats, index: l, T, E: spec.numExperts, kMax: spec.topK });
        if (L.shared) {
          swiglu(L.shared, s.tmp);
          mm(s.h, L.shared.gate1, s.gate1);
          encodeGatedAdd(gpu, pass, { x: s.x, y: s.tmp, gate: s.gate1, T, dim: H, scale: spec.residualMultiplier });
        }
      } else if (spec.residualMultiplier === 1) {
        swiglu(L.dense!, s.x, true);
      } else {
        swiglu(L.dense!, s.tmp);
        addResidual(s.tmp);
      }
    }
    // logits only for the rows asked for
    encodeGatherRows(gpu, pass, { x: s.x, rows: s.rows, out: s.xs, R, dim: H });
    encodeRmsNorm(gpu, pass, { x: s.xs, weight: W.finalNorm, out: s.xsn, rows: R, dim: H, eps: spec.eps });
    encodeMatmul(gpu, pass, { x: s.xsn, w: W.lmHead, out: s.logits, t: R });
    encodeArgmax(gpu, pass, { logits: s.logits, out: s.next, rows: R, vocab: V });
    pass.end();
    const wantLogits = mode !== 'none';
    // read-back layout: next ids [R] u32, distinct experts per layer [L] u32, route stats [L, ROUTE_STATS_WORDS],
    // logits [R, V] f32
    const L = spec.layers;
    const SW = L * ROUTE_STATS_WORDS;
    enc.copyBufferToBuffer(s.next, 0, s.readback, 0, R * 4);
    enc.copyBufferToBuffer(s.counters, 0, s.readback, R * 4, L * 4);
    enc.copyBufferToBuffer(s.routeStats, 0, s.readback, (R + L) * 4, SW * 4);
    if (wantLogits) enc.copyBufferToBuffer(s.logits, 0, s.readback, (R + L + SW) * 4, R * V * 4);
    dev.queue.submit([enc.finish()]);
    const err = await dev.popErrorScope();
    if (err) throw new Error(`webmoe: GPU validation error in the forward step: ${err.message.split('\n')[0]}`);
    for (const q of req.seqs) this.kv.advance(q.id, q.tokens.length);

    await s.readback.mapAsync(1 /* GPUMapMode.READ */);
    try {
      const data = s.readback.getMappedRange();
      const nextAll = new Uint32Array(data, 0, R).slice();
      const distinctExperts = Array.from(new Uint32Array(data, R * 4, L)).map((d, l) => (spec.layerKinds[l] === 'moe' ? d : 0));
      const statsAll = new Uint32Array(data, (R + L) * 4, SW);
      const routing: LayerRouting[] = spec.layerKinds.map((kind, l) => {
        if (kind !== 'moe') return { experts: [], baselineExperts: [], massKept: 1, massKeptSum: 0, massBaselineSum: 0 };
        const st = decodeRouteStats(statsAll.subarray(l * ROUTE_STATS_WORDS, (l + 1) * ROUTE_STATS_WORDS), spec.numExperts);
        return { experts: st.experts, baselineExperts: st.baselineExperts, massKept: st.massBaseline > 0 ? st.massKept / st.massBaseline : 1, massKeptSum: st.massKept, massBaselineSum: st.massBaseline };
      });
      const logitsAll = wantLogits ? new Float32Array(data, (R + L + SW) * 4, R * V).slice() : null;
      const next: number[] = [];
      const logits: Float32Array[] = [];
      let r = 0;
      for (const n of rowsPerSeq) {
        next.push(nextAll[r + n - 1]);
        if (logitsAll) logits.push(logitsAll.subarray(r * V, (r + n) * V));
        r += n;
      }
      if (spec.logitScale !== 1 && logitsAll) for (let i = 0; i < logitsAll.length; i++) logitsAll[i] *= spec.logitScale;
      return { next, logits: logitsAll ? logits : undefined, distinctExperts, routing };
    } finally {
      s.readback.unmap();
    }
  }

  /**
   * Generate up to opts.maxTokens ids after `prompt` in a fresh sequence (prefill in chunks of
   * maxBatchTokens, then one token per step). Returns the generated ids.
   */
  async generate(prompt: number[], opts: GenerateOptions): Promise<number[]> {
    if (prompt.length === 0) throw new Error('webmoe: generate needs at least one prompt token');
    const temp = opts.temperature ?? 0;
    const rand = seededRandom(opts.seed ?? 0);
    const stop = new Set(opts.stopIds ?? this.spec.eosTokenIds);
    const id = this.createSequence();
    const out: number[] = [];
    try {
      let pending = prompt;
      while (out.length < opts.maxTokens) {
        const chunk = pending.slice(0, this.maxBatchTokens);
        pending = pending.slice(chunk.length);
        const last = pending.length === 0;
        const res = await this.forward({ seqs: [{ id, tokens: chunk }], logits: last && temp > 0 ? 'last' : 'none', policy: opts.policy });
        if (!last) continue;
        const tok = temp > 0 ? sampleToken(res.logits![0], temp, opts.topP ?? 1, rand) : res.next[0];
        out.push(tok);
        if (opts.onToken?.(tok) === false || stop.has(tok)) break;
        if (this.kv.length(id) >= this.maxContext) break;
        pending = [tok];
      }
      return out;
    } finally {
      this.freeSequence(id);
    }
  }

  destroy(): void {
    this.weights.destroy();
    this.kv.destroy();
    this.ws?.destroy();
    for (const b of Object.values(this.s)) (b as GPUBuffer).destroy();
    for (const b of this.simBuffers.values()) b.destroy();
  }
}


