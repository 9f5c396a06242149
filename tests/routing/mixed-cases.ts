// Shared cases of the token-scope tests (mixed steps: prompt-chunk rows outside the policy).
import type { PolicyConfig } from '../../src/routing/types.ts';
import { rng } from '../helpers/compare.ts';

/** A similarity matrix with ties (values on a 1/8 grid), 1 on the diagonal. */
export function similarity(E: number, seed: number): Float32Array {
  const r = rng(seed);
  const sim = new Float32Array(E * E).map(() => Math.round(r() * 8) / 8);
  for (let e = 0; e < E; e++) sim[e * E + e] = 1;
  return sim;
}

/** Every layer policy kind at budgets that bind on small steps (sim: for sere and mass 'similar'). */
export function scopedPolicies(k: number, sim: Float32Array): PolicyConfig[] {
  return [
    { kind: 'reduced_topk', k: Math.max(1, k - 1) },
    { kind: 'xshare', budget: 3 },
    { kind: 'xshare', fraction: 0.5 },
    { kind: 'xshare', coverage: 0.6, budget: 5 },
    { kind: 'xshare', budget: 2, minTokens: 3 },
    { kind: 'alloc_t', k: Math.max(1, k / 2) },
    { kind: 'mass', coverage: 0.6, reroute: 'refill' },
    { kind: 'mass', coverage: 0.5, budget: 3, reroute: 'drop' },
    { kind: 'mass', coverage: 0.7, reroute: 'similar', similarity: sim },
    { kind: 'sere', similarity: sim, selectTopK: 1, threshold: 0 },
    { kind: 'sere', similarity: sim, selectTopK: 2, threshold: 0.5 },
  ];
}

/** Row masks of a step of T rows: decode rows first (the scheduler's order), interleaved, none, all. */
export function masks(T: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  const first = new Uint8Array(T).map((_, t) => (t < Math.ceil(T / 3) ? 1 : 0));
  const random = new Uint8Array(T).map(() => (r() < 0.4 ? 1 : 0));
  return [first, random, new Uint8Array(T), new Uint8Array(T).fill(1)];
}
