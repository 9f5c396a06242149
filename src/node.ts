// webmoe, Node entry: WebGPU through Dawn (npm `webgpu`), model folders from disk or URL, and the
// embedded default model shipped in the package (models/webmoe-tiny).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeGpu, type NodeGpuOptions } from './gpu/node.ts';
import type { Gpu } from './gpu/context.ts';
import { filesFromUrl, type CheckpointFiles } from './format/checkpoint.ts';
import { filesFromNodeDir } from './format/source-node.ts';
import { loadEngine, type EngineOptions } from './api/load.ts';
import type { Engine } from './api/engine.ts';

export const DEFAULT_MODEL_NAME = 'webmoe-tiny';

/** Folder of the embedded default model, found next to the package (src/ or dist/). */
export function defaultModelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = join(dir, 'models', DEFAULT_MODEL_NAME);
    if (existsSync(join(cand, 'config.json'))) return cand;
    dir = dirname(dir);
  }
  throw new Error(`webmoe: the default model (models/${DEFAULT_MODEL_NAME}) is not in this installation`);
}

/** A model folder path, an http(s) URL, or CheckpointFiles. */
export function modelFiles(model: string | CheckpointFiles | undefined): CheckpointFiles {
  if (model === undefined) return filesFromNodeDir(defaultModelDir());
  if (typeof model !== 'string') return model;
  if (/^https?:\/\//.test(model)) return filesFromUrl(model);
  return filesFromNodeDir(resolve(model));
}

export interface CreateEngineOptions extends EngineOptions, NodeGpuOptions {
  /** Model folder or URL; default: the embedded webmoe-tiny. */
  model?: string | CheckpointFiles;
  gpu?: Gpu;
}

export async function createEngine(opts: CreateEngineOptions = {}): Promise<Engine> {
  const files = modelFiles(opts.model);
  const own = !opts.gpu;
  const gpu = opts.gpu ?? (await createNodeGpu(opts));
  try {
    return await loadEngine(files, gpu, opts, own ? () => gpu.destroy() : undefined);
  } catch (e) {
    if (own) gpu.destroy();
    throw e;
  }
}

export { createNodeGpu } from './gpu/node.ts';
export { fromNodeFile, filesFromNodeDir } from './format/source-node.ts';
export * from './index.ts';
