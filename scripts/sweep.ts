/**
 * `npm run sweep`: every policy at several budgets, lockstep decode (src/eval/decode.ts) on held-out text,
 * batch 1, 4, 8, 16, 32, the baseline on the same tokens in the same run. Writes docs/results/policies.json,
 * .md and .svg (vega-lite, one panel per batch size, one line per policy: perplexity rise vs distinct
 * experts per layer per step).
 *   tsx scripts/sweep.ts [--model DIR] [--text-file HELDOUT] [--backend reference|webgpu] [--batches 1,4,8,16,32]
 *                        [--segments 32] [--context 16] [--steps 48] [--out docs/results/policies] [--quick]
 * The held-out text is tools/work/heldout.txt (python3 tools/train/corpus.py --fetch writes it).
 * With --confirm B the headline policy and the baseline also run on WebGPU at batch B (fewer segments).
 * Every measured row is cached in --cache (default tools/work/sweep/<model>-c<C>-n<N>-s<S>/b<B>.jsonl), so
 * one process per batch size can run in parallel and a last `--render-only` run draws them all; policies
 * that need the calibration wait for it (--calibration FILE, polled) after the plain ones.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { defaultModelDir } from '../src/default-model.ts';
import { readEvalTokens, openStepModel } from '../src/cli/eval-decode.ts';
import { decodeSegments, evalDecode, expertBytes, freeRun, runDecode, type DecodeRun } from '../src/eval/decode.ts';
import type { Policy } from '../src/routing/types.ts';
import { needsCalibration } from '../src/routing/resolve.ts';
import { decodeCalibration } from '../src/routing/calibration.ts';
import { fromNodeFile } from '../src/format/source-node.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, 'text-file': { type: 'string' }, backend: { type: 'string' }, batches: { type: 'string' },
    segments: { type: 'string' }, context: { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' },
    quick: { type: 'boolean' }, confirm: { type: 'string' }, 'confirm-segments': { type: 'string' }, calibration: { type: 'string' },
    headline: { type: 'string' }, 'render-only': { type: 'boolean' }, cache: { type: 'string' }, only: { type: 'string' },
  },
});
const dir = path.resolve(a.model ?? defaultModelDir());
const textFile = a['text-file'] ?? 'tools/work/heldout.txt';
const backend = a.backend ?? 'reference';
const batches = (a.batches ?? '1,4,8,16,32').split(',').map(Number);
const C = Number(a.context ?? 16);
const N = Number(a.steps ?? 48);
const SEG = Number(a.segments ?? 32);
const out = a.out ?? 'docs/results/policies';

/** Each paper's method alone, at several budgets, and webmoe's combined policy. */
interface Entry { family: string; label: string; policy: Policy }
function policies(B: number, topK: number): Entry[] {
  const e: Entry[] = [];
  const add = (family: string, label: string, policy: Policy) => e.push({ family, label, policy });
  // every batch size gets the whole grid (issue #7: every policy at several budgets per batch size)
  const full = !a.quick;
  void B;
  for (const k of [topK - 1, topK - 2].filter((k) => k >= 1)) add('reduced top-k (2505.03531)', `k=${k}`, { kind: 'reduced_topk', k });
  for (const f of full ? [0.9, 0.8, 0.7, 0.6] : [0.8, 0.6]) add('XShare', `fraction ${f}`, { kind: 'xshare', fraction: f });
  // SERE's primary set is every token's top-S: the paper's S=1-2 are for top-2/top-4 models; a top-8 model
  // gets S = k/2 and k-2 as well (S=2 of 8 re-routes three quarters of every token's slots)
  add('SERE', 'S=2 th=0.1', { kind: 'sere', selectTopK: 2, threshold: 0.1 });
  add('SERE', 'S=1 th=0', { kind: 'sere', selectTopK: 1, threshold: 0 });
  if (topK >= 6) for (const S of [topK - 2, topK / 2]) add('SERE', `S=${S} th=0.1`, { kind: 'sere', selectTopK: S, threshold: 0.1 });
  for (const k of full ? [topK - 0.5, topK - 1, topK - 1.5] : [topK - 1]) add('Alloc-L', `k=${k}`, { kind: 'alloc', k });
  for (const k of full ? [topK - 0.5, topK - 1] : [topK - 1]) add('Alloc-L+T', `k=${k}`, { kind: 'alloc', k, tokens: true });
  for (const c of full ? [0.95, 0.9, 0.85, 0.8] : [0.9, 0.8]) add('webmoe mass (similar)', `coverage ${c}`, { kind: 'mass', coverage: c });
  for (const c of full ? [0.93, 0.9, 0.85] : [0.9]) add('webmoe mass (refill)', `coverage ${c}`, { kind: 'mass', coverage: c, reroute: 'refill' });
  for (const r of full ? [0.005, 0.01, 0.02] : [0.01]) add('webmoe auto', `rise ${r}`, { kind: 'auto', maxPerplexityRise: r });
  return e;
}

interface Row {
  batch: number; family: string; label: string; policy: Policy;
  ppl: number; ppl_rise: number; nll_diff_se: number; distinct: number; distinct_ratio: number; distinct_per_layer: number[];
  mass_kept: number; expert_bytes_per_step: number; agreement: number; first_divergence: number; tokens: number; seconds: number;
}

const t0 = performance.now();
const { ids, bos, spec } = await readEvalTokens(dir, textFile);
const cacheDir = a.cache ?? `tools/work/sweep/${path.basename(dir)}-c${C}-n${N}-s${SEG}`;
mkdirSync(cacheDir, { recursive: true });
const cacheFile = (B: number) => path.join(cacheDir, `b${B}.jsonl`);
type Cached = Row & { nlls?: number[]; agree?: number[][] };
const readCache = (B: number): Map<string, Cached> => {
  const m = new Map<string, Cached>();
  if (existsSync(cacheFile(B))) for (const line of readFileSync(cacheFile(B), 'utf8').split('\n')) if (line.trim()) {
    const r = JSON.parse(line) as Cached;
    m.set(JSON.stringify(r.policy), r);
  }
  return m;
};
const bytes = expertBytes(spec, 'f32');
const rows: Row[] = [];
const agreeN = Math.min(N, 32);
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}\n`);
if (!a['render-only']) {
  const maxB = Math.max(...batches);
  const { model, destroy } = await openStepModel(dir, backend, 'f32', { seqs: Math.max(maxB, SEG), context: C + N, batchTokens: Math.max(maxB, maxB * C), calibration: a.calibration && existsSync(a.calibration) ? a.calibration : undefined });
  let haveCal = false;
  const waitCalibration = async () => {
    if (haveCal) return;
    const f = a.calibration ?? path.join(dir, 'calibration.safetensors');
    while (!existsSync(f)) {
      log(`waiting for ${f}`);
      await new Promise((r) => setTimeout(r, 30_000));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const src = await fromNodeFile(path.resolve(f));
    (model as unknown as { setCalibration(c: unknown): void }).setCalibration(await decodeCalibration(src, { layers: spec.layers, E: spec.numExperts }));
    await src.close?.();
    haveCal = true;
  };
  for (const B of batches) {
    const cache = readCache(B);
    const segs = decodeSegments(ids, C, N, bos).slice(0, Math.max(B, Math.floor(SEG / B) * B));
    const o = { batch: B, context: C, steps: N, bos, expertBytes: bytes, policy: { kind: 'baseline' } as Policy };
    let base = cache.get(JSON.stringify({ kind: 'baseline' }));
    if (!base) {
      const r = await runDecode(model, segs, o, { kind: 'baseline' });
      const agree = await freeRun(model, segs.slice(0, B), C, agreeN, { kind: 'baseline' });
      base = { batch: B, family: 'baseline', label: 'top-k', policy: { kind: 'baseline' }, ppl: r.ppl, ppl_rise: 0, nll_diff_se: 0, distinct: r.distinct_experts, distinct_ratio: 1,
        distinct_per_layer: r.distinct_experts_per_layer, mass_kept: 1, expert_bytes_per_step: r.expert_bytes_per_step, agreement: 1, first_divergence: agreeN, tokens: r.tokens, seconds: 0, nlls: r.nlls, agree };
      appendFileSync(cacheFile(B), JSON.stringify(base) + '\n');
    }
    log(`batch ${B}: baseline ppl ${base.ppl.toFixed(3)} distinct ${base.distinct.toFixed(2)} (${segs.length} segments x ${N} steps)`);
    // --only 'XShare|fraction 0.8,webmoe' : measure just the entries whose "family|label" contains one of these
    const only = a.only?.split(',');
    const todo = policies(B, spec.topK).filter((p) => !only || only.some((o) => (o.endsWith('$') ? `${p.family}|${p.label}` === o.slice(0, -1) : `${p.family}|${p.label}`.includes(o))));
    const rank = (p: Entry) => (only ? only.findIndex((o) => (o.endsWith('$') ? `${p.family}|${p.label}` === o.slice(0, -1) : `${p.family}|${p.label}`.includes(o))) : 0);
    todo.sort((x, y) => Number(needsCalibration(x.policy)) - Number(needsCalibration(y.policy)) || rank(x) - rank(y));
    for (const p of todo) {
      if (cache.has(JSON.stringify(p.policy))) continue;
      if (needsCalibration(p.policy)) await waitCalibration();
      const s0 = performance.now();
      const r = await runDecode(model, segs, o, p.policy);
      const mine = await freeRun(model, segs.slice(0, B), C, agreeN, p.policy);
      let same = 0;
      let first = 0;
      mine.forEach((m, j) => {
        let f = agreeN;
        m.forEach((t, i) => (t === base!.agree![j][i] ? same++ : f === agreeN && (f = i)));
        first += f;
      });
      const d = r.nlls.map((v, i) => v - base!.nlls![i]);
      const mean = d.reduce((x, y) => x + y, 0) / d.length;
      const se = Math.sqrt(d.reduce((x, y) => x + (y - mean) ** 2, 0) / Math.max(1, d.length - 1) / d.length);
      const row: Row = { batch: B, ...p, ppl: r.ppl, ppl_rise: r.ppl / base.ppl - 1, nll_diff_se: se, distinct: r.distinct_experts, distinct_ratio: r.distinct_experts / base.distinct,
        distinct_per_layer: r.distinct_experts_per_layer, mass_kept: r.mass_kept, expert_bytes_per_step: r.expert_bytes_per_step,
        agreement: same / (agreeN * B), first_divergence: first / B, tokens: r.tokens, seconds: (performance.now() - s0) / 1000 };
      appendFileSync(cacheFile(B), JSON.stringify(row) + '\n');
      log(`batch ${B} ${p.family} ${p.label}: ppl ${(100 * row.ppl_rise).toFixed(2)}% (se ${(100 * se).toFixed(2)}%), distinct ${(100 * (row.distinct_ratio - 1)).toFixed(1)}%, mass ${row.mass_kept.toFixed(3)}`);
    }
  }
  destroy();
}
for (const B of batches) {
  const cache = readCache(B);
  const base = cache.get(JSON.stringify({ kind: 'baseline' }));
  if (!base) continue;
  for (const p of [{ family: 'baseline', label: 'top-k', policy: { kind: 'baseline' } as Policy }, ...policies(B, spec.topK)]) {
    const r = cache.get(JSON.stringify(p.policy));
    if (!r) continue;
    const { nlls: _n, agree: _a, ...row } = r;
    rows.push({ ...row, family: p.family, label: p.label });
  }
}

// headline: at batch 16, the largest cut in distinct experts with ppl rise <= 1% among webmoe's policies
const shipped = rows.filter((r) => r.batch === 16 && r.family.startsWith('webmoe'));
const ok = shipped.filter((r) => r.ppl_rise <= 0.01);
const head = (ok.length ? ok : shipped).reduce((x, y) => (y.distinct_ratio < x.distinct_ratio ? y : x), shipped[0]);
let confirm: unknown = null;
if (a.confirm && head) {
  const B = Number(a.confirm);
  const segments = Number(a['confirm-segments'] ?? B);
  const g = await openStepModel(dir, 'webgpu', 'f32', { seqs: B, context: C + N, batchTokens: B * C, calibration: a.calibration });
  const r = await evalDecode(g.model, ids, { batch: B, context: C, steps: N, segments, policy: head.policy, compare: { kind: 'baseline' }, bos, expertBytes: bytes, agreeSteps: 8 });
  g.destroy();
  confirm = r;
  log(`WebGPU confirmation at batch ${B}: ppl ratio ${r.ppl_ratio!.toFixed(4)}, distinct ratio ${r.distinct_ratio!.toFixed(4)}`);
}

const when = new Date().toISOString();
const cmd = `tsx scripts/sweep.ts --model ${path.relative(process.cwd(), dir)} --text-file ${textFile} --backend ${backend} --batches ${batches.join(',')} --segments ${SEG} --context ${C} --steps ${N}${a.confirm ? ` --confirm ${a.confirm}` : ''}`;
const meta = { date: when, model: path.basename(dir), text: textFile, backend, context: C, steps: N, segments: SEG, command: cmd, seconds: (performance.now() - t0) / 1000 };
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(`${out}.json`, JSON.stringify({ meta, headline: head, webgpu_confirmation: confirm, rows }, null, 1) + '\n');

// plot: one panel per batch size, x = distinct experts per layer per step, y = ppl rise %, one line per family
const spec2: vl.TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  title: { text: `${meta.model}: perplexity rise vs distinct experts per layer per decode step`, subtitle: `lockstep decode on ${path.basename(textFile)}, ${meta.date.slice(0, 10)}, ${backend} backend` },
  data: { values: rows.map((r) => ({ ...r, rise: 100 * r.ppl_rise, policy: undefined })) },
  facet: { column: { field: 'batch', type: 'ordinal', title: 'batch size' } },
  resolve: { scale: { x: 'independent' } },
  spec: {
    width: 230, height: 260,
    layer: [
      { mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { y: { datum: 1 } } },
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'distinct', type: 'quantitative', title: 'distinct experts / layer / step', scale: { zero: false } },
          y: { field: 'rise', type: 'quantitative', title: 'held-out perplexity rise (%)' },
          color: { field: 'family', type: 'nominal', title: 'policy' },
          order: { field: 'distinct', type: 'quantitative' },
          tooltip: [{ field: 'label' }, { field: 'rise' }, { field: 'distinct_ratio' }],
        },
      },
    ],
  },
};
const view = new vega.View(vega.parse(vl.compile(spec2).spec), { renderer: 'none' });
writeFileSync(`${out}.svg`, await view.toSVG());

const pct = (v: number, d = 1) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(d)}%`;
const md: string[] = [
  `# Batch-aware expert selection: policy sweep`,
  '',
  `${meta.date} · model \`${meta.model}\` · held-out text \`${textFile}\` · ${backend} backend · lockstep decode, context ${C}, ${N} steps,`,
  `${SEG} segments per batch size (fewer than the batch: one group) · ${Math.round(meta.seconds)} s`,
  '',
  `Command: \`${cmd}\``,
  '',
  `Each row: the policy on the same tokens as the baseline of its batch size. distinct = distinct experts per MoE layer per decode`,
  `step (decode reads each distinct expert's weights once); rise = held-out perplexity / baseline - 1 (se = paired standard error`,
  `of the mean NLL difference); mass = share of the baseline top-k gating mass kept; agree = greedy tokens equal to the`,
  `baseline's over ${agreeN} free-running steps of the first group.`,
  '',
  head ? `**Headline (batch 16): \`${JSON.stringify(head.policy)}\` — ${pct(head.distinct_ratio - 1)} distinct experts per layer per step at ${pct(head.ppl_rise, 2)} held-out perplexity.**` : '',
  '',
  `![sweep](${path.basename(out)}.svg)`,
  '',
];
for (const B of batches) {
  md.push(`## batch ${B}`, '', '| policy | setting | distinct | vs baseline | ppl | rise (se) | mass kept | agree |', '|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows.filter((x) => x.batch === B)) {
    md.push(`| ${r.family} | ${r.label} | ${r.distinct.toFixed(2)} | ${pct(r.distinct_ratio - 1)} | ${r.ppl.toFixed(3)} | ${pct(r.ppl_rise, 2)} (${(100 * r.nll_diff_se).toFixed(2)}) | ${r.mass_kept.toFixed(3)} | ${r.agreement.toFixed(2)} |`);
  }
  md.push('');
}
if (confirm) md.push('## WebGPU confirmation', '', '```json', JSON.stringify(confirm), '```', '');
writeFileSync(`${out}.md`, md.join('\n'));
log(`wrote ${out}.json/.md/.svg`);
process.exit(0);
