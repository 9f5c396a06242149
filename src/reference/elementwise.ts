/** out[r, :] = x[rows[r], :]. */
export function gatherRowsRef(x: Float32Array, rows: ArrayLike<number>, dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let r = 0; r < rows.length; r++) out.set(x.subarray(rows[r] * dim, rows[r] * dim + dim), r * dim);
  return out;
}

/** x[t, :] + scale * sigmoid(g[t]) * y[t, :]. */
export function gatedAddRef(x: Float32Array, y: Float32Array, g: Float32Array, dim: number, scale = 1): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + (scale * y[i]) / (1 + Math.exp(-g[Math.floor(i / dim)]));
  return out;
}

export function clampRef(x: Float32Array, c: number): Float32Array {
  return x.map((v) => Math.min(c, Math.max(-c, v)));
}
