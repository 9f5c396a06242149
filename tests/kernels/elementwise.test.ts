import { describe, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { expectClose, randomArray } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeClamp, encodeGatedAdd, encodeGatherRows } from '../../src/kernels/elementwise.ts';
import { clampRef, gatedAddRef, gatherRowsRef } from '../../src/reference/elementwise.ts';

describe('row gather, gated add, clamp vs references', () => {
  const gpu = useGpu();
  const read = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(gpu().device, b, n * 4));

  for (const [T, dim, rows] of [[1, 1, [0]], [5, 37, [4, 0, 2]], [9, 300, [8, 8, 1, 3]]] as [number, number, number[]][]) {
    it(`gather T=${T} dim=${dim} rows=${rows}`, async () => {
      const g = gpu();
      const x = randomArray(T * dim, T + dim);
      const out = createStorage(g.device, rows.length * dim * 4);
      await runPass(g, (p) => encodeGatherRows(g, p, { x: createStorage(g.device, x), rows: createStorage(g.device, new Uint32Array(rows)), out, R: rows.length, dim }));
      expectClose(await read(out, rows.length * dim), gatherRowsRef(x, rows, dim), 0, 0);
    });

    it(`gated add T=${T} dim=${dim} (gates up to ±30)`, async () => {
      const g = gpu();
      const x = randomArray(T * dim, 1), y = randomArray(T * dim, 2, 100), gate = randomArray(T, 3, 30);
      const xb = createStorage(g.device, x);
      await runPass(g, (p) => encodeGatedAdd(g, p, { x: xb, y: createStorage(g.device, y), gate: createStorage(g.device, gate), T, dim, scale: 0.5 }));
      expectClose(await read(xb, T * dim), gatedAddRef(x, y, gate, dim, 0.5), 1e-4, 1e-5);
    });
  }

  it('clamp in place, odd length, values beyond the bound', async () => {
    const g = gpu();
    const x = randomArray(1001, 9, 20);
    const xb = createStorage(g.device, x);
    await runPass(g, (p) => encodeClamp(g, p, { x: xb, n: x.length, c: 8 }));
    expectClose(await read(xb, x.length), clampRef(x, 8), 0, 0);
  });
});
