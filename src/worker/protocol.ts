// Messages between the page and the engine Worker (comlink RPC). Streams cross as callbacks wrapped
// with Comlink.proxy; everything else is structured-cloneable (no GPU objects, no functions).
import type { EngineInfo, GenerateChunk, GenerateOptions, GenerateOutput, LoadProgress, Prompt, StepMetrics } from '../api/types.ts';
import type { EngineOptions } from '../api/load.ts';
import type { CacheOptions } from '../files/stores.ts';
import type { Policy } from '../api/policy.ts';

/** What a Worker engine loads: createEngine's options without callbacks, GPU objects or CheckpointFiles. */
export interface WorkerLoadOptions extends Omit<EngineOptions, 'onProgress'>, CacheOptions {
  /** Absolute model folder URL, picked files, or undefined for the default model. */
  model?: string | Map<string, Blob>;
}

export interface WorkerApi {
  load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo>;
  /** `requestId` is chosen by the caller so it can cancel before the result arrives. */
  generate(requestId: number, prompt: Prompt, opts: Omit<GenerateOptions, 'signal'>, onChunk: (c: GenerateChunk) => void): Promise<GenerateOutput>;
  cancel(requestId: number): void;
  onStep(cb: (m: StepMetrics) => void): void;
  setPolicy(policy: Policy): Promise<void>;
  dispose(opts?: { mode?: 'cancel' | 'drain' }): Promise<void>;
}
