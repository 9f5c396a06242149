// Reference of shaders/argmax.wgsl, and the CPU argmax (greedy rows sampled on the CPU, the CLI's logits).

/** Index of the largest value of row r of x [rows, n]; ties -> lowest index (torch.argmax). */
export function argmaxRef(x: ArrayLike<number>, n = x.length, r = 0): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[r * n + i] > x[r * n + best]) best = i;
  return best;
}
