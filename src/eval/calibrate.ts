/**
 * Calibration of a model for the calibrated policies (src/routing/calibration.ts holds the format):
 * 1. SERE similarity: each MoE layer's inputs on N calibration tokens (reference step model), EVERY expert
 *    run on every token on WebGPU (the grouped expert kernel with one slot per (token, expert)), the three
 *    similarity forms from those outputs; the default form is the one whose re-routing loses least in a
 *    decode measurement (mass policy, reroute 'similar').
 * 2. Alloc-L sensitivity: decode-mode NLL increase with only layer l at k experts per token (reduced top-k).
 * 3. mass sensitivity: NLL increase and distinct experts per step with only layer l at each coverage.
 * Sensitivity runs use lockstep decode (src/eval/decode.ts) on the calibration (training) text.
 */
import type { Gpu } from '../gpu/context.ts';
import { STORAGE, Usage, createStorage, readBuffer } from '../gpu/buffers.ts';
import { MOE_TILE, MOE_ROWS, MOE_META_ACTIVE, encodeMoeFfn } from '../kernels/moe_ffn.ts';
import type { GpuWeights } from '../runtime/weights.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { expertSimilarity } from '../routing/similarity.ts';
import { SIMILARITY_KINDS, type AutoTable, type Calibration, type Sensitivity } from '../routing/calibration.ts';
import { autoCoverages } from '../routing/resolve.ts';
import type { Policy, Reroute, SimilarityKind } from '../routing/types.ts';
import { decodeSegments, runDecode, type StepModel } from './decode.ts';

/**
 * Outputs of every expert of one layer on rows x [N, H] on the GPU: [N * E, H] with row t * E + e =
 * expert e on token t (unweighted). Encodes lists / tiles / indirect args on the CPU, one submit.
 */
export async function allExpertOutputs(gpu: Gpu, W: GpuWeights, layer: number, spec: MoeModelSpec, x: Float32Array, N: number): Promise<Float32Array> {
  const { hidden: H, moeIntermediate: I, numExperts: E } = spec;
  const ex = W.layers[layer].experts;
  if (!ex) throw new Error(`webmoe: layer ${layer} has no routed experts`);
  const list = new Uint32Array(N * E * 2);
  const one = new Uint32Array(new Float32Array([1]).buffer)[0];
  const tiles: number[] = [];
  let o = 0;
  for (let e = 0; e < E; e++) {
    for (let t = 0; t < N; t++) {
      list[(o + t) * 2] = t * E + e;
      list[(o + t) * 2 + 1] = one;
    }
    for (let s = 0; s < N; s += MOE_TILE) tiles.push(e, o + s, Math.min(MOE_TILE, N - s), 0);
    o += N;
  }
  const nt = tiles.length / 4;
  const meta = new Uint32Array(MOE_META_ACTIVE + E);
  meta.set([Math.ceil(I / MOE_ROWS), nt, 1, E, N * E, Math.ceil(H / MOE_ROWS), nt, 1]);
  for (let e = 0; e < E; e++) meta[MOE_META_ACTIVE + e] = e;
  const d = gpu.device;
  const bufs = {
    x: createStorage(d, x.subarray(0, N * H)),
    list: createStorage(d, list),
    tiles: createStorage(d, new Uint32Array(tiles)),
    meta: createStorage(d, meta, 'calib.meta', STORAGE | Usage.INDIRECT),
    work: createStorage(d, N * E * (H + I) * 4, 'calib.work'),
  };
  try {
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    // as encodeMoeLayer does: the FFN once per expert buffer chunk
    const multi = ex.chunks.length > 1;
    for (const c of ex.chunks) {
      encodeMoeFfn(gpu, pass, {
        x: bufs.x, gateUp: c.gateUp, down: c.down, format: W.format, gateUpScales: c.gateUpScales, downScales: c.downScales, group: 32,
        list: bufs.list, tiles: bufs.tiles, meta: bufs.meta, work: bufs.work, hOff: N * E * H, H, I, kMax: E,
        eBase: multi ? c.eBase : undefined, eEnd: multi ? c.eEnd : undefined,
      });
    }
    pass.end();
    d.queue.submit([enc.finish()]);
    return new Float32Array(await readBuffer(d, bufs.work, N * E * H * 4));
  } finally {
    for (const b of Object.values(bufs)) b.destroy();
  }
}

export interface CalibrateOptions {
  /** Calibration tokens for the similarity (default 256). */
  tokens?: number;
  /** Decode batch, context, steps and segments of the sensitivity runs (default 16, 16, 32, 32). */
  batch?: number;
  context?: number;
  steps?: number;
  segments?: number;
  /** Alloc-L levels (experts per token; default 1 .. topK-1). */
  allocLevels?: number[];
  /** Mass-policy coverages (default 0.97, 0.95, 0.93, 0.9, 0.85, 0.8). */
  massLevels?: number[];
  bos: number;
  log?: (line: string) => void;
}

export interface CalibrationSources {
  spec: MoeModelSpec;
  gpu: Gpu;
  /** The model's weights on the GPU (the experts the similarity runs). */
  weights: GpuWeights;
  weightFormat: WeightFormat;
  /** Collects MoE inputs (a ReferenceStepModel with onMoeInput) and runs the sensitivity measurements. */
  hidden: StepModel & { onMoeInput?: (layer: number, h: Float32Array, T: number) => void };
  /** Runs the sensitivity decode measurements (the reference model or the GPU model) with setCalibration. */
  measure: StepModel & { setCalibration(c: Calibration | null): void };
}

/** Calibrate on the token stream `ids` (training text, never the held-out text). */
export async function calibrate(src: CalibrationSources, ids: number[], o: CalibrateOptions): Promise<Calibration> {
  const { spec } = src;
  const log = o.log ?? (() => undefined);
  const E = spec.numExperts;
  const H = spec.hidden;
  const L = spec.layers;
  const moe = spec.layerKinds.map((k) => k === 'moe');
  const N = o.tokens ?? 256;
  // 1. MoE inputs of N tokens: chunks of 128 with bos (the training protocol), baseline routing
  const inputs: Float32Array[] = spec.layerKinds.map(() => new Float32Array(N * H));
  let have = 0;
  const chunk = 128;
  for (let i = 0; have < N && i < ids.length; i += chunk - 1) {
    const toks = [o.bos, ...ids.slice(i, i + chunk - 1)].slice(0, 1 + (N - have));
    const got = have;
    src.hidden.onMoeInput = (l, h, T) => inputs[l].set(h.subarray(0, Math.min(T, N - got) * H), got * H);
    const id = src.hidden.createSequence();
    await src.hidden.forward({ seqs: [{ id, tokens: toks }], logits: 'none', policy: { kind: 'baseline' } });
    src.hidden.freeSequence(id);
    have += Math.min(toks.length, N - got);
  }
  src.hidden.onMoeInput = undefined;
  if (have < N) throw new Error(`webmoe: calibration text has only ${have} tokens, ${N} needed (--tokens)`);
  const similarity: Calibration['similarity'] = {};
  for (const k of SIMILARITY_KINDS) similarity[k] = spec.layerKinds.map(() => null);
  for (let l = 0; l < L; l++) {
    if (!moe[l]) continue;
    const out = await allExpertOutputs(src.gpu, src.weights, l, spec, inputs[l], N);
    const per = Array.from({ length: E }, (_, e) => {
      const m = new Float32Array(N * H);
      for (let t = 0; t < N; t++) m.set(out.subarray((t * E + e) * H, (t * E + e + 1) * H), t * H);
      return m;
    });
    const s = expertSimilarity(per, N, H);
    for (const k of SIMILARITY_KINDS) similarity[k]![l] = s[k];
    log(`layer ${l}: similarity from ${E} experts x ${N} tokens on WebGPU`);
  }
  const cal: Calibration = { E, layers: L, similarity, defaultSimilarity: 'cka', meta: {} };

  // 2./3. decode measurements on the calibration text (segments after the similarity tokens)
  const B = o.batch ?? 16;
  const C = o.context ?? 16;
  const S = o.steps ?? 32;
  let segs = decodeSegments(ids.slice(N), C, S, o.bos).slice(0, o.segments ?? 32);
  segs = segs.slice(0, Math.floor(segs.length / B) * B);
  if (!segs.length) throw new Error(`webmoe: calibration text too short for ${B} decode segments of ${C + S} tokens`);
  const dopts = { batch: B, context: C, steps: S, bos: o.bos, expertBytes: 0, policy: { kind: 'baseline' } as Policy };
  src.measure.setCalibration(cal);
  const run = (p: Policy) => runDecode(src.measure, segs, dopts, p);
  const base = await run({ kind: 'baseline' });
  log(`baseline: nll ${base.nll.toFixed(5)} over ${base.tokens} decode tokens, distinct ${base.distinct_experts.toFixed(2)}`);
  const perLayer = (l: number, v: number, other: number) => spec.layerKinds.map((_, i) => (i === l ? v : other));
  const simScores: Record<string, number> = {};
  for (const k of SIMILARITY_KINDS) {
    const r = await run({ kind: 'mass', coverage: 0.9, reroute: 'similar', similarity: k });
    simScores[k] = r.nll - base.nll;
    log(`similarity ${k}: mass 0.9 reroute similar dloss ${simScores[k].toFixed(5)}`);
  }
  cal.defaultSimilarity = SIMILARITY_KINDS.reduce((a, b) => (simScores[b] < simScores[a] ? b : a)) as SimilarityKind;
  src.measure.setCalibration(cal);
  // auto's reroute: the better of re-routing to the most similar kept expert and refilling inside the set
  const refill = (await run({ kind: 'mass', coverage: 0.9, reroute: 'refill' })).nll - base.nll;
  const reroute: Reroute = refill < simScores[cal.defaultSimilarity] ? 'refill' : 'similar';
  log(`mass 0.9 reroute refill dloss ${refill.toFixed(5)}: auto re-routes '${reroute}'`);
  const allocLevels = o.allocLevels ?? Array.from({ length: spec.topK - 1 }, (_, i) => i + 1);
  const alloc: Sensitivity = { levels: [...allocLevels, spec.topK], dloss: spec.layerKinds.map(() => Array(allocLevels.length + 1).fill(0)) };
  for (let l = 0; l < L; l++) {
    if (!moe[l]) continue;
    for (const [i, k] of allocLevels.entries()) {
      const r = await run({ kind: 'reduced_topk', k: perLayer(l, k, spec.topK) });
      alloc.dloss[l][i] = r.nll - base.nll;
      log(`alloc layer ${l} k ${k}: dloss ${alloc.dloss[l][i].toFixed(5)}`);
    }
  }
  const massLevels = o.massLevels ?? [0.97, 0.95, 0.93, 0.9, 0.85, 0.8];
  const mass: Sensitivity = {
    levels: massLevels, dloss: spec.layerKinds.map(() => massLevels.map(() => 0)), distinct: spec.layerKinds.map(() => massLevels.map(() => 0)),
    baseDistinct: base.distinct_experts_per_layer, batch: B, reroute,
  };
  for (let l = 0; l < L; l++) {
    if (!moe[l]) continue;
    for (const [i, c] of massLevels.entries()) {
      const r = await run({ kind: 'mass', coverage: perLayer(l, c, 1), reroute });
      mass.dloss[l][i] = r.nll - base.nll;
      mass.distinct![l][i] = r.distinct_experts_per_layer[l];
      log(`mass layer ${l} coverage ${c}: dloss ${mass.dloss[l][i].toFixed(5)}, distinct ${r.distinct_experts_per_layer[l].toFixed(2)} (baseline ${base.distinct_experts_per_layer[l].toFixed(2)})`);
    }
  }
  cal.alloc = alloc;
  cal.mass = mass;
  cal.auto = await autoTable(src, cal, ids.slice(N), segs.length, o, log);
  cal.meta = {
    similarity_tokens: String(N), similarity_choice: JSON.stringify(simScores),
    sensitivity: JSON.stringify({ batch: B, context: C, steps: S, segments: segs.length, decode_tokens: base.tokens, baseline_nll: base.nll }),
  };
  return cal;
}

/** auto's targets: for each, the calibration keeps a candidate policy checked on the combined run. */
export const AUTO_TARGETS = [0.005, 0.01, 0.02];

/**
 * auto's checked table: candidates are the per-layer program's solutions at loss budgets log(1 + target) x
 * {1, 1/2, 1/4, 1/10} for every target, and uniform coverages (0.98, 0.97, 0.96, 0.93 and the mass levels); each distinct one runs
 * once on decode segments the sensitivity runs did not use (so the check is not fitted to their noise).
 * For each target the candidate with the fewest distinct experts whose measured rise is within it wins.
 */
export async function autoTable(src: CalibrationSources, cal: Calibration, ids: number[], used: number, o: CalibrateOptions, log: (s: string) => void): Promise<AutoTable | undefined> {
  const { spec } = src;
  const B = o.batch ?? 16;
  const C = o.context ?? 16;
  const S = o.steps ?? 32;
  const all = decodeSegments(ids, C, S, o.bos);
  let segs = all.slice(used, used + (o.segments ?? 32));
  segs = segs.slice(0, Math.floor(segs.length / B) * B);
  if (!segs.length) {
    log('auto: calibration text too short for a separate check; auto uses the per-layer program alone');
    return undefined;
  }
  const dopts = { batch: B, context: C, steps: S, bos: o.bos, expertBytes: 0, policy: { kind: 'baseline' } as Policy };
  src.measure.setCalibration(cal);
  const base = await runDecode(src.measure, segs, dopts, { kind: 'baseline' });
  const ctx = { isMoe: spec.layerKinds.map((k) => k === 'moe'), topK: spec.topK, E: spec.numExperts, calibration: cal };
  const cands = new Map<string, number[]>();
  const add = (c: number[]) => c.some((v) => v < 1) && cands.set(c.join(','), c);
  for (const target of AUTO_TARGETS) for (const f of [1, 0.5, 0.25, 0.1]) add(autoCoverages(ctx, f * Math.log1p(target)));
  for (const lv of new Set([0.98, 0.97, 0.96, 0.93, ...cal.mass!.levels])) add(ctx.isMoe.map((m) => (m ? lv : 1)));
  const runs: { coverage: number[]; rise: number; distinct: number }[] = [];
  for (const coverage of cands.values()) {
    const r = await runDecode(src.measure, segs, dopts, { kind: 'mass', coverage, reroute: cal.mass!.reroute ?? 'similar' });
    const rise = Math.exp(r.nll - base.nll) - 1;
    runs.push({ coverage, rise, distinct: r.distinct_experts });
    log(`auto candidate coverages [${coverage.map((c) => c.toFixed(2))}]: rise ${(100 * rise).toFixed(2)}%, distinct ${r.distinct_experts.toFixed(2)} (baseline ${base.distinct_experts.toFixed(2)}) on ${base.tokens} check tokens`);
  }
  const t: AutoTable = { targets: [], coverages: [], measured: [] };
  for (const target of AUTO_TARGETS) {
    const ok = runs.filter((r) => r.rise <= target).sort((a, b) => a.distinct - b.distinct);
    t.targets.push(target);
    t.coverages.push(ok.length ? ok[0].coverage : ctx.isMoe.map(() => 1));
    t.measured.push(ok.length ? ok[0].rise : 0);
    log(`auto target ${target}: ${ok.length ? `coverages [${ok[0].coverage.map((c) => c.toFixed(2))}], rise ${(100 * ok[0].rise).toFixed(2)}%` : 'no candidate within it: the baseline set'}`);
  }
  return t;
}
