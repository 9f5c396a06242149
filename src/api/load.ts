// Loading an Engine from checkpoint files on a GPU: platform-neutral (the entry points pick the
// files and the GPU for the browser or Node).
import type { Gpu } from '../gpu/context.ts';
import type { CheckpointFiles, LoadProgress } from '../format/checkpoint.ts';
import { loadTokenizer } from '../format/tokenizer.ts';
import { MoeModel, type GpuPolicy, type LoadOptions } from '../runtime/model.ts';
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
  /** Kernel family: 'auto' (by adapter, default), 'measure' (time both once), 'blocked' or 'lanes'. */
  kernels?: LoadOptions['kernels'];
}

export async function loadEngine(files: CheckpointFiles, gpu: Gpu, opts: EngineOptions = {}, hooks: Pick<EngineHooks, 'onDispose' | 'recreate'> = {}): Promise<Engine> {
  const maxBatchTokens = opts.maxBatchTokens ?? 64;
  gpu.assertAlive();
  const [tokenizer, model] = await Promise.all([
    loadTokenizer(files),
    MoeModel.load(files, gpu, {
      weightFormat: opts.weightFormat,
      maxSeqs: opts.maxSequences ?? 4,
      maxContext: opts.maxContext,
      maxBatchTokens,
      policy: opts.policy,
      onProgress: opts.onProgress,
      memoryBudget: opts.memoryBudget,
      kernels: opts.kernels,
    }),
  ]);
  const eos = tokenizer.eosTokenIds.length ? tokenizer.eosTokenIds : model.spec.eosTokenIds;
  return new Engine(new MoeBatchModel(model, eos, opts.policy), tokenizer, files.name, { maxBatchTokens }, {
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
