// webmoe, browser / Web Worker entry. `createEngine` loads a Hugging Face MoE folder by URL (HTTP
// Range requests, nothing held whole in memory) or from picked files, onto navigator.gpu.
import { createBrowserGpu } from './gpu/browser.ts';
import type { Gpu } from './gpu/context.ts';
import { filesFromMap, filesFromUrl, type CheckpointFiles } from './format/checkpoint.ts';
import { loadEngine, type EngineOptions } from './api/load.ts';
import type { Engine } from './api/engine.ts';

export interface CreateEngineOptions extends EngineOptions {
  /** Base URL of the model folder, the files of a picked folder, or any CheckpointFiles. */
  model: string | URL | Map<string, Blob> | CheckpointFiles;
  /** Reuse a device (default: a new one from navigator.gpu). */
  gpu?: Gpu;
}

export async function createEngine(opts: CreateEngineOptions): Promise<Engine> {
  const files =
    typeof opts.model === 'string' || opts.model instanceof URL
      ? filesFromUrl(String(opts.model))
      : opts.model instanceof Map
        ? filesFromMap(opts.model)
        : opts.model;
  const own = !opts.gpu;
  const gpu = opts.gpu ?? (await createBrowserGpu());
  try {
    return await loadEngine(files, gpu, opts, own ? () => gpu.destroy() : undefined);
  } catch (e) {
    if (own) gpu.destroy();
    throw e;
  }
}

export { Engine } from './api/engine.ts';
export type { GenerateOptions, GenerateChunk, GenerateOutput, GenerateStream, ChatCompletionRequest, ChatCompletionChunk, ChatCompletion } from './api/engine.ts';
export type { EngineOptions } from './api/load.ts';
export { loadEngine } from './api/load.ts';
export { createBrowserGpu } from './gpu/browser.ts';
export { createGpu, Gpu } from './gpu/context.ts';
export { GpuUnavailableError } from './gpu/errors.ts';
export * from './format/index.ts';
export { MoeModel } from './runtime/model.ts';
export type { GpuPolicy } from './runtime/model.ts';
export { route } from './routing/policies.ts';
export type { PolicyConfig, RouterConfig, RouteResult } from './routing/types.ts';
export { Scheduler } from './scheduler/scheduler.ts';
export type { StepMetrics, FinishReason } from './scheduler/scheduler.ts';
