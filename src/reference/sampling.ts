// Reference token selection. These functions define the semantics the GPU kernels reproduce.

/** Index of the largest value of row r of x [rows, n]; ties -> lowest index (torch.argmax). */
export function argmaxRef(x: Float32Array, n: number, r = 0): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[r * n + i] > x[r * n + best]) best = i;
  return best;
}

export interface SampleRefParams {
  temperature: number;
  topP: number;
  topK: number;
}

/**
 * Sample from row r of logits [rows, n] with random number u in [0, 1):
 * 1. temperature <= 0 -> greedy: top_k = 1 (the first token of the order below).
 * 2. Order tokens by (logit desc, index asc); weights w = exp((x - max) / temperature).
 * 3. Keep the shortest prefix of that order whose cumulative weight reaches min(top_p, 1) * sum(w), or whose
 *    length reaches top_k (top_k > 0); always at least one token.
 * 4. Return the first kept token whose cumulative weight (in order) exceeds u * (kept weight); the last
 *    kept token if rounding leaves none.
 */
export function sampleRef(logits: Float32Array, n: number, r: number, prm: SampleRefParams, u: number): number {
  const x = logits.subarray(r * n, r * n + n);
  const greedy = !(prm.temperature > 0);
  const topK = greedy ? 1 : Math.max(0, Math.floor(prm.topK));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[b] - x[a] || a - b);
  let mx = -Infinity;
  for (let i = 0; i < n; i++) mx = Math.max(mx, x[i]);
  const w = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) {
    w[i] = greedy ? 1 : Math.exp((x[i] - mx) / prm.temperature);
    z += w[i];
  }
  const target = Math.min(prm.topP, 1) * z;
  let kept = 0;
  let mass = 0;
  while (kept < n) {
    mass += w[order[kept]];
    kept++;
    if (mass >= target || (topK > 0 && kept >= topK)) break;
  }
  const t2 = u * mass;
  let cum = 0;
  for (let j = 0; j < kept; j++) {
    cum += w[order[j]];
    if (cum > t2) return order[j];
  }
  return order[kept - 1];
}
