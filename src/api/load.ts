// Loading an Engine from checkpoint files on a GPU: platform-neutral (the entry points pick the
// files and the GPU for the browser or Node; the CLI comes in at engineFromCheckpoint).
import type { Gpu } from '../gpu/context.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFiles, type LoadProgress } from '../format/checkpoint.ts';
import { loadTokenizer, promptBos, stopTokenIds, type LoadedTokenizer } from '../format/tokenizer.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { MoeModel, type GpuPolicy } from '../runtime/model.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { Engine, type EngineHooks } from './engine.ts';
import { MoeBatchModel } from './batch-model.ts';

export interface EngineOptions {
  /** Weight storage on the GPU: 'f32' (default), 'f16', or int8/int4 quantised on load. */
  weightFormat?: WeightFormat;
  /** Requests decoded together at most (each holds a KV cache). Default 4. */
  maxSequences?: number;
  /** Tokens per sequence. Default min(512, the model's max_position_embeddings). */
  maxContext?: number;
  /** Tokens per batched step (decode tokens + prefill chunks). Default 64. */
  maxBatchTokens?: number;
  /** Expert routing policy per step: baseline top-k (default, exact HF semantics), xshare, alloc_t, reduced_topk. */
  policy?: GpuPolicy;
  onProgress?: (p: LoadProgress) => void;
  /** GPU bytes the model may use (weights + KV cache); a model that needs more is refused before loading. */
  memoryBudget?: number;
}

export async function loadEngine(files: CheckpointFiles, gpu: Gpu, opts: EngineOptions = {}, hooks: Pick<EngineHooks, 'onDispose' | 'recreate'> = {}): Promise<Engine> {
  gpu.assertAlive();
  const ckpt = await openCheckpoint(files);
  try {
    const [spec, tokenizer] = await Promise.all([resolveSpec(ckpt), loadTokenizer(files)]);
    return await engineFromCheckpoint(ckpt, spec, tokenizer, gpu, opts, hooks);
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
): Promise<Engine> {
  const maxBatchTokens = opts.maxBatchTokens ?? 64;
  const model = await MoeModel.fromCheckpoint(ckpt, spec, gpu, {
    weightFormat: opts.weightFormat,
    maxSeqs: opts.maxSequences ?? 4,
    maxContext: opts.maxContext,
    maxBatchTokens,
    policy: opts.policy,
    onProgress: opts.onProgress,
    memoryBudget: opts.memoryBudget,
  });
  const batch = new MoeBatchModel(model, stopTokenIds(tokenizer, spec.eosTokenIds), opts.policy);
  return new Engine(batch, tokenizer, ckpt.files.name, { maxBatchTokens, bosTokenId: promptBos(tokenizer, spec.bosTokenId) }, {
    // Everything the engine made on the device goes: weights, KV cache, step buffers, cached uniforms.
    onDispose: () => {
      model.destroy();
      gpu.releaseCaches();
      hooks.onDispose?.();
    },
    lost: gpu.lost.then(() => gpu.lostError()!),
    recreate: hooks.recreate,
  });
}

/**
 * The entry points' createEngine: on `opts.gpu` (shared: left alive on dispose) or on a device from
 * `newGpu` (owned: destroyed on dispose). The engine can recreate itself the same way.
 */
export async function createEngineWith(files: CheckpointFiles, opts: EngineOptions & { gpu?: Gpu }, newGpu: () => Promise<Gpu>): Promise<Engine> {
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
