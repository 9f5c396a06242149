import { describe, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeRmsNorm } from '../../src/kernels/rmsnorm.ts';
import { rmsNormRef } from '../../src/reference/rmsnorm.ts';

describe('rmsnorm kernel vs reference', () => {
  const gpu = useGpu();
  const cases: [number, number, number][] = [
    [1, 1, 1], // one token, one channel
    [1, 64, 1],
    [3, 37, 1], // odd size, not a multiple of the workgroup
    [5, 200, 1],
    [2, 16, 1e4], // large values
    [33, 64, 1], // more rows than one blocked workgroup, vec4 rows
    [17, 6, 1], // blocked scalar path with several workgroups
  ];
  for (const style of ['blocked', 'lanes'] as const) for (const [rows, dim, scale] of cases) {
    it(`${style} rows=${rows} dim=${dim} scale=${scale}`, async () => {
      const g = gpu();
      const x = randomArray(rows * dim, rows * 1000 + dim, scale);
      const w = randomArray(dim, dim + 7);
      const xb = createStorage(g.device, x);
      const wb = createStorage(g.device, w);
      const yb = createStorage(g.device, rows * dim * 4);
      await runPass(g, (pass) => encodeRmsNorm(g, pass, { x: xb, weight: wb, out: yb, rows, dim, eps: 1e-6, style }));
      const y = new Float32Array(await readBuffer(g.device, yb, rows * dim * 4));
      expectClose(y, rmsNormRef(x, w, rows, dim, 1e-6), 1e-5, 1e-4);
    });
  }
});
