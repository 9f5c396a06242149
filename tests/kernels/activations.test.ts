import { describe, it, expect } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeSiluMul, encodeSiluMulFused } from '../../src/kernels/activations.ts';
import { encodeAdd } from '../../src/kernels/elementwise.ts';
import { addRef, siluMulRef } from '../../src/reference/activations.ts';

describe('silu_mul kernel vs reference', () => {
  const gpu = useGpu();
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [1, 64, 1],
    [3, 37, 4], // odd size
    [5, 300, 1],
    [2, 50, 200], // large values: exp(-g) overflows for g << 0
  ];
  for (const [tokens, inter, scale] of cases) {
    it(`separate tokens=${tokens} inter=${inter} scale=${scale}`, async () => {
      const g = gpu();
      const gate = randomArray(tokens * inter, tokens + inter, scale);
      const up = randomArray(tokens * inter, tokens + inter + 1, scale);
      const gb = createStorage(g.device, gate);
      const ub = createStorage(g.device, up);
      const ob = createStorage(g.device, tokens * inter * 4);
      await runPass(g, (pass) => encodeSiluMul(g, pass, { gate: gb, up: ub, out: ob, tokens, inter }));
      const out = new Float32Array(await readBuffer(g.device, ob, tokens * inter * 4));
      expect(out.every(Number.isFinite)).toBe(true);
      expectClose(out, siluMulRef(gate, up, tokens, inter), 1e-5, 1e-5);
    });
    it(`fused tokens=${tokens} inter=${inter} scale=${scale}`, async () => {
      const g = gpu();
      const gu = randomArray(tokens * 2 * inter, tokens * 3 + inter, scale);
      const b = createStorage(g.device, gu);
      const ob = createStorage(g.device, tokens * inter * 4);
      await runPass(g, (pass) => encodeSiluMulFused(g, pass, { gateUp: b, out: ob, tokens, inter }));
      const out = new Float32Array(await readBuffer(g.device, ob, tokens * inter * 4));
      expectClose(out, siluMulRef(gu, gu, tokens, inter, 2 * inter, 0, 2 * inter, inter), 1e-5, 1e-5);
    });
  }
});

describe('add kernel vs reference', () => {
  const gpu = useGpu();
  const cases: [number, number][] = [
    [1, 1],
    [37, 1],
    [1000, 0.22], // granite residual_multiplier
    [513, -3],
  ];
  for (const [n, s] of cases) {
    for (const inplace of [true, false]) {
      it(`n=${n} scale=${s} ${inplace ? 'in place' : 'out'}`, async () => {
        const g = gpu();
        const x = randomArray(n, n, 1e3);
        const y = randomArray(n, n + 1);
        const xb = createStorage(g.device, x);
        const yb = createStorage(g.device, y);
        const ob = inplace ? xb : createStorage(g.device, n * 4);
        await runPass(g, (pass) => encodeAdd(g, pass, { x: xb, y: yb, out: inplace ? undefined : ob, n, scale: s }));
        const out = new Float32Array(await readBuffer(g.device, ob, n * 4));
        expectClose(out, addRef(x, y, s), 0, 1e-6);
      });
    }
  }
});
