/// <reference types="@webgpu/types" preserve="true" />
// webmoe, browser / Web Worker entry.

// Start an engine: in this thread, or in a module Worker (the page never blocks).
export { createEngine, type CreateEngineOptions, type ModelSource } from './create-engine.ts';
export { createWorkerEngine, type CreateWorkerEngineOptions } from './create-worker-engine.ts';
export { WorkerEngine, WorkerDiedError } from './worker/client.ts';
// For an app's own worker file (bundlers that cannot follow webmoe's worker URL).
export { serveEngine, type EngineLoader } from './worker/handler.ts';

// The model cache (Cache API by default, OPFS optional).
export { hasModelInCache, deleteModelCache } from './create-engine.ts';
export { ModelCacheError, type CacheOptions, type CacheKind } from './files/stores.ts';

export * from './public.ts';
