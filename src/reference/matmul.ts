/**
 * Y[t, n] = sum_k X[t, k] * W[n, k] (+ bias[n]) (+ prev[t, n] when accumulating), f64 accumulation.
 * W is [n, k] unpadded f32 (use the dequantize functions in src/quant for packed formats).
 */
export function matmulRef(
  x: Float32Array, w: Float32Array, t: number, n: number, k: number,
  bias?: Float32Array, prev?: Float32Array,
): Float32Array {
  const y = new Float32Array(t * n);
  // Weight row outer, four token rows at a time inner: each W element is loaded once per four rows (about
  // 2x faster in V8 for the lockstep evaluations); every element is still one sum in the same order.
  for (let c = 0; c < n; c++) {
    const wo = c * k;
    const b0 = bias ? bias[c] : 0;
    let r = 0;
    for (; r + 4 <= t; r += 4) {
      const x0 = r * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
      let s0 = b0, s1 = b0, s2 = b0, s3 = b0;
      for (let i = 0; i < k; i++) {
        const wv = w[wo + i];
        s0 += x[x0 + i] * wv;
        s1 += x[x1 + i] * wv;
        s2 += x[x2 + i] * wv;
        s3 += x[x3 + i] * wv;
      }
      if (prev) {
        s0 += prev[r * n + c];
        s1 += prev[(r + 1) * n + c];
        s2 += prev[(r + 2) * n + c];
        s3 += prev[(r + 3) * n + c];
      }
      y[r * n + c] = s0;
      y[(r + 1) * n + c] = s1;
      y[(r + 2) * n + c] = s2;
      y[(r + 3) * n + c] = s3;
    }
    for (; r < t; r++) {
      const xo = r * k;
      let s = b0;
      for (let i = 0; i < k; i++) s += x[xo + i] * w[wo + i];
      if (prev) s += prev[r * n + c];
      y[r * n + c] = s;
    }
  }
  return y;
}
