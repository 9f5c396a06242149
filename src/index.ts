// webmoe, browser / Web Worker entry. `createEngine` loads a Hugging Face MoE folder by URL (HTTP
// Range requests, nothing held whole in memory) or from picked files, onto navigator.gpu.
import { createBrowserGpu } from './gpu/browser.ts';
import type { Gpu } from './gpu/context.ts';
import { filesFromMap, filesFromUrl, type CheckpointFiles } from './format/checkpoint.ts';
import { createEngineWith, type EngineOptions } from './api/load.ts';
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
  return createEngineWith(files, opts, () => createBrowserGpu());
}

export { Engine } from './api/engine.ts';
export type { GenerateOptions, GenerateChunk, GenerateOutput, GenerateStream, ChatCompletionRequest, ChatCompletionChunk, ChatCompletion, DisposeOptions } from './api/engine.ts';
export { ParameterError, EngineDisposedError } from './api/errors.ts';
export type { EngineOptions } from './api/load.ts';
export { loadEngine, createEngineWith } from './api/load.ts';
export { createBrowserGpu } from './gpu/browser.ts';
export { createGpu, Gpu } from './gpu/context.ts';
export { GpuUnavailableError, GpuDeviceLostError } from './gpu/errors.ts';
export * from './format/index.ts';
export { MoeModel } from './runtime/model.ts';
export type { GpuPolicy } from './runtime/model.ts';
export { route } from './routing/policies.ts';
export type { PolicyConfig, RouterConfig, RouteResult } from './routing/types.ts';
export { Scheduler } from './scheduler/scheduler.ts';
export type { StepMetrics, FinishReason } from './scheduler/scheduler.ts';
