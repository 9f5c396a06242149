// Router scores and the routing policies on the GPU (shaders/moe_router.wgsl, moe_route.wgsl,
// moe_sere.wgsl) vs src/routing (the references), through the op-case harness: one case per (shape,
// router, policy); ids and distinct-expert counters compared exactly, scores and weights to f32 rounding.
import { randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { createStorage } from '../../src/gpu/buffers.ts';
import { encodeMoeRoute, encodeMoeScores, type GpuPolicy } from '../../src/kernels/moe_router.ts';
import { route, routerScores } from '../../src/routing/policies.ts';
import type { RouterConfig } from '../../src/routing/types.ts';

const ROUTERS: RouterConfig[] = [
  { mode: 'softmax', normTopk: true },
  { mode: 'softmax', normTopk: false, scale: 2 },
  { mode: 'topk_softmax' },
  { mode: 'sigmoid', normTopk: true, expertBias: randomArray(256, 5, 0.2) },
];

describeOpCases('moe router + routing policies on the GPU vs src/routing', () => {
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
  const cases: OpCase[] = [];
  // [T, E, k]: one token; E up to the kernels' maximum of 256
  const shapes: [number, number, number][] = [[1, 8, 2], [7, 8, 2], [13, 16, 4], [40, 64, 8], [5, 256, 8]];
  for (const [T, E, k] of shapes) for (const [ri, router] of ROUTERS.entries()) {
    // quantised logits make exact ties common: checks the lower-index tie rule
    const logits = randomArray(T * E, T * 100 + E + ri, 3).map((v) => (ri === 0 ? Math.round(v * 2) / 2 : v));
    const cfg = { ...router, expertBias: router.expertBias?.slice(0, E) };
    for (const [pi, policy] of policies.entries()) {
      cases.push({
        name: `T=${T} E=${E} k=${k} ${router.mode}${router.normTopk ? '+norm' : ''} ${JSON.stringify(policy)}`,
        inputs: { logits, ...(cfg.expertBias ? { bias: cfg.expertBias } : {}) },
        // each policy writes its own counter word (counterIndex = its index), no other
        inout: { counters: new Uint32Array(policies.length) },
        outputs: { scores: T * E, ids: { n: T * k, type: 'u32' }, weights: T * k },
        encode: (g, pass, b, own) => {
          const scratch = own(createStorage(g.device, 2 * T * 4));
          encodeMoeScores(g, pass, { logits: b.logits, scores: b.scores, T, E, mode: router.mode });
          encodeMoeRoute(g, pass, { logits: b.logits, scores: b.scores, expertBias: b.bias, ids: b.ids, weights: b.weights, scratch, counters: b.counters,
            counterIndex: pi, T, E, kMax: k, mode: router.mode, normTopk: router.normTopk, scale: router.scale, policy });
        },
        expected: () => {
          const ref = route(logits, T, E, k, policy as never, cfg);
          const counters = new Array<number>(policies.length).fill(0);
          counters[pi] = ref.distinct;
          return { scores: routerScores(logits, T, E, router.mode), ids: ref.ids, weights: ref.weights, counters };
        },
        atol: 1e-6,
        rtol: 1e-5,
      });
    }
  }

  // SERE: a similarity matrix with ties
  for (const [T, E, k] of [[1, 8, 2], [9, 16, 4], [33, 64, 8]] as const) {
    const logits = randomArray(T * E, T + E, 3);
    const r0 = rng(T * E);
    const sim = new Float32Array(E * E).map(() => Math.round(r0() * 8) / 8);
    for (let e = 0; e < E; e++) sim[e * E + e] = 1;
    for (const [S, threshold] of [[1, 0], [2, 0.1], [1, 0.6]]) {
      cases.push({
        name: `sere T=${T} E=${E} k=${k} selectTopK=${S} threshold=${threshold}`,
        inputs: { logits, sim },
        outputs: { scores: T * E, ids: { n: T * k, type: 'u32' }, weights: T * k, counters: { n: 1, type: 'u32' } },
        encode: (g, pass, b, own) => {
          const scratch = own(createStorage(g.device, 2 * T * 4));
          encodeMoeScores(g, pass, { logits: b.logits, scores: b.scores, T, E, mode: 'softmax' });
          encodeMoeRoute(g, pass, { logits: b.logits, scores: b.scores, ids: b.ids, weights: b.weights, scratch, counters: b.counters, T, E, kMax: k,
            mode: 'softmax', normTopk: true, policy: { kind: 'sere', similarity: b.sim, selectTopK: S, threshold } });
        },
        expected: () => {
          const ref = route(logits, T, E, k, { kind: 'sere', similarity: sim, selectTopK: S, threshold }, { mode: 'softmax', normTopk: true });
          return { scores: routerScores(logits, T, E, 'softmax'), ids: ref.ids, weights: ref.weights, counters: [ref.distinct] };
        },
        atol: 1e-6,
        rtol: 1e-5,
      });
    }
  }
  return cases;
});
