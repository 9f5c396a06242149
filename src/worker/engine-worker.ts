// The engine inside a module Web Worker, exposed with comlink: decode runs off the page's main
// thread, and all requests share one scheduler (so concurrent prompts batch together).
import * as Comlink from 'comlink';
import { createEngine } from '../index.ts';
import type { Engine } from '../api/engine.ts';
import type { WorkerApi, WorkerLoadOptions, LoadProgress } from './protocol.ts';
import type { StepMetrics, FinishReason } from '../scheduler/scheduler.ts';

let engine: Engine | null = null;
const aborts = new Map<number, AbortController>();

function need(): Engine {
  if (!engine) throw new Error('webmoe worker: call load() first');
  return engine;
}

const api: WorkerApi = {
  async load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void) {
    if (engine) await engine.dispose();
    engine = await createEngine({
      model: new URL(opts.modelUrl, self.location.href).href,
      weightFormat: opts.weightFormat,
      maxSequences: opts.maxSequences,
      maxContext: opts.maxContext,
      policy: opts.policy,
      onProgress,
    });
    const m = engine.model as unknown as { model?: { gpu?: { describe(): string } } };
    return { adapter: m.model?.gpu?.describe() ?? 'webgpu', model: engine.modelName };
  },

  async generate(requestId, prompt, opts, onChunk) {
    const ac = new AbortController();
    aborts.set(requestId, ac);
    try {
      const g = need().generate(prompt, { ...opts, signal: ac.signal });
      for await (const c of g) await onChunk(c);
      return await g.result;
    } finally {
      aborts.delete(requestId);
    }
  },

  async chat(requestId, req, onDelta) {
    const ac = new AbortController();
    aborts.set(requestId, ac);
    try {
      let text = '';
      let finishReason: FinishReason = 'stop';
      for await (const c of need().chat.completions.create({ ...req, stream: true, signal: ac.signal })) {
        const d = c.choices[0].delta.content;
        if (d) {
          text += d;
          await onDelta(d);
        }
        finishReason = c.choices[0].finish_reason ?? finishReason;
      }
      return { text, finishReason };
    } finally {
      aborts.delete(requestId);
    }
  },

  cancel(requestId: number) {
    aborts.get(requestId)?.abort();
  },

  onStep(cb: (m: StepMetrics) => void) {
    need().onStep((m) => void cb(m));
  },

  async dispose() {
    await engine?.dispose();
    engine = null;
  },
};

Comlink.expose(api);
