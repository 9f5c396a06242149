/**
 * Y[t, n] = sum_k X[t, k] * W[n, k] (+ bias[n]) (+ prev[t, n] when accumulating), f64 accumulation.
 * W is [n, k] unpadded f32 (use the dequantize functions in src/quant for packed formats).
 */
export function matmulRef(
  x: Float32Array, w: Float32Array, t: number, n: number, k: number,
  bias?: Float32Array, prev?: Float32Array,
): Float32Array {
  const y = new Float32Array(t * n);
  for (let r = 0; r < t; r++) {
    for (let c = 0; c < n; c++) {
      let s = bias ? bias[c] : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[c * k + i];
      if (prev) s += prev[r * n + c];
      y[r * n + c] = s;
    }
  }
  return y;
}
