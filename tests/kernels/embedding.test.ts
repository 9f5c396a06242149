import { describe, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeEmbedding } from '../../src/kernels/embedding.ts';
import { embeddingRef } from '../../src/reference/embedding.ts';
import { packF16, roundToF16 } from '../../src/quant/f16.ts';

describe('embedding kernel vs reference', () => {
  const gpu = useGpu();
  // [tokens, vocab, dim, scale, format]
  const cases: [number, number, number, number, 'f32' | 'f16'][] = [
    [1, 1, 1, 1, 'f32'], // one token, one channel
    [5, 50, 37, 1, 'f32'], // odd dim, not a multiple of the workgroup
    [7, 100, 300, 12, 'f32'], // granite-style multiplier
    [3, 20, 64, 1e4, 'f32'], // large values
    [4, 33, 17, 1, 'f16'], // odd dim: rows straddle u32 words
    [6, 40, 64, 2.5, 'f16'],
  ];
  for (const [tokens, vocab, dim, scale, format] of cases) {
    it(`tokens=${tokens} vocab=${vocab} dim=${dim} scale=${scale} ${format}`, async () => {
      const g = gpu();
      const r = rng(tokens * 31 + dim);
      const ids = new Uint32Array(tokens);
      for (let t = 0; t < tokens; t++) ids[t] = Math.floor(r() * vocab);
      if (tokens > 2) {
        ids[0] = vocab - 1; // last row
        ids[1] = vocab; // out of range -> zeros
        ids[2] = 0xffffffff;
      }
      const table = randomArray(vocab * dim, vocab + dim, format === 'f16' ? Math.min(scale, 100) : 1);
      const tb = createStorage(g.device, format === 'f16' ? packF16(table) : table);
      const ib = createStorage(g.device, ids);
      const ob = createStorage(g.device, tokens * dim * 4);
      const s = format === 'f16' ? 1 : scale;
      await runPass(g, (pass) => encodeEmbedding(g, pass, { ids: ib, table: tb, out: ob, tokens, dim, vocab, scale: s, format }));
      const out = new Float32Array(await readBuffer(g.device, ob, tokens * dim * 4));
      const ref = embeddingRef(ids, format === 'f16' ? roundToF16(table) : table, vocab, dim, s);
      expectClose(out, ref, 0, 1e-6);
      if (tokens > 2) for (let i = 0; i < dim; i++) if (out[dim + i] !== 0 || out[2 * dim + i] !== 0) throw new Error('out-of-range id must give zeros');
    });
  }
});
