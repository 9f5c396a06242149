// shaders/elementwise.wgsl's ops (add, gated add, row gather, silu*up) vs their references,
// through the op-case harness (guards, sentinels, NaN/Inf checks).
import { describe, expect, it } from 'vitest';
import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, runOpCase, type OpCase } from '../helpers/op-cases.ts';
import { useGpu } from '../helpers/gpu.ts';
import { encodeSiluMul, encodeSiluMulFused } from '../../src/kernels/activations.ts';
import { encodeAdd, encodeGatedAdd, encodeGatherRows } from '../../src/kernels/elementwise.ts';
import { addRef, siluMulRef } from '../../src/reference/activations.ts';
import { gatedAddRef, gatherRowsRef } from '../../src/reference/elementwise.ts';

describeOpCases('silu_mul vs reference', () => {
  const cases: OpCase[] = [];
  // [tokens, inter, value scale]; scale 200: exp(-g) overflows for g << 0
  for (const [tokens, inter, scale] of [[1, 1, 1], [1, 64, 1], [3, 37, 4], [5, 300, 1], [2, 50, 200]]) {
    const gate = randomArray(tokens * inter, tokens + inter, scale);
    const up = randomArray(tokens * inter, tokens + inter + 1, scale);
    cases.push({
      name: `separate tokens=${tokens} inter=${inter} scale=${scale}`,
      inputs: { gate, up },
      outputs: { out: tokens * inter },
      encode: (g, pass, b) => encodeSiluMul(g, pass, { gate: b.gate, up: b.up, out: b.out, tokens, inter }),
      expected: () => ({ out: siluMulRef(gate, up, tokens, inter) }),
    });
    const gu = randomArray(tokens * 2 * inter, tokens * 3 + inter, scale);
    cases.push({
      name: `fused tokens=${tokens} inter=${inter} scale=${scale}`,
      inputs: { gu },
      outputs: { out: tokens * inter },
      encode: (g, pass, b) => encodeSiluMulFused(g, pass, { gateUp: b.gu, out: b.out, tokens, inter }),
      expected: () => ({ out: siluMulRef(gu, gu, tokens, inter, 2 * inter, 0, 2 * inter, inter) }),
    });
  }
  return cases;
});

describeOpCases('add vs reference', () => {
  const cases: OpCase[] = [];
  // [n, scale]; 0.22 = granite's residual_multiplier
  for (const [n, s] of [[1, 1], [37, 1], [1000, 0.22], [513, -3]]) {
    const x = randomArray(n, n, 1e3);
    const y = randomArray(n, n + 1);
    cases.push({
      name: `n=${n} scale=${s} in place`,
      inputs: { y },
      inout: { x },
      encode: (g, pass, b) => encodeAdd(g, pass, { x: b.x, y: b.y, n, scale: s }),
      expected: () => ({ x: addRef(x, y, s) }),
      atol: 0,
      rtol: 1e-6,
    });
    cases.push({
      name: `n=${n} scale=${s} out`,
      inputs: { x, y },
      outputs: { out: n },
      encode: (g, pass, b) => encodeAdd(g, pass, { x: b.x, y: b.y, out: b.out, n, scale: s }),
      expected: () => ({ out: addRef(x, y, s) }),
      atol: 0,
      rtol: 1e-6,
    });
  }
  return cases;
});

describeOpCases('row gather, gated add vs references', () => {
  const cases: OpCase[] = [];
  for (const [T, dim, rows] of [[1, 1, [0]], [5, 37, [4, 0, 2]], [9, 300, [8, 8, 1, 3]]] as [number, number, number[]][]) {
    const x = randomArray(T * dim, T + dim);
    cases.push({
      name: `gather T=${T} dim=${dim} rows=${rows}`,
      inputs: { x, rows: new Uint32Array(rows) },
      outputs: { out: rows.length * dim },
      encode: (g, pass, b) => encodeGatherRows(g, pass, { x: b.x, rows: b.rows, out: b.out, R: rows.length, dim }),
      expected: () => ({ out: gatherRowsRef(x, rows, dim) }),
      atol: 0,
      rtol: 0,
    });
    const x1 = randomArray(T * dim, 1), y = randomArray(T * dim, 2, 100), gate = randomArray(T, 3, 30);
    cases.push({
      name: `gated add T=${T} dim=${dim} (gates up to ±30)`,
      inputs: { y, gate },
      inout: { x: x1 },
      encode: (g, pass, b) => encodeGatedAdd(g, pass, { x: b.x, y: b.y, gate: b.gate, T, dim, scale: 0.5 }),
      expected: () => ({ x: gatedAddRef(x1, y, gate, dim, 0.5) }),
      atol: 1e-4,
      rtol: 1e-5,
    });
  }
  return cases;
});

describe('the op-case harness catches what a plain comparison misses', () => {
  const gpu = useGpu();
  const x = randomArray(10, 1, 20);
  it('a write past the output (guard words)', async () => {
    // 11 elements added into a 10-element output: element 10 lands in the first guard word
    const x11 = randomArray(11, 2), y11 = randomArray(11, 3);
    const c: OpCase = {
      name: 'oob', inputs: { x: x11, y: y11 }, outputs: { out: 10 },
      encode: (g, pass, b) => encodeAdd(g, pass, { x: b.x, y: b.y, out: b.out, n: 11 }), expected: () => ({ out: addRef(x11, y11).subarray(0, 10) }),
    };
    await expect(runOpCase(gpu(), c)).rejects.toThrow(/guard word 0 after the 10 output elements/);
  });
  it('an output element never written (sentinel)', async () => {
    const rows = new Uint32Array([0, 1]);
    const c: OpCase = {
      name: 'short', inputs: { x, rows }, outputs: { out: 10 },
      encode: (g, pass, b) => encodeGatherRows(g, pass, { x: b.x, rows: b.rows, out: b.out, R: 2, dim: 4 }),
      expected: () => ({ out: gatherRowsRef(x, [0, 1], 5) }),
    };
    await expect(runOpCase(gpu(), c)).rejects.toThrow(/out\[8\] was never written/);
  });
  it('a non-finite output where the reference is finite', async () => {
    const inf = Float32Array.of(1, 2, Infinity);
    const c: OpCase = { name: 'inf', inputs: { x: inf, y: Float32Array.of(0, 0, 0) }, outputs: { out: 3 }, encode: (g, pass, b) => encodeAdd(g, pass, { x: b.x, y: b.y, out: b.out, n: 3 }), expected: () => ({ out: [1, 2, 3] }) };
    await expect(runOpCase(gpu(), c)).rejects.toThrow(/out\[2\] is Infinity, the reference 3/);
  });
});
