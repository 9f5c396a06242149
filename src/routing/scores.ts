// Router scores and the per-token helpers every policy shares.
import { NO_EXPERT, type RouterConfig } from './types.ts';

/** Scores g [T, E] from logits: softmax over E (softmax and topk_softmax modes) or sigmoid. f32 results. */
export function routerScores(logits: Float32Array, T: number, E: number, mode: RouterConfig['mode']): Float32Array {
  const g = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    const o = t * E;
    if (mode === 'sigmoid') {
      for (let e = 0; e < E; e++) g[o + e] = 1 / (1 + Math.exp(-logits[o + e]));
      continue;
    }
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, logits[o + e]);
    let s = 0;
    for (let e = 0; e < E; e++) s += Math.exp(logits[o + e] - m);
    for (let e = 0; e < E; e++) g[o + e] = Math.exp(logits[o + e] - m) / s;
  }
  return g;
}

/** Selection keys [T, E]: g, plus expertBias[e] in sigmoid mode (rounded to f32 like the GPU). */
export function selectionKeys(g: Float32Array, T: number, E: number, cfg: RouterConfig): Float32Array {
  if (cfg.mode !== 'sigmoid' || !cfg.expertBias) return g;
  const s = new Float32Array(T * E);
  for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) s[t * E + e] = g[t * E + e] + cfg.expertBias[e];
  return s;
}

/** a before b in the selection order: larger key first, ties to the LOWER expert index. */
export function before(ka: number, a: number, kb: number, b: number): boolean {
  return ka > kb || (ka === kb && a < b);
}

/**
 * Top-`k` experts of token t by key, restricted to `allowed` (null = all), sorted by the selection order
 * (key desc, ties -> lower index). Returns fewer than k when fewer are allowed. NaN keys are never picked.
 */
export function topkToken(key: Float32Array, t: number, E: number, k: number, allowed: Uint8Array | null = null): number[] {
  const out: number[] = [];
  let lastK = 0;
  let lastI = -1;
  for (let j = 0; j < k; j++) {
    let best = -1;
    let bk = 0;
    for (let e = 0; e < E; e++) {
      if (allowed && !allowed[e]) continue;
      const s = key[t * E + e];
      if (Number.isNaN(s)) continue;
      if (j > 0 && !before(lastK, lastI, s, e)) continue;
      if (best < 0 || before(s, e, bk, best)) {
        best = e;
        bk = s;
      }
    }
    if (best < 0) break;
    out.push(best);
    lastK = bk;
    lastI = best;
  }
  return out;
}

/** Write token t's chosen experts and their weights (the architecture's rule, see RouterMode) into slots. */
export function writeToken(
  ids: Uint32Array, weights: Float32Array, t: number, kMax: number, chosen: readonly number[],
  g: Float32Array, logits: Float32Array, E: number, cfg: RouterConfig,
): void {
  const n = Math.min(chosen.length, kMax);
  const w = new Array<number>(n);
  if (cfg.mode === 'topk_softmax') {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, logits[t * E + chosen[j]]);
    let s = 0;
    for (let j = 0; j < n; j++) s += (w[j] = Math.exp(logits[t * E + chosen[j]] - m));
    for (let j = 0; j < n; j++) w[j] /= s;
  } else {
    let s = 0;
    for (let j = 0; j < n; j++) s += (w[j] = g[t * E + chosen[j]]);
    if (cfg.normTopk && s > 0) for (let j = 0; j < n; j++) w[j] /= s;
  }
  const scale = cfg.scale ?? 1;
  for (let j = 0; j < kMax; j++) {
    ids[t * kMax + j] = j < n ? chosen[j] : NO_EXPERT;
    weights[t * kMax + j] = j < n ? w[j] * scale : 0;
  }
}

/** Number of distinct valid ids. */
export function countDistinct(ids: Uint32Array): number {
  const s = new Set<number>();
  for (const id of ids) if (id !== NO_EXPERT) s.add(id);
  return s.size;
}
