import { describe, expect, it } from 'vitest';
import { route, xshareSelect, routerScores, selectionKeys, topkToken } from '../../src/routing/policies.ts';
import { NO_EXPERT, type RouterConfig } from '../../src/routing/types.ts';
import { randomArray, rng } from '../helpers/compare.ts';

const routers: RouterConfig[] = [
  { mode: 'softmax', normTopk: true },
  { mode: 'softmax', normTopk: false, scale: 2.5 },
  { mode: 'topk_softmax' },
  { mode: 'sigmoid', normTopk: true, expertBias: randomArray(16, 99, 0.3) },
];

function tokenSets(ids: Uint32Array, T: number, k: number): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < T; t++) out.push([...ids.slice(t * k, t * k + k)].filter((e) => e !== NO_EXPERT));
  return out;
}

function checkCommon(ids: Uint32Array, w: Float32Array, T: number, k: number, distinct: number) {
  const sets = tokenSets(ids, T, k);
  for (let t = 0; t < T; t++) {
    expect(sets[t].length, `token ${t} has >= 1 expert`).toBeGreaterThanOrEqual(1);
    // used slots first, sentinels after with weight 0
    for (let j = 0; j < k; j++) if (ids[t * k + j] === NO_EXPERT) expect(w[t * k + j]).toBe(0);
    expect(ids.slice(t * k, t * k + sets[t].length).every((e) => e !== NO_EXPERT)).toBe(true);
  }
  expect(new Set(sets.flat()).size).toBe(distinct);
}

describe('router scores and top-k', () => {
  it('ties break to the lower index, sorted descending', () => {
    const key = new Float32Array([0.1, 0.5, 0.5, 0.2, 0.5]);
    expect(topkToken(key, 0, 5, 4)).toEqual([1, 2, 4, 3]);
  });
  it('topk_softmax weights = softmax over the chosen logits; normTopk sums to 1 times scale', () => {
    const logits = new Float32Array([1, 3, 2, -1]);
    const r = route(logits, 1, 4, 2, { kind: 'baseline' }, { mode: 'topk_softmax' });
    expect([...r.ids]).toEqual([1, 2]);
    expect(r.weights[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    const r2 = route(logits, 1, 4, 2, { kind: 'baseline' }, { mode: 'softmax', normTopk: true, scale: 3 });
    expect(r2.weights[0] + r2.weights[1]).toBeCloseTo(3, 5);
  });
  it('sigmoid bias changes selection only', () => {
    const logits = new Float32Array([2, 0, 1]);
    const bias = new Float32Array([0, 5, 0]);
    const r = route(logits, 1, 3, 1, { kind: 'baseline' }, { mode: 'sigmoid', expertBias: bias });
    expect(r.ids[0]).toBe(1);
    expect(r.weights[0]).toBeCloseTo(0.5, 6);
  });
});

describe('policy properties', () => {
  const shapes: [number, number, number][] = [[1, 8, 2], [5, 8, 2], [9, 16, 4], [17, 16, 4], [32, 16, 8]];
  for (const router of routers) for (const [T, E, k] of shapes) {
    const name = `${router.mode}${router.normTopk ? '+norm' : ''} T=${T} E=${E} k=${k}`;
    const logits = randomArray(T * E, T * 31 + E * 7 + k, 3);
    const base = route(logits, T, E, k, { kind: 'baseline' }, router);
    it(`${name}: baseline`, () => checkCommon(base.ids, base.weights, T, k, base.distinct));
    it(`${name}: xshare keeps the budget, equals baseline when not binding`, () => {
      for (let B = 1; B <= E; B++) {
        const r = route(logits, T, E, k, { kind: 'xshare', budget: B }, router);
        checkCommon(r.ids, r.weights, T, k, r.distinct);
        expect(r.distinct).toBeLessThanOrEqual(B);
        if (B >= base.distinct) {
          expect(r.ids).toEqual(base.ids);
          expect(r.weights).toEqual(base.weights);
        }
      }
      const f = route(logits, T, E, k, { kind: 'xshare', fraction: 1 }, router);
      expect(f.ids).toEqual(base.ids);
      const c = route(logits, T, E, k, { kind: 'xshare', coverage: 1.01 }, router);
      expect(c.ids).toEqual(base.ids);
      expect(route(logits, T, E, k, { kind: 'xshare', budget: 1, minTokens: T + 1 }, router).ids).toEqual(base.ids);
      expect(route(logits, T, E, k, { kind: 'alloc_t', k: 1, minTokens: T + 1 }, router).ids).toEqual(base.ids);
      const h = route(logits, T, E, k, { kind: 'xshare', fraction: 0.5 }, router);
      expect(h.distinct).toBeLessThanOrEqual(Math.max(1, Math.ceil(0.5 * base.distinct)));
    });
    it(`${name}: alloc_t and reduced top-k`, () => {
      for (let kk = 1; kk <= k; kk++) {
        const a = route(logits, T, E, k, { kind: 'alloc_t', k: kk }, router);
        checkCommon(a.ids, a.weights, T, k, a.distinct);
        const used = a.ids.filter((e) => e !== NO_EXPERT).length;
        expect(used).toBe(Math.round(kk * T));
        const r = route(logits, T, E, k, { kind: 'reduced_topk', k: kk }, router);
        checkCommon(r.ids, r.weights, T, k, r.distinct);
        for (let t = 0; t < T; t++) {
          // reduced top-k = prefix of the baseline
          for (let j = 0; j < kk; j++) expect(r.ids[t * k + j]).toBe(base.ids[t * k + j]);
          for (let j = kk; j < k; j++) expect(r.ids[t * k + j]).toBe(NO_EXPERT);
        }
      }
      expect(route(logits, T, E, k, { kind: 'alloc_t', k }, router).ids).toEqual(base.ids);
      expect(route(logits, T, E, k, { kind: 'reduced_topk', k }, router).weights).toEqual(base.weights);
    });
    it(`${name}: sere never changes the top-S slots, keeps weights`, () => {
      const r0 = rng(E);
      const sim = new Float32Array(E * E).map(() => r0());
      for (let e = 0; e < E; e++) sim[e * E + e] = 1;
      for (const S of [1, 2]) for (const threshold of [0, 0.1, 0.7]) {
        const r = route(logits, T, E, k, { kind: 'sere', similarity: sim, selectTopK: S, threshold }, router);
        expect(r.weights).toEqual(base.weights);
        for (let t = 0; t < T; t++) for (let j = 0; j < Math.min(S, k); j++) expect(r.ids[t * k + j]).toBe(base.ids[t * k + j]);
        expect(r.distinct).toBeLessThanOrEqual(base.distinct);
      }
    });
  }

  it('xshare greedy equals brute force over subsets containing the warm-up set', () => {
    const r = rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const T = 1 + Math.floor(r() * 6);
      const E = 6 + Math.floor(r() * 3);
      const k = 1 + Math.floor(r() * 3);
      const logits = randomArray(T * E, 1000 + trial, 2);
      const g = routerScores(logits, T, E, 'softmax');
      const key = selectionKeys(g, T, E, { mode: 'softmax' });
      for (let B = 1; B <= E; B++) {
        const sel = xshareSelect(g, key, T, E, k, { budget: B });
        const poolList = [...Array(E).keys()].filter((e) => sel.pool[e]);
        const warmList = poolList.filter((e) => sel.warm[e]);
        const size = Math.min(B, poolList.length);
        const mass = (s: number[]) => s.reduce((a, e) => a + sel.colsum[e], 0);
        let best = -1;
        for (let m = 0; m < 1 << poolList.length; m++) {
          const s = poolList.filter((_, i) => m & (1 << i));
          if (s.length !== size) continue;
          if (warmList.length <= B && !warmList.every((e) => s.includes(e))) continue;
          if (warmList.length > B && !s.every((e) => sel.warm[e])) continue;
          best = Math.max(best, mass(s));
        }
        const got = [...Array(E).keys()].filter((e) => sel.chosen[e]);
        expect(got.length).toBe(size);
        expect(mass(got)).toBeCloseTo(best, 5);
      }
    }
  });
});
