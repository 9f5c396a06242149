import { describe, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeSoftmax } from '../../src/kernels/softmax.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';

describe('softmax kernel vs reference', () => {
  const gpu = useGpu();
  // [rows, n, value scale, temperature]
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 1], // single element -> 1
    [1, 7, 1, 1],
    [3, 37, 5, 1], // odd size
    [4, 1000, 3, 0.7], // temperature
    [2, 300, 1e4, 1], // huge logits: naive exp would overflow
    [2, 513, 50, 2.5],
  ];
  for (const [rows, n, scale, temperature] of cases) {
    it(`rows=${rows} n=${n} scale=${scale} T=${temperature}`, async () => {
      const g = gpu();
      const x = randomArray(rows * n, rows * 7 + n, scale);
      const xb = createStorage(g.device, x);
      const ob = createStorage(g.device, rows * n * 4);
      await runPass(g, (pass) => encodeSoftmax(g, pass, { x: xb, out: ob, rows, n, temperature }));
      const out = new Float32Array(await readBuffer(g.device, ob, rows * n * 4));
      expectClose(out, softmaxRef(x, rows, n, temperature), 1e-6, 1e-4);
    });
  }
});
