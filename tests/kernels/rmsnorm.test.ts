import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeRmsNorm } from '../../src/kernels/rmsnorm.ts';
import { rmsNormRef } from '../../src/reference/rmsnorm.ts';

describeOpCases('rmsnorm kernel vs reference', () => {
  const cases: OpCase[] = [];
  const shapes: [number, number, number][] = [
    [1, 1, 1], // one token, one channel
    [1, 64, 1],
    [3, 37, 1], // odd size, not a multiple of the workgroup
    [5, 200, 1],
    [2, 16, 1e4], // large values
    [33, 64, 1], // more rows than one blocked workgroup, vec4 rows
    [17, 6, 1], // blocked scalar path with several workgroups
  ];
  for (const style of ['blocked', 'lanes'] as const) for (const [rows, dim, scale] of shapes) {
    const x = randomArray(rows * dim, rows * 1000 + dim, scale);
    const w = randomArray(dim, dim + 7);
    cases.push({
      name: `${style} rows=${rows} dim=${dim} scale=${scale}`,
      inputs: { x, w },
      outputs: { y: rows * dim },
      encode: (g, pass, b) => encodeRmsNorm(g, pass, { x: b.x, weight: b.w, out: b.y, rows, dim, eps: 1e-6, style }),
      expected: () => ({ y: rmsNormRef(x, w, rows, dim, 1e-6) }),
      atol: 1e-5,
      rtol: 1e-4,
    });
  }
  return cases;
});
