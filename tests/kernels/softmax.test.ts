import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeSoftmax } from '../../src/kernels/softmax.ts';
import { softmaxRef } from '../../src/reference/softmax.ts';

describeOpCases('softmax kernel vs reference', () => {
  // [rows, n, value scale, temperature]
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1], // single element -> 1
    [1, 7, 1, 1],
    [3, 37, 5, 1], // odd size
    [4, 1000, 3, 0.7], // temperature
    [2, 300, 1e4, 1], // huge logits: naive exp would overflow
    [2, 513, 50, 2.5],
  ];
  return shapes.map(([rows, n, scale, temperature]): OpCase => {
    const x = randomArray(rows * n, rows * 7 + n, scale);
    return {
      name: `rows=${rows} n=${n} scale=${scale} T=${temperature}`,
      inputs: { x },
      outputs: { out: rows * n },
      encode: (g, pass, b) => encodeSoftmax(g, pass, { x: b.x, out: b.out, rows, n, temperature }),
      expected: () => ({ out: softmaxRef(x, rows, n, temperature) }),
      atol: 1e-6,
      rtol: 1e-4,
    };
  });
});
