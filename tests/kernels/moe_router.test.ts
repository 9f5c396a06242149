import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
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
});
