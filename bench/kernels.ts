// Kernel micro-benchmarks on the adapter Node finds (Dawn; SwiftShader when no hardware GPU).
//   npx tsx bench/kernels.ts [--n 1024] [--k 1024] [--reps 5] [--quick]
// For each weight format: matmul at decode shapes (T=1, T=8) and a prefill shape (T=64), plus a
// buffer-to-buffer copy of the f32 weight's byte count as the memory-bandwidth yardstick. Prints a table
// and writes bench/out/kernels.json.
//
// Extending: other benches build BenchCase objects and call runCases(); bench/kernels-moe.ts, if present,
// is imported and its `cases(gpu)` (returning BenchCase[] or a promise of one) are run in the same table.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createNodeGpu } from '../src/gpu/node.ts';
import type { Gpu } from '../src/gpu/context.ts';
import { benchCase, benchCopy, matmulCases, type BenchCase, type BenchOptions, type BenchResult } from './lib/timing.ts';

export { benchCase, benchCopy, matmulCases, type BenchCase, type BenchResult, type BenchOptions } from './lib/timing.ts';

/** Run cases, adding vsCopy against a copy of `copyBytes` measured in the same run. */
export async function runCases(gpu: Gpu, cases: BenchCase[], copyBytes: number, opts: BenchOptions = {}): Promise<BenchResult[]> {
  const copy = await benchCopy(gpu, copyBytes, opts);
  const results: BenchResult[] = [copy];
  for (const c of cases) {
    const r = await benchCase(gpu, c, opts);
    r.vsCopy = copy.wallMs / r.wallMs * (c.bytes / copyBytes);
    results.push(r);
    c.dispose?.();
    console.log(row(r));
  }
  return results;
}

function row(r: BenchResult): string {
  return [
    r.name.padEnd(30),
    r.ms.toFixed(3).padStart(10),
    r.wallMs.toFixed(3).padStart(10),
    (r.gflops ? r.gflops.toFixed(2) : '-').padStart(9),
    r.gbps.toFixed(2).padStart(8),
    (r.vsCopy !== undefined ? r.vsCopy.toPrecision(2) : '-').padStart(7),
    r.timing,
  ].join(' ');
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const n = arg('n', quick ? 256 : 1024);
  const k = arg('k', quick ? 256 : 1024);
  const reps = arg('reps', quick ? 3 : 5);
  const opts: BenchOptions = { reps, sampleMs: quick ? 30 : 100 };
  const gpu = await createNodeGpu({ onNotice: (l) => console.log(l) });
  const adapter = gpu.describe();
  console.log(`adapter: ${adapter}`);
  console.log(`${'case'.padEnd(30)} ${'ms/call'.padStart(10)} ${'wall ms'.padStart(10)} ${'GFLOP/s'.padStart(9)} ${'GB/s'.padStart(8)} ${'vsCopy'.padStart(7)} timing`);
  const cases = matmulCases(gpu, n, k, [1, 8, 64]);
  const moePath = join(dirname(fileURLToPath(import.meta.url)), 'kernels-moe.ts');
  if (existsSync(moePath)) {
    const mod = (await import(pathToFileURL(moePath).href)) as { cases?: (g: Gpu) => BenchCase[] | Promise<BenchCase[]> };
    if (mod.cases) cases.push(...(await mod.cases(gpu)));
  }
  const copyBytes = n * k * 4;
  const start = performance.now();
  const results = await runCases(gpu, cases, copyBytes, opts);
  console.log(row(results[0]) + '   (yardstick: f32 weight bytes)');
  const outDir = join(dirname(fileURLToPath(import.meta.url)), 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'kernels.json');
  writeFileSync(file, JSON.stringify({ adapter, features: gpu.features, date: new Date().toISOString(), n, k, results }, null, 2));
  console.log(`${results.length} results in ${((performance.now() - start) / 1e3).toFixed(1)} s -> ${file}`);
  // MoE ratio table (bench/kernels-moe.ts) and bench/out/kernels.svg (bench/plot.ts).
  await (await import('./plot.ts')).afterBench(outDir, results);
  await gpu.device.queue.onSubmittedWorkDone();
  gpu.destroy();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
