// The benchmark report as markdown (the JSON is the BenchReport object itself).
import type { BenchReport } from './harness.ts';
import { relSpread } from './stats.ts';
import { BASELINE } from './policies.ts';

const f = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const mb = (b: number) => (b / 2 ** 20).toFixed(2);
const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** Continuous batching's value: aggregate tokens/s at C concurrent requests over C = 1 (baseline policy). */
export function batchingGain(r: BenchReport, model: string): { C: number; gain: number } | null {
  const rows = r.scheduler.filter((s) => s.model === model && s.policy === BASELINE);
  const one = rows.find((s) => s.C === 1);
  const top = rows.find((s) => s.C === 16) ?? rows.filter((s) => s.C > 1).sort((a, b) => b.C - a.C)[0];
  return one && top ? { C: top.C, gain: top.tokensPerS / one.tokensPerS } : null;
}

export function markdownReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`# webmoe benchmark — ${r.date.slice(0, 10)}, ${r.env}${r.quick ? ' (--quick)' : ''}`);
  out.push('');
  out.push(`- Adapter: ${r.adapter}`);
  out.push(`- Features: ${Object.entries(r.features).map(([k, v]) => `${k}=${v}`).join(', ')}; limits: ${Object.entries(r.limits).map(([k, v]) => `${k} ${mb(v)} MiB`).join(', ')}`);
  out.push(`- Copy (buffer to buffer, ${mb(r.copy.meta?.bytes as number)} MiB): ${f(r.copy.gbps)} GB/s. Best matmul: ${r.bestMatmul.name}, ${f(r.bestMatmul.gflops, 3)} GFLOP/s.`);
  out.push(`- Run time ${f(r.elapsedS, 0)} s${r.processCpuS !== undefined ? ` (process CPU time ${f(r.processCpuS, 0)} s)` : ''}: ${Object.entries(r.sectionS).map(([k, v]) => `${k} ${f(v, 0)} s`).join(', ')}.`);
  out.push('');
  out.push('All times are medians; "spread" is (p75 - p25) / median over the repetitions, which were interleaved across cases. Every ratio divides by the baseline (or the grouped kernel) measured in this run.');
  out.push('');
  out.push('## Models');
  out.push('');
  out.push(table(['model', 'shape', 'weights on GPU', 'bytes / expert', 'dense weight bytes / step', 'load s', 'why'],
    r.models.map((m) => [m.name, `${m.shape.arch}, ${m.shape.layers} layers, H ${m.shape.hidden}, ${m.shape.experts} experts top-${m.shape.topK}, I ${m.shape.moeIntermediate}, vocab ${m.shape.vocab}`,
      `${m.shape.weightFormat}, ${mb(Number(m.shape.gpuBytes))} MiB`, `${mb(m.bytesPerExpert)} MiB`, `${mb(m.denseBytes)} MiB`, f(m.loadMs / 1e3, 1), m.note])));
  out.push('');
  out.push('## Decode step through MoeModel.forward, per policy');
  out.push('');
  out.push(table(['model', 'B', 'policy', 'ms', 'spread', 'time / base', 'paired p25–p75', 'distinct experts (all layers)', 'distinct / base', 'expert MiB / step', 'step GB/s', 'step GB/s / copy'],
    r.forward.map((d) => [d.model, d.B, d.policy, f(d.ms.median, 1), pct(relSpread(d.ms)), f(d.timeRatio), `${f(d.pairedRatio.p25)}–${f(d.pairedRatio.p75)}`,
      f(d.distinct, 1), f(d.distinctRatio), mb(d.expertBytes), f(d.stepGBps, 3), f(d.stepGBps / r.copy.gbps, 3)])));
  out.push('');
  if (r.scheduler.length) {
    out.push('## Through the scheduler: throughput vs concurrent requests');
    out.push('');
    out.push(table(['model', 'policy', 'requests', 'prompt / gen tokens', 'tokens/s', 'decode tokens/s', 'decode batch', 'decode step ms', 'step / base', 'distinct / base', 'TTFT ms', 'prefill tokens/s'],
      r.scheduler.map((s) => [s.model, s.policy, s.C, `${s.promptTokens} / ${s.maxTokens}`, f(s.tokensPerS), f(s.decodeTokensPerS), s.decodeBatch, f(s.decodeStepMs.median, 1),
        f(s.timeRatio), f(s.distinctRatio), f(s.ttftMs.median, 0), f(s.prefillTokensPerS, 1)])));
    for (const m of r.models) {
      const g = batchingGain(r, m.name);
      if (g) out.push(`\n${m.name}: aggregate tokens/s at ${g.C} concurrent requests / at 1 = **${f(g.gain)}** (baseline policy).`);
    }
    out.push('');
  }
  if (r.strategies.length) {
    out.push('## Execution strategies, one MoE layer, baseline routing');
    out.push('');
    out.push('grouped = webmoe\'s kernel; loop = read routing back, one dispatch chain per active expert (ONNX Runtime Web QMoE style); dense = all experts, zero weights for unchosen. Same weights, input and routing; wall ms per layer call including the router.');
    out.push('');
    out.push(table(['model', 'T', 'strategy', 'ms', 'spread', '/ grouped', 'experts read', 'expert MiB', 'dispatches', 'max rel. diff vs grouped'],
      r.strategies.map((s) => [s.model, s.T, s.strategy, f(s.ms.median, 2), pct(relSpread(s.ms)), f(s.ratio), s.activeExperts, mb(s.expertBytes), s.dispatches, s.relErr.toExponential(1)])));
    out.push('');
  }
  if (r.profile.length) {
    out.push('## Bandwidth and GPU time (timestamp per dispatch)');
    out.push('');
    out.push(table(['model', 'policy', 'B', 'GPU ms (profiled)', 'wall ms (unprofiled)', 'dispatches', 'MoE part ms', 'expert MiB', 'MoE GB/s', 'MoE / copy', 'step GB/s', 'step / copy'],
      r.profile.map((p) => [p.model, p.policy, p.B, f(p.gpuMs, 1), f(p.wallMs, 1), p.dispatches, f(p.moeMs, 1), mb(p.expertBytes), f(p.moeGBps, 3), f(p.moeGBps / r.copy.gbps, 4), f(p.stepGBps, 3), f(p.stepGBps / r.copy.gbps, 4)])));
    out.push('');
    for (const p of r.profile.filter((x) => x.policy === BASELINE)) {
      out.push(`### ${p.model}, baseline, B = ${p.B}: ${f(p.gpuMs, 1)} ms GPU in ${p.dispatches} dispatches`);
      out.push('');
      out.push(table(['family', 'ms', 'share', 'dispatches', 'GFLOP/s', 'of best matmul'],
        p.families.map((x) => [x.family, f(x.ms, 2), pct(x.share), x.dispatches, f(x.gflops, 3), x.ofBestMatmul !== undefined ? pct(x.ofBestMatmul) : '-'])));
      out.push('');
    }
  }
  return out.join('\n');
}
