// SERE's expert similarity from expert outputs (the paper code's three forms). outputs[e] is expert e's
// output on N calibration tokens, [N, H] row-major; every matrix is [E, E] f32 with a diagonal of 1.
import type { SimilarityKind } from './types.ts';

/**
 * linear CKA: with Xc = X centred over tokens, K = Xc Xc^T (N x N), CKA(i,j) = <K_i, K_j> / (|K_i| |K_j|)
 * (Frobenius); cosine: mean over tokens of cos(O_i[t], O_j[t]), mapped (x + 1) / 2; frobenius:
 * 1 - |O_i - O_j|_F / max over pairs. f64 sums.
 */
export function expertSimilarity(outputs: Float32Array[], N: number, H: number): Record<SimilarityKind, Float32Array> {
  const E = outputs.length;
  const cka = new Float32Array(E * E);
  const cosine = new Float32Array(E * E);
  const frob = new Float32Array(E * E);
  // centred Gram matrices
  const grams = outputs.map((O) => {
    const mean = new Float64Array(H);
    for (let t = 0; t < N; t++) for (let h = 0; h < H; h++) mean[h] += O[t * H + h] / N;
    const X = new Float64Array(N * H);
    for (let t = 0; t < N; t++) for (let h = 0; h < H; h++) X[t * H + h] = O[t * H + h] - mean[h];
    const K = new Float64Array(N * N);
    for (let a = 0; a < N; a++) {
      for (let b = a; b < N; b++) {
        let s = 0;
        for (let h = 0; h < H; h++) s += X[a * H + h] * X[b * H + h];
        K[a * N + b] = s;
        K[b * N + a] = s;
      }
    }
    let n2 = 0;
    for (let i = 0; i < N * N; i++) n2 += K[i] * K[i];
    return { K, norm: Math.sqrt(n2) };
  });
  const norms = outputs.map((O) => {
    const r = new Float64Array(N);
    for (let t = 0; t < N; t++) {
      let s = 0;
      for (let h = 0; h < H; h++) s += O[t * H + h] * O[t * H + h];
      r[t] = Math.sqrt(s);
    }
    return r;
  });
  const dist = new Float64Array(E * E);
  let maxDist = 0;
  for (let i = 0; i < E; i++) {
    for (let j = i; j < E; j++) {
      let kk = 0;
      const Ki = grams[i].K;
      const Kj = grams[j].K;
      for (let a = 0; a < N * N; a++) kk += Ki[a] * Kj[a];
      const denom = grams[i].norm * grams[j].norm;
      const c = denom > 0 ? kk / denom : i === j ? 1 : 0;
      let cs = 0;
      let d2 = 0;
      for (let t = 0; t < N; t++) {
        let dot = 0;
        for (let h = 0; h < H; h++) {
          const a = outputs[i][t * H + h];
          const b = outputs[j][t * H + h];
          dot += a * b;
          d2 += (a - b) * (a - b);
        }
        const nn = norms[i][t] * norms[j][t];
        cs += nn > 0 ? dot / nn : 1;
      }
      const cosv = (cs / N + 1) / 2;
      cka[i * E + j] = cka[j * E + i] = i === j ? 1 : c;
      cosine[i * E + j] = cosine[j * E + i] = i === j ? 1 : cosv;
      dist[i * E + j] = dist[j * E + i] = Math.sqrt(d2);
      maxDist = Math.max(maxDist, Math.sqrt(d2));
    }
  }
  for (let i = 0; i < E * E; i++) frob[i] = maxDist > 0 ? 1 - dist[i] / maxDist : 1;
  for (let e = 0; e < E; e++) frob[e * E + e] = 1;
  return { cka, cosine, frobenius: frob };
}
