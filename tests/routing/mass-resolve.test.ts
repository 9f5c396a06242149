// The mass policy's properties, policy resolution / parsing, the calibration file and Alloc-L's DP.
import { describe, expect, it } from 'vitest';
import { massSelect, route, routerScores, selectionKeys } from '../../src/routing/policies.ts';
import { NO_EXPERT, type Policy, type RouterConfig } from '../../src/routing/types.ts';
import { PolicyError, autoCoverages, autoPolicyCoverages, resolvePolicy, type ResolveContext } from '../../src/routing/resolve.ts';
import { parsePolicyString, PolicyParseError } from '../../src/routing/parse.ts';
import { CalibrationMissingError, allocateBudget, decodeCalibration, type Calibration } from '../../src/routing/calibration.ts';
import { encodeCalibration } from '../../src/routing/calibration-writer.ts';
import { fromArrayBuffer } from '../../src/format/bytes.ts';
import { randomArray, rng } from '../helpers/compare.ts';

const routers: RouterConfig[] = [{ mode: 'softmax', normTopk: true }, { mode: 'softmax' }, { mode: 'topk_softmax' }];

function sets(ids: Uint32Array, T: number, k: number): number[][] {
  return Array.from({ length: T }, (_, t) => [...ids.slice(t * k, t * k + k)].filter((e) => e !== NO_EXPERT));
}

describe('mass policy (reference)', () => {
  const shapes: [number, number, number][] = [[1, 8, 2], [6, 8, 2], [16, 32, 4], [33, 16, 8]];
  for (const router of routers) for (const [T, E, k] of shapes) {
    const logits = randomArray(T * E, T * 13 + E + k, 3);
    const r0 = rng(E * 7);
    const sim = new Float32Array(E * E).map(() => r0());
    for (let e = 0; e < E; e++) sim[e * E + e] = 1;
    const base = route(logits, T, E, k, { kind: 'baseline' }, router);
    const name = `${router.mode}${router.normTopk ? '+norm' : ''} T=${T} E=${E} k=${k}`;
    it(`${name}: budgets kept, >= 1 expert per token, subset of the baseline union`, () => {
      const union = new Set(sets(base.ids, T, k).flat());
      for (const reroute of ['similar', 'refill', 'drop'] as const) for (const coverage of [0.3, 0.6, 0.9]) for (const budget of [undefined, 1, 3]) {
        const r = route(logits, T, E, k, { kind: 'mass', coverage, budget, reroute, similarity: sim }, router);
        const s = sets(r.ids, T, k);
        s.forEach((x) => expect(x.length).toBeGreaterThanOrEqual(1));
        if (budget !== undefined) expect(r.distinct).toBeLessThanOrEqual(budget);
        expect(r.distinct).toBeLessThanOrEqual(base.distinct);
        for (const e of s.flat()) expect(union.has(e)).toBe(true);
        if (reroute === 'similar') expect(r.weights).toEqual(base.weights);
      }
    });
    it(`${name}: a non-binding budget reproduces the baseline bit for bit`, () => {
      for (const reroute of ['similar', 'refill', 'drop'] as const) {
        const r = route(logits, T, E, k, { kind: 'mass', coverage: 1, reroute, similarity: sim }, router);
        expect(r.ids).toEqual(base.ids);
        expect(r.weights).toEqual(base.weights);
        const b = route(logits, T, E, k, { kind: 'mass', coverage: 1, budget: E, reroute, similarity: sim }, router);
        expect(b.ids).toEqual(base.ids);
        const m = route(logits, T, E, k, { kind: 'mass', coverage: 0.1, budget: 1, reroute, similarity: sim, minTokens: T + 1 }, router);
        expect(m.ids).toEqual(base.ids);
      }
    });
  }

  it('the set is the smallest one (brute force) holding the warm-up set and coverage of the baseline top-k mass', () => {
    const r = rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const T = 1 + Math.floor(r() * 6);
      const E = 5 + Math.floor(r() * 4);
      const k = 1 + Math.floor(r() * 3);
      const logits = randomArray(T * E, 500 + trial, 2);
      const g = routerScores(logits, T, E, 'softmax');
      const key = selectionKeys(g, T, E, { mode: 'softmax' });
      const tau = [0.5, 0.8, 0.95][trial % 3];
      const { chosen, top } = massSelect(g, key, T, E, k, tau);
      const col = new Float64Array(E);
      top.forEach((tk, t) => tk.forEach((e) => (col[e] += g[t * E + e])));
      const total = col.reduce((a, b) => a + b, 0);
      const pool = [...new Set(top.flat())];
      const warm = new Set(top.map((tk) => tk[0]));
      let best = Infinity;
      for (let m = 0; m < 1 << pool.length; m++) {
        const s = pool.filter((_, i) => m & (1 << i));
        if (![...warm].every((e) => s.includes(e))) continue;
        if (s.reduce((a, e) => a + col[e], 0) >= tau * total - 1e-6) best = Math.min(best, s.length);
      }
      expect(chosen.reduce((a, v) => a + v, 0)).toBe(best);
    }
  });
});

describe('policy strings and resolution', () => {
  const ctx = (cal: Calibration | null = null): ResolveContext => ({ isMoe: [true, false, true], topK: 4, E: 8, calibration: cal });
  it('parses the mini-language and JSON', () => {
    expect(parsePolicyString('baseline')).toEqual({ kind: 'baseline' });
    expect(parsePolicyString('xshare:0.7')).toEqual({ kind: 'xshare', fraction: 0.7 });
    expect(parsePolicyString('xshare:budget=12')).toEqual({ kind: 'xshare', budget: 12 });
    expect(parsePolicyString('reduced_topk:k=4/3/2')).toEqual({ kind: 'reduced_topk', k: [4, 3, 2] });
    expect(parsePolicyString('mass:0.9,reroute=refill')).toEqual({ kind: 'mass', coverage: 0.9, reroute: 'refill' });
    expect(parsePolicyString('auto')).toEqual({ kind: 'auto', maxPerplexityRise: 0.01 });
    expect(parsePolicyString('auto:0.02')).toEqual({ kind: 'auto', maxPerplexityRise: 0.02 });
    expect(parsePolicyString('sere:select=1,threshold=0,sim=cosine')).toEqual({ kind: 'sere', selectTopK: 1, threshold: 0, similarity: 'cosine' });
    expect(parsePolicyString('alloc:2.5,tokens=1')).toEqual({ kind: 'alloc', k: 2.5, tokens: true });
    expect(parsePolicyString('{"kind":"xshare","coverage":0.9}')).toEqual({ kind: 'xshare', coverage: 0.9 });
    expect(() => parsePolicyString('nope:1')).toThrow(PolicyParseError);
    expect(() => parsePolicyString('xshare:abc')).toThrow(/not a number/);
    expect(() => parsePolicyString('{bad')).toThrow(/not valid JSON/);
  });
  it('resolves per layer and names bad fields', () => {
    expect(resolvePolicy({ kind: 'reduced_topk', k: [3, 1, 9] }, ctx())).toEqual([{ kind: 'reduced_topk', k: 3 }, null, { kind: 'reduced_topk', k: 4 }]);
    expect(resolvePolicy({ kind: 'xshare', fraction: 0.5 }, ctx())[2]).toEqual({ kind: 'xshare', fraction: 0.5, minTokens: undefined });
    expect(() => resolvePolicy({ kind: 'reduced_topk', k: [3, 1] }, ctx())).toThrow(/2 values, the model has 3 layers/);
    expect(() => resolvePolicy({ kind: 'xshare', fraction: 1.5 }, ctx())).toThrow(/fraction = 1.5/);
    expect(() => resolvePolicy({ kind: 'xshare' } as Policy, ctx())).toThrow(/budget, fraction or coverage/);
    expect(() => resolvePolicy({ kind: 'what' } as unknown as Policy, ctx())).toThrow(PolicyError);
    expect(resolvePolicy({ kind: 'mass', coverage: 0.9, reroute: 'drop' }, ctx())[0]).toMatchObject({ kind: 'mass', coverage: 0.9, reroute: 'drop' });
  });
  it('calibrated policies without calibration say how to make it', () => {
    for (const p of [{ kind: 'sere' }, { kind: 'alloc', k: 2 }, { kind: 'auto', maxPerplexityRise: 0.01 }, { kind: 'mass', coverage: 0.9 }] as Policy[]) {
      expect(() => resolvePolicy(p, ctx())).toThrow(CalibrationMissingError);
      expect(() => resolvePolicy(p, ctx())).toThrow(/webmoe calibrate --model DIR --text-file/);
    }
  });

  const E = 8;
  const sim = (s: number) => new Float32Array(E * E).map((_, i) => (i % (E + 1) === 0 ? 1 : (i * s) % 1));
  const cal: Calibration = {
    E, layers: 3, similarity: { cka: [sim(0.37), null, sim(0.11)], cosine: [sim(0.21), null, sim(0.5)] }, defaultSimilarity: 'cka',
    alloc: { levels: [1, 2, 3, 4], dloss: [[0.3, 0.1, 0.02, 0], [0, 0, 0, 0], [0.05, 0.01, 0.001, 0]] },
    mass: { levels: [0.95, 0.9, 0.8], dloss: [[0.002, 0.006, 0.02], [0, 0, 0], [0.001, 0.002, 0.004]], distinct: [[10, 8, 6], [0, 0, 0], [11, 9, 7]], baseDistinct: [12, 0, 13], batch: 16 },
    meta: { text: 'x.txt' },
  };
  it('calibration round-trips through safetensors and is checked against the model', async () => {
    const bytes = encodeCalibration(cal);
    const back = await decodeCalibration(fromArrayBuffer(bytes, 'cal.safetensors'), { layers: 3, E });
    expect(back.similarity.cka![0]).toEqual(cal.similarity.cka![0]);
    expect(back.similarity.cka![1]).toBeNull();
    expect(back.similarity.cosine![2]).toEqual(cal.similarity.cosine![2]);
    expect(back.alloc!.dloss[0][1]).toBeCloseTo(0.1, 6);
    expect(back.mass!.distinct![2]).toEqual([11, 9, 7]);
    expect(back.mass!.batch).toBe(16);
    expect(back.meta.text).toBe('x.txt');
    await expect(decodeCalibration(fromArrayBuffer(bytes, 'cal.safetensors'), { layers: 4, E })).rejects.toThrow(/cal.safetensors.*similarity.cka.*expected \[4,8,8\]/);
  });
  it('resolves sere, alloc and auto from the calibration', () => {
    const s = resolvePolicy({ kind: 'sere', similarity: 'cosine' }, ctx(cal));
    expect(s[0]).toMatchObject({ kind: 'sere', similarity: cal.similarity.cosine![0], selectTopK: 2, threshold: 0.1 });
    expect(() => resolvePolicy({ kind: 'sere', similarity: 'frobenius' }, ctx(cal))).toThrow(/no 'frobenius' similarity/);
    // 2 MoE layers x average 3 = 6: layer 0 is the more sensitive -> (4, 2)
    expect(resolvePolicy({ kind: 'alloc', k: 3 }, ctx(cal)).map((p) => p && (p as { k: number }).k)).toEqual([4, null, 2]);
    expect(resolvePolicy({ kind: 'alloc', k: 3, tokens: true }, ctx(cal))[2]).toMatchObject({ kind: 'alloc_t', k: 2 });
    // log(1.01) ~ 0.00995: best gain within it is layer0 0.95 (+2, 0.002) + layer2 0.8 (+6, 0.004)
    expect(autoCoverages(ctx(cal), Math.log1p(0.01))).toEqual([0.95, 1, 0.8]);
    expect(autoCoverages(ctx(cal), 0)).toEqual([1, 1, 1]);
    expect(resolvePolicy({ kind: 'auto', maxPerplexityRise: 0.01 }, ctx(cal))[2]).toMatchObject({ kind: 'mass', coverage: 0.8, reroute: 'similar', similarity: cal.similarity.cka![2] });
  });
  it('auto: coverages from the checked table, reroute from the calibration, noise never makes a lower coverage free', async () => {
    const withTable: Calibration = {
      ...cal, mass: { ...cal.mass!, reroute: 'refill' },
      auto: { targets: [0.005, 0.01, 0.02], coverages: [[1, 1, 0.95], [0.95, 1, 0.9], [0.9, 1, 0.8]], measured: [0.004, 0.009, 0.018] },
    };
    // the checked choice of the largest target <= maxRise; the baseline set below the smallest
    expect(autoPolicyCoverages(ctx(withTable), 0.01)).toEqual([0.95, 1, 0.9]);
    expect(autoPolicyCoverages(ctx(withTable), 0.015)).toEqual([0.95, 1, 0.9]);
    expect(autoPolicyCoverages(ctx(withTable), 0.05)).toEqual([0.9, 1, 0.8]);
    expect(autoPolicyCoverages(ctx(withTable), 0.004)).toEqual([1, 1, 1]);
    // without a table: the per-layer program with log(1 + r)
    expect(autoPolicyCoverages(ctx(cal), 0.01)).toEqual(autoCoverages(ctx(cal), Math.log1p(0.01)));
    const p = resolvePolicy({ kind: 'auto', maxPerplexityRise: 0.01 }, ctx(withTable));
    expect(p[2]).toMatchObject({ kind: 'mass', coverage: 0.9, reroute: 'refill' });
    expect(p[1]).toBeNull();
    expect(resolvePolicy({ kind: 'auto', maxPerplexityRise: 0.01, reroute: 'drop' }, ctx(withTable))[2]).toMatchObject({ reroute: 'drop' });
    // a negative (noisy) rise at the lowest coverage costs what the higher coverage costs, not nothing
    const noisy: Calibration = { ...cal, mass: { ...cal.mass!, dloss: [[0.002, 0.006, -0.01], [0, 0, 0], [0.001, 0.002, 0.004]] } };
    expect(autoCoverages(ctx(noisy), 0.005)).toEqual([1, 1, 0.8]);
    expect(autoCoverages(ctx(noisy), 0.011)).toEqual([0.8, 1, 0.8]);
    // round trip of the table and the reroute; a table that does not fit is refused by name
    const back = await decodeCalibration(fromArrayBuffer(encodeCalibration(withTable), 'cal.safetensors'), { layers: 3, E });
    expect(back.auto!.targets).toEqual([0.005, 0.01, 0.02].map((v) => Math.fround(v)));
    expect(back.auto!.coverages[1]).toEqual([0.95, 1, 0.9].map((v) => Math.fround(v)));
    expect(back.mass!.reroute).toBe('refill');
    const bad = { ...withTable, auto: { targets: [0.01, 0.005], coverages: [[1, 1, 1], [1, 1, 1]], measured: [0, 0] } };
    await expect(decodeCalibration(fromArrayBuffer(encodeCalibration(bad), 'cal.safetensors'), { layers: 3, E })).rejects.toThrow(/cal.safetensors.*auto.targets must be positive and increasing/);
    const zero = { ...withTable, auto: { ...withTable.auto!, coverages: [[1, 1, 0], [1, 1, 1], [1, 1, 1]] } };
    await expect(decodeCalibration(fromArrayBuffer(encodeCalibration(zero), 'cal.safetensors'), { layers: 3, E })).rejects.toThrow(/auto.coverages has 0: expected values in \(0, 1\]/);
  });
  it('Alloc-L DP equals brute force', () => {
    const r = rng(3);
    for (let trial = 0; trial < 50; trial++) {
      const L = 1 + Math.floor(r() * 4);
      const levels = [1, 2, 3, 4].slice(0, 2 + Math.floor(r() * 3));
      const cost = Array.from({ length: L }, () => levels.map(() => r()));
      const total = L * levels[0] + Math.floor(r() * (L * (levels[levels.length - 1] - levels[0]) + 1));
      const pick = allocateBudget(levels, cost, total);
      const got = pick.reduce((a, i, l) => a + cost[l][i], 0);
      expect(pick.reduce((a, i) => a + levels[i], 0)).toBeLessThanOrEqual(total);
      let best = Infinity;
      const rec = (l: number, used: number, c: number) => {
        if (l === L) {
          if (used <= total) best = Math.min(best, c);
          return;
        }
        levels.forEach((v, i) => rec(l + 1, used + v, c + cost[l][i]));
      };
      rec(0, 0, 0);
      expect(got).toBeCloseTo(best, 9);
    }
    expect(() => allocateBudget([2, 3], [[0, 0]], 1)).toThrow(/no per-layer allocation/);
  });
});
