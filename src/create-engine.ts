// Browser and Web Worker: createEngine, the engine in this thread (createWorkerEngine, in
// create-worker-engine.ts, runs this in a module Worker), and the model cache.
// The model is the embedded default (package assets), a folder URL (relative to the page, or a
// Hugging Face `.../resolve/main/` URL), picked files, or any CheckpointFiles. Downloaded files are
// kept in the Cache API by default, so the second load reads nothing from the network.
import { createBrowserGpu } from './gpu/browser.ts';
import { installBundledShaderLoader } from './gpu/wgsl-bundled.ts';
import { gpuFromDevice, type Gpu } from './gpu/context.ts';
import { filesAtUrls, filesFromMap, type CheckpointFiles } from './format/checkpoint.ts';
import { createEngineWith, type EngineOptions } from './api/load.ts';
import type { LocalEngine } from './api/engine.ts';
import type { LoadProgress, LoadSource } from './api/types.ts';
import { folderLocation, urlMapLocation, type ModelLocation } from './files/location.ts';
import { openStore, type CacheOptions, type CacheKind } from './files/stores.ts';
import { cachedFiles, isModelStored } from './files/cached.ts';
import { DEFAULT_MODEL_NAME, defaultModelUrls } from './default-model-urls.ts';

/** A model: a folder URL (absolute, or relative to the page), picked files, or CheckpointFiles; omitted = the default model. */
export type ModelSource = string | URL | Map<string, Blob> | CheckpointFiles;

export interface CreateEngineOptions extends EngineOptions, CacheOptions {
  model?: ModelSource;
  /** A GPUDevice the app already owns (shared with its renderer); webmoe does not destroy it. */
  device?: GPUDevice;
}

/** The location of a URL model, or null for files that are not fetched by URL. */
export function modelLocation(model: ModelSource | undefined, name?: string): ModelLocation | null {
  if (model === undefined) return urlMapLocation(name ?? DEFAULT_MODEL_NAME, defaultModelUrls());
  if (typeof model === 'string' || model instanceof URL) return folderLocation(model, name);
  return null;
}

const defaultCache = (): CacheKind | false => ((globalThis as { caches?: unknown }).caches ? 'cache-api' : false);

/** The CheckpointFiles a load reads (through the cache when it is on). */
export function modelFiles(opts: CreateEngineOptions): CheckpointFiles {
  return modelSource(opts).files;
}

/** The files, and where their weights are read from (LoadProgress.from of the 'weights' stage). */
function modelSource(opts: CreateEngineOptions): { files: CheckpointFiles; from: LoadSource } {
  const { model } = opts;
  if (model instanceof Map) return { files: filesFromMap(model), from: 'local' };
  const loc = modelLocation(model, opts.name);
  if (!loc) return { files: model as CheckpointFiles, from: 'local' };
  const cache = opts.cache === undefined ? defaultCache() : opts.cache;
  if (cache) return { files: cachedFiles(loc, openStore(cache), { onProgress: opts.onProgress }), from: 'cache' };
  return { files: filesAtUrls(loc.name, loc.url, { blobFallback: true }), from: 'network' };
}

/** Load a model onto WebGPU in this thread (page or Worker). */
export async function createEngine(opts: CreateEngineOptions = {}): Promise<LocalEngine> {
  const { files, from } = modelSource(opts);
  installBundledShaderLoader();
  const gpu: Gpu | undefined = opts.device ? gpuFromDevice(opts.device) : undefined;
  const report = opts.onProgress;
  const onProgress = report && ((p: LoadProgress) => report(p.stage === 'weights' ? { ...p, from } : p));
  return createEngineWith(files, { ...opts, name: opts.name ?? files.name, gpu, onProgress }, () => createBrowserGpu());
}

function storeFor(model: ModelSource | undefined, opts: CacheOptions & { name?: string }) {
  const loc = modelLocation(model, opts.name);
  if (!loc) throw new TypeError('webmoe: only models loaded by URL (or the default model) are cached');
  return { loc, store: openStore(opts.cache || 'cache-api') };
}

/** Whether every file a load of `model` reads is in the cache (default model when omitted). */
export async function hasModelInCache(model?: string | URL, opts: CacheOptions = {}): Promise<boolean> {
  const { loc, store } = storeFor(model, opts);
  return isModelStored(loc, store);
}

/** Deletes the cached files of `model` (default model when omitted); returns how many entries went. */
export async function deleteModelCache(model?: string | URL, opts: CacheOptions = {}): Promise<number> {
  const { loc, store } = storeFor(model, opts);
  return store.deleteModel(loc.key);
}
