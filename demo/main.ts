// The webmoe demo page: prompt panes decoded together by one engine in a Worker, the experts each
// step woke (policy and baseline routing of the same step), savings over time, live policy control.
import type { StepMetrics } from 'webmoe';
import { DemoEngine } from './engine-client.ts';
import type { LoadRequest, ModelInfo } from './protocol.ts';
import { Pane, type Mode, type PaneResult } from './panes.ts';
import { Heatmap, type StepActivity } from './heatmap.ts';
import { SavingsCharts } from './savings.ts';
import { POLICY_KINDS, policyLabel } from './policy.ts';
import { COMPLETION_PROMPTS, CHAT_PROMPTS } from './prompts.ts';
import { adviseLoadError, webgpuMissing, type Advice } from './errors.ts';

const DEFAULT_MODEL_URL = new URL('../models/webmoe-tiny/', import.meta.url).href;

export interface StepRecord {
  step: number;
  batchTokens: number;
  decodeTokens: number;
  running: number;
  ms: number;
  distinctExperts: number[];
  /** Mean distinct experts over the MoE layers. */
  meanDistinct: number;
  expertBytes: number;
  baselineDistinct?: number[];
  baselineExpertBytes?: number;
  /** The policy the step ran with ('switching' for the one step during which it was changed). */
  policy: string;
}

interface DemoState {
  ready: boolean;
  loading: boolean;
  error?: string;
  model?: ModelInfo;
  loads: number;
  /** Runs started with Run all / Run 8 (a pane's own Run button does not count). */
  run: number;
  done: boolean;
  results: (PaneResult | null)[];
  lastStep?: StepRecord;
  steps: StepRecord[];
  policy: string;
  maxBatchTokens: number;
}

const state: DemoState = { ready: false, loading: false, loads: 0, run: 0, done: false, results: [], steps: [], policy: 'baseline', maxBatchTokens: 0 };
(window as unknown as { __demo: DemoState }).__demo = state;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $('status');
const adviceEl = $('advice');
const panesEl = $('panes');
const policySel = $<HTMLSelectElement>('policy');
const knob = $<HTMLInputElement>('knob');
const knobOut = $<HTMLOutputElement>('knobOut');
const knobLabel = $('knobLabel');
const maxTokensEl = $<HTMLInputElement>('maxTokens');
const temperatureEl = $<HTMLInputElement>('temperature');
const buttons = { runAll: $<HTMLButtonElement>('runAll'), stopAll: $<HTMLButtonElement>('stopAll'), run8: $<HTMLButtonElement>('run8'), addPane: $<HTMLButtonElement>('addPane') };

// ?maxTokens=16&temperature=0&maxSeqs=8 preset the controls (the browser test decodes greedily).
const params = new URLSearchParams(location.search);
for (const id of ['maxTokens', 'temperature', 'maxSeqs']) {
  const v = params.get(id);
  if (v !== null) $<HTMLInputElement>(id).value = v;
}

function setStatus(text: string, error = false): void {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
}

function showAdvice(a: Advice | null): void {
  adviceEl.hidden = !a;
  adviceEl.replaceChildren();
  if (!a) return;
  const b = document.createElement('b');
  b.textContent = a.title;
  adviceEl.append(b, a.fix);
}

// ---- panes ----
const panes: Pane[] = [];
let mode: Mode = 'complete';
let engine: DemoEngine | null = null;

function addPane(text = ''): Pane {
  const p = new Pane(panes.length, text, { run: (pane) => void runPanes([pane], false) });
  p.setMode(mode);
  p.removeBtn.onclick = () => removePane(p);
  p.setRunnable(state.ready);
  panes.push(p);
  panesEl.append(p.root);
  return p;
}

function removePane(p: Pane): void {
  p.stop();
  panes.splice(panes.indexOf(p), 1);
  p.root.remove();
  panes.forEach((q, i) => q.setIndex(i));
}

function prompts(): string[] {
  return mode === 'chat' ? CHAT_PROMPTS : COMPLETION_PROMPTS;
}

for (let i = 0; i < 4; i++) addPane(prompts()[i]);

document.querySelectorAll<HTMLInputElement>('input[name=mode]').forEach((r) => {
  r.onchange = () => {
    if (!r.checked) return;
    mode = r.value as Mode;
    panes.forEach((p, i) => {
      p.stop();
      p.setMode(mode);
      p.prompt.value = prompts()[i % prompts().length];
    });
  };
});

function sampling(i: number) {
  return { maxTokens: Math.max(1, Number(maxTokensEl.value) || 1), temperature: Math.max(0, Number(temperatureEl.value) || 0), seed: 1234 + i };
}

function refreshButtons(): void {
  const anyRunning = panes.some((p) => p.running);
  buttons.runAll.disabled = !state.ready || anyRunning;
  buttons.run8.disabled = !state.ready || anyRunning;
  buttons.stopAll.disabled = !anyRunning;
  panes.forEach((p) => p.setRunnable(state.ready));
}

async function runPanes(list: Pane[], counted: boolean): Promise<void> {
  if (!engine || !state.ready) return;
  const todo = list.filter((p) => !p.running && p.prompt.value.trim() !== '');
  if (counted) {
    state.run++;
    state.done = false;
    state.results = [];
    state.maxBatchTokens = 0;
  }
  const runs = todo.map((p) => p.run(engine!, mode, sampling(panes.indexOf(p))));
  refreshButtons();
  await Promise.all(runs);
  refreshButtons();
  if (counted) {
    state.results = panes.map((p) => p.result);
    state.done = true;
  }
}

buttons.addPane.onclick = () => addPane(prompts()[panes.length % prompts().length]).prompt.focus();
buttons.runAll.onclick = () => void runPanes(panes, true);
buttons.stopAll.onclick = () => panes.forEach((p) => p.stop());
buttons.run8.onclick = () => {
  while (panes.length > 8) removePane(panes[panes.length - 1]);
  while (panes.length < 8) addPane();
  panes.forEach((p, i) => {
    p.setMode(mode);
    p.prompt.value = prompts()[i];
  });
  void runPanes(panes, true);
};

// ---- policy control ----
for (const k of POLICY_KINDS) policySel.add(new Option(k.label, k.value));
let topK = 4;
// Steps up to oldUntil ran previousPolicy, the one after it may have run either ('switching'), later
// ones run state.policy; while a switch is on its way to the Worker, every step is 'switching'.
let oldUntil = 0;
let switching = false;
let previousPolicy = 'baseline';

function currentKind() {
  return POLICY_KINDS.find((k) => k.value === policySel.value)!;
}

function syncKnob(reset: boolean): void {
  const k = currentKind();
  knobLabel.hidden = !k.knob;
  if (!k.knob) return;
  knobLabel.firstChild!.textContent = `${k.knob.label} `;
  knob.min = String(k.knob.min);
  knob.max = String(k.knob.max(topK));
  knob.step = String(k.knob.step);
  if (reset) knob.value = String(k.knob.initial(topK));
  knobOut.value = k.knob.format(Number(knob.value));
}

async function applyPolicy(): Promise<void> {
  const k = currentKind();
  const v = Number(knob.value);
  const label = policyLabel(k, v);
  if (!engine || !state.ready) {
    state.policy = label;
    return;
  }
  previousPolicy = state.policy;
  switching = true;
  oldUntil = await engine.setPolicy(k.make(v));
  switching = false;
  state.policy = label;
  setStatus(`policy: ${label} (from the next step on; the model stays loaded)`);
}

policySel.onchange = () => {
  syncKnob(true);
  void applyPolicy();
};
knob.oninput = () => syncKnob(false);
knob.onchange = () => {
  syncKnob(false);
  void applyPolicy();
};
syncKnob(true);

// ---- expert activity and savings ----
const heatPolicy = new Heatmap($<HTMLCanvasElement>('heatPolicy'), 'policy');
const heatBaseline = new Heatmap($<HTMLCanvasElement>('heatBaseline'), 'baseline');
const charts = new SavingsCharts($('chartExperts'), $('chartBatch'));
const stepStats = $('stepStats');
const baselineNote = $('baselineNote');
let info: ModelInfo | null = null;
let totals = { policy: 0, baseline: 0, policyWithBaseline: 0, steps: 0 };

const mean = (xs: number[]) => {
  const moe = xs.filter((x) => x > 0);
  return moe.length ? moe.reduce((a, b) => a + b, 0) / moe.length : 0;
};
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

function stat(label: string, value: string, good = false): HTMLElement {
  const d = document.createElement('div');
  if (good) d.className = 'good';
  const b = document.createElement('b');
  b.textContent = value;
  const s = document.createElement('span');
  s.textContent = label;
  d.append(b, s);
  return d;
}

function onStep(m: StepMetrics): void {
  if (!info) return;
  const counts = m.distinctExperts ?? [];
  const bytes = counts.reduce((a, b) => a + b, 0) * info.expertBytes;
  const policy = switching || m.step === oldUntil + 1 ? 'switching' : m.step <= oldUntil ? previousPolicy : state.policy;
  // Per layer the experts of the policy and of the baseline routing of the same step, when the engine
  // reports them; else, with the baseline policy, the step's own routing is the baseline routing.
  const routing = (m as StepMetrics & { routing?: { experts: number[]; baselineExperts: number[] }[] }).routing;
  const sets = routing?.map((r) => r.experts);
  const baselineSets = routing?.map((r) => r.baselineExperts);
  const baseline = baselineSets ? baselineSets.map((b) => b.length) : policy === 'baseline' ? counts : undefined;
  const rec: StepRecord = {
    step: m.step,
    batchTokens: m.batchTokens,
    decodeTokens: m.decodeTokens,
    running: m.running,
    ms: m.ms,
    distinctExperts: counts,
    meanDistinct: mean(counts),
    expertBytes: bytes,
    baselineDistinct: baseline,
    baselineExpertBytes: baseline ? baseline.reduce((a, b) => a + b, 0) * info.expertBytes : undefined,
    policy,
  };
  state.lastStep = rec;
  state.steps.push(rec);
  if (state.steps.length > 4000) state.steps.shift();
  state.maxBatchTokens = Math.max(state.maxBatchTokens, m.batchTokens);

  const act: StepActivity = { counts, sets };
  const base: StepActivity | undefined = baseline ? { counts: baseline, sets: baselineSets ?? sets } : undefined;
  heatPolicy.push(act, base);
  heatBaseline.push(act, base);
  baselineNote.hidden = !!baseline;
  baselineNote.textContent = baseline ? '' : 'The engine does not report the baseline routing of policy steps yet.';
  charts.push({ step: m.step, distinct: rec.meanDistinct, baseline: baseline ? mean(baseline) : undefined, batchTokens: m.batchTokens, ms: m.ms });

  totals.steps++;
  totals.policy += bytes;
  if (rec.baselineExpertBytes !== undefined) {
    totals.baseline += rec.baselineExpertBytes;
    totals.policyWithBaseline += bytes;
  }
  const saved = rec.baselineExpertBytes ? 1 - bytes / rec.baselineExpertBytes : null;
  stepStats.replaceChildren(
    stat('step', String(m.step)),
    stat(`batch tokens (${m.decodeTokens} decoding)`, String(m.batchTokens)),
    stat('step time', `${m.ms.toFixed(0)} ms`),
    stat('experts / layer', rec.meanDistinct.toFixed(1)),
    stat('baseline / layer', baseline ? mean(baseline).toFixed(1) : '–'),
    stat('expert weights read', mb(bytes)),
    stat('saved this step', saved === null ? '–' : `${(saved * 100).toFixed(0)}%`, (saved ?? 0) > 0),
    stat('saved since load', totals.baseline ? `${((1 - totals.policyWithBaseline / totals.baseline) * 100).toFixed(0)}%` : '–', totals.baseline > totals.policyWithBaseline),
    stat('policy', policy),
  );
}

// ---- model loading ----
const progressEl = $('progress');
const progressBar = $('progressBar');
const progressText = $('progressText');

async function load(req: Omit<LoadRequest, 'weightFormat' | 'maxSequences' | 'policy'>, what: string): Promise<void> {
  const missing = webgpuMissing();
  if (missing) {
    showAdvice(missing);
    setStatus('WebGPU is not available in this browser', true);
    state.error = missing.title;
    return;
  }
  panes.forEach((p) => p.stop());
  state.ready = false;
  state.loading = true;
  refreshButtons();
  showAdvice(null);
  engine ??= new DemoEngine();
  await engine.onStep(onStep);
  setStatus(`loading ${what}…`);
  progressEl.hidden = false;
  progressBar.style.width = '0';
  const t0 = performance.now();
  try {
    const k = currentKind();
    info = await engine.load(
      {
        ...req,
        weightFormat: $<HTMLSelectElement>('weightFormat').value as LoadRequest['weightFormat'],
        maxSequences: Math.max(1, Number($<HTMLInputElement>('maxSeqs').value) || 8),
        policy: k.make(Number(knob.value)),
      },
      (p) => {
        const f = p.totalBytes ? p.bytesRead / p.totalBytes : 0;
        progressBar.style.width = `${(f * 100).toFixed(1)}%`;
        progressText.textContent = `${mb(p.bytesRead)} of ${mb(p.totalBytes)} · ${p.tensor}`;
      },
    );
  } catch (e) {
    state.loading = false;
    progressEl.hidden = true;
    const a = adviseLoadError(e);
    showAdvice(a);
    setStatus(`could not load ${what}`, true);
    state.error = a.title;
    return;
  }
  progressEl.hidden = true;
  state.loads++;
  state.loading = false;
  state.error = undefined;
  state.model = info;
  // a URL-loaded model is named by its folder
  info.name = info.name.replace(/\/+$/, '').split('/').at(-1) || info.name;
  state.policy = policyLabel(currentKind(), Number(knob.value));
  topK = info.topK || 4;
  syncKnob(false);
  heatPolicy.reset(info.layers, info.experts);
  heatBaseline.reset(info.layers, info.experts);
  charts.setScale(info.layers, info.expertBytes);
  totals = { policy: 0, baseline: 0, policyWithBaseline: 0, steps: 0 };
  oldUntil = 0; // step numbers start again with a new engine
  $('modelInfo').textContent = `${info.name} · ${info.layers} layers × ${info.experts} experts, top-${info.topK} · ${mb(info.expertBytes)} per expert · up to ${info.maxSequences} prompts per step · ${info.adapter}`;
  setStatus(`${info.name} ready on ${info.adapter} (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  state.ready = true;
  refreshButtons();
}

$('urlForm').addEventListener('submit', (e) => {
  e.preventDefault();
  const url = $<HTMLInputElement>('modelUrl').value.trim();
  if (url) void load({ url: url.endsWith('/') ? url : url + '/' }, url);
});
$('loadDefault').onclick = () => void load({ url: DEFAULT_MODEL_URL }, 'webmoe-tiny');
$<HTMLInputElement>('modelDir').onchange = (e) => {
  const list = [...((e.target as HTMLInputElement).files ?? [])];
  if (!list.length) return;
  const files = list.map((file) => ({ path: file.webkitRelativePath || file.name, file }));
  void load({ files }, files[0].path.split('/')[0] || 'the picked folder');
};
addEventListener('resize', () => {
  charts.resize();
  heatPolicy.redraw();
  heatBaseline.redraw();
});

void load({ url: params.get('model') ?? DEFAULT_MODEL_URL }, params.get('model') ?? 'webmoe-tiny');
