// The webmoe demo page: prompt panes decoded together by one engine in a Worker, the experts each
// step woke (policy and baseline routing of the same step), savings over time, live policy control.
import { createWorkerEngine, type Engine, type EngineInfo, type StepMetrics, type WeightFormat } from 'webmoe';
import { Pane, type Mode, type PaneResult } from './panes.ts';
import { Heatmap, type StepActivity } from './heatmap.ts';
import { SavingsCharts } from './savings.ts';
import { POLICY_KINDS, describePolicy, policyLabel } from './policy.ts';
import { COMPLETION_PROMPTS, CHAT_PROMPTS } from './prompts.ts';
import { adviseLoadError, webgpuMissing, type Advice } from './errors.ts';


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
  /** The policy the step ran with, as the engine reports it. */
  policy: string;
}

interface DemoState {
  ready: boolean;
  loading: boolean;
  error?: string;
  model?: EngineInfo;
  loads: number;
  /** Runs started with Run all / Run 8 (a pane's own Run button does not count). */
  run: number;
  done: boolean;
  results: (PaneResult | null)[];
  lastStep?: StepRecord;
  steps: StepRecord[];
  policy: string;
  maxBatchTokens: number;
  /** The last load progress event (stage, where the bytes came from, files, bytes). */
  progress?: { stage: string; from: string; files: number; totalFiles: number; bytes: number; totalBytes: number };
  /** Where the last load's files came from ('network', 'cache', 'local'). */
  loadSources: string[];
}

const state: DemoState = { ready: false, loading: false, loads: 0, run: 0, done: false, results: [], steps: [], policy: 'baseline', maxBatchTokens: 0, loadSources: [] };
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
let engine: Engine | null = null;

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
  try {
    await engine.setPolicy(k.make(v));
  } catch (e) {
    setStatus(`policy ${label} refused: ${(e as Error).message}`, true);
    return;
  }
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
let info: EngineInfo | null = null;
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
  const perExpert = info.experts?.bytesPerExpert ?? 0;
  const bytes = counts.reduce((a, b) => a + b, 0) * perExpert;
  const policy = describePolicy(m.policy);
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
    baselineExpertBytes: baseline ? baseline.reduce((a, b) => a + b, 0) * perExpert : undefined,
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

/** A model folder URL, the files of a picked folder, or undefined for the package's default model. */
type ModelSource = string | Map<string, Blob> | undefined;

async function load(model: ModelSource, what: string): Promise<void> {
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
  setStatus(`loading ${what}…`);
  progressEl.hidden = false;
  progressBar.style.width = '0';
  const t0 = performance.now();
  // picked files are read where they are; a URL's files come from the network or the model cache
  state.loadSources = model instanceof Map ? ['local'] : [];
  const old = engine;
  engine = null;
  await old?.dispose();
  try {
    engine = await createWorkerEngine({
      model,
      weightFormat: $<HTMLSelectElement>('weightFormat').value as WeightFormat,
      maxSequences: Math.max(1, Number($<HTMLInputElement>('maxSeqs').value) || 8),
      policy: currentKind().make(Number(knob.value)),
      onProgress: (p) => {
        const f = p.totalBytes > 0 ? p.bytes / p.totalBytes : 0;
        progressBar.style.width = `${(f * 100).toFixed(1)}%`;
        progressText.textContent =
          p.stage === 'download'
            ? `fetching files ${p.files} of ${p.totalFiles} · ${mb(p.bytes)} of ${mb(p.totalBytes)} · ${p.file} from ${p.from}`
            : `to the GPU · ${mb(p.bytes)} of ${mb(p.totalBytes)} · ${p.file}`;
        state.progress = { stage: p.stage, from: p.from, files: p.files, totalFiles: p.totalFiles, bytes: p.bytes, totalBytes: p.totalBytes };
        if (p.stage === 'download' && !state.loadSources.includes(p.from)) state.loadSources.push(p.from);
      },
    });
  } catch (e) {
    state.loading = false;
    progressEl.hidden = true;
    const a = adviseLoadError(e);
    showAdvice(a);
    setStatus(`could not load ${what}`, true);
    state.error = a.title;
    return;
  }
  info = engine.info;
  engine.onStep(onStep);
  progressEl.hidden = true;
  state.loads++;
  state.loading = false;
  state.error = undefined;
  state.model = info;
  state.policy = policyLabel(currentKind(), Number(knob.value));
  const x = info.experts;
  topK = x?.topK || 4;
  syncKnob(false);
  heatPolicy.reset(x?.layers ?? 0, x?.perLayer ?? 0);
  heatBaseline.reset(x?.layers ?? 0, x?.perLayer ?? 0);
  charts.setScale(x?.moeLayers ?? 0, x?.bytesPerExpert ?? 0);
  totals = { policy: 0, baseline: 0, policyWithBaseline: 0, steps: 0 };
  $('modelInfo').textContent =
    `${info.model} · ` +
    (x ? `${x.layers} layers × ${x.perLayer} experts, top-${x.topK} · ${mb(x.bytesPerExpert)} per expert · ` : '') +
    `up to ${info.maxSequences} prompts per step · ${info.adapter}`;
  setStatus(`${info.model} ready on ${info.adapter} (loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  state.ready = true;
  refreshButtons();
}

$('urlForm').addEventListener('submit', (e) => {
  e.preventDefault();
  const url = $<HTMLInputElement>('modelUrl').value.trim();
  if (url) void load(url, url);
});
$('loadDefault').onclick = () => void load(undefined, 'the default model');
$<HTMLInputElement>('modelDir').onchange = (e) => {
  const list = [...((e.target as HTMLInputElement).files ?? [])];
  if (!list.length) return;
  // keys are paths inside the picked folder (webmoe drops the folder's own name)
  const files = new Map<string, Blob>(list.map((file) => [file.webkitRelativePath || file.name, file]));
  void load(files, list[0].webkitRelativePath.split('/')[0] || 'the picked folder');
};
addEventListener('resize', () => {
  charts.resize();
  heatPolicy.redraw();
  heatBaseline.redraw();
});

void load(params.get('model') ?? undefined, params.get('model') ?? 'the default model');
