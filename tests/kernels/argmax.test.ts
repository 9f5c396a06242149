// shaders/argmax.wgsl (both variants) vs src/reference/argmax.ts, through the op-case harness: the ids
// are compared exactly.
import { expect } from 'vitest';
import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeArgmax } from '../../src/kernels/argmax.ts';
import { argmaxRef } from '../../src/reference/argmax.ts';

/** The vocabulary of Qwen models: the largest row the engine meets. */
const QWEN_VOCAB = 151936;

describeOpCases('argmax kernel vs reference', () => {
  const inputs: [string, number, number, Float32Array][] = [];
  // [rows, vocab, value scale]
  for (const [rows, vocab, scale] of [[1, 1, 1], [3, 7, 1], [4, 1000, 10], [2, 1023, 1e30], [9, 64, 1], [1, QWEN_VOCAB, 20]]) {
    inputs.push([`rows=${rows} vocab=${vocab} scale=${scale}`, rows, vocab, randomArray(rows * vocab, rows + vocab, scale)]);
  }
  // ties -> lowest index, an all -inf row, all-equal rows
  const vocab = 600;
  const x = new Float32Array(4 * vocab).fill(-1);
  x[517] = 3; x[300] = 3; x[599] = 3; // row 0: ties -> 300
  x.fill(-Infinity, vocab, 2 * vocab); // row 1: all -inf -> 0
  x[2 * vocab + 599] = -Infinity; // row 2: all -1 except one -inf -> 0
  x.fill(-Infinity, 3 * vocab, 4 * vocab); x[3 * vocab + 257] = -3e38; // row 3 -> 257
  inputs.push(['ties, -inf rows, all-equal rows', 4, vocab, x]);
  // ties across the four interleaved maxima of the blocked kernel (indices 5 and 2 mod 4), and odd vocab
  const y = new Float32Array(2 * 12);
  y[5] = 2; y[6] = 2; y[9] = 2;
  y[12 + 7] = 1; y[12 + 3] = 1;
  inputs.push(['ties across interleaved maxima', 2, 12, y]);
  inputs.push(['ties across interleaved maxima, odd vocab', 2, 11, y.slice(0, 22)]);
  const want: Record<string, number[]> = {
    'ties, -inf rows, all-equal rows': [300, 0, 0, 257],
    'ties across interleaved maxima': [5, 3],
    'ties across interleaved maxima, odd vocab': [5, 4],
  };
  const cases: OpCase[] = [];
  for (const style of ['blocked', 'lanes'] as const) for (const [name, rows, n, logits] of inputs) {
    cases.push({
      name: `${style}: ${name}`,
      inputs: { logits },
      outputs: { out: { n: rows, type: 'u32' } },
      encode: (g, pass, b) => encodeArgmax(g, pass, { logits: b.logits, out: b.out, rows, vocab: n, style }),
      // the reference, and for the hand-made rows also the ids worked out by hand
      expected: () => {
        const ref = Array.from({ length: rows }, (_, r) => argmaxRef(logits, n, r));
        if (want[name]) expect(ref).toEqual(want[name]);
        return { out: ref };
      },
      atol: 0,
      rtol: 0,
    });
  }
  return cases;
});
