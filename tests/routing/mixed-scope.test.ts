// Token scope (mixed steps) in the routing references: prompt-chunk rows outside the policy.
import { describe, expect, it } from 'vitest';
import { massSelect, route, routerScores, selectionKeys, xshareSelect } from '../../src/routing/policies.ts';
import { tokenScope, type TokenScope } from '../../src/routing/scope.ts';
import { DEFAULT_POLICY_SCOPE, PolicyError, policyScopeOf, resolvePolicy } from '../../src/routing/resolve.ts';
import { parsePolicyString } from '../../src/routing/parse.ts';
import { NO_EXPERT, type RouterConfig } from '../../src/routing/types.ts';
import { randomArray } from '../helpers/compare.ts';
import { masks, scopedPolicies, similarity } from './mixed-cases.ts';

const routers: RouterConfig[] = [
  { mode: 'softmax', normTopk: true },
  { mode: 'topk_softmax' },
  { mode: 'sigmoid', normTopk: true, expertBias: randomArray(16, 7, 0.3) },
];

const scopeOf = (mask: Uint8Array, union: boolean): TokenScope => ({ policy: mask, count: mask.reduce((a, v) => a + v, 0), union });
const rowsOf = (mask: Uint8Array, want: number) => [...mask.keys()].filter((t) => mask[t] === want);
const experts = (ids: Uint32Array, rows: number[], k: number) => {
  const s = new Set<number>();
  for (const t of rows) for (let j = 0; j < k; j++) if (ids[t * k + j] !== NO_EXPERT) s.add(ids[t * k + j]);
  return s;
};
function subLogits(logits: Float32Array, rows: number[], E: number): Float32Array {
  const out = new Float32Array(rows.length * E);
  rows.forEach((t, i) => out.set(logits.subarray(t * E, (t + 1) * E), i * E));
  return out;
}

describe('token scope: the references', () => {
  const E = 16;
  for (const k of [2, 4]) for (const T of [1, 6, 13]) for (const [ri, router] of routers.entries()) {
    it(`T=${T} k=${k} ${router.mode}`, () => {
      const logits = randomArray(T * E, 31 * T + k + ri, 2.5).map((v) => (ri === 0 ? Math.round(v * 2) / 2 : v));
      const sim = similarity(E, T + k);
      const base = route(logits, T, E, k, { kind: 'baseline' }, router);
      for (const pol of scopedPolicies(k, sim)) for (const mask of masks(T, T * 3 + k)) for (const union of [false, true]) {
        const name = `${JSON.stringify({ ...pol, similarity: undefined })} mask ${[...mask].join('')} union ${union}`;
        const r = route(logits, T, E, k, pol, router, scopeOf(mask, union));
        const dec = rowsOf(mask, 1);
        const pre = rowsOf(mask, 0);
        // prompt rows: exactly the baseline top-k (ids and weights, bit for bit)
        for (const t of pre) {
          expect([...r.ids.slice(t * k, (t + 1) * k)], `prefill row ${t} ids ${name}`).toEqual([...base.ids.slice(t * k, (t + 1) * k)]);
          expect([...r.weights.slice(t * k, (t + 1) * k)], `prefill row ${t} weights ${name}`).toEqual([...base.weights.slice(t * k, (t + 1) * k)]);
        }
        // every row keeps >= 1 expert; distinct counts the whole step
        for (let t = 0; t < T; t++) expect(r.ids[t * k], `row ${t} ${name}`).not.toBe(NO_EXPERT);
        expect(r.distinct).toBe(experts(r.ids, [...mask.keys()], k).size);
        // no prompt rows: exactly today's routing (the policy on every row)
        if (pre.length === 0) {
          const all = route(logits, T, E, k, pol, router);
          expect([...r.ids], `all-decode ids ${name}`).toEqual([...all.ids]);
          expect([...r.weights], `all-decode weights ${name}`).toEqual([...all.weights]);
        }
        // without union the decode rows route exactly as a step of the decode rows alone
        if (!union && dec.length) {
          const alone = route(subLogits(logits, dec, E), dec.length, E, k, pol, router);
          dec.forEach((t, i) => expect([...r.ids.slice(t * k, (t + 1) * k)], `decode row ${t} ${name}`).toEqual([...alone.ids.slice(i * k, (i + 1) * k)]));
        }
        // budgets hold for the decode rows: the batch set S chosen on the decode rows alone keeps its budget,
        // and decode rows use only S (plus, with union, the prompt rows' baseline experts U)
        const U = union ? experts(base.ids, pre, k) : new Set<number>();
        const decExperts = experts(r.ids, dec, k);
        const enforced = !(pol.kind === 'xshare' || pol.kind === 'mass' || pol.kind === 'alloc_t') || dec.length >= (pol.minTokens ?? 0);
        if ((pol.kind === 'xshare' || pol.kind === 'mass') && dec.length && enforced) {
          const sl = subLogits(logits, dec, E);
          const key = selectionKeys(routerScores(sl, dec.length, E, router.mode), dec.length, E, router);
          const g = routerScores(sl, dec.length, E, router.mode);
          const S = pol.kind === 'xshare' ? xshareSelect(g, key, dec.length, E, k, pol).chosen : massSelect(g, key, dec.length, E, k, pol.coverage, pol.budget).chosen;
          const size = S.reduce((a, v) => a + v, 0);
          if (pol.budget !== undefined) expect(size, `budget ${name}`).toBeLessThanOrEqual(pol.budget);
          if (pol.kind === 'xshare' && pol.fraction !== undefined) expect(size).toBeLessThanOrEqual(Math.max(1, Math.ceil(pol.fraction * experts(base.ids, dec, k).size - 1e-6)));
          for (const e of decExperts) expect(S[e] === 1 || U.has(e), `decode expert ${e} in S (or U) ${name}`).toBe(true);
        }
        if (pol.kind === 'reduced_topk') for (const t of dec) expect(experts(r.ids, [t], k).size).toBeLessThanOrEqual(pol.k);
        if (pol.kind === 'alloc_t' && dec.length) {
          const pairs = dec.reduce((a, t) => a + [...r.ids.slice(t * k, (t + 1) * k)].filter((e) => e !== NO_EXPERT).length, 0);
          expect(pairs, `alloc_t total ${name}`).toBeLessThanOrEqual(Math.max(dec.length, Math.round(pol.k * dec.length)));
        }
        // sere: a decode row's slot is its baseline expert or a primary expert (some decode row's top-S, or U)
        if (pol.kind === 'sere') {
          const S = pol.selectTopK ?? 2;
          const prim = new Set<number>(U);
          for (const t of dec) for (let j = 0; j < Math.min(S, k); j++) prim.add(base.ids[t * k + j]);
          for (const t of dec) for (let j = 0; j < k; j++) {
            const e = r.ids[t * k + j];
            expect(e === base.ids[t * k + j] || prim.has(e), `sere slot ${t}/${j} ${name}`).toBe(true);
          }
        }
      }
    });
  }

  it('a baseline layer ignores the scope', () => {
    const logits = randomArray(5 * E, 3, 2);
    const mask = Uint8Array.from([1, 0, 1, 0, 0]);
    expect(route(logits, 5, E, 2, { kind: 'baseline' }, routers[0], scopeOf(mask, true))).toEqual(route(logits, 5, E, 2, { kind: 'baseline' }, routers[0]));
  });
});

describe('token scope: the step mask and the policy field', () => {
  it('marks decode rows 1 and prompt-chunk rows 0, in item order', () => {
    const items = [{ tokens: [5] }, { tokens: [1, 2, 3], prefill: true }, { tokens: [7] }, { tokens: [9], prefill: true }];
    const s = tokenScope(items, { kind: 'mass', coverage: 0.9, scope: 'decode' })!;
    expect([...s.policy]).toEqual([1, 0, 0, 0, 1, 0]);
    expect(s.count).toBe(2);
    expect(s.union).toBe(false);
    expect(tokenScope(items, { kind: 'xshare', fraction: 0.7, scope: 'decode_union' })!.union).toBe(true);
    // no scope given: the measured default (docs/results/mixed-steps.md), decode tokens with the prompts' experts kept
    expect(DEFAULT_POLICY_SCOPE).toBe('decode_union');
    expect(tokenScope(items, { kind: 'mass', coverage: 0.9 })).toEqual({ ...s, union: true });
  });
  it('is null when the policy covers every row', () => {
    const items = [{ tokens: [5] }, { tokens: [1, 2], prefill: true }];
    expect(tokenScope(items, { kind: 'mass', coverage: 0.9, scope: 'all' })).toBeNull();
    expect(tokenScope(items, { kind: 'baseline', scope: 'decode' })).toBeNull();
    expect(tokenScope([{ tokens: [5] }, { tokens: [6] }], { kind: 'mass', coverage: 0.9, scope: 'decode' })).toBeNull();
  });
  it('a bad scope is a PolicyError naming the field; the CLI string sets it', () => {
    expect(() => policyScopeOf({ kind: 'mass', coverage: 0.9, scope: 'prefill' as never })).toThrow(/scope = "prefill": expected one of all, decode, decode_union/);
    expect(() => resolvePolicy({ kind: 'xshare', fraction: 0.5, scope: 3 as never }, { isMoe: [true], topK: 2, E: 8, calibration: null })).toThrow(PolicyError);
    expect(parsePolicyString('mass:0.9,reroute=refill,scope=decode')).toEqual({ kind: 'mass', coverage: 0.9, reroute: 'refill', scope: 'decode' });
  });
});

