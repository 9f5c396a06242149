// Plots of the benchmarks, drawn with Vega-Lite (compiled to Vega, rendered to SVG headless in Node).
//   plotReport(report, dir): the decode bench (bench/run.ts) -> speedup.svg, time-vs-distinct.svg,
//     bandwidth.svg, throughput.svg, strategies.svg, time-split.svg
//   plot(kernels.json): the kernel micro-bench (bench/kernels.ts) -> kernels.svg
//   npx tsx bench/plot.ts [bench/out/node/bench.json | bench/out/kernels.json]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchResult } from './lib/timing.ts';
import type { BenchReport } from './lib/harness.ts';
import { BASELINE } from './lib/policies.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Render one Vega-Lite spec to an SVG string. */
export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

type Row = Record<string, unknown>;
const title = (r: BenchReport, what: string) => ({ text: what, subtitle: `${r.adapter.slice(0, 90)} · ${r.env} · ${r.date.slice(0, 16)}${r.quick ? ' · --quick' : ''}` });

export function reportSpecs(r: BenchReport): Record<string, TopLevelSpec> {
  const specs: Record<string, TopLevelSpec> = {};
  const fwd: Row[] = r.forward.map((d) => ({ model: d.model, B: d.B, policy: d.policy, speedup: 1 / d.timeRatio, timeRatio: d.timeRatio, distinctRatio: d.distinctRatio, ms: d.ms.median, lo: 1 / d.pairedRatio.p75, hi: 1 / d.pairedRatio.p25 }));
  if (fwd.length) {
    specs['speedup'] = {
      title: title(r, 'Decode step speed-up over the baseline (MoeModel.forward), per policy'),
      data: { values: fwd },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: 300, height: 220,
        layer: [
          { mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { datum: 1 } } },
          { mark: { type: 'errorbar' }, encoding: { x: { field: 'B', type: 'ordinal', title: 'decode batch (sequences)' }, y: { field: 'lo', type: 'quantitative', title: 'baseline ms / policy ms' }, y2: { field: 'hi' }, color: { field: 'policy', type: 'nominal' } } },
          { mark: { type: 'line', point: true }, encoding: { x: { field: 'B', type: 'ordinal' }, y: { field: 'speedup', type: 'quantitative' }, color: { field: 'policy', type: 'nominal' }, tooltip: [{ field: 'policy' }, { field: 'B' }, { field: 'ms', format: '.1f' }, { field: 'distinctRatio', format: '.2f' }] } },
        ],
      },
    } as TopLevelSpec;
    specs['time-vs-distinct'] = {
      title: title(r, 'Step time vs distinct experts read, both relative to the baseline'),
      data: { values: fwd.filter((d) => d.policy !== BASELINE) },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      spec: {
        width: 300, height: 260,
        layer: [
          { data: { values: [{ a: 0, b: 0 }, { a: 1.1, b: 1.1 }] }, mark: { type: 'line', strokeDash: [4, 4], color: '#888' }, encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } },
          { mark: { type: 'point', filled: true, size: 70 }, encoding: { x: { field: 'distinctRatio', type: 'quantitative', title: 'distinct experts / baseline', scale: { domain: [0, 1.1] } }, y: { field: 'timeRatio', type: 'quantitative', title: 'step time / baseline', scale: { domain: [0, 1.3] } }, color: { field: 'policy', type: 'nominal' }, shape: { field: 'B', type: 'nominal', title: 'batch' }, tooltip: [{ field: 'policy' }, { field: 'B' }, { field: 'timeRatio', format: '.2f' }, { field: 'distinctRatio', format: '.2f' }] } },
        ],
      },
    } as TopLevelSpec;
  }
  if (r.profile.length) {
    const bw: Row[] = r.profile.flatMap((p) => [
      { model: p.model, case: `${p.policy} B${p.B}`, what: 'MoE part (expert bytes / MoE GPU time)', ratio: p.moeGBps / r.copy.gbps },
      { model: p.model, case: `${p.policy} B${p.B}`, what: 'whole step (all weight bytes / GPU time)', ratio: p.stepGBps / r.copy.gbps },
    ]);
    specs['bandwidth'] = {
      title: title(r, `Achieved weight bandwidth / buffer copy bandwidth (${r.copy.gbps.toFixed(2)} GB/s), same run`),
      data: { values: bw },
      facet: { row: { field: 'model', type: 'nominal', title: null } },
      resolve: { scale: { x: 'independent' }, axis: { x: 'independent' } },
      spec: {
        width: 520, height: 160,
        mark: { type: 'point', filled: true, size: 90 },
        encoding: {
          x: { field: 'case', type: 'nominal', title: null, sort: null }, shape: { field: 'what', type: 'nominal' },
          y: { field: 'ratio', type: 'quantitative', title: 'GB/s / copy GB/s' }, color: { field: 'what', type: 'nominal', legend: { orient: 'bottom', title: null, labelLimit: 400 } }, 
          tooltip: [{ field: 'case' }, { field: 'what' }, { field: 'ratio', format: '.4f' }],
        },
      },
    } as TopLevelSpec;
    const split: Row[] = r.profile.filter((p) => p.policy === BASELINE).flatMap((p) => p.families.map((f) => ({ model: p.model, B: `B${p.B}`, family: f.family, share: f.share, ms: f.ms })));
    specs['time-split'] = {
      title: title(r, 'GPU time of one decode step by dispatch family (baseline policy)'),
      data: { values: split },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: 220, height: 240,
        mark: 'bar',
        encoding: {
          x: { field: 'B', type: 'nominal', title: 'decode batch', sort: null },
          y: { field: 'share', type: 'quantitative', stack: 'normalize', title: 'share of GPU time', axis: { format: '%' } },
          color: { field: 'family', type: 'nominal', scale: { scheme: 'tableau20' }, legend: { title: 'shader:entry', labelLimit: 300 } },
          tooltip: [{ field: 'family' }, { field: 'ms', format: '.2f' }, { field: 'share', format: '.1%' }],
        },
      },
    } as TopLevelSpec;
  }
  if (r.scheduler.length) {
    specs['throughput'] = {
      title: title(r, 'Aggregate generated tokens/s through the scheduler vs concurrent requests'),
      data: { values: r.scheduler.map((s) => ({ model: s.model, policy: s.policy, C: s.C, tps: s.tokensPerS, decode: s.decodeTokensPerS, ttft: s.ttftMs.median })) },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 300, height: 220,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'C', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'concurrent requests' },
          y: { field: 'tps', type: 'quantitative', title: 'tokens/s (all requests)' }, color: { field: 'policy', type: 'nominal' },
          tooltip: [{ field: 'policy' }, { field: 'C' }, { field: 'tps', format: '.2f' }, { field: 'decode', format: '.2f' }, { field: 'ttft', format: '.0f' }],
        },
      },
    } as TopLevelSpec;
  }
  if (r.strategies.length) {
    specs['strategies'] = {
      title: title(r, 'One MoE layer: time / grouped kernel time, baseline routing'),
      data: { values: r.strategies.map((s) => ({ model: s.model, T: s.T, strategy: s.strategy, ratio: s.ratio, ms: s.ms.median })) },
      facet: { column: { field: 'model', type: 'nominal', title: null } },
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: 260, height: 220,
        layer: [
          { mark: 'bar', encoding: { x: { field: 'T', type: 'ordinal', title: 'tokens in the layer call' }, xOffset: { field: 'strategy', type: 'nominal', sort: ['grouped', 'loop', 'dense'] }, y: { field: 'ratio', type: 'quantitative', title: 'ms / grouped ms' }, color: { field: 'strategy', type: 'nominal', sort: ['grouped', 'loop', 'dense'] }, tooltip: [{ field: 'strategy' }, { field: 'T' }, { field: 'ms', format: '.2f' }, { field: 'ratio', format: '.2f' }] } },
          { mark: { type: 'rule', strokeDash: [4, 4], color: '#888' }, encoding: { y: { datum: 1 } } },
        ],
      },
    } as TopLevelSpec;
  }
  return specs;
}

/** Write every plot of a report into dir; returns the file names. */
export async function plotReport(r: BenchReport, dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const [name, spec] of Object.entries(reportSpecs(r))) {
    writeFileSync(join(dir, `${name}.svg`), await toSvg(spec));
    names.push(`${name}.svg`);
  }
  return names;
}

// ---- the kernel micro-bench (bench/kernels.ts, bench/kernels-moe.ts) ----

interface KernelsJson {
  adapter?: string;
  date?: string;
  results: BenchResult[];
}

/** matmul GB/s per case with the copy as a rule; MoE layer ms vs distinct experts per policy and T. */
export function kernelsSpec(j: KernelsJson): TopLevelSpec {
  const copy = j.results.find((r) => r.name.startsWith('copy'));
  const mm = j.results.filter((r) => r.meta?.kernel === 'matmul').map((r) => ({ case: `${r.meta!.format} T${r.meta!.t}`, format: r.meta!.format, gbps: r.gbps, gflops: r.gflops }));
  const moe = j.results.filter((r) => r.meta?.kernel === 'moe').map((r) => ({ shape: r.meta!.shape, format: r.meta!.format, T: Number(r.meta!.T), policy: r.meta!.policy, ms: r.ms, distinct: r.meta!.distinct }));
  const sub = `${(j.adapter ?? '').slice(0, 90)} ${j.date ? `· ${j.date.slice(0, 16)}` : ''}`;
  return {
    title: { text: 'webmoe kernel bench', subtitle: sub },
    resolve: { scale: { color: 'independent', shape: 'independent' }, legend: { color: 'independent', shape: 'independent' } },
    hconcat: [
      {
        title: 'matmul weight GB/s (log), copy dashed',
        width: 360, height: 260,
        layer: [
          { data: { values: mm }, mark: { type: 'point', filled: true, size: 80 }, encoding: { x: { field: 'case', type: 'nominal', sort: null, title: null }, y: { field: 'gbps', type: 'quantitative', scale: { type: 'log' }, title: 'GB/s' }, color: { field: 'format', type: 'nominal', legend: { title: 'matmul format' } }, tooltip: [{ field: 'case' }, { field: 'gbps', format: '.3f' }, { field: 'gflops', format: '.3f' }] } },
          ...(copy ? [{ data: { values: [{ g: copy.gbps }] }, mark: { type: 'rule' as const, strokeDash: [6, 4], color: '#e377c2' }, encoding: { y: { field: 'g', type: 'quantitative' as const } } }] : []),
        ],
      },
      {
        title: 'MoE layer ms per call vs distinct experts',
        data: { values: moe },
        facet: { column: { field: 'T', type: 'ordinal', title: 'tokens T' } },
        spec: { width: 140, height: 260, mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'distinct', type: 'quantitative' }, y: { field: 'ms', type: 'quantitative' }, color: { field: 'policy', type: 'nominal', scale: { scheme: 'dark2' } }, shape: { field: 'format', type: 'nominal' }, tooltip: [{ field: 'policy' }, { field: 'format' }, { field: 'ms', format: '.2f' }] } },
      },
    ],
  } as TopLevelSpec;
}

/** Write bench/out/kernels.svg from a kernels.json file. */
export async function plot(jsonFile = join(here, 'out', 'kernels.json'), svgFile = join(dirname(jsonFile), 'kernels.svg')): Promise<string> {
  const j = JSON.parse(readFileSync(jsonFile, 'utf8')) as KernelsJson;
  writeFileSync(svgFile, await toSvg(kernelsSpec(j)));
  return svgFile;
}

/** End of a bench/kernels.ts run: MoE ratio table + JSON (if kernels-moe.ts exists), then the SVG. */
export async function afterBench(outDir: string, results: BenchResult[]): Promise<void> {
  const moePath = join(here, 'kernels-moe.ts');
  if (existsSync(moePath)) {
    const mod = (await import(pathToFileURL(moePath).href)) as { moeReport?: (r: BenchResult[], dir: string) => unknown };
    mod.moeReport?.(results, outDir);
  }
  const json = join(outDir, 'kernels.json');
  if (existsSync(json)) console.log(`plot -> ${await plot(json)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? join(here, 'out', 'kernels.json');
  const j = JSON.parse(readFileSync(file, 'utf8'));
  if (Array.isArray(j.results)) console.log(`plot -> ${await plot(file)}`);
  else console.log(`plots -> ${(await plotReport(j as BenchReport, dirname(file))).join(', ')}`);
}
