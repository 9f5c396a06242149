/** Embedding gather: out[t, :] = table[ids[t], :] * scale; ids >= vocab give zeros. */
export function embeddingRef(ids: ArrayLike<number>, table: Float32Array, vocab: number, dim: number, scale = 1): Float32Array {
  const out = new Float32Array(ids.length * dim);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t] >>> 0;
    if (id >= vocab) continue;
    for (let i = 0; i < dim; i++) out[t * dim + i] = table[id * dim + i] * scale;
  }
  return out;
}

