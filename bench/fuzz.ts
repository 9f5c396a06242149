// `npm run bench:fuzz`: the fuzz targets of tests/fuzz/targets.ts at bench size (default 100,000
// inputs in all, split over the four targets by their speed), printing inputs/s and the outcome of
// each, and writing bench/out/fuzz.json. Any input that neither loads nor raises a FormatError stops
// the run with fast-check's (shrunk) counterexample and exit code 1. bench/out/fuzz.svg (Vega-Lite):
// the outcome of every input per target, and inputs/s per target.
//   npx tsx bench/fuzz.ts [--inputs 100000] [--seed 1]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, fuzz } from '../tests/fuzz/targets.ts';
import { toSvg } from './plot.ts';

const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const total = arg('inputs', 100_000);
const seed = arg('seed', 1);
// Shares of the inputs per target: the parsers are cheap, building a tokenizer is not.
const SHARE: Record<string, number> = { 'safetensors header': 0.4, 'sharded index': 0.25, 'config.json': 0.25, 'tokenizer + chat template': 0.1 };

async function main(): Promise<void> {
  const rows: { target: string; inputs: number; inputsPerSecond?: number; loaded?: number; formatErrors?: Record<string, number>; result: string; [k: string]: unknown }[] = [];
  let failed = false;
  const t0 = performance.now();
  for (const t of TARGETS) {
    const runs = Math.ceil(total * (SHARE[t.name] ?? 0.25));
    try {
      const r = await fuzz(t, runs, seed);
      const rate = r.inputs / (r.ms / 1000);
      rows.push({ target: t.name, inputs: r.inputs, seconds: r.ms / 1000, inputsPerSecond: rate, loaded: r.loaded, formatErrors: r.errors, result: 'pass' });
      const codes = Object.entries(r.errors).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
      console.log(`${t.name.padEnd(26)} ${String(r.inputs).padStart(7)} inputs  ${rate.toFixed(0).padStart(6)} inputs/s  loaded ${r.loaded}, FormatError ${r.inputs - r.loaded} (${codes})`);
    } catch (e) {
      failed = true;
      rows.push({ target: t.name, inputs: runs, result: 'FAIL', error: String((e as Error).message) });
      console.log(`${t.name}: FAIL\n${(e as Error).message}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const inputs = rows.reduce((s, r) => s + r.inputs, 0);
  console.log(`all targets: ${inputs} inputs in ${seconds.toFixed(1)} s (${(inputs / seconds).toFixed(0)} inputs/s), ${failed ? 'FAILED' : 'no input crashed or escaped the typed error'}`);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'out');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'fuzz.json'), JSON.stringify({ date: new Date().toISOString(), seed, inputs, seconds, result: failed ? 'FAIL' : 'pass', targets: rows }, null, 2));
  const outcomes = rows.flatMap((r) => [
    { target: r.target, outcome: 'loaded', n: r.loaded ?? 0 },
    ...Object.entries(r.formatErrors ?? {}).map(([code, n]) => ({ target: r.target, outcome: `FormatError ${code}`, n })),
  ]);
  writeFileSync(join(out, 'fuzz.svg'), await toSvg({
    title: { text: `fuzz: ${inputs} inputs, ${failed ? 'FAILED' : 'every input loaded or raised a FormatError'}`, subtitle: `seed ${seed} · ${new Date().toISOString().slice(0, 16)}` },
    hconcat: [
      {
        title: 'outcome per input', width: 420, height: 160, data: { values: outcomes }, mark: 'bar',
        encoding: {
          y: { field: 'target', type: 'nominal', title: null },
          x: { field: 'n', type: 'quantitative', aggregate: 'sum', stack: 'normalize', title: 'share of inputs' },
          color: { field: 'outcome', type: 'nominal', scale: { scheme: 'tableau20' }, legend: { labelLimit: 260 } },
          tooltip: [{ field: 'outcome' }, { field: 'n', aggregate: 'sum' }],
        },
      },
      {
        title: 'inputs per second', width: 220, height: 160, data: { values: rows }, mark: 'bar',
        encoding: { y: { field: 'target', type: 'nominal', title: null, axis: null }, x: { field: 'inputsPerSecond', type: 'quantitative', title: 'inputs/s' } },
      },
    ],
  }));
  if (failed) process.exit(1);
}

void main();
