// The mass policy and the routing statistics on the GPU (moe_route.wgsl MASS, moe_route_stats.wgsl) vs
// their TS references (src/routing/policies.ts), through the op-case harness: one case per (shape,
// router, setting).
import { expect } from 'vitest';
import { randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { createStorage } from '../../src/gpu/buffers.ts';
import { ROUTE_STATS_WORDS, decodeRouteStats, encodeMoeRoute, encodeMoeRouteStats, encodeMoeScores, type GpuPolicy } from '../../src/kernels/moe_router.ts';
import { route, routeStats, routerScores } from '../../src/routing/policies.ts';
import type { PolicyConfig, Reroute, RouterConfig } from '../../src/routing/types.ts';

describeOpCases('mass policy + route stats on the GPU vs src/routing', () => {
  const routers: RouterConfig[] = [
    { mode: 'softmax', normTopk: true },
    { mode: 'softmax', normTopk: false },
    { mode: 'topk_softmax' },
    { mode: 'sigmoid', normTopk: true, expertBias: randomArray(256, 5, 0.2) },
  ];
  const shapes: [number, number, number][] = [[1, 8, 2], [7, 8, 2], [16, 32, 4], [40, 64, 8], [5, 256, 8]];
  const settings: { coverage: number; budget?: number; reroute: Reroute; minTokens?: number }[] = [
    { coverage: 1, reroute: 'similar' },
    { coverage: 0.9, reroute: 'similar' },
    { coverage: 0.6, reroute: 'similar' },
    { coverage: 0.6, reroute: 'refill' },
    { coverage: 0.6, reroute: 'drop' },
    { coverage: 0.3, budget: 2, reroute: 'drop' },
    { coverage: 1, budget: 3, reroute: 'refill' },
    { coverage: 0.5, reroute: 'similar', minTokens: 6 },
  ];
  const cases: OpCase[] = [];
  for (const [T, E, k] of shapes) for (const [ri, router] of routers.entries()) {
    const logits = randomArray(T * E, T * 77 + E + ri, 3).map((v) => (ri === 0 ? Math.round(v * 2) / 2 : v));
    const r0 = rng(E + ri);
    const sim = new Float32Array(E * E).map(() => Math.round(r0() * 8) / 8);
    for (let e = 0; e < E; e++) sim[e * E + e] = 1;
    const cfg = { ...router, expertBias: router.expertBias?.slice(0, E) };
    for (const st of settings) {
      const name = JSON.stringify(st);
      const rp: PolicyConfig = { kind: 'mass', ...st, similarity: st.reroute === 'similar' ? sim : undefined };
      const ref = route(logits, T, E, k, rp, cfg);
      const want = routeStats(logits, T, E, k, ref.ids, cfg);
      cases.push({
        name: `T=${T} E=${E} k=${k} ${router.mode}${router.normTopk ? '+norm' : ''} ${name}`,
        inputs: { logits, sim, ...(cfg.expertBias ? { bias: cfg.expertBias } : {}) },
        // the stats of layer index 1: words [0, ROUTE_STATS_WORDS) stay as they were
        inout: { stats: new Uint32Array(2 * ROUTE_STATS_WORDS) },
        outputs: { scores: T * E, ids: { n: T * k, type: 'u32' }, weights: T * k, counters: { n: 1, type: 'u32' } },
        encode: (g, pass, b, own) => {
          const gp: GpuPolicy = { kind: 'mass', ...st, similarity: st.reroute === 'similar' ? b.sim : undefined };
          const scratch = own(createStorage(g.device, 2 * T * 4));
          encodeMoeScores(g, pass, { logits: b.logits, scores: b.scores, T, E, mode: router.mode });
          encodeMoeRoute(g, pass, { logits: b.logits, scores: b.scores, expertBias: b.bias, ids: b.ids, weights: b.weights, scratch, counters: b.counters,
            T, E, kMax: k, mode: router.mode, normTopk: router.normTopk, policy: gp });
          encodeMoeRouteStats(g, pass, { scores: b.scores, expertBias: b.bias, ids: b.ids, stats: b.stats, index: 1, T, E, kMax: k });
        },
        expected: () => ({ scores: routerScores(logits, T, E, router.mode), ids: ref.ids, weights: ref.weights, counters: [ref.distinct] }),
        atol: 1e-6,
        rtol: 1e-5,
        // the stats record (expert sets as bit masks, counts, f32 masses) is compared decoded
        checkedBy: ['stats'],
        check: (got) => {
          expect([...got.stats.subarray(0, ROUTE_STATS_WORDS)], 'layer 0 stats untouched').toEqual(new Array(ROUTE_STATS_WORDS).fill(0));
          const words = got.stats.slice(ROUTE_STATS_WORDS) as Uint32Array;
          const s = decodeRouteStats(words, E);
          expect(s.experts, `stats policy set ${name}`).toEqual(want.experts);
          expect(s.baselineExperts, `stats baseline set ${name}`).toEqual(want.baselineExperts);
          expect(words[16]).toBe(want.experts.length);
          expect(words[17]).toBe(want.baselineExperts.length);
          expect(s.massKept).toBeCloseTo(want.massKept, 4);
          expect(s.massBaseline).toBeCloseTo(want.massBaseline, 4);
        },
      });
    }
  }
  return cases;
});
