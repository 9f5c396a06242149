// The demo: load the embedded default model in a Worker, stream several prompts at once.
import { createWorkerEngine, type Engine, type Policy } from '../src/index.ts';

const PROMPTS = ['The whale', 'Mr. Speaker, the state of the Union', 'It was a dark and stormy night'];
const POLICIES: Record<string, Policy> = {
  baseline: { kind: 'baseline' },
  xshare75: { kind: 'xshare', fraction: 0.75 },
  xshare50: { kind: 'xshare', fraction: 0.5 },
  reduced2: { kind: 'reduced_topk', k: 2 },
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
const cards = $('cards');
const metrics = $('metrics');
const go = $<HTMLButtonElement>('go');
const stop = $<HTMLButtonElement>('stop');
const policySel = $<HTMLSelectElement>('policy');

// ?maxTokens=8&temperature=0 preset the controls (the browser test uses greedy decoding).
const params = new URLSearchParams(location.search);
for (const k of ['maxTokens', 'temperature']) {
  const v = params.get(k);
  if (v !== null) $<HTMLInputElement>(k).value = v;
}

const outputs: { input: HTMLInputElement; out: HTMLElement }[] = PROMPTS.map((p) => {
  const card = document.createElement('div');
  card.className = 'card';
  const input = document.createElement('input');
  input.value = p;
  const out = document.createElement('div');
  out.className = 'out';
  card.append(input, out);
  cards.append(card);
  return { input, out };
});

let engine: Engine | null = null;
let loadedPolicy = 'baseline';
let running: AbortController[] = [];
const state = { steps: 0, tokens: 0, ms: 0 };

async function load(policy: string): Promise<void> {
  go.disabled = true;
  status.textContent = 'loading model…';
  const t0 = performance.now();
  engine = await createWorkerEngine({
    policy: POLICIES[policy],
    maxSequences: 4,
    onProgress: (p) => {
      status.textContent = `loading model (${p.stage}, ${p.from})… ${(p.bytes / 1e6).toFixed(1)} / ${(p.totalBytes / 1e6).toFixed(1)} MB`;
    },
  });
  const info = engine.info;
  engine.onStep((m) => {
    state.steps++;
    state.tokens += m.decodeTokens;
    state.ms += m.ms;
    metrics.textContent = `step ${m.step}: ${m.batchTokens} tokens in the batch (${m.decodeTokens} decoding, ${m.running} running), ${m.ms.toFixed(0)} ms` +
      (m.distinctExperts ? `, distinct experts per layer: ${m.distinctExperts.join(' ')}` : '') +
      ` — average ${(state.ms / state.steps).toFixed(0)} ms/step`;
  });
  loadedPolicy = policy;
  status.textContent = `${info.model} on ${info.adapter}, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  (window as unknown as { __demo: unknown }).__demo = { ready: true };
  go.disabled = false;
}

async function generateAll(): Promise<void> {
  if (policySel.value !== loadedPolicy) {
    await engine?.dispose();
    await load(policySel.value);
  }
  go.disabled = true;
  stop.disabled = false;
  const maxTokens = Number($<HTMLInputElement>('maxTokens').value);
  const temperature = Number($<HTMLInputElement>('temperature').value);
  const texts: string[] = [];
  const streams = outputs.map(({ input, out }, i) => {
    out.innerHTML = '';
    const p = document.createElement('span');
    p.className = 'prompt';
    p.textContent = input.value;
    const gen = document.createElement('span');
    out.append(p, gen);
    const ac = new AbortController();
    running[i] = ac;
    const g = engine!.generate(input.value, { maxTokens, temperature, seed: 1234 + i, signal: ac.signal });
    texts[i] = '';
    void (async () => {
      for await (const c of g) {
        texts[i] += c.text;
        gen.textContent = texts[i];
      }
    })();
    return g;
  });
  const results = await Promise.allSettled(streams.map((s) => s.result));
  (window as unknown as { __demo: unknown }).__demo = {
    ready: true,
    done: true,
    results: results.map((r) => (r.status === 'fulfilled' ? r.value : { error: String(r.reason) })),
  };
  go.disabled = false;
  stop.disabled = true;
}

go.onclick = () => void generateAll().catch((e) => (status.textContent = `error: ${(e as Error).message}`));
stop.onclick = () => running.forEach((r) => r.abort());
load('baseline').catch((e) => {
  status.textContent = `error: ${(e as Error).message}`;
  (window as unknown as { __demo: unknown }).__demo = { error: String((e as Error).message) };
});
