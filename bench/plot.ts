// Hand-written SVG of the kernel bench (no dependencies): bench/out/kernels.json (+ kernels-moe.json)
// -> bench/out/kernels.svg.
//   left:  GB/s per matmul case (bars, log scale) with the copy's GB/s as a dashed reference line
//   right: MoE layer time per call vs distinct experts read, one colour per policy, one panel per T
//          (first shape / format in the file, f16 preferred)
//   npx tsx bench/plot.ts [bench/out/kernels.json]
// bench/kernels.ts calls afterBench() at the end of a run: the MoE ratio table + JSON, then this plot.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchResult } from './kernels.ts';

const here = dirname(fileURLToPath(import.meta.url));

interface KernelsJson {
  adapter?: string;
  date?: string;
  results: BenchResult[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v >= 0.01 ? v.toFixed(2) : v.toExponential(0));
const COLORS: Record<string, string> = { baseline: '#222', xshare: '#d62728', topk: '#1f77b4', allocT: '#2ca02c' };
const FORMAT_COLORS: Record<string, string> = { f32: '#4c72b0', f16: '#55a868', int8: '#c44e52', int4: '#8172b2' };
const policyColor = (p: string) => COLORS[p.replace(/[\d%]+$/, '')] ?? '#999';

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** Bar chart of matmul GB/s (log y), copy GB/s as a dashed line. */
function matmulPanel(res: BenchResult[], x0: number, y0: number, w: number, h: number): string {
  const copy = res.find((r) => r.name.startsWith('copy'));
  const mm = res.filter((r) => r.meta?.kernel === 'matmul' && r.gbps > 0);
  const out: string[] = [text(x0 + w / 2, y0 - 10, 'matmul weight GB/s (log) vs copy', 'text-anchor="middle" font-weight="bold"')];
  if (!mm.length) return out.join('\n');
  const vals = [...mm.map((r) => r.gbps), ...(copy ? [copy.gbps] : [])];
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...vals))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...vals))));
  const y = (v: number) => y0 + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(d).toFixed(1)}" y2="${y(d).toFixed(1)}" stroke="#ddd"/>`);
    out.push(text(x0 - 4, y(d) + 4, fmt(d), 'text-anchor="end" font-size="10"'));
  }
  const bw = w / mm.length;
  mm.forEach((r, i) => {
    const bx = x0 + i * bw + bw * 0.15;
    const top = y(r.gbps);
    const f = String(r.meta?.format ?? '');
    out.push(`<rect x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${(y0 + h - top).toFixed(1)}" fill="${FORMAT_COLORS[f] ?? '#777'}"><title>${esc(`${r.name}: ${r.gbps.toPrecision(3)} GB/s`)}</title></rect>`);
    const lx = bx + bw * 0.35;
    out.push(text(lx, y0 + h + 8, `${f} T${r.meta?.t}`, `font-size="9" text-anchor="end" transform="rotate(-60 ${lx.toFixed(1)} ${(y0 + h + 8).toFixed(1)})"`));
  });
  if (copy) {
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y(copy.gbps).toFixed(1)}" y2="${y(copy.gbps).toFixed(1)}" stroke="#e377c2" stroke-width="2" stroke-dasharray="6 4"/>`);
    out.push(text(x0 + w - 4, y(copy.gbps) - 4, `${copy.name}: ${fmt(copy.gbps)} GB/s`, 'text-anchor="end" font-size="10" fill="#e377c2"'));
  }
  return out.join('\n');
}

/** Scatter of MoE ms/call vs distinct experts, one panel per T, one colour per policy. */
function moePanel(res: BenchResult[], x0: number, y0: number, w: number, h: number): string {
  let moe = res.filter((r) => r.meta?.kernel === 'moe');
  if (!moe.length) return text(x0 + w / 2, y0 + h / 2, 'no MoE results', 'text-anchor="middle"');
  const shape = String(moe[0].meta!.shape);
  const formats = [...new Set(moe.map((r) => String(r.meta!.format)))];
  const format = formats.includes('f16') ? 'f16' : formats[0];
  moe = moe.filter((r) => r.meta!.shape === shape && r.meta!.format === format);
  const ts = [...new Set(moe.map((r) => Number(r.meta!.T)))].sort((a, b) => a - b);
  const out: string[] = [text(x0 + w / 2, y0 - 10, `MoE layer (${shape}, ${format}): ms/call vs distinct experts read`, 'text-anchor="middle" font-weight="bold"')];
  const gap = 30;
  const pw = (w - gap * (ts.length - 1)) / ts.length;
  ts.forEach((T, i) => {
    const rs = moe.filter((r) => Number(r.meta!.T) === T);
    const px = x0 + i * (pw + gap);
    const dMax = Math.max(...rs.map((r) => Number(r.meta!.distinct)));
    const mMax = Math.max(...rs.map((r) => r.ms)) * 1.1;
    const sx = (d: number) => px + (d / dMax) * pw * 0.9 + pw * 0.05;
    const sy = (m: number) => y0 + h - (m / mMax) * h;
    out.push(`<rect x="${px.toFixed(1)}" y="${y0}" width="${pw.toFixed(1)}" height="${h}" fill="none" stroke="#888"/>`);
    out.push(text(px + pw / 2, y0 + 14, `T = ${T}`, 'text-anchor="middle" font-size="11"'));
    for (const f of [0, 0.5, 1]) {
      out.push(text(px - 3, sy(f * mMax) + 4, fmt(f * mMax), 'text-anchor="end" font-size="9"'));
      out.push(text(sx(f * dMax), y0 + h + 12, String(Math.round(f * dMax)), 'text-anchor="middle" font-size="9"'));
    }
    for (const r of rs) {
      const d = Number(r.meta!.distinct);
      const p = String(r.meta!.policy);
      out.push(`<circle cx="${sx(d).toFixed(1)}" cy="${sy(r.ms).toFixed(1)}" r="5" fill="${policyColor(p)}" fill-opacity="0.8"><title>${esc(`${p} T=${T}: ${r.ms.toFixed(2)} ms, ${d} experts`)}</title></circle>`);
      if (p.startsWith('xshare')) out.push(text(sx(d) + 7, sy(r.ms) + 3, p.replace('xshare', ''), 'font-size="8" fill="#d62728"'));
    }
  });
  out.push(text(x0 + w / 2, y0 + h + 28, 'distinct experts (x)  /  ms per layer call (y)', 'text-anchor="middle" font-size="10"'));
  const pols = [...new Set(moe.map((r) => String(r.meta!.policy).replace(/[\d%]+$/, '')))];
  pols.forEach((p, i) => {
    const lx = x0 + i * 90;
    out.push(`<circle cx="${lx + 5}" cy="${y0 + h + 44}" r="5" fill="${COLORS[p] ?? '#999'}"/>`);
    out.push(text(lx + 14, y0 + h + 48, p, 'font-size="11"'));
  });
  return out.join('\n');
}

/** Render kernels.json (results) into an SVG string. */
export function renderSvg(j: KernelsJson): string {
  const W = 1200;
  const H = 480;
  const title = `webmoe kernel bench — ${j.adapter ?? ''} ${j.date ? `(${j.date.slice(0, 16)})` : ''}`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    text(W / 2, 20, title.slice(0, 160), 'text-anchor="middle" font-size="13"'),
    matmulPanel(j.results, 60, 60, 440, 320),
    moePanel(j.results, 580, 60, 600, 320),
    `</svg>`,
  ].join('\n');
}

/** Write bench/out/kernels.svg from a kernels.json file. */
export function plot(jsonFile = join(here, 'out', 'kernels.json'), svgFile = join(dirname(jsonFile), 'kernels.svg')): string {
  const j = JSON.parse(readFileSync(jsonFile, 'utf8')) as KernelsJson;
  writeFileSync(svgFile, renderSvg(j));
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
  if (existsSync(json)) console.log(`plot -> ${plot(json)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`plot -> ${plot(process.argv[2])}`);
}
