// Browser: createWorkerEngine, the engine in a module Worker (webmoe's own, or the app's, running
// serveEngine()). Kept apart from create-engine.ts so that the Worker's own bundle never contains
// the code that starts it.
import type { EngineOptions } from './api/load.ts';
import type { LoadProgress } from './api/types.ts';
import { folderLocation } from './files/location.ts';
import type { CacheOptions } from './files/stores.ts';
import { WorkerEngine } from './worker/client.ts';
import { spawnEngineWorker } from './worker-url.ts';
import type { WorkerLoadOptions } from './worker/protocol.ts';

export interface CreateWorkerEngineOptions extends Omit<EngineOptions, 'onProgress'>, CacheOptions {
  /** A folder URL (resolved against the page here), or picked files; omitted = the default model. */
  model?: string | URL | Map<string, Blob>;
  onProgress?: (p: LoadProgress) => void;
  /** Your own module Worker that calls serveEngine() (default: the one shipped with webmoe). */
  worker?: Worker;
}

/** Load a model in a module Worker: decoding never blocks the page. Same `Engine` interface as createEngine. */
export async function createWorkerEngine(opts: CreateWorkerEngineOptions = {}): Promise<WorkerEngine> {
  const { worker, onProgress, model, ...rest } = opts;
  if ((opts as { device?: unknown }).device) {
    throw new TypeError('webmoe: a GPUDevice cannot move into a Worker; use createEngine({ device }) on the thread that owns it');
  }
  if (model !== undefined && typeof model !== 'string' && !(model instanceof URL) && !(model instanceof Map)) {
    throw new TypeError('webmoe: createWorkerEngine takes a model URL or a Map of picked files (CheckpointFiles cannot cross to a Worker)');
  }
  const load: WorkerLoadOptions = {
    ...rest,
    // The Worker's own location is its script's URL: resolve against the page here.
    model: model === undefined || model instanceof Map ? model : folderLocation(model).key,
    name: rest.name ?? (model === undefined || model instanceof Map ? undefined : folderLocation(model).name),
  };
  const engine = new WorkerEngine(worker ?? spawnEngineWorker());
  try {
    await engine.load(load, onProgress);
  } catch (e) {
    engine.worker.terminate?.();
    throw e;
  }
  return engine;
}

