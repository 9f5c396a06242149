// Perplexity protocol (the training script's): the token stream is cut into non-overlapping chunks of
// `size` tokens; each chunk is fed as [bos, c0 .. c_{n-2}] and every chunk token c0 .. c_{n-1} is predicted.

export interface EvalChunk {
  input: number[];
  targets: number[];
}

export function evalChunks(ids: number[], size: number, bos: number): EvalChunk[] {
  const out: EvalChunk[] = [];
  for (let i = 0; i < ids.length; i += size) {
    const c = ids.slice(i, i + size);
    out.push({ input: [bos, ...c.slice(0, -1)], targets: c });
  }
  return out;
}

/** Sum over positions of -log softmax(logits[t])[targets[t]], logits flattened [n, V], in f64. */
export function nllOfTargets(logits: Float32Array, V: number, targets: number[]): number {
  let s = 0;
  for (let t = 0; t < targets.length; t++) {
    const o = t * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, logits[o + i]);
    let z = 0;
    for (let i = 0; i < V; i++) z += Math.exp(logits[o + i] - m);
    s += m + Math.log(z) - logits[o + targets[t]];
  }
  return s;
}
