// Reference KV-cache write and causal GQA attention (f64 accumulation); layouts as in src/kernels/attention.ts.

export interface AttnShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

/** Write k/v rows [T, nKvHeads*headDim] into caches [maxSlots, nKvHeads*headDim] in place. */
export function kvWriteRef(
  k: Float32Array, v: Float32Array, kCache: Float32Array, vCache: Float32Array,
  seqIds: ArrayLike<number>, positions: ArrayLike<number>, seqStart: ArrayLike<number>, nKvHeads: number, headDim: number,
): void {
  const row = nKvHeads * headDim;
  const maxSlots = kCache.length / row;
  for (let t = 0; t < seqIds.length; t++) {
    const slot = seqStart[seqIds[t]] + positions[t];
    if (slot >= maxSlots) continue;
    for (let r = 0; r < row; r++) {
      kCache[slot * row + r] = k[t * row + r];
      vCache[slot * row + r] = v[t * row + r];
    }
  }
}

/** out [T, nHeads*headDim]: token t attends to slots seqStart[seq]+j, j in [max(0, pos+1-window), pos]. */
export function attentionRef(
  q: Float32Array, kCache: Float32Array, vCache: Float32Array,
  seqIds: ArrayLike<number>, positions: ArrayLike<number>, seqStart: ArrayLike<number>,
  s: AttnShape, scale: number, window = 0,
): Float32Array {
  const { nHeads, nKvHeads, headDim } = s;
  const T = seqIds.length;
  const out = new Float32Array(T * nHeads * headDim);
  const kvRow = nKvHeads * headDim;
  const group = nHeads / nKvHeads;
  for (let t = 0; t < T; t++) {
    const pos = positions[t];
    const start = seqStart[seqIds[t]];
    const first = window > 0 ? Math.max(0, pos + 1 - window) : 0;
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qb = (t * nHeads + h) * headDim;
      const scores: number[] = [];
      for (let j = first; j <= pos; j++) {
        const kb = (start + j) * kvRow + kvh * headDim;
        let d = 0;
        for (let i = 0; i < headDim; i++) d += q[qb + i] * kCache[kb + i];
        scores.push(d * scale);
      }
      const m = Math.max(...scores);
      const w = scores.map((x) => Math.exp(x - m));
      const z = w.reduce((a, b) => a + b, 0);
      for (let i = 0; i < headDim; i++) {
        let acc = 0;
        for (let j = first; j <= pos; j++) acc += w[j - first] * vCache[(start + j) * kvRow + kvh * headDim + i];
        out[qb + i] = acc / z;
      }
    }
  }
  return out;
}
