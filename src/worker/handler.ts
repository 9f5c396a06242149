// The engine side of a Worker engine. webmoe's own worker (src/worker.ts) calls serveEngine(); an app
// whose bundler cannot follow the library's worker URL puts the same call in its own worker file.
import * as Comlink from 'comlink';
import type { LocalEngine } from '../api/engine.ts';
import type { LoadProgress } from '../api/types.ts';
import { createEngine, type CreateEngineOptions } from '../create-engine.ts';
import type { WorkerApi, WorkerLoadOptions } from './protocol.ts';

/** How the worker makes its engine (default: createEngine in the Worker, on its navigator.gpu). */
export type EngineLoader = (opts: CreateEngineOptions) => Promise<LocalEngine>;

/** Serve one engine over `endpoint` (default: the Worker's global scope) to a WorkerEngine. */
export function serveEngine(endpoint: Comlink.Endpoint = self as unknown as Comlink.Endpoint, load: EngineLoader = createEngine): void {
  let engine: LocalEngine | null = null;
  const aborts = new Map<number, AbortController>();
  const need = (): LocalEngine => {
    if (!engine) throw new Error('webmoe worker: the engine is not loaded');
    return engine;
  };

  const api: WorkerApi = {
    async load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void) {
      if (engine) await engine.dispose();
      engine = null;
      engine = await load({ ...opts, onProgress: onProgress ? (p) => void onProgress(p) : undefined });
      return engine.info;
    },

    async generate(requestId, prompt, opts, onChunk) {
      const ac = new AbortController();
      aborts.set(requestId, ac);
      try {
        const g = need().generate(prompt, { ...opts, signal: ac.signal });
        // Chunks travel on the callback's own port: wait for the last one's answer so every chunk
        // has arrived before the result does (ordering across two ports is not guaranteed).
        let last: unknown = undefined;
        for await (const c of g) last = onChunk(c);
        await last;
        return await g.result;
      } finally {
        aborts.delete(requestId);
      }
    },

    cancel(requestId) {
      aborts.get(requestId)?.abort();
    },

    onStep(cb) {
      need().onStep((m) => void cb(m));
    },

    setPolicy(policy) {
      return need().setPolicy(policy);
    },

    async dispose(opts) {
      const e = engine;
      engine = null;
      await e?.dispose(opts);
    },
  };
  Comlink.expose(api, endpoint);
}
