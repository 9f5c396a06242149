// webmoe, Node entry: WebGPU through Dawn (npm `webgpu`), model folders from disk or URL, and the
// embedded default model shipped in the package (models/webmoe-tiny).
import { resolve } from 'node:path';
import { defaultModelDir } from './default-model.ts';
import { createNodeGpu, type NodeGpuOptions } from './gpu/node.ts';
import type { Gpu } from './gpu/context.ts';
import { filesFromUrl, type CheckpointFiles } from './format/checkpoint.ts';
import { filesFromNodeDir } from './format/source-node.ts';
import { createEngineWith, type EngineOptions } from './api/load.ts';
import type { Engine } from './api/engine.ts';

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
  return createEngineWith(files, opts, () => createNodeGpu(opts));
}

export { createNodeGpu } from './gpu/node.ts';
export { defaultModelDir, DEFAULT_MODEL_NAME } from './default-model.ts';
export { fromNodeFile, filesFromNodeDir } from './format/source-node.ts';
export * from './exports.ts';
