/** RMSNorm of each row of x [rows, dim]: x / sqrt(mean(x^2) + eps) * (w + offset). */
export function rmsNormRef(x: Float32Array, w: Float32Array, rows: number, dim: number, eps: number, offset = 0): Float32Array {
  const y = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(s / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * inv * (w[i] + offset);
  }
  return y;
}
