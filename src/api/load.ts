// Loading an engine from checkpoint files on a GPU: platform-neutral (the entry points pick the
// files and the GPU for the browser or Node; the CLI comes in at engineFromCheckpoint).
import type { Gpu } from '../gpu/context.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFiles } from '../format/checkpoint.ts';
import { loadTokenizer, promptBos, stopTokenIds, type LoadedTokenizer } from '../format/tokenizer.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { MoeModel, type LoadOptions } from '../runtime/model.ts';
import { KvCache } from '../runtime/kv_cache.ts';
import { expertBytes } from '../runtime/weights.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { LocalEngine, type EngineHooks } from './engine.ts';
import { MoeBatchModel } from './batch-model.ts';
import type { ExpertShape, LoadProgress } from './types.ts';
import type { Policy } from './policy.ts';

export interface EngineOptions {
  /** Weight storage on the GPU: 'f32' (default), 'f16', or int8/int4 quantised on load. */
  weightFormat?: WeightFormat;
  /**
   * Requests decoded together at most (each holds a KV cache). Default: as many as `kvCacheBytes`
   * allows, at most `maxBatchTokens` (the default model: 64). Requests beyond it wait their turn.
   */
  maxSequences?: number;
  /** Memory budget of the KV cache that sizes the default maxSequences. Default 256 MiB. */
  kvCacheBytes?: number;
  /** Tokens per sequence, prompt included. Default min(512, the model's max_position_embeddings). */
  maxContext?: number;
  /** Tokens per batched step (decode tokens + prefill chunks). Default 64. */
  maxBatchTokens?: number;
  /** How long the scheduler waits for more requests before the first step of a burst (ms). Default 0 (one macrotask). */
  batchWindowMs?: number;
  /** Expert routing policy of every step: baseline top-k (default, exact HF semantics), xshare, alloc_t, reduced_topk. */
  policy?: Policy;
  /** GPU bytes the model may use (weights + KV cache); a model that needs more is refused before loading. */
  memoryBudget?: number;
  /** Kernel family: 'auto' (by adapter, default), 'measure' (time both once), 'blocked' or 'lanes'. */
  kernels?: LoadOptions['kernels'];
  /** Calibration for calibrated policies (sere, alloc, auto, mass 'similar'); default none. The CLI reads the model folder's. */
  calibration?: LoadOptions['calibration'];
  /** The model's name in responses (default: the folder name). */
  name?: string;
  onProgress?: (p: LoadProgress) => void;
}

export const DEFAULT_KV_CACHE_BYTES = 256 * 2 ** 20;
export const DEFAULT_MAX_BATCH_TOKENS = 64;
const DEFAULT_MAX_CONTEXT = 512;

/** Bytes of KV cache one sequence of `maxContext` tokens holds (f32 K and V in every layer). */
export function kvBytesPerSequence(spec: Pick<MoeModelSpec, 'layers' | 'kvHeads' | 'headDim'>, maxContext: number): number {
  return 2 * spec.layers * KvCache.bytesPerLayer(1, maxContext, spec.kvHeads * spec.headDim);
}

/** Default concurrency: what the KV budget and the device's per-buffer limit allow, capped at maxBatchTokens. */
export function defaultMaxSequences(
  spec: Pick<MoeModelSpec, 'layers' | 'kvHeads' | 'headDim'>,
  maxContext: number,
  maxBatchTokens: number,
  kvCacheBytes: number,
  maxBindingBytes: number,
): number {
  const byBudget = Math.floor(kvCacheBytes / kvBytesPerSequence(spec, maxContext));
  // One layer's K (or V) buffer of all sequences must fit one storage binding.
  const byBinding = Math.floor(maxBindingBytes / KvCache.bytesPerLayer(1, maxContext, spec.kvHeads * spec.headDim));
  return Math.max(1, Math.min(byBudget, byBinding, maxBatchTokens));
}

/** EngineInfo.experts of a model loaded in `format`. */
export function expertShape(spec: MoeModelSpec, format: WeightFormat): ExpertShape {
  return {
    layers: spec.layers,
    moeLayers: spec.layerKinds.filter((k) => k === 'moe').length,
    perLayer: spec.numExperts,
    topK: spec.topK,
    bytesPerExpert: expertBytes(spec, format),
  };
}

export async function loadEngine(files: CheckpointFiles, gpu: Gpu, opts: EngineOptions = {}, hooks: Pick<EngineHooks, 'onDispose' | 'recreate'> = {}): Promise<LocalEngine> {
  gpu.assertAlive();
  const ckpt = await openCheckpoint(files);
  try {
    const [spec, tokenizer] = await Promise.all([resolveSpec(ckpt), loadTokenizer(files)]);
    return await engineFromCheckpoint(ckpt, spec, tokenizer, gpu, { ...opts, name: opts.name ?? files.name }, hooks);
  } finally {
    await ckpt.close();
  }
}

/**
 * Upload an opened, checked checkpoint (see resolveSpec) and put the engine over it: the one place the
 * library and the CLI get their model, scheduler, bos and stop ids from. The caller closes `ckpt`.
 */
export async function engineFromCheckpoint(
  ckpt: Checkpoint, spec: MoeModelSpec, tokenizer: LoadedTokenizer | null, gpu: Gpu, opts: EngineOptions = {},
  hooks: Pick<EngineHooks, 'onDispose' | 'recreate'> = {},
): Promise<LocalEngine> {
  const maxBatchTokens = opts.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS;
  const onProgress = opts.onProgress;
  const maxContext = Math.min(opts.maxContext ?? DEFAULT_MAX_CONTEXT, spec.maxPositions);
  const maxSeqs =
    opts.maxSequences ??
    defaultMaxSequences(spec, maxContext, maxBatchTokens, opts.kvCacheBytes ?? DEFAULT_KV_CACHE_BYTES, gpu.limits.maxStorageBufferBindingSize);
  const model = await MoeModel.fromCheckpoint(ckpt, spec, gpu, {
    weightFormat: opts.weightFormat,
    maxSeqs,
    maxContext,
    maxBatchTokens,
    policy: opts.policy,
    memoryBudget: opts.memoryBudget,
    kernels: opts.kernels,
    calibration: opts.calibration,
    onProgress: onProgress
      ? (p) => onProgress({ stage: 'weights', file: p.tensor, from: 'local', fileBytes: 0, fileTotal: 0, bytes: p.bytesRead, totalBytes: p.totalBytes, files: 0, totalFiles: 0 })
      : undefined,
  });
  return new LocalEngine(
    new MoeBatchModel(model, stopTokenIds(tokenizer, spec.eosTokenIds), opts.policy),
    tokenizer,
    opts.name ?? ckpt.files.name,
    { maxBatchTokens, batchWindowMs: opts.batchWindowMs, adapter: gpu.describe(), experts: expertShape(model.spec, opts.weightFormat ?? 'f32'), bosTokenId: promptBos(tokenizer, spec.bosTokenId) },
    {
      // Everything the engine made on the device goes: weights, KV cache, step buffers, cached uniforms.
      onDispose: () => {
        model.destroy();
        gpu.releaseCaches();
        hooks.onDispose?.();
      },
      lost: gpu.lost.then(() => gpu.lostError()!),
      recreate: hooks.recreate,
    },
  );
}

/**
 * The entry points' createEngine: on `opts.gpu` (shared: left alive on dispose) or on a device from
 * `newGpu` (owned: destroyed on dispose). The engine can recreate itself the same way.
 */
export async function createEngineWith(files: CheckpointFiles, opts: EngineOptions & { gpu?: Gpu }, newGpu: () => Promise<Gpu>): Promise<LocalEngine> {
  const own = !opts.gpu;
  const gpu = opts.gpu ?? (await newGpu());
  try {
    return await loadEngine(files, gpu, opts, {
      onDispose: own ? () => gpu.destroy() : undefined,
      recreate: (next) => createEngineWith(files, { ...opts, gpu: next }, newGpu),
    });
  } catch (e) {
    if (own) gpu.destroy();
    throw e;
  }
}
