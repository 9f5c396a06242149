// Token scope (mixed steps) on the GPU: shaders/moe_route.wgsl and moe_sere.wgsl with a row mask vs the
// references in src/routing (route(..., scope)), ids bit for bit, weights to f32 rounding.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeMoeRoute, encodeMoeScores, type GpuPolicy } from '../../src/kernels/moe_router.ts';
import { route } from '../../src/routing/policies.ts';
import type { RouterConfig } from '../../src/routing/types.ts';
import { masks, scopedPolicies, similarity } from './mixed-cases.ts';

describe('token scope on the GPU vs src/routing', () => {
  const gpu = useGpu();
  const cases: [number, number, number, RouterConfig][] = [
    [7, 8, 2, { mode: 'softmax', normTopk: true }],
    [16, 32, 4, { mode: 'topk_softmax' }],
    [13, 64, 8, { mode: 'sigmoid', normTopk: true, expertBias: randomArray(64, 5, 0.2) }],
  ];
  for (const [T, E, k, router] of cases) {
    it(`T=${T} E=${E} k=${k} ${router.mode}`, { timeout: 300_000 }, async () => {
      const g = gpu();
      const logits = randomArray(T * E, T * 77 + E, 3).map((v) => (router.mode === 'softmax' ? Math.round(v * 2) / 2 : v));
      const sim = similarity(E, E + k);
      const lb = createStorage(g.device, logits);
      const sb = createStorage(g.device, T * E * 4);
      const simb = createStorage(g.device, sim);
      const bias = router.expertBias ? createStorage(g.device, router.expertBias) : undefined;
      const ib = createStorage(g.device, T * k * 4);
      const wb = createStorage(g.device, T * k * 4);
      const maskOffset = 2 * T + 3; // any offset past the policy's 2T words
      const scratch = createStorage(g.device, (maskOffset + T) * 4);
      const counters = createStorage(g.device, 4);
      for (const pol of scopedPolicies(k, sim)) for (const mask of masks(T, T + E)) for (const union of [false, true]) {
        const count = mask.reduce((a, v) => a + v, 0);
        g.device.queue.writeBuffer(scratch, maskOffset * 4, Uint32Array.from(mask));
        const gp = (pol.kind === 'sere' || pol.kind === 'mass' ? { ...pol, similarity: pol.similarity ? simb : undefined } : pol) as GpuPolicy;
        await runPass(g, (pass) => {
          encodeMoeScores(g, pass, { logits: lb, scores: sb, T, E, mode: router.mode });
          encodeMoeRoute(g, pass, { logits: lb, scores: sb, expertBias: bias, ids: ib, weights: wb, scratch, counters,
            T, E, kMax: k, mode: router.mode, normTopk: router.normTopk, policy: gp, scope: { maskOffset, count, union } });
        });
        const ref = route(logits, T, E, k, pol, router, { policy: mask, count, union });
        const name = `${JSON.stringify({ ...pol, similarity: undefined })} mask ${[...mask].join('')} union ${union}`;
        expect([...new Uint32Array(await readBuffer(g.device, ib, T * k * 4))], `ids ${name}`).toEqual([...ref.ids]);
        expectClose(new Float32Array(await readBuffer(g.device, wb, T * k * 4)), ref.weights, 1e-6, 1e-5, `weights ${name}`);
        expect(new Uint32Array(await readBuffer(g.device, counters, 4))[0], `distinct ${name}`).toBe(ref.distinct);
      }
    });
  }
});
