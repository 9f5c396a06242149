/**
 * MoeModel: a checkpoint on the GPU plus a KV cache, and the forward pass of one step for a batch of
 * sequences (prefill chunks and decode tokens mixed). The whole step is encoded into one compute pass,
 * submitted as one command buffer and read back once: next ids per sequence and, when asked, logits.
 *
 *   embed -> per layer: attention block (blocks.ts) -> FFN / MoE block -> head on the rows that get logits
 *
 * The jobs live in their own modules: batch.ts (flattening and checks), scratch.ts (step buffers),
 * blocks.ts (encoders), readback.ts (result layout), weights.ts (upload), kv_cache.ts.
 */
import type { Gpu } from '../gpu/context.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFiles, type ReadProgress } from '../format/checkpoint.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { createMoeWorkspace, writeRouteMask, type MoeWorkspace } from '../kernels/moe_ffn.ts';
import { createStorage } from '../gpu/buffers.ts';
import type { GpuPolicy as LayerGpuPolicy } from '../kernels/moe_router.ts';
import { ropeState, type RopeState } from '../kernels/rope.ts';
import type { Policy, PolicyConfig } from '../routing/types.ts';
import { resolvePolicy } from '../routing/resolve.ts';
import { tokenScope } from '../routing/scope.ts';
import { loadCalibration, type Calibration } from '../routing/calibration.ts';
import { setKernelStyle, type KernelStyle } from '../kernels/variants.ts';
import { measureKernelStyle } from '../kernels/tune.ts';
import { formatBytes, planWeights, uploadWeights, weightLimits, type GpuWeights } from './weights.ts';
import { KvCache } from './kv_cache.ts';
import { flattenBatch, type ForwardSequence, type LogitRows } from './batch.ts';
import { StepScratch } from './scratch.ts';
import { encodeAttentionBlock, encodeEmbed, encodeFfnBlock, encodeHead, type StepContext } from './blocks.ts';
import { decodeReadback, encodeReadback, type ForwardResult } from './readback.ts';

export type { Policy } from '../routing/types.ts';
/** @deprecated the policy type is `Policy` (plain JSON, src/routing/types.ts); kept so existing callers compile. */
export type GpuPolicy = Policy;
export type { ForwardSequence, LogitRows } from './batch.ts';
export type { ForwardResult, LayerRouting } from './readback.ts';

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
   * The calibration calibrated policies need (sere, alloc, auto, mass with reroute 'similar'). fromCheckpoint reads
   * the model folder's calibration.safetensors when this is undefined; null = none.
   */
  calibration?: Calibration | null;
  /** Weight bytes read from the checkpoint so far, after each tensor (or expert slice). */
  onProgress?: (p: ReadProgress) => void;
  /**
   * GPU memory the model may use, in bytes (weights + KV cache): a model that needs more is refused
   * before anything is allocated. Default: no budget beyond the device's own limits.
   */
  memoryBudget?: number;
  /** Treat the device's storage-binding limit as this many bytes at most (tests exercise splitting with it). */
  maxBindingBytes?: number;
  /**
   * Kernel family for this device (src/kernels/variants.ts): 'auto' (default) follows the adapter
   * (register-blocked kernels on CPU emulators, workgroup-memory kernels on GPUs), 'measure' times both
   * once and keeps the faster, or force 'blocked' / 'lanes'.
   */
  kernels?: KernelStyle | 'auto' | 'measure';
}

export interface ForwardRequest {
  seqs: ForwardSequence[];
  /** 'last' (default: logits of each sequence's last new token), 'all' (every new token), 'none'. */
  logits?: LogitRows;
  policy?: Policy;
  /**
   * Benchmarks: open the step's compute pass on `enc` (default: one plain pass). bench/lib/profile.ts
   * passes a splitter that gives each dispatch its own timestamped pass, to time the step per op family.
   */
  beginPass?: (enc: GPUCommandEncoder) => GPUComputePassEncoder;
}

export class MoeModel {
  readonly kv: KvCache;
  private readonly ws: MoeWorkspace | null;
  private readonly s: StepScratch;
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
    const { hidden: H, headDim: hd } = spec;
    const T = maxBatchTokens;
    this.kv = new KvCache(gpu, spec.layers, maxSeqs, maxContext, spec.kvHeads * hd);
    const seqStart = Uint32Array.from({ length: maxSeqs }, (_, i) => this.kv.base0(i));
    this.s = new StepScratch(gpu, spec, { maxTokens: T, maxSeqs, seqStart });
    this.ws = spec.layerKinds.includes('moe')
      ? createMoeWorkspace(gpu, { maxTokens: T, E: spec.numExperts, k: spec.topK, H, I: spec.moeIntermediate })
      : null;
    this.rope = ropeState(spec.rope, hd);
  }

  /** Open the checkpoint, check every tensor against config.json, upload the weights. */
  static async load(files: CheckpointFiles, gpu: Gpu, opts: LoadOptions = {}): Promise<MoeModel> {
    const ckpt = await openCheckpoint(files);
    try {
      return await MoeModel.fromCheckpoint(ckpt, await resolveSpec(ckpt), gpu, opts);
    } finally {
      await ckpt.close();
    }
  }

  /** Upload an already opened and checked checkpoint (see resolveSpec); the caller closes it. */
  static async fromCheckpoint(ckpt: Checkpoint, spec: MoeModelSpec, gpu: Gpu, opts: LoadOptions = {}): Promise<MoeModel> {
    const format = opts.weightFormat ?? 'f32';
    const maxContext = Math.min(opts.maxContext ?? 512, spec.maxPositions);
    const maxSeqs = opts.maxSeqs ?? 4;
    // Everything that must fit is checked before the first allocation.
    const limits = weightLimits(gpu, opts.maxBindingBytes);
    const plan = planWeights(spec, format, limits);
    const kvLayer = KvCache.bytesPerLayer(maxSeqs, maxContext, spec.kvHeads * spec.headDim);
    if (kvLayer > limits.binding) {
      throw new Error(`webmoe: KV cache of ${maxSeqs} sequences x ${maxContext} tokens needs ${formatBytes(kvLayer)} per layer, over the device's binding limit of ${formatBytes(limits.binding)}; lower maxSeqs or maxContext`);
    }
    const need = plan.bytes + 2 * spec.layers * kvLayer;
    if (opts.memoryBudget !== undefined && need > opts.memoryBudget) {
      throw new Error(`webmoe: the model needs ${formatBytes(need)} of GPU memory (weights ${formatBytes(plan.bytes)} as ${format}, KV cache ${formatBytes(2 * spec.layers * kvLayer)}), over the memory budget of ${formatBytes(opts.memoryBudget)}; try a smaller weight format, maxSeqs or maxContext`);
    }
    if (opts.kernels === 'measure') await measureKernelStyle(gpu);
    else if (opts.kernels) setKernelStyle(gpu, opts.kernels);
    // The one place the folder's calibration.safetensors is read (library, Worker, CLI alike).
    const calibration = opts.calibration !== undefined ? opts.calibration : await loadCalibration(ckpt.files, { layers: spec.layers, E: spec.numExperts });
    const weights = await uploadWeights(gpu, ckpt, spec, format, plan, opts.onProgress);
    const model = new MoeModel(gpu, spec, weights, opts.maxBatchTokens ?? 256, maxContext, maxSeqs, opts.policy ?? { kind: 'baseline' }, calibration);
    try {
      model.resolve(model.policy); // a bad default policy fails at load, not at the first step
    } catch (e) {
      model.destroy();
      throw e;
    }
    return model;
  }

  private readonly resolved = new Map<string, (LayerGpuPolicy | null)[]>();
  private readonly simBuffers = new Map<Float32Array, GPUBuffer>();

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
  resolve(policy: Policy): (LayerGpuPolicy | null)[] {
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
    r = cfg.map((c: PolicyConfig | null): LayerGpuPolicy | null => {
      if (!c) return null;
      if (c.kind === 'sere') return { ...c, similarity: sim(c.similarity) };
      if (c.kind === 'mass') return { ...c, similarity: c.similarity ? sim(c.similarity) : undefined };
      return c as LayerGpuPolicy;
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
  forward(req: ForwardRequest): Promise<ForwardResult> {
    const run = this.busy.then(() => this.step(req));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async step(req: ForwardRequest): Promise<ForwardResult> {
    const { gpu, spec, s } = this;
    const mode = req.logits ?? 'last';
    const batch = flattenBatch(req.seqs, mode, {
      vocabSize: spec.vocabSize, maxContext: this.maxContext, maxBatchTokens: this.maxBatchTokens, lengthOf: (id) => this.kv.length(id),
    });
    const T = batch.ids.length;
    if (T === 0) return { next: [], logits: mode === 'none' ? undefined : [], distinctExperts: [], routing: [] };
    const R = batch.rows.length;
    s.ensureLogitRows(R);
    const dev = gpu.device;
    gpu.assertAlive();
    dev.queue.writeBuffer(s.ids, 0, batch.ids);
    dev.queue.writeBuffer(s.seqIds, 0, batch.seqIds);
    dev.queue.writeBuffer(s.positions, 0, batch.positions);
    dev.queue.writeBuffer(s.rows, 0, batch.rows);
    const policy = req.policy ?? this.policy;
    const layerPolicy = this.resolve(policy);
    const ts = tokenScope(req.seqs, policy);
    const scope = ts && this.ws ? writeRouteMask(gpu, this.ws, ts) : null;
    const wantLogits = mode !== 'none';

    // A validation error (a kernel bug, a limit exceeded) must fail the step, not return zeros.
    dev.pushErrorScope('validation');
    const enc = dev.createCommandEncoder({ label: 'step' });
    const pass = req.beginPass ? req.beginPass(enc) : enc.beginComputePass({ label: 'step' });
    const c: StepContext = { gpu, pass, spec, s, T };
    encodeEmbed(c, this.weights);
    for (let l = 0; l < spec.layers; l++) {
      const L = this.weights.layers[l];
      encodeAttentionBlock(c, L, { rope: this.rope, kv: this.kv, layer: l });
      encodeFfnBlock(c, L, { ws: this.ws, policy: layerPolicy[l] ?? { kind: 'baseline' }, scope, W: this.weights, layer: l });
    }
    encodeHead(c, this.weights, R);
    pass.end();
    encodeReadback(enc, s, R, spec, wantLogits);
    dev.queue.submit([enc.finish()]);
    const err = await dev.popErrorScope();
    if (err) throw new Error(`webmoe: GPU validation error in the forward step: ${err.message.split('\n')[0]}`);

    await s.readback.mapAsync(1 /* GPUMapMode.READ */);
    // Only a completed step grows the caches: a failed one leaves every sequence as it was (retryable).
    for (const q of req.seqs) this.kv.advance(q.id, q.tokens.length);
    try {
      return decodeReadback(s.readback.getMappedRange(), batch.rowsPerSeq, spec, wantLogits);
    } finally {
      s.readback.unmap();
    }
  }

  destroy(): void {
    this.weights.destroy();
    this.kv.destroy();
    this.ws?.destroy();
    this.s.destroy();
    for (const b of this.simBuffers.values()) b.destroy();
  }
}


