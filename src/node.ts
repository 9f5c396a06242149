/// <reference types="@webgpu/types" preserve="true" />
// webmoe, Node entry: WebGPU through Dawn (npm `webgpu`), model folders from disk or URL, and the
// embedded default model shipped in the package (models/webmoe-mini).
import { resolve } from 'node:path';
import { defaultModelDir } from './default-model.ts';
import { createNodeGpu, type NodeGpuOptions } from './gpu/node.ts';
import { gpuFromDevice, type Gpu } from './gpu/context.ts';
import { installFsShaderLoader } from './gpu/wgsl-fs.ts';
import { filesFromUrl, type CheckpointFiles } from './format/checkpoint.ts';
import { filesFromNodeDir } from './format/source-node.ts';
import { createEngineWith, type EngineOptions } from './api/load.ts';
import type { LocalEngine } from './api/engine.ts';
import type { LoadProgress } from './api/types.ts';
import { folderLocation } from './files/location.ts';

/** A model folder path, an http(s) URL, or CheckpointFiles; undefined = the embedded default model. */
export function modelFiles(model: string | CheckpointFiles | undefined): CheckpointFiles {
  if (model === undefined) return filesFromNodeDir(defaultModelDir());
  if (typeof model !== 'string') return model;
  if (/^https?:\/\//.test(model)) {
    const loc = folderLocation(model);
    return filesFromUrl(loc.key, { name: loc.name });
  }
  return filesFromNodeDir(resolve(model));
}

export interface CreateEngineOptions extends EngineOptions, NodeGpuOptions {
  /** Model folder or URL; default: the embedded webmoe-mini. */
  model?: string | CheckpointFiles;
  /** A GPUDevice the app already owns (from the `webgpu` package); webmoe does not destroy it. */
  device?: GPUDevice;
  /** @internal webmoe's own device wrapper, shared (tests and benchmarks count its buffers). */
  gpu?: Gpu;
}

/** Load a model onto WebGPU (Dawn) in this process. */
export async function createEngine(opts: CreateEngineOptions = {}): Promise<LocalEngine> {
  const files = modelFiles(opts.model);
  let gpu: Gpu | undefined = opts.gpu;
  if (!gpu && opts.device) {
    installFsShaderLoader();
    gpu = gpuFromDevice(opts.device);
  }
  const report = opts.onProgress;
  const from = typeof opts.model === 'string' && /^https?:\/\//.test(opts.model) ? 'network' : 'local';
  const onProgress = report && ((p: LoadProgress) => report(p.stage === 'weights' ? { ...p, from } : p));
  return createEngineWith(files, { ...opts, name: opts.name ?? files.name, gpu, onProgress }, () => createNodeGpu(opts));
}

export { defaultModelDir } from './default-model.ts';
export { createNodeGpu, type NodeGpuOptions } from './gpu/node.ts';
export { filesFromNodeDir, fromNodeFile } from './format/source-node.ts';
export * from './public.ts';
