import type { WeightFormat } from '../../src/quant/pack.ts';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import {
  MOE_META_ACTIVE, MOE_TILE, moeRowsPerWorkgroup, createMoeWorkspace, encodeMoeCombine, encodeMoeFfn, encodeMoeLayer, encodeMoeLists,
} from '../../src/kernels/moe_ffn.ts';
import { moeFfnRef, moeListsRef } from '../../src/reference/moe.ts';
import { route } from '../../src/routing/policies.ts';
import { NO_EXPERT } from '../../src/routing/types.ts';
import { dequantizeInt4, dequantizeInt8, packF16Rows, padRowsF32, quantizeInt4, quantizeInt8 } from '../../src/quant/pack.ts';
import { roundToF16 } from '../../src/quant/f16.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { setKernelStyle } from '../../src/kernels/variants.ts';

type Routing = 'random' | 'one-expert' | 'sparse' | 'duplicates';

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

function weightsFor(g: Gpu, E: number, H: number, I: number, format: WeightFormat, seed: number) {
  const gu = randomArray(E * 2 * I * H, seed, 0.5);
  const dn = randomArray(E * H * I, seed + 1, 0.5);
  const group = 8;
  // packed buffer, optional scales, and the values the GPU sees
  const pack = (w: Float32Array, rows: number, cols: number): [GPUBuffer, GPUBuffer | undefined, Float32Array] => {
    if (format === 'f16') return [createStorage(g.device, packF16Rows(w, rows, cols)), undefined, roundToF16(w)];
    if (format === 'f32') return [createStorage(g.device, padRowsF32(w, rows, cols)), undefined, w];
    const q = format === 'int8' ? quantizeInt8(w, rows, cols, group) : quantizeInt4(w, rows, cols, group);
    return [createStorage(g.device, q.q), createStorage(g.device, q.scales), format === 'int8' ? dequantizeInt8(q) : dequantizeInt4(q)];
  };
  const [guB, guS, guV] = pack(gu, E * 2 * I, H);
  const [dnB, dnS, dnV] = pack(dn, E * H, I);
  return { gu: guV, dn: dnV, guB, dnB, scales: { gateUpScales: guS, downScales: dnS, group } };
}

describe.each(['blocked', 'lanes'] as const)('moe lists + grouped FFN + combine vs reference (%s kernels)', (style) => {
  const getGpu = useGpu();
  const gpu = () => {
    const g = getGpu();
    setKernelStyle(g, style);
    return g;
  };
  const cases: [number, number, number, number, number, WeightFormat, Routing][] = [
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
  for (const [T, E, k, H, I, format, kind] of cases) {
    it(`T=${T} E=${E} k=${k} H=${H} I=${I} ${format} ${kind}`, async () => {
      const g = gpu();
      const ws = createMoeWorkspace(g, { maxTokens: T + 1, E, k, H, I });
      const { ids, w } = makeRouting(T, E, k, kind, T * 13 + E + H);
      const x = randomArray(T * H, T + H + I);
      const res = randomArray(T * H, 77);
      const { gu, dn, guB, dnB, scales } = weightsFor(g, E, H, I, format, E + H + I);
      g.device.queue.writeBuffer(ws.ids, 0, ids);
      g.device.queue.writeBuffer(ws.weights, 0, w);
      const xb = createStorage(g.device, x);
      const out = createStorage(g.device, res); // accumulate onto it
      const out2 = createStorage(g.device, T * H * 4);
      await runPass(g, (pass) => {
        encodeMoeLists(g, pass, { ids: ws.ids, weights: ws.weights, ecount: ws.ecount, list: ws.list, tiles: ws.tiles, meta: ws.meta, T, E, kMax: k, H, I });
        encodeMoeFfn(g, pass, { x: xb, gateUp: guB, down: dnB, format, ...scales, list: ws.list, tiles: ws.tiles, meta: ws.meta, work: ws.work, hOff: ws.hOff, H, I, kMax: k });
        encodeMoeCombine(g, pass, { ids: ws.ids, partial: ws.work, out, accumulate: true, T, H, kMax: k });
        encodeMoeCombine(g, pass, { ids: ws.ids, partial: ws.work, out: out2, T, H, kMax: k });
      });
      const ref = moeListsRef(ids, w, E, MOE_TILE);
      const ec = new Uint32Array(await readBuffer(g.device, ws.ecount, 2 * E * 4));
      expect([...ec.slice(0, E)]).toEqual([...ref.counts]);
      expect([...ec.slice(E)]).toEqual([...ref.offsets]);
      const meta = new Uint32Array(await readBuffer(g.device, ws.meta, (MOE_META_ACTIVE + E) * 4));
      const nt = ref.tiles.length;
      const rows = moeRowsPerWorkgroup(g);
      expect(rows).toBe(style === 'blocked' ? 64 : 8);
      expect([...meta.slice(0, 8)]).toEqual([Math.ceil(I / rows), nt, 1, ref.active.length, ref.slots.length, Math.ceil(H / rows), nt, 1]);
      expect([...meta.slice(MOE_META_ACTIVE, MOE_META_ACTIVE + ref.active.length)]).toEqual(ref.active);
      const list = new Uint32Array(await readBuffer(g.device, ws.list, ref.slots.length * 8));
      expect([...list.filter((_, i) => i % 2 === 0)]).toEqual([...ref.slots]);
      expect([...new Float32Array(list.buffer).filter((_, i) => i % 2 === 1)]).toEqual([...ref.weights]);
      const tiles = new Uint32Array(await readBuffer(g.device, ws.tiles, ref.tiles.length * 16));
      expect(ref.tiles.map((_, i) => [tiles[4 * i], tiles[4 * i + 1], tiles[4 * i + 2]])).toEqual(ref.tiles);
      const y = new Float32Array(await readBuffer(g.device, out, T * H * 4));
      const y2 = new Float32Array(await readBuffer(g.device, out2, T * H * 4));
      const args = { x, ids, weights: w, gateUp: gu, down: dn, T, H, I, kMax: k };
      expectClose(y, moeFfnRef({ ...args, residual: res }), 1e-4, 1e-4, 'out += moe');
      expectClose(y2, moeFfnRef(args), 1e-4, 1e-4, 'out = moe');
      ws.destroy();
    });
  }

  it('encodeMoeLayer: router -> policy -> lists -> FFN -> combine(residual) matches route() + reference', async () => {
    const g = gpu();
    const [T, E, k, H, I] = [6, 16, 4, 32, 24];
    const ws = createMoeWorkspace(g, { maxTokens: 8, E, k, H, I });
    const logits = randomArray(T * E, 3, 2);
    const x = randomArray(T * H, 4);
    const res = randomArray(T * H, 5);
    const { gu, dn, guB, dnB } = weightsFor(g, E, H, I, 'f16', 9);
    const lb = createStorage(g.device, logits);
    const xb = createStorage(g.device, x);
    const rb = createStorage(g.device, res);
    const out = createStorage(g.device, T * H * 4);
    const counters = createStorage(g.device, 16);
    for (const policy of [{ kind: 'baseline' }, { kind: 'xshare', budget: 5 }, { kind: 'alloc_t', k: 2 }, { kind: 'reduced_topk', k: 2 }] as const) {
      await runPass(g, (pass) => encodeMoeLayer(g, pass, {
        ws, logits: lb, x: xb, out, residual: rb, gateUp: guB, down: dnB, format: 'f16', T, mode: 'softmax', normTopk: true,
        policy, counters, counterIndex: 2,
      }));
      const r = route(logits, T, E, k, policy, { mode: 'softmax', normTopk: true });
      const y = new Float32Array(await readBuffer(g.device, out, T * H * 4));
      expectClose(y, moeFfnRef({ x, ids: r.ids, weights: r.weights, gateUp: gu, down: dn, T, H, I, kMax: k, residual: res }), 1e-4, 1e-4, policy.kind);
      expect(new Uint32Array(await readBuffer(g.device, counters, 16))[2]).toBe(r.distinct);
      // only the distinct experts get FFN workgroups
      const meta = new Uint32Array(await readBuffer(g.device, ws.meta, 32));
      expect(meta[3]).toBe(r.distinct);
      expect(meta[1]).toBe(moeListsRef(r.ids, r.weights, E, MOE_TILE).tiles.length);
      if (policy.kind === 'xshare') expect(r.distinct).toBeLessThanOrEqual(5);
    }
    ws.destroy();
  });
});
