import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeAttention } from '../../src/kernels/attention.ts';
import { attentionRef, kvWriteRef } from '../../src/reference/attention.ts';

interface Case {
  name: string;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** First cache slot of each sequence. */
  seqStart: number[];
  /** The batch: [sequence, position] per token; earlier positions are taken as already cached, the batch's own k/v are written to the cache first (kvWriteRef: on the GPU that is encodeRopeKv's job, tested in rope.test.ts). */
  tokens: [number, number][];
  maxSlots: number;
  /** Magnitude of q/k values (large -> logits far beyond exp's f32 range). */
  qkScale?: number;
  scale?: number;
  window?: number;
}

const range = (seq: number, from: number, to: number): [number, number][] =>
  Array.from({ length: to - from }, (_, i) => [seq, from + i] as [number, number]);

const cases: Case[] = [
  // decode: one token per sequence, lengths 1, 7, 20
  { name: 'decode 3 seqs (1,7,20) mha d16', nHeads: 2, nKvHeads: 2, headDim: 16, seqStart: [0, 8, 30], tokens: [[0, 0], [1, 6], [2, 19]], maxSlots: 56 },
  { name: 'decode 3 seqs gqa2 d32', nHeads: 4, nKvHeads: 2, headDim: 32, seqStart: [40, 0, 10], tokens: [[2, 19], [0, 0], [1, 6]], maxSlots: 48 },
  // prefill chunk of 9 tokens continuing a sequence with 4 cached
  { name: 'prefill 9 after 4 cached gqa4 d64', nHeads: 8, nKvHeads: 2, headDim: 64, seqStart: [0, 5], tokens: range(1, 4, 13), maxSlots: 24 },
  // mixed: prefill of one sequence + decodes of others
  { name: 'mixed prefill+decode gqa2 d32', nHeads: 4, nKvHeads: 2, headDim: 32, seqStart: [0, 20, 90], tokens: [[0, 11], ...range(1, 0, 5), [2, 70]], maxSlots: 170 },
  { name: 'one token, one head, d2', nHeads: 1, nKvHeads: 1, headDim: 2, seqStart: [0], tokens: [[0, 0]], maxSlots: 1 },
  { name: 'odd length 133 (3 tiles) gqa4 d16', nHeads: 4, nKvHeads: 1, headDim: 16, seqStart: [3], tokens: [[0, 132]], maxSlots: 140 },
  { name: 'large logits (exp overflow if naive)', nHeads: 4, nKvHeads: 2, headDim: 32, seqStart: [0, 30], tokens: [[0, 20], ...range(1, 2, 5)], maxSlots: 40, qkScale: 30, scale: 1 },
  { name: 'head dim 256 (4 dims per thread)', nHeads: 2, nKvHeads: 1, headDim: 256, seqStart: [0], tokens: range(0, 60, 63), maxSlots: 70 },
  { name: 'sliding window 8', nHeads: 4, nKvHeads: 2, headDim: 16, seqStart: [0, 40], tokens: [[0, 30], ...range(1, 3, 12)], maxSlots: 60, window: 8 },
  { name: 'head dim 80, gqa 5 (odd head count per group)', nHeads: 5, nKvHeads: 1, headDim: 80, seqStart: [0, 17], tokens: [[0, 16], [1, 0], [1, 1]], maxSlots: 19 },
  { name: 'granite-style scale', nHeads: 4, nKvHeads: 4, headDim: 16, seqStart: [0], tokens: range(0, 0, 7), maxSlots: 7, scale: 0.0078125 },
];

describeOpCases('attention vs reference', () => {
  const out: OpCase[] = [];
  // the blocked variant needs head dims that are multiples of 4; d2 runs the lanes kernel either way
  for (const style of ['blocked', 'lanes'] as const) for (const c of cases) {
    const { nHeads, nKvHeads, headDim, maxSlots } = c;
    const T = c.tokens.length;
    const kvRow = nKvHeads * headDim;
    const qk = c.qkScale ?? 1;
    const scale = c.scale ?? 1 / Math.sqrt(headDim);
    const seqIds = new Uint32Array(c.tokens.map((x) => x[0]));
    const positions = new Uint32Array(c.tokens.map((x) => x[1]));
    const seqStart = new Uint32Array(c.seqStart);
    const seed = T * 1000 + headDim;
    const kCache = randomArray(maxSlots * kvRow, seed + 1, qk);
    const vCache = randomArray(maxSlots * kvRow, seed + 2);
    const q = randomArray(T * nHeads * headDim, seed + 3, qk);
    const k = randomArray(T * kvRow, seed + 4, qk);
    const v = randomArray(T * kvRow, seed + 5);
    // large logits: softmax is nearly one-hot and sensitive to f32 rounding of the scores
    const tol = qk > 1 ? [2e-3, 2e-3] : [2e-5, 1e-4];
    const kc = kCache.slice();
    const vc = vCache.slice();
    kvWriteRef(k, v, kc, vc, seqIds, positions, seqStart, nKvHeads, headDim);
    out.push({
      name: `${style}: ${c.name}`,
      inputs: { seqIds, positions, seqStart, q, kCache: kc, vCache: vc },
      outputs: { att: T * nHeads * headDim },
      encode: (g, pass, b) => encodeAttention(g, pass, {
        seqIds: b.seqIds, positions: b.positions, seqStart: b.seqStart, q: b.q, kCache: b.kCache, vCache: b.vCache, out: b.att,
        tokens: T, nHeads, nKvHeads, headDim, scale, window: c.window, style,
      }),
      expected: () => ({ att: attentionRef(q, kc, vc, seqIds, positions, seqStart, { nHeads, nKvHeads, headDim }, scale, c.window ?? 0) }),
      atol: tol[0],
      rtol: tol[1],
    });
  }
  return out;
});
