// The demo's engine Worker: webmoe's public createEngine off the page's main thread, exposed with
// comlink. All panes' requests go to this one engine, so they decode together in shared steps.
import * as Comlink from 'comlink';
import { createEngine, type LocalEngine, type Policy, type StepMetrics } from 'webmoe';
import type { DemoWorkerApi, LoadRequest, ModelInfo, ChatTurn } from './protocol.ts';

let engine: LocalEngine | null = null;
let unsubscribe: (() => void) | null = null;
let stepListener: ((m: StepMetrics) => void) | null = null;
let lastStep = 0;
const aborts = new Map<number, AbortController>();

function need(): LocalEngine {
  if (!engine) throw new Error('no model loaded yet');
  return engine;
}

/** The expert shape from config.json (for bytes per expert), read from the same source as the model. */
async function readConfig(req: LoadRequest): Promise<Record<string, unknown>> {
  const text = req.files
    ? await (req.files.find((f) => f.path === 'config.json' || f.path.split('/').slice(1).join('/') === 'config.json')?.file.text() ?? Promise.reject(new Error('config.json is not among the picked files')))
    : await (await fetch(new URL('config.json', req.url!.endsWith('/') ? req.url! : req.url + '/'))).text();
  return JSON.parse(text) as Record<string, unknown>;
}

// Bytes one expert's three matrices occupy on the GPU per weight, as the runtime stores them
// (int8/int4 carry one f32 scale per group of 32 weights).
const BYTES_PER_WEIGHT = { f32: 4, f16: 2, int8: 1 + 4 / 32, int4: 0.5 + 4 / 32 } as const;

const api: DemoWorkerApi = {
  async load(req, onProgress) {
    unsubscribe?.();
    unsubscribe = null;
    if (engine) await engine.dispose();
    engine = null;
    lastStep = 0;
    const model = req.files ? new Map(req.files.map((f) => [f.path, f.file as Blob])) : new URL(req.url!, self.location.href).href;
    const t0 = performance.now();
    engine = await createEngine({
      model,
      weightFormat: req.weightFormat,
      maxSequences: req.maxSequences,
      policy: req.policy,
      onProgress: onProgress ? (p) => void onProgress({ bytesRead: p.bytes, totalBytes: p.totalBytes, tensor: p.file }) : undefined,
    });
    const cfg = await readConfig(req);
    const num = (...keys: string[]) => keys.map((k) => cfg[k]).find((v): v is number => typeof v === 'number') ?? 0;
    const hidden = num('hidden_size');
    const inter = num('moe_intermediate_size', 'intermediate_size');
    unsubscribe = engine.onStep((m) => {
      lastStep = m.step;
      stepListener?.(m);
    });
    const info: ModelInfo = {
      name: engine.info.model,
      adapter: engine.info.adapter,
      layers: num('num_hidden_layers'),
      experts: num('num_experts', 'num_local_experts'),
      topK: num('num_experts_per_tok'),
      expertBytes: 3 * hidden * inter * BYTES_PER_WEIGHT[req.weightFormat ?? 'f32'],
      maxSequences: engine.info.maxSequences,
      loadSeconds: (performance.now() - t0) / 1000,
    };
    return info;
  },

  async generate(id, prompt, opts, onChunk) {
    const ac = new AbortController();
    aborts.set(id, ac);
    try {
      const g = need().generate(prompt, { ...opts, signal: ac.signal });
      // Callbacks travel on their own port: wait for the last one so every chunk arrives before the result.
      let last: unknown;
      for await (const c of g) last = onChunk(c.text, c.token);
      await last;
      return await g.result;
    } finally {
      aborts.delete(id);
    }
  },

  async chat(id, messages: ChatTurn[], opts, onDelta) {
    const ac = new AbortController();
    aborts.set(id, ac);
    try {
      let text = '';
      let finishReason = 'stop';
      let tokens = 0;
      const stream = need().chat.completions.create({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        max_tokens: opts.maxTokens,
        temperature: opts.temperature,
        seed: opts.seed,
      }, { signal: ac.signal });
      let last: unknown;
      try {
        for await (const c of stream) {
          const d = c.choices[0]?.delta.content;
          if (d) {
            text += d;
            tokens++;
            last = onDelta(d);
          }
          finishReason = c.choices[0]?.finish_reason ?? finishReason;
        }
      } catch (e) {
        // A stopped chat stream throws the AbortError (OpenAI style); the pane shows it as 'abort'.
        if ((e as Error)?.name !== 'AbortError') throw e;
        finishReason = 'abort';
      }
      await last;
      return { text, finishReason, tokens };
    } finally {
      aborts.delete(id);
    }
  },

  cancel(id) {
    aborts.get(id)?.abort();
  },

  setPolicy(policy: Policy) {
    // The batch model reads its policy at the start of every step: a step in flight now (at most
    // lastStep + 1) keeps the old one, every step after it runs the new one.
    const m = need().model as { policy?: Policy };
    m.policy = policy;
    return lastStep;
  },

  onStep(cb) {
    stepListener = cb;
  },
};

Comlink.expose(api);
