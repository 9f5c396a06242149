// A step's results come back in one mapped buffer: next ids [R] u32, distinct experts per layer [L] u32,
// routing statistics per layer [L, ROUTE_STATS_WORDS] u32, then (when asked) logits [R, V] f32. One copy
// set, one map: the step's only GPU -> CPU round trip.
import type { MoeModelSpec } from '../models/spec.ts';
import { ROUTE_STATS_WORDS, decodeRouteStats } from '../kernels/moe_router.ts';

/** Bytes of the read-back buffer for `ids` next-id words, `layers` counters (+ route stats) and `logits` floats. */
export function readbackBytes(ids: number, layers: number, logits: number): number {
  return (ids + layers * (1 + ROUTE_STATS_WORDS) + logits) * 4;
}

/** One MoE layer's routing in a step (dense layers: empty sets, mass 1). */
export interface LayerRouting {
  /** Experts the step's policy used, ascending. */
  experts: number[];
  /** Experts the baseline top-k would have used in the same step (same router scores), ascending. */
  baselineExperts: number[];
  /** Gating mass kept: sum over tokens of g over each token's (distinct) experts / the same over its baseline top-k. */
  massKept: number;
  /** The two sums (massKept = kept / baseline), for averaging over steps. */
  massKeptSum: number;
  massBaselineSum: number;
}

export interface ReadbackSources {
  next: GPUBuffer;
  counters: GPUBuffer;
  routeStats: GPUBuffer;
  logits: GPUBuffer;
  readback: GPUBuffer;
}

/** Copy R next ids, the layer counters and (wantLogits) R logit rows into the read-back buffer. */
export function encodeReadback(enc: GPUCommandEncoder, b: ReadbackSources, R: number, spec: MoeModelSpec, wantLogits: boolean): void {
  const L = spec.layers;
  const SW = L * ROUTE_STATS_WORDS;
  enc.copyBufferToBuffer(b.next, 0, b.readback, 0, R * 4);
  enc.copyBufferToBuffer(b.counters, 0, b.readback, R * 4, L * 4);
  enc.copyBufferToBuffer(b.routeStats, 0, b.readback, (R + L) * 4, SW * 4);
  if (wantLogits) enc.copyBufferToBuffer(b.logits, 0, b.readback, (R + L + SW) * 4, R * spec.vocabSize * 4);
}

export interface ForwardResult {
  /** Greedy next id per sequence (argmax at its last new token). */
  next: number[];
  /** Per sequence: [V] ('last') or [n, V] flattened ('all'); absent with logits 'none'. */
  logits?: Float32Array[];
  /** Distinct experts the whole batch used, per layer (0 for dense layers): the MoE memory-traffic metric. */
  distinctExperts: number[];
  /** Per layer: the policy's and the baseline's expert sets of this step and the gating mass kept. */
  routing: LayerRouting[];
}

/**
 * Split the mapped read-back into per-sequence results (rowsPerSeq: logit rows of each sequence). The
 * logits are copied out (the mapping ends) and scaled by the architecture's logit multiplier.
 */
export function decodeReadback(data: ArrayBuffer, rowsPerSeq: readonly number[], spec: MoeModelSpec, wantLogits: boolean): ForwardResult {
  const V = spec.vocabSize;
  const L = spec.layers;
  const R = rowsPerSeq.reduce((a, n) => a + n, 0);
  const nextAll = new Uint32Array(data, 0, R);
  const distinctExperts = Array.from(new Uint32Array(data, R * 4, L)).map((d, l) => (spec.layerKinds[l] === 'moe' ? d : 0));
  const SW = L * ROUTE_STATS_WORDS;
  const stats = new Uint32Array(data, (R + L) * 4, SW);
  const routing: LayerRouting[] = spec.layerKinds.map((kind, l) => {
    if (kind !== 'moe') return { experts: [], baselineExperts: [], massKept: 1, massKeptSum: 0, massBaselineSum: 0 };
    const st = decodeRouteStats(stats.subarray(l * ROUTE_STATS_WORDS, (l + 1) * ROUTE_STATS_WORDS), spec.numExperts);
    return { experts: st.experts, baselineExperts: st.baselineExperts, massKept: st.massBaseline > 0 ? st.massKept / st.massBaseline : 1, massKeptSum: st.massKept, massBaselineSum: st.massBaseline };
  });
  const logitsAll = wantLogits ? new Float32Array(data, (R + L + SW) * 4, R * V).slice() : null;
  if (logitsAll && spec.logitScale !== 1) for (let i = 0; i < logitsAll.length; i++) logitsAll[i] *= spec.logitScale;
  const next: number[] = [];
  const logits: Float32Array[] = [];
  let r = 0;
  for (const n of rowsPerSeq) {
    next.push(nextAll[r + n - 1]);
    if (logitsAll) logits.push(logitsAll.subarray(r * V, (r + n) * V));
    r += n;
  }
  return { next, logits: logitsAll ? logits : undefined, distinctExperts, routing };
}
