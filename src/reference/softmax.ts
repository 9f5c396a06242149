/** Row softmax of x [rows, n] / temperature (f64 accumulation). */
export function softmaxRef(x: Float32Array, rows: number, n: number, temperature = 1): Float32Array {
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[r * n + i] / temperature);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(x[r * n + i] / temperature - m);
    for (let i = 0; i < n; i++) out[r * n + i] = Math.exp(x[r * n + i] / temperature - m) / s;
  }
  return out;
}
