import { expect } from 'vitest';
import { randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeEmbedding } from '../../src/kernels/embedding.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { packF16, roundToF16 } from '../../src/quant/f16.ts';

describeOpCases('embedding kernel vs reference', () => {
  // [tokens, vocab, dim, scale, format]
  const shapes: [number, number, number, number, 'f32' | 'f16'][] = [
    [1, 1, 1, 1, 'f32'], // one token, one channel
    [5, 50, 37, 1, 'f32'], // odd dim, not a multiple of the workgroup
    [7, 100, 300, 12, 'f32'], // granite-style multiplier
    [3, 20, 64, 1e4, 'f32'], // large values
    [4, 33, 17, 1, 'f16'], // odd dim: rows straddle u32 words
    [6, 40, 64, 2.5, 'f16'],
  ];
  return shapes.map(([tokens, vocab, dim, scale, format]): OpCase => {
    const r = rng(tokens * 31 + dim);
    const ids = new Uint32Array(tokens);
    for (let t = 0; t < tokens; t++) ids[t] = Math.floor(r() * vocab);
    if (tokens > 2) {
      ids[0] = vocab - 1; // last row
      ids[1] = vocab; // out of range -> zeros
      ids[2] = 0xffffffff;
    }
    const table = randomArray(vocab * dim, vocab + dim, format === 'f16' ? Math.min(scale, 100) : 1);
    const s = format === 'f16' ? 1 : scale;
    return {
      name: `tokens=${tokens} vocab=${vocab} dim=${dim} scale=${scale} ${format}`,
      inputs: { ids, table: format === 'f16' ? packF16(table) : table },
      outputs: { out: tokens * dim },
      encode: (g, pass, b) => encodeEmbedding(g, pass, { ids: b.ids, table: b.table, out: b.out, tokens, dim, vocab, scale: s, format }),
      expected: () => ({ out: embeddingRef(ids, format === 'f16' ? roundToF16(table) : table, vocab, dim, s) }),
      atol: 0,
      rtol: 1e-6,
      check: (got) => {
        // out-of-range ids give exact zeros
        if (tokens > 2) for (let i = 0; i < dim; i++) expect([got.out[dim + i], got.out[2 * dim + i]]).toEqual([0, 0]);
      },
    };
  });
});
