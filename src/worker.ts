// webmoe's engine Worker (dist/worker.js): started by createWorkerEngine() through
// `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`, which bundlers follow.
import { serveEngine } from './worker/handler.ts';

serveEngine();
