// `npm run bench` — the decode benchmark (Node on Dawn, or --browser: the same cases in Chromium).
//   npm run bench [-- --quick] [-- --browser] [-- --models default,synth] [-- --save]
// Writes bench/out/bench.json, bench/out/bench.md and bench/out/*.svg; --save also copies them to
// docs/results/<date>-<env>-<adapter>/ (the committed results).
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeGpu } from '../src/gpu/node.ts';
import { filesFromNodeDir } from '../src/format/source-node.ts';
import { loadTokenizer } from '../src/format/tokenizer.ts';
import { defaultModelDir } from '../src/default-model.ts';
import { runBench, type BenchReport, type ModelPlan } from './lib/harness.ts';
import { PROMPTS, benchConfig, defaultModelPlan, promptsFromText, synthModelPlan } from './lib/plans.ts';
import { markdownReport } from './lib/report.ts';
import { plotReport } from './plot.ts';
import { SYNTH_FULL, SYNTH_QUICK, ensureSynthModel } from './synth-model.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const argv = process.argv.slice(2);
const has = (f: string) => argv.includes(`--${f}`);
const opt = (f: string) => {
  const i = argv.indexOf(`--${f}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

/** The plans of the models asked for, with their folders (the browser loads them by URL from there). */
export async function nodeModelPlans(quick: boolean, which: string[]): Promise<{ plans: ModelPlan[]; dirs: string[] }> {
  const plans: ModelPlan[] = [];
  const dirs: string[] = [];
  if (which.includes('default')) {
    const dir = defaultModelDir();
    const files = filesFromNodeDir(dir);
    const tok = await loadTokenizer(files);
    const text = readFileSync(join(dir, 'eval', 'heldout-slice.txt'), 'utf8');
    const len = defaultModelPlan({} as never, quick).promptLen;
    plans.push(defaultModelPlan({
      name: 'webmoe-mini', note: 'the embedded default model, held-out text prompts', files, weightFormat: 'f16',
      prompts: promptsFromText(tok, text, PROMPTS, len),
    }, quick));
    dirs.push(dir);
  }
  if (which.includes('synth')) {
    const shape = quick ? SYNTH_QUICK : SYNTH_FULL;
    const dir = await ensureSynthModel(join(here, 'out', 'models'), shape, (l: string) => console.log(l));
    plans.push(synthModelPlan({ name: shape.name, note: shape.note, files: filesFromNodeDir(dir), weightFormat: shape.weightFormat }, quick));
    dirs.push(dir);
  }
  return { plans, dirs };
}

/** Write JSON, markdown and plots into `dir`. */
export async function writeOutputs(report: BenchReport, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bench.json'), JSON.stringify(report, null, 1));
  writeFileSync(join(dir, 'bench.md'), markdownReport(report) + '\n');
  const svgs = await plotReport(report, dir);
  return ['bench.json', 'bench.md', ...svgs];
}

/** "google swiftshader swiftshader-device-subzero- (software) [...]" -> "google-swiftshader" (vendor, architecture). */
function slug(adapter: string): string {
  return adapter.toLowerCase().split(/\s+/).slice(0, 2).join('-').replace(/[^a-z0-9-]+/g, '');
}

async function main(): Promise<void> {
  const quick = has('quick');
  const which = (opt('models') ?? 'default,synth').split(',');
  const { plans, dirs } = await nodeModelPlans(quick, which);
  const cfg = benchConfig(quick, plans);
  let report: BenchReport;
  if (has('browser')) {
    const { runInBrowser } = await import('./browser/driver.ts');
    report = await runInBrowser(cfg, dirs, root);
  } else {
    const gpu = await createNodeGpu({ onNotice: (l) => console.log(l) });
    try {
      report = await runBench(gpu, cfg, 'node (Dawn)');
    } finally {
      await gpu.device.queue.onSubmittedWorkDone();
      gpu.destroy();
    }
  }
  // CPU time of this process (Node: Dawn + SwiftShader threads) next to the wall time: on a shared
  // machine the ratio says how much of a core the run actually got
  report.processCpuS = has('browser') ? undefined : (process.cpuUsage().user + process.cpuUsage().system) / 1e6;
  const outDir = join(here, 'out', has('browser') ? 'browser' : 'node');
  const files = await writeOutputs(report, outDir);
  console.log(`\n${markdownReport(report)}\n\nwrote ${files.map((f) => join(outDir, f)).join(', ')} in ${report.elapsedS.toFixed(0)} s`);
  if (has('save')) {
    const dest = join(root, 'docs', 'results', `${report.date.slice(0, 10)}-${has('browser') ? 'chromium' : 'node'}-${slug(report.adapter)}${quick ? '-quick' : ''}`);
    mkdirSync(dest, { recursive: true });
    for (const f of files) cpSync(join(outDir, f), join(dest, f));
    console.log(`saved to ${dest}`);
  }
  if (!existsSync(outDir)) throw new Error('bench: no output written');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
