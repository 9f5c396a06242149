// Three ways to execute the same MoE layer (same weights, same baseline routing, same input), timed in
// the same run, all with the same router matmul + scores + top-k in front:
//  - grouped:  webmoe's kernel path (encodeMoeLayer: per-expert lists on the GPU, two indirect dispatches
//              over every active expert's token tiles, deterministic combine). No CPU round trip.
//  - loop:     how ONNX Runtime Web's QMoE runs a batch: route on the GPU, read the routing back to the
//              CPU, then one dispatch chain per active expert (gate|up matmul over its gathered rows,
//              down matmul), then un-permute, weight and sum. Built from the runtime's own kernels.
//  - dense:    every expert on every token with zero weight for the unchosen ones: one matmul over all
//              E gate|up rows, SwiGLU, per-(token, expert) weights, one matmul over the experts' down
//              rows laid side by side (re-laid once at setup).
// Per-row weights in loop and dense use the shared-expert gated-add kernel (x += sigmoid(g) * y) with
// g = logit(w), so sigmoid(g) = w (and ±88 for w = 1 / 0). The three outputs are compared.
import type { Gpu } from '../../src/gpu/context.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { encodeMatmul, type MatmulWeight } from '../../src/kernels/matmul.ts';
import { createMoeWorkspace, encodeMoeCombine, encodeMoeLayer, type MoeWorkspace } from '../../src/kernels/moe_ffn.ts';
import { encodeMoeRoute, encodeMoeScores } from '../../src/kernels/moe_router.ts';
import { encodeGatedAdd, encodeGatherRows } from '../../src/kernels/elementwise.ts';
import { encodeSiluMulFused } from '../../src/kernels/activations.ts';
import { paddedCols } from '../../src/quant/pack.ts';
import { route } from '../../src/routing/policies.ts';
import { NO_EXPERT } from '../../src/routing/types.ts';
import { seededRandom } from '../../src/util/random.ts';
import { QUANT_GROUP } from '../../src/runtime/weights.ts';
import type { BenchModel } from './model.ts';
import { interleaved, summarize, type Summary } from './stats.ts';

export const STRATEGIES = ['grouped', 'loop', 'dense'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface StrategyRow {
  model: string;
  strategy: Strategy;
  T: number;
  ms: Summary;
  /** median ms / grouped median ms at the same T. */
  ratio: number;
  /** Expert weight bytes read (distinct experts for grouped / loop, all E for dense). */
  expertBytes: number;
  activeExperts: number;
  dispatches: number;
  /** max |out - grouped out| / max |grouped out| (0 for grouped). */
  relErr: number;
}

const BITS = { f32: 32, f16: 16, int8: 8, int4: 4 } as const;
const logit = (w: number) => (w >= 1 ? 88 : w <= 0 ? -88 : Math.log(w / (1 - w)));

export async function strategyCases(gpu: Gpu, m: BenchModel, Ts: number[], reps: number, log: (s: string) => void): Promise<StrategyRow[]> {
  const dev = gpu.device;
  const spec = m.model.spec;
  const l = spec.layerKinds.indexOf('moe');
  if (l < 0) return [];
  const L = m.model.weights.layers[l];
  const fmt = m.model.weights.format;
  const { hidden: H, numExperts: E, topK: k, moeIntermediate: I } = spec;
  const { mode, normTopk } = spec.router;
  const kPadH = paddedCols(fmt, H, QUANT_GROUP);
  const kPadI = paddedCols(fmt, I, QUANT_GROUP);
  const quant = fmt === 'int8' || fmt === 'int4';
  if (kPadI !== I) throw new Error(`bench strategies: dense needs moe_intermediate ${I} to be a multiple of the ${fmt} row padding`);
  const Tmax = Math.max(...Ts);
  const bufs: GPUBuffer[] = [];
  const buf = (bytes: number | ArrayBufferView, label: string) => {
    const b = createStorage(dev, bytes, `bench-strat.${label}`);
    bufs.push(b);
    return b;
  };

  // --- per-expert weight views for the loop (copies of the rows of the stacked buffers) ---
  const rowBytes = (kPad: number) => (kPad * BITS[fmt]) / 8;
  const scaleRowBytes = (kPad: number) => (kPad / QUANT_GROUP) * 4;
  const enc0 = dev.createCommandEncoder();
  const view = (src: GPUBuffer, srcScales: GPUBuffer | undefined, e: number, n: number, kk: number, kPad: number, label: string): MatmulWeight => {
    const data = buf(n * rowBytes(kPad), `${label}${e}`);
    enc0.copyBufferToBuffer(src, e * n * rowBytes(kPad), data, 0, n * rowBytes(kPad));
    let scales: GPUBuffer | undefined;
    if (quant) {
      scales = buf(n * scaleRowBytes(kPad), `${label}${e}.scales`);
      enc0.copyBufferToBuffer(srcScales!, e * n * scaleRowBytes(kPad), scales, 0, n * scaleRowBytes(kPad));
    }
    return { format: fmt, data, scales, n, k: kk, kPad, group: QUANT_GROUP };
  };
  // experts may be split into chunks of buffers (real-size models over the binding limit)
  const chunks = L.experts!.chunks;
  const chunkOf = (e: number) => chunks.find((c) => e >= c.eBase && e < c.eEnd)!;
  const guE = Array.from({ length: E }, (_, e) => {
    const c = chunkOf(e);
    return view(c.gateUp, c.gateUpScales, e - c.eBase, 2 * I, H, kPadH, 'gu');
  });
  const dnE = Array.from({ length: E }, (_, e) => {
    const c = chunkOf(e);
    return view(c.down, c.downScales, e - c.eBase, H, I, kPadI, 'dn');
  });
  dev.queue.submit([enc0.finish()]);

  // --- dense, per chunk of n experts: its gate|up rows as one matrix; its down rows side by side [H, n*I] ---
  const relayout = async (src: GPUBuffer, n: number, rb: number) => {
    const all = new Uint8Array(await readBuffer(dev, src, n * H * rb));
    const cat = new Uint8Array(all.length);
    for (let o = 0; o < H; o++) for (let e = 0; e < n; e++) cat.set(all.subarray((e * H + o) * rb, (e * H + o + 1) * rb), (o * n + e) * rb);
    return cat;
  };
  const denseChunks: { eBase: number; n: number; gu: MatmulWeight; dn: MatmulWeight; gate: GPUBuffer }[] = [];
  for (const c of chunks) {
    const n = c.eEnd - c.eBase;
    denseChunks.push({
      eBase: c.eBase, n,
      gu: { format: fmt, data: c.gateUp, scales: c.gateUpScales, n: n * 2 * I, k: H, kPad: kPadH, group: QUANT_GROUP },
      dn: {
        format: fmt, data: buf(await relayout(c.down, n, rowBytes(kPadI)), 'dnCat'),
        scales: quant ? buf(await relayout(c.downScales!, n, scaleRowBytes(kPadI)), 'dnCat.scales') : undefined,
        n: H, k: n * I, kPad: n * kPadI, group: QUANT_GROUP,
      },
      gate: buf(Tmax * n * 4, 'denseGate'),
    });
  }

  // --- inputs and scratch ---
  const r = seededRandom(99);
  const x = buf(Float32Array.from({ length: Tmax * H }, () => 2 * r() - 1), 'x');
  const logits = buf(Tmax * E * 4, 'logits');
  const ws: MoeWorkspace = createMoeWorkspace(gpu, { maxTokens: Tmax, E, k, H, I });
  const outs = { grouped: buf(Tmax * H * 4, 'outG'), loop: buf(Tmax * H * 4, 'outL'), dense: buf(Tmax * H * 4, 'outD') };
  const P = Tmax * k;
  const xg = buf(P * H * 4, 'xg');
  const fgu = buf(Math.max(P * 2 * I, Tmax * E * 2 * I) * 4, 'fgu');
  const hh = buf(Math.max(P * I, Tmax * E * I) * 4, 'h');
  const hw = buf(Tmax * E * I * 4, 'hw');
  const yg = buf(P * H * 4, 'yg');
  const partial = buf(P * H * 4, 'partial');
  const partialW = buf(P * H * 4, 'partialW');
  const rowsG = buf(P * 4, 'rowsG');
  const perm = buf(P * 4, 'perm');
  const slotGate = buf(P * 4, 'slotGate');
  const counters = buf(16, 'counters');
  const rb = dev.createBuffer({ size: 2 * P * 4, usage: 0x1 | 0x8, label: 'bench-strat.readback' }); // MAP_READ | COPY_DST

  const front = (pass: GPUComputePassEncoder, T: number) => {
    encodeMatmul(gpu, pass, { x, w: L.router!, out: logits, t: T });
    encodeMoeScores(gpu, pass, { logits, scores: ws.scores, T, E, mode });
    encodeMoeRoute(gpu, pass, {
      logits, scores: ws.scores, ids: ws.ids, weights: ws.weights, scratch: ws.routeScratch, counters, T, E, kMax: k, mode, normTopk, policy: { kind: 'baseline' },
    });
  };
  const submitWait = async (enc: GPUCommandEncoder) => {
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
  };

  const grouped = async (T: number) => {
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeMatmul(gpu, pass, { x, w: L.router!, out: logits, t: T });
    encodeMoeLayer(gpu, pass, {
      ws, logits, x, out: outs.grouped, chunks, format: fmt, group: QUANT_GROUP, T, mode, normTopk, policy: { kind: 'baseline' }, counters,
    });
    pass.end();
    await submitWait(enc);
    return 6;
  };

  const loop = async (T: number) => {
    let enc = dev.createCommandEncoder();
    let pass = enc.beginComputePass();
    front(pass, T);
    pass.end();
    enc.copyBufferToBuffer(ws.ids, 0, rb, 0, T * k * 4);
    enc.copyBufferToBuffer(ws.weights, 0, rb, P * 4, T * k * 4);
    dev.queue.submit([enc.finish()]);
    await rb.mapAsync(1);
    const data = rb.getMappedRange();
    const ids = new Uint32Array(data, 0, T * k).slice();
    const w = new Float32Array(data, P * 4, T * k).slice();
    rb.unmap();
    // group the (token, slot) pairs by expert, token order inside an expert
    const byE: number[][] = Array.from({ length: E }, () => []);
    for (let s = 0; s < T * k; s++) if (ids[s] !== NO_EXPERT) byE[ids[s]].push(s);
    const rowsArr: number[] = [];
    const permArr = new Uint32Array(T * k);
    const gateArr = new Float32Array(T * k).fill(-88);
    const chains: { e: number; start: number; n: number }[] = [];
    for (let e = 0; e < E; e++) {
      if (!byE[e].length) continue;
      chains.push({ e, start: rowsArr.length, n: byE[e].length });
      for (const s of byE[e]) {
        permArr[s] = rowsArr.length;
        gateArr[s] = logit(w[s]);
        rowsArr.push(Math.floor(s / k));
      }
    }
    const Pn = rowsArr.length;
    dev.queue.writeBuffer(rowsG, 0, new Uint32Array(rowsArr));
    dev.queue.writeBuffer(perm, 0, permArr);
    dev.queue.writeBuffer(slotGate, 0, gateArr);
    enc = dev.createCommandEncoder();
    enc.clearBuffer(partialW, 0, T * k * H * 4);
    pass = enc.beginComputePass();
    encodeGatherRows(gpu, pass, { x, rows: rowsG, out: xg, R: Pn, dim: H });
    for (const c of chains) encodeMatmul(gpu, pass, { x: xg, w: guE[c.e], out: fgu, t: c.n, xOffset: c.start * H, outOffset: c.start * 2 * I });
    encodeSiluMulFused(gpu, pass, { gateUp: fgu, out: hh, tokens: Pn, inter: I });
    for (const c of chains) encodeMatmul(gpu, pass, { x: hh, w: dnE[c.e], out: yg, t: c.n, xOffset: c.start * I, outOffset: c.start * H });
    encodeGatherRows(gpu, pass, { x: yg, rows: perm, out: partial, R: T * k, dim: H });
    encodeGatedAdd(gpu, pass, { x: partialW, y: partial, gate: slotGate, T: T * k, dim: H });
    encodeMoeCombine(gpu, pass, { ids: ws.ids, partial: partialW, out: outs.loop, T, H, kMax: k });
    pass.end();
    await submitWait(enc);
    return 3 + 1 + 2 * chains.length + 4;
  };

  const dense = async (T: number) => {
    const enc = dev.createCommandEncoder();
    let pass = enc.beginComputePass();
    front(pass, T);
    denseChunks.forEach((c, i) => {
      // the weighted intermediates accumulate onto zeros (x += sigmoid(g) * y): clear between passes
      pass.end();
      enc.clearBuffer(hw, 0, T * c.n * I * 4);
      pass = enc.beginComputePass();
      encodeMatmul(gpu, pass, { x, w: c.gu, out: fgu, t: T });
      encodeSiluMulFused(gpu, pass, { gateUp: fgu, out: hh, tokens: T * c.n, inter: I });
      encodeGatedAdd(gpu, pass, { x: hw, y: hh, gate: c.gate, T: T * c.n, dim: I });
      encodeMatmul(gpu, pass, { x: hw, w: c.dn, out: outs.dense, t: T, accumulate: i > 0 });
    });
    pass.end();
    await submitWait(enc);
    return 3 + 4 * denseChunks.length;
  };

  const run: Record<Strategy, (T: number) => Promise<number>> = { grouped, loop, dense };
  const out: StrategyRow[] = [];
  try {
    for (const T of Ts) {
      // the routing of this T, for the dense weights (same baseline top-k as the GPU computes)
      {
        const enc = dev.createCommandEncoder();
        const pass = enc.beginComputePass();
        encodeMatmul(gpu, pass, { x, w: L.router!, out: logits, t: T });
        pass.end();
        await submitWait(enc);
      }
      const lg = new Float32Array(await readBuffer(dev, logits, T * E * 4));
      const rt = route(lg, T, E, k, { kind: 'baseline' }, { mode, normTopk });
      for (const c of denseChunks) {
        const dg = new Float32Array(T * c.n).fill(-88);
        for (let s = 0; s < T * k; s++) {
          const e = rt.ids[s];
          if (e !== NO_EXPERT && e >= c.eBase && e < c.eBase + c.n) dg[Math.floor(s / k) * c.n + e - c.eBase] = logit(rt.weights[s]);
        }
        dev.queue.writeBuffer(c.gate, 0, dg);
      }
      const dispatches: Record<string, number> = {};
      for (const s of STRATEGIES) dispatches[s] = await run[s](T); // warm-up (pipelines)
      const ref = new Float32Array(await readBuffer(dev, outs.grouped, T * H * 4));
      const refMax = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const err: Record<string, number> = {};
      for (const s of STRATEGIES) {
        const o = new Float32Array(await readBuffer(dev, outs[s], T * H * 4));
        err[s] = o.reduce((a, v, i) => Math.max(a, Math.abs(v - ref[i])), 0) / refMax;
      }
      for (const s of STRATEGIES) {
        if (!(err[s] < 1e-3)) throw new Error(`bench strategies: ${s} differs from grouped by ${err[s]} (relative) at T=${T}: the strategies must compute the same layer`);
      }
      const samples = await interleaved([...STRATEGIES], reps, async (s) => {
        const t0 = performance.now();
        await run[s](T);
        return performance.now() - t0;
      });
      const gMed = summarize(samples[0]).median;
      STRATEGIES.forEach((s, i) => {
        const sm = summarize(samples[i]);
        const active = s === 'dense' ? E : rt.distinct;
        out.push({ model: m.src.name, strategy: s, T, ms: sm, ratio: sm.median / gMed, expertBytes: active * m.bytesPerExpert, activeExperts: active, dispatches: dispatches[s], relErr: err[s] });
        log(`  strategy ${s.padEnd(7)} T=${String(T).padStart(2)} ${sm.median.toFixed(1).padStart(8)} ms  x${(sm.median / gMed).toFixed(2)} of grouped  ${active} experts  ${dispatches[s]} dispatches  rel.err ${err[s].toExponential(1)}`);
      });
    }
  } finally {
    ws.destroy();
    for (const b of bufs) b.destroy();
    rb.destroy();
  }
  return out;
}
