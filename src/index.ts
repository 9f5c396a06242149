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

export * from './exports.ts';
export { createBrowserGpu } from './gpu/browser.ts';
