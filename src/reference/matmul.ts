/**
 * Y[t, n] = sum_k X[t, k] * W[n, k] (+ bias[n]) (+ prev[t, n] when accumulating), f64 accumulation.
 * W is [n, k] unpadded f32 (use the dequantize functions in src/quant for packed formats).
 */
export function matmulRef(
  x: Float32Array, w: Float32Array, t: number, n: number, k: number,
  bias?: Float32Array, prev?: Float32Array,
): Float32Array {
  const y = new Float32Array(t * n);
  // weight row outer, token rows inner: each W row is read once per call (same sums, same order per element)
  for (let c = 0; c < n; c++) {
    const wo = c * k;
    for (let r = 0; r < t; r++) {
      const xo = r * k;
      let s = bias ? bias[c] : 0;
      for (let i = 0; i < k; i++) s += x[xo + i] * w[wo + i];
      if (prev) s += prev[r * n + c];
      y[r * n + c] = s;
    }
  }
  return y;
}
