// CPU sampling from read-back logits: temperature and nucleus (top-p), driven by the scheduler's
// seeded random numbers so a `seed` reproduces a run.
import { argmaxRef } from '../reference/argmax.ts';

/** Sample from softmax(logits / temperature) restricted to the smallest set with mass >= topP. */
export function sampleToken(logits: Float32Array, temperature: number, topP: number, rand: () => number): number {
  if (!(temperature > 0)) return argmaxRef(logits);
  let m = -Infinity;
  for (const v of logits) m = Math.max(m, v);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < p.length; i++) z += p[i] = Math.exp((logits[i] - m) / temperature);
  const order = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b);
  let keep = order.length;
  if (topP < 1) {
    let c = 0;
    for (let i = 0; i < order.length; i++) {
      c += p[order[i]] / z;
      if (c >= topP) {
        keep = i + 1;
        break;
      }
    }
  }
  let mass = 0;
  for (let i = 0; i < keep; i++) mass += p[order[i]];
  let u = rand() * mass;
  for (let i = 0; i < keep; i++) {
    u -= p[order[i]];
    if (u <= 0) return order[i];
  }
  return order[keep - 1];
}
