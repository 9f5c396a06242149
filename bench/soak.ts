// `npm run bench:soak`: the issue-12 soak at bench size. Part 1 drives the scheduler with a fake model
// (default 2,000 requests); part 2 drives the embedded default model on WebGPU (default 48 requests)
// with every GPU buffer counted. Both mix random prompt lengths, random sampling settings, random
// cancellations at random times and invalid requests, then check that greedy requests give the same
// tokens as alone, cancelled ones ended within one step of their abort, invalid ones failed alone, and
// (GPU) that the live buffer count is back to its baseline after dispose. Prints the time of the
// batched soak against the same greedy requests run alone (measured in this run) and writes
// bench/out/soak.json and bench/out/soak.svg (Vega-Lite: how each kind of request ended, and how many
// steps cancelled requests ran after their abort). Exit code 1 on any violation.
//   bash scripts/with-gpu.sh npx tsx bench/soak.ts [--fake 2000] [--real 48] [--seed 1]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scheduler } from '../src/scheduler/scheduler.ts';
// (not src/node.ts: its re-export of the browser entry needs Vite's import.meta.glob)
import { createEngineWith } from '../src/api/load.ts';
import { createNodeGpu } from '../src/gpu/node.ts';
import { filesFromNodeDir } from '../src/format/source-node.ts';
import { defaultModelDir } from '../src/default-model.ts';
import { FakeModel } from '../tests/helpers/fake-model.ts';
import { runSoak, soakViolations, type SoakReport } from '../tests/helpers/soak.ts';
import { countBuffers } from '../tests/helpers/buffer-count.ts';
import { toSvg } from './plot.ts';

const arg = (k: string, d: number) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const FAKE = arg('fake', 2000);
const REAL = arg('real', 48);
const SEED = arg('seed', 1);

function summary(rep: SoakReport): Record<string, unknown> {
  const aborted = rep.records.filter((r) => r.result?.finishReason === 'abort').length;
  const tokens = rep.records.reduce((s, r) => s + (r.result?.tokens.length ?? 0), 0);
  return { requests: rep.records.length, ...rep.counts, endedByAbort: aborted, tokens, steps: rep.steps, seconds: rep.ms / 1000 };
}

/** Rows for the plot: every request's kind and end, and the steps between abort and end. */
const plotRows = (part: string, rep: SoakReport) =>
  rep.records.map((r) => ({
    part,
    kind: r.kind,
    end: r.error !== undefined ? (r.kind === 'invalid' ? 'rejected (ParameterError)' : 'failed') : r.result!.finishReason,
    stepsAfterAbort: r.abortedAtStep !== undefined && r.result?.finishReason === 'abort' ? r.endedAtStep! - r.abortedAtStep : null,
  }));

async function main(): Promise<void> {
  const out: Record<string, unknown> = { date: new Date().toISOString(), seed: SEED };
  const rows: ReturnType<typeof plotRows> = [];
  let failed = false;

  // Part 1: the scheduler with a fake model (1 ms steps).
  {
    const m = new FakeModel({ maxSequences: 8, maxContext: 96, vocabSize: 64, stepMs: 1 });
    const s = new Scheduler(m, { maxBatchTokens: 32, prefillChunk: 8 });
    const rep = await runSoak(s, {
      requests: FAKE, seed: SEED, vocabSize: 64, maxPrompt: 60, maxTokens: 24, spreadMs: FAKE * 2,
      cancelFraction: 0.3, invalidFraction: 0.1, sampleFraction: 0.3,
    });
    const bad = await soakViolations(rep, (r) => m.alone(r.prompt, r.maxTokens, r.ignoreEos));
    if (m.live.size !== 0) bad.push(`${m.live.size} sequences never freed`);
    failed ||= bad.length > 0;
    out.fake = { ...summary(rep), violations: bad };
    rows.push(...plotRows('fake model', rep));
    console.log(`fake model: ${rep.records.length} requests (${JSON.stringify(rep.counts)}) in ${(rep.ms / 1000).toFixed(1)} s, ${rep.steps} steps; violations: ${bad.length}`);
    for (const b of bad.slice(0, 20)) console.log(`  ${b}`);
  }

  // Part 2: the default model on WebGPU, every buffer counted.
  if (REAL > 0) {
    const gpu = await createNodeGpu({ onNotice: (l) => console.log(l) });
    const counter = countBuffers(gpu.device);
    const engine = await createEngineWith(filesFromNodeDir(defaultModelDir()), { gpu, maxSequences: 6, maxContext: 128, maxBatchTokens: 48 }, () => createNodeGpu());
    const afterLoad = counter.live;
    const rep = await runSoak(engine.scheduler, {
      requests: REAL, seed: SEED, vocabSize: 8192, maxPrompt: 48, maxTokens: 8, spreadMs: REAL * 150,
      cancelFraction: 0.25, invalidFraction: 0.1, sampleFraction: 0.25,
    });
    const afterSoak = counter.live;
    rows.push(...plotRows('default model (WebGPU)', rep));
    let aloneMs = 0;
    const bad = await soakViolations(rep, async (r) => {
      const t0 = performance.now();
      const res = await engine.scheduler.submit(r).result;
      aloneMs += performance.now() - t0;
      return res.tokens;
    });
    await engine.dispose();
    const afterDispose = counter.live;
    if (afterDispose !== 0) bad.push(`${afterDispose} GPU buffers still live after dispose: ${counter.labels().slice(0, 10).join(', ')}`);
    failed ||= bad.length > 0;
    const greedyMs = rep.ms; // the whole mixed soak, batched
    out.real = {
      adapter: gpu.describe(),
      ...summary(rep),
      violations: bad,
      buffers: { afterLoad, afterSoak, afterDispose },
      greedyAloneSeconds: aloneMs / 1000,
      soakOverAloneTime: greedyMs / aloneMs,
    };
    console.log(`default model on ${gpu.describe()}: ${rep.records.length} requests (${JSON.stringify(rep.counts)}) in ${(rep.ms / 1000).toFixed(1)} s, ${rep.steps} steps; violations: ${bad.length}`);
    console.log(`  live GPU buffers: ${afterLoad} after load, ${afterSoak} after the soak (uniform cache), ${afterDispose} after dispose`);
    console.log(`  the whole batched soak took ${(greedyMs / aloneMs).toFixed(2)}x the time of its ${rep.counts.greedy} greedy requests run one by one (${(aloneMs / 1000).toFixed(1)} s)`);
    for (const b of bad.slice(0, 20)) console.log(`  ${b}`);
    counter.restore();
    gpu.destroy();
  }

  const dir = join(dirname(fileURLToPath(import.meta.url)), 'out');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'soak.json'), JSON.stringify({ ...out, result: failed ? 'FAIL' : 'pass' }, null, 2));
  writeFileSync(join(dir, 'soak.svg'), await toSvg({
    title: { text: `soak: ${failed ? 'FAILED' : 'no violation'}`, subtitle: `seed ${SEED} · ${String(out.date).slice(0, 16)}` },
    hconcat: [
      {
        title: 'how requests ended, by kind', width: 300, height: 140, data: { values: rows }, mark: 'bar',
        encoding: {
          row: { field: 'part', type: 'nominal', title: null },
          y: { field: 'kind', type: 'nominal', title: null },
          x: { aggregate: 'count', type: 'quantitative', title: 'requests' },
          color: { field: 'end', type: 'nominal', title: 'ended' },
        },
        resolve: { scale: { x: 'independent' } },
      },
      {
        title: 'steps run after the abort', width: 200, height: 140, data: { values: rows.filter((r) => r.stepsAfterAbort !== null) }, mark: 'bar',
        encoding: {
          row: { field: 'part', type: 'nominal', title: null },
          x: { field: 'stepsAfterAbort', type: 'ordinal', title: 'steps (0 = ended while waiting)' },
          y: { aggregate: 'count', type: 'quantitative', title: 'cancelled requests' },
        },
        resolve: { scale: { y: 'independent' } },
      },
    ],
  } as never));
  console.log(failed ? 'soak: FAILED' : 'soak: pass');
  process.exit(failed ? 1 : 0);
}

void main();
