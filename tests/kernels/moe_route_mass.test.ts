// The mass policy and the routing statistics on the GPU vs their TS references (src/routing/policies.ts).
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { ROUTE_STATS_WORDS, decodeRouteStats, encodeMoeRoute, encodeMoeRouteStats, encodeMoeScores, type GpuPolicy } from '../../src/kernels/moe_router.ts';
import { route, routeStats } from '../../src/routing/policies.ts';
import type { PolicyConfig, Reroute, RouterConfig } from '../../src/routing/types.ts';

describe('mass policy + route stats on the GPU vs src/routing', () => {
  const gpu = useGpu();
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
  for (const [T, E, k] of shapes) for (const [ri, router] of routers.entries()) {
    it(`T=${T} E=${E} k=${k} ${router.mode}${router.normTopk ? '+norm' : ''}`, { timeout: 300_000 }, async () => {
      const g = gpu();
      const logits = randomArray(T * E, T * 77 + E + ri, 3).map((v) => (ri === 0 ? Math.round(v * 2) / 2 : v));
      const r0 = rng(E + ri);
      const sim = new Float32Array(E * E).map(() => Math.round(r0() * 8) / 8);
      for (let e = 0; e < E; e++) sim[e * E + e] = 1;
      const lb = createStorage(g.device, logits);
      const sb = createStorage(g.device, T * E * 4);
      const simb = createStorage(g.device, sim);
      const bias = router.expertBias ? createStorage(g.device, router.expertBias.slice(0, E)) : undefined;
      const ib = createStorage(g.device, T * k * 4);
      const wb = createStorage(g.device, T * k * 4);
      const scratch = createStorage(g.device, 2 * T * 4);
      const counters = createStorage(g.device, 4);
      const stats = createStorage(g.device, 2 * ROUTE_STATS_WORDS * 4);
      const cfg = { ...router, expertBias: router.expertBias?.slice(0, E) };
      for (const st of settings) {
        const gp: GpuPolicy = { kind: 'mass', ...st, similarity: st.reroute === 'similar' ? simb : undefined };
        await runPass(g, (pass) => {
          encodeMoeScores(g, pass, { logits: lb, scores: sb, T, E, mode: router.mode });
          encodeMoeRoute(g, pass, { logits: lb, scores: sb, expertBias: bias, ids: ib, weights: wb, scratch, counters,
            T, E, kMax: k, mode: router.mode, normTopk: router.normTopk, policy: gp });
          encodeMoeRouteStats(g, pass, { scores: sb, expertBias: bias, ids: ib, stats, index: 1, T, E, kMax: k });
        });
        const rp: PolicyConfig = { kind: 'mass', ...st, similarity: st.reroute === 'similar' ? sim : undefined };
        const ref = route(logits, T, E, k, rp, cfg);
        const ids = new Uint32Array(await readBuffer(g.device, ib, T * k * 4));
        const name = JSON.stringify(st);
        expect([...ids], `ids ${name}`).toEqual([...ref.ids]);
        expectClose(new Float32Array(await readBuffer(g.device, wb, T * k * 4)), ref.weights, 1e-6, 1e-5, `weights ${name}`);
        expect(new Uint32Array(await readBuffer(g.device, counters, 4))[0], `distinct ${name}`).toBe(ref.distinct);
        const words = new Uint32Array(await readBuffer(g.device, stats, 2 * ROUTE_STATS_WORDS * 4)).slice(ROUTE_STATS_WORDS);
        const got = decodeRouteStats(words, E);
        const want = routeStats(logits, T, E, k, ref.ids, cfg);
        expect(got.experts, `stats policy set ${name}`).toEqual(want.experts);
        expect(got.baselineExperts, `stats baseline set ${name}`).toEqual(want.baselineExperts);
        expect(words[16]).toBe(want.experts.length);
        expect(words[17]).toBe(want.baselineExperts.length);
        expect(got.massKept).toBeCloseTo(want.massKept, 4);
        expect(got.massBaseline).toBeCloseTo(want.massBaseline, 4);
      }
    });
  }
});
