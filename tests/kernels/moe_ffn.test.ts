// The MoE expert path on the GPU (moe_lists, the grouped FFN in every weight format, the combine, and
// encodeMoeLayer chaining router -> policy -> lists -> FFN -> combine) vs src/reference/moe.ts and
// src/routing's route(), through the op-case harness. The lists, tiles, counts and indirect arguments
// are compared exactly; each output buffer is exactly as long as what the kernels must write.
import type { WeightFormat } from '../../src/quant/pack.ts';
import { expect } from 'vitest';
import { randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { createStorage } from '../../src/gpu/buffers.ts';
import {
  MOE_TILE, moeRowsPerWorkgroup, createMoeWorkspace, encodeMoeCombine, encodeMoeFfn, encodeMoeLayer, encodeMoeLists,
} from '../../src/kernels/moe_ffn.ts';
import type { GpuPolicy } from '../../src/kernels/moe_router.ts';
import { moeFfnRef, moeListsRef, type MoeListsRef } from '../../src/reference/moe.ts';
import { route } from '../../src/routing/policies.ts';
import { NO_EXPERT } from '../../src/routing/types.ts';
import { dequantizeInt4, dequantizeInt8, packF16Rows, padRowsF32, quantizeInt4, quantizeInt8 } from '../../src/quant/pack.ts';
import { roundToF16 } from '../../src/quant/f16.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { setKernelStyle, type KernelStyle } from '../../src/kernels/variants.ts';

type Routing = 'random' | 'one-expert' | 'sparse' | 'duplicates';
type Own = <R extends { destroy(): void }>(r: R) => R;

function makeRouting(T: number, E: number, k: number, kind: Routing, seed: number) {
  const r = rng(seed);
  const ids = new Uint32Array(T * k).fill(NO_EXPERT);
  const w = new Float32Array(T * k);
  for (let t = 0; t < T; t++) {
    if (kind === 'one-expert') {
      ids[t * k] = 3;
      w[t * k] = 0.5 + r();
      continue;
    }
    const pool = kind === 'sparse' ? [1, 5] : [...Array(E).keys()];
    const n = kind === 'sparse' ? Math.min(k, 2) : 1 + Math.floor(r() * k);
    const picks: number[] = [];
    while (picks.length < n) {
      const e = pool[Math.floor(r() * pool.length)];
      if (kind === 'duplicates' || !picks.includes(e)) picks.push(e);
    }
    for (let j = 0; j < n; j++) {
      ids[t * k + j] = picks[j];
      w[t * k + j] = r();
    }
  }
  return { ids, w };
}

/** Random expert weights in `format`: the values the GPU sees, and an uploader of the packed buffers (+ scales). */
function expertWeights(E: number, H: number, I: number, format: WeightFormat, seed: number) {
  const gu = randomArray(E * 2 * I * H, seed, 0.5);
  const dn = randomArray(E * H * I, seed + 1, 0.5);
  const group = 8;
  const packed = (w: Float32Array, rows: number, cols: number) => {
    if (format === 'f16') return { data: packF16Rows(w, rows, cols), seen: roundToF16(w) };
    if (format === 'f32') return { data: padRowsF32(w, rows, cols), seen: w };
    const q = format === 'int8' ? quantizeInt8(w, rows, cols, group) : quantizeInt4(w, rows, cols, group);
    return { data: q.q, scales: q.scales, seen: format === 'int8' ? dequantizeInt8(q) : dequantizeInt4(q) };
  };
  const g = packed(gu, E * 2 * I, H);
  const d = packed(dn, E * H, I);
  const upload = (gpu: Gpu, own: Own) => {
    const buf = (a?: Uint32Array | Float32Array) => (a ? own(createStorage(gpu.device, a)) : undefined);
    return { gateUp: buf(g.data)!, down: buf(d.data)!, format, gateUpScales: buf(g.scales), downScales: buf(d.scales), group };
  };
  return { gu: g.seen, dn: d.seen, upload };
}

const rowsOf = (style: KernelStyle) => (style === 'blocked' ? 64 : 8);

/** What moe_lists writes for these lists: counts | offsets, the meta words, the (slot, weight bits) list, the tiles. */
function listWords(ref: MoeListsRef, E: number, H: number, I: number, style: KernelStyle) {
  const rows = rowsOf(style);
  const nt = ref.tiles.length;
  const list = new Uint32Array(2 * ref.slots.length);
  const wbits = new Uint32Array(ref.weights.buffer, ref.weights.byteOffset, ref.weights.length);
  for (let i = 0; i < ref.slots.length; i++) [list[2 * i], list[2 * i + 1]] = [ref.slots[i], wbits[i]];
  return {
    ecount: [...ref.counts, ...ref.offsets],
    meta: [Math.ceil(I / rows), nt, 1, ref.active.length, ref.slots.length, Math.ceil(H / rows), nt, 1, ...ref.active],
    list: [...list],
    tiles: ref.tiles.flatMap((t) => [...t, 0]),
  };
}

describeOpCases('moe lists + grouped FFN + combine vs reference', () => {
  const cases: OpCase[] = [];
  const shapes: [number, number, number, number, number, WeightFormat, Routing][] = [
    [1, 8, 2, 32, 16, 'f32', 'random'],
    [3, 8, 2, 48, 40, 'f16', 'random'],
    [7, 16, 4, 32, 40, 'f32', 'random'],
    [7, 16, 4, 48, 16, 'f16', 'sparse'],
    [5, 8, 2, 33, 19, 'f32', 'random'], // odd H and I (row padding)
    [5, 8, 2, 33, 19, 'f16', 'duplicates'],
    [20, 8, 2, 32, 16, 'f16', 'one-expert'], // one expert, several tiles
    [7, 16, 4, 32, 16, 'f32', 'duplicates'],
    [7, 16, 4, 36, 20, 'int8', 'random'],
    [3, 8, 2, 33, 19, 'int4', 'sparse'],
  ];
  for (const style of ['blocked', 'lanes'] as const) for (const [T, E, k, H, I, format, kind] of shapes) {
    const { ids, w } = makeRouting(T, E, k, kind, T * 13 + E + H);
    const x = randomArray(T * H, T + H + I);
    const res = randomArray(T * H, 77);
    const ew = expertWeights(E, H, I, format, E + H + I);
    const ref = moeListsRef(ids, w, E, MOE_TILE);
    const words = listWords(ref, E, H, I, style);
    cases.push({
      name: `${style}: T=${T} E=${E} k=${k} H=${H} I=${I} ${format} ${kind}`,
      inputs: { ids, w, x },
      inout: { out: res }, // out += moe
      outputs: {
        ecount: { n: 2 * E, type: 'u32' }, meta: { n: words.meta.length, type: 'u32', indirect: true },
        list: { n: words.list.length, type: 'u32' }, tiles: { n: words.tiles.length, type: 'u32' }, out2: T * H, // out2 = moe
      },
      encode: (g, pass, b, own) => {
        setKernelStyle(g, style);
        expect(moeRowsPerWorkgroup(g)).toBe(rowsOf(style));
        const ws = own(createMoeWorkspace(g, { maxTokens: T + 1, E, k, H, I }));
        const lists = { list: b.list, tiles: b.tiles, meta: b.meta };
        encodeMoeLists(g, pass, { ids: b.ids, weights: b.w, ecount: b.ecount, ...lists, T, E, kMax: k, H, I });
        encodeMoeFfn(g, pass, { x: b.x, ...ew.upload(g, own), ...lists, work: ws.work, hOff: ws.hOff, H, I, kMax: k });
        encodeMoeCombine(g, pass, { ids: b.ids, partial: ws.work, out: b.out, accumulate: true, T, H, kMax: k });
        encodeMoeCombine(g, pass, { ids: b.ids, partial: ws.work, out: b.out2, T, H, kMax: k });
      },
      expected: () => {
        const args = { x, ids, weights: w, gateUp: ew.gu, down: ew.dn, T, H, I, kMax: k };
        return { ...words, out: moeFfnRef({ ...args, residual: res }), out2: moeFfnRef(args) };
      },
      atol: 1e-4,
      rtol: 1e-4,
    });
  }

  // encodeMoeLayer: router -> policy -> lists -> FFN -> combine(residual) matches route() + the reference
  const [T, E, k, H, I] = [6, 16, 4, 32, 24];
  const logits = randomArray(T * E, 3, 2);
  const x = randomArray(T * H, 4);
  const res = randomArray(T * H, 5);
  const ew = expertWeights(E, H, I, 'f16', 9);
  const policies: GpuPolicy[] = [{ kind: 'baseline' }, { kind: 'xshare', budget: 5 }, { kind: 'alloc_t', k: 2 }, { kind: 'reduced_topk', k: 2 }];
  for (const style of ['blocked', 'lanes'] as const) for (const policy of policies) {
    const r = route(logits, T, E, k, policy as never, { mode: 'softmax', normTopk: true });
    if (policy.kind === 'xshare') expect(r.distinct).toBeLessThanOrEqual(5);
    const words = listWords(moeListsRef(r.ids, r.weights, E, MOE_TILE), E, H, I, style);
    cases.push({
      name: `${style}: encodeMoeLayer ${JSON.stringify(policy)}`,
      inputs: { logits, x, res },
      // the distinct-expert counter goes to word 2 only
      inout: { counters: new Uint32Array(4) },
      // only the distinct experts get FFN workgroups: the meta words (with the active list) are checked whole
      outputs: { out: T * H, meta: { n: words.meta.length, type: 'u32', indirect: true } },
      encode: (g, pass, b, own) => {
        setKernelStyle(g, style);
        const ws = own(createMoeWorkspace(g, { maxTokens: 8, E, k, H, I }));
        const { gateUp, down } = ew.upload(g, own);
        encodeMoeLayer(g, pass, {
          ws: { ...ws, meta: b.meta }, logits: b.logits, x: b.x, out: b.out, residual: b.res, gateUp, down, format: 'f16', T,
          mode: 'softmax', normTopk: true, policy, counters: b.counters, counterIndex: 2,
        });
      },
      expected: () => ({
        out: moeFfnRef({ x, ids: r.ids, weights: r.weights, gateUp: ew.gu, down: ew.dn, T, H, I, kMax: k, residual: res }),
        counters: [0, 0, r.distinct, 0],
        meta: words.meta,
      }),
      atol: 1e-4,
      rtol: 1e-4,
    });
  }
  return cases;
});
