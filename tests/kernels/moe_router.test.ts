import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeMoeRoute, encodeMoeScores, type GpuPolicy } from '../../src/kernels/moe_router.ts';
import { route, routerScores } from '../../src/routing/policies.ts';
import type { RouterConfig } from '../../src/routing/types.ts';

describe('moe router + routing policies on the GPU vs src/routing', () => {
  const gpu = useGpu();
  const routers: RouterConfig[] = [
    { mode: 'softmax', normTopk: true },
    { mode: 'softmax', normTopk: false, scale: 2 },
    { mode: 'topk_softmax' },
    { mode: 'sigmoid', normTopk: true, expertBias: randomArray(256, 5, 0.2) },
  ];
  const policies: GpuPolicy[] = [
    { kind: 'baseline' },
    { kind: 'reduced_topk', k: 1 },
    { kind: 'xshare', budget: 3 },
    { kind: 'xshare', budget: 1 },
    { kind: 'xshare', fraction: 0.6 },
    { kind: 'xshare', coverage: 0.5, budget: 6 },
    { kind: 'xshare', budget: 1000 },
    { kind: 'alloc_t', k: 1.5 },
    { kind: 'alloc_t', k: 1 },
    { kind: 'xshare', budget: 2, minTokens: 8 }, // baseline for T < 8
  ];
  const shapes: [number, number, number][] = [[1, 8, 2], [7, 8, 2], [13, 16, 4], [40, 64, 8], [5, 256, 8]];
  for (const [T, E, k] of shapes) for (const [ri, router] of routers.entries()) {
    it(`T=${T} E=${E} k=${k} ${router.mode}${router.normTopk ? '+norm' : ''}`, async () => {
      const g = gpu();
      // quantised logits make exact ties common: checks the lower-index tie rule
      const logits = randomArray(T * E, T * 100 + E + ri, 3).map((v) => (ri === 0 ? Math.round(v * 2) / 2 : v));
      const lb = createStorage(g.device, logits);
      const sb = createStorage(g.device, T * E * 4);
      const bias = router.expertBias ? createStorage(g.device, router.expertBias.slice(0, E)) : undefined;
      const ib = createStorage(g.device, T * k * 4);
      const wb = createStorage(g.device, T * k * 4);
      const scratch = createStorage(g.device, 2 * T * 4);
      const counters = createStorage(g.device, policies.length * 4);
      const results: { ids: Uint32Array; w: Float32Array }[] = [];
      for (const [pi, policy] of policies.entries()) {
        await runPass(g, (pass) => {
          if (pi === 0) encodeMoeScores(g, pass, { logits: lb, scores: sb, T, E, mode: router.mode });
          encodeMoeRoute(g, pass, { logits: lb, scores: sb, expertBias: bias, ids: ib, weights: wb, scratch, counters, counterIndex: pi,
            T, E, kMax: k, mode: router.mode, normTopk: router.normTopk, scale: router.scale, policy });
        });
        results.push({ ids: new Uint32Array(await readBuffer(g.device, ib, T * k * 4)), w: new Float32Array(await readBuffer(g.device, wb, T * k * 4)) });
      }
      const scores = new Float32Array(await readBuffer(g.device, sb, T * E * 4));
      expectClose(scores, routerScores(logits, T, E, router.mode), 1e-6, 1e-5, 'scores');
      const cnt = new Uint32Array(await readBuffer(g.device, counters, policies.length * 4));
      const cfg = { ...router, expertBias: router.expertBias?.slice(0, E) };
      for (const [pi, policy] of policies.entries()) {
        const ref = route(logits, T, E, k, policy as never, cfg);
        expect([...results[pi].ids], `ids ${policy.kind} ${JSON.stringify(policy)}`).toEqual([...ref.ids]);
        expectClose(results[pi].w, ref.weights, 1e-6, 1e-5, `weights ${JSON.stringify(policy)}`);
        expect(cnt[pi], `distinct ${JSON.stringify(policy)}`).toBe(ref.distinct);
      }
    });
  }

  for (const [T, E, k] of [[1, 8, 2], [9, 16, 4], [33, 64, 8]] as const) {
    it(`sere T=${T} E=${E} k=${k}`, async () => {
      const g = gpu();
      const logits = randomArray(T * E, T + E, 3);
      const r0 = rng(T * E);
      const sim = new Float32Array(E * E).map(() => Math.round(r0() * 8) / 8); // ties
      for (let e = 0; e < E; e++) sim[e * E + e] = 1;
      const lb = createStorage(g.device, logits);
      const sb = createStorage(g.device, T * E * 4);
      const simb = createStorage(g.device, sim);
      const ib = createStorage(g.device, T * k * 4);
      const wb = createStorage(g.device, T * k * 4);
      const scratch = createStorage(g.device, 2 * T * 4);
      const counters = createStorage(g.device, 4);
      for (const [S, threshold] of [[1, 0], [2, 0.1], [1, 0.6]]) {
        await runPass(g, (pass) => {
          encodeMoeScores(g, pass, { logits: lb, scores: sb, T, E, mode: 'softmax' });
          encodeMoeRoute(g, pass, { logits: lb, scores: sb, ids: ib, weights: wb, scratch, counters, T, E, kMax: k, mode: 'softmax',
            normTopk: true, policy: { kind: 'sere', similarity: simb, selectTopK: S, threshold } });
        });
        const ref = route(logits, T, E, k, { kind: 'sere', similarity: sim, selectTopK: S, threshold }, { mode: 'softmax', normTopk: true });
        expect([...new Uint32Array(await readBuffer(g.device, ib, T * k * 4))]).toEqual([...ref.ids]);
        expectClose(new Float32Array(await readBuffer(g.device, wb, T * k * 4)), ref.weights, 1e-6, 1e-5);
        expect(new Uint32Array(await readBuffer(g.device, counters, 4))[0]).toBe(ref.distinct);
      }
    });
  }
});
