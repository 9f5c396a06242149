// The library's own engine Worker. This file sits directly in src/ so that the relative URL is the
// same from the sources (dev server, tests) and from dist/ (the build renames worker.ts to worker.js);
// apps' bundlers (Vite, webpack 5, Parcel) recognise the pattern and bundle the worker.
export function spawnEngineWorker(): Worker {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'webmoe-engine' });
}
