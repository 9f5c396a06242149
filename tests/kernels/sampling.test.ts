import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { randomArray, rng } from '../helpers/compare.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeArgmax, encodeSample, packSampleParams, type SampleParams } from '../../src/kernels/sampling.ts';
import { argmaxRef, sampleRef } from '../../src/reference/sampling.ts';
import type { KernelStyle } from '../../src/kernels/variants.ts';

describe('reference sampling semantics', () => {
  it('greedy, top_p tiny and top_k 1 give argmax; ties -> lowest index', () => {
    const x = new Float32Array([1, 5, 3, 5, 2]);
    expect(argmaxRef(x, 5)).toBe(1);
    for (const u of [0, 0.5, 0.999]) {
      expect(sampleRef(x, 5, 0, { temperature: 0, topP: 1, topK: 0 }, u)).toBe(1);
      expect(sampleRef(x, 5, 0, { temperature: 1, topP: 1e-9, topK: 0 }, u)).toBe(1);
      expect(sampleRef(x, 5, 0, { temperature: 1, topP: 1, topK: 1 }, u)).toBe(1);
    }
    // top_k 2 keeps the two tied 5s (indices 1 then 3), each half the mass
    expect(sampleRef(x, 5, 0, { temperature: 1, topP: 1, topK: 2 }, 0.49)).toBe(1);
    expect(sampleRef(x, 5, 0, { temperature: 1, topP: 1, topK: 2 }, 0.51)).toBe(3);
  });
});

async function gpuArgmax(g: ReturnType<ReturnType<typeof useGpu>>, x: Float32Array, rows: number, vocab: number, style?: KernelStyle): Promise<Uint32Array> {
  const lb = createStorage(g.device, x);
  const ob = createStorage(g.device, rows * 4);
  await runPass(g, (pass) => encodeArgmax(g, pass, { logits: lb, out: ob, rows, vocab, style }));
  return new Uint32Array(await readBuffer(g.device, ob, rows * 4));
}

async function gpuSample(g: ReturnType<ReturnType<typeof useGpu>>, x: Float32Array, vocab: number, prm: SampleParams[]): Promise<Uint32Array> {
  const rows = prm.length;
  const lb = createStorage(g.device, x);
  const pb = createStorage(g.device, packSampleParams(prm));
  const ob = createStorage(g.device, rows * 4);
  await runPass(g, (pass) => encodeSample(g, pass, { logits: lb, params: pb, out: ob, rows, vocab }));
  return new Uint32Array(await readBuffer(g.device, ob, rows * 4));
}

describe.each(['blocked', 'lanes'] as const)('argmax kernel vs reference (%s)', (style) => {
  const gpu = useGpu();
  const cases: [number, number, number][] = [
    [1, 1, 1],
    [3, 7, 1],
    [4, 1000, 10],
    [2, 1023, 1e30],
    [9, 64, 1], // several blocked workgroups
    [1, 151936, 20], // Qwen vocab
  ];
  for (const [rows, vocab, scale] of cases) {
    it(`rows=${rows} vocab=${vocab} scale=${scale}`, async () => {
      const g = gpu();
      const x = randomArray(rows * vocab, rows + vocab, scale);
      const got = await gpuArgmax(g, x, rows, vocab, style);
      expect(Array.from(got)).toEqual(Array.from({ length: rows }, (_, r) => argmaxRef(x, vocab, r)));
    });
  }
  it('ties -> lowest index, -inf rows, all-equal rows', async () => {
    const g = gpu();
    const vocab = 600;
    const x = new Float32Array(4 * vocab).fill(-1);
    x[0 * vocab + 517] = 3; x[0 * vocab + 300] = 3; x[0 * vocab + 599] = 3; // row 0: ties
    x.fill(-Infinity, vocab, 2 * vocab); // row 1: all -inf -> 0
    x[2 * vocab + 599] = -Infinity; // row 2: all -1 except one -inf -> 0
    x.fill(-Infinity, 3 * vocab, 4 * vocab); x[3 * vocab + 257] = -3e38; // row 3
    const got = await gpuArgmax(g, x, 4, vocab, style);
    expect(Array.from(got)).toEqual([300, 0, 0, 257]);
    // ties across the four interleaved maxima of the blocked kernel (indices 5 and 2 mod 4) and odd vocab
    const y = new Float32Array(2 * 12).fill(0);
    y[5] = 2; y[6] = 2; y[9] = 2;
    y[12 + 7] = 1; y[12 + 3] = 1;
    expect(Array.from(await gpuArgmax(g, y, 2, 12, style))).toEqual([5, 3]);
    expect(Array.from(await gpuArgmax(g, y.subarray(0, 22), 2, 11, style))).toEqual([5, 4]);
  });
});

describe('sample kernel vs reference', () => {
  const gpu = useGpu();
  const configs: Omit<SampleParams, 'u'>[] = [
    { temperature: 1, topP: 1, topK: 0 },
    { temperature: 0.7, topP: 0.9, topK: 0 },
    { temperature: 1.3, topP: 0.5, topK: 40 },
    { temperature: 1, topP: 1, topK: 5 },
    { temperature: 1, topP: 1e-6, topK: 0 }, // = argmax
    { temperature: 0, topP: 0.9, topK: 50 }, // greedy
    { temperature: 0.05, topP: 0.95, topK: 0 }, // nearly greedy
    { temperature: 2, topP: 0, topK: 0 }, // top_p 0 keeps one token
  ];
  it('V=1000: many rows, configs and u values', async () => {
    const g = gpu();
    const vocab = 1000;
    const r = rng(99);
    const prm: SampleParams[] = [];
    for (let i = 0; i < 48; i++) prm.push({ ...configs[i % configs.length], u: i < 2 ? [0, 0.9999999][i] : r() });
    const rows = prm.length;
    // rows of varying peakedness
    const x = new Float32Array(rows * vocab);
    for (let row = 0; row < rows; row++) x.set(randomArray(vocab, 1000 + row, 1 + (row % 5) * 2), row * vocab);
    const got = await gpuSample(g, x, vocab, prm);
    const want = prm.map((p, row) => sampleRef(x, vocab, row, p, p.u));
    expect(Array.from(got)).toEqual(want);
    // the cases really sample (not just argmax everywhere)
    expect(want.filter((w, row) => w !== argmaxRef(x, vocab, row)).length).toBeGreaterThan(15);
  });
  it('one row, 40 u values, top_p 1 and ties', async () => {
    const g = gpu();
    const vocab = 37;
    const base = randomArray(vocab, 5, 2);
    base[3] = base[10] = base[30] = 2.5; // tied top tokens
    const us = Array.from({ length: 40 }, (_, i) => (i + 0.5) / 40);
    const x = new Float32Array(us.length * vocab);
    for (let i = 0; i < us.length; i++) x.set(base, i * vocab);
    const prm = us.map((u, i) => ({ temperature: 1, topP: i % 2 ? 1 : 0.6, topK: i % 3 === 0 ? 2 : 0, u }));
    const got = await gpuSample(g, x, vocab, prm);
    expect(Array.from(got)).toEqual(prm.map((p, row) => sampleRef(x, vocab, row, p, p.u)));
  });
  it('masked (-inf) logits are never sampled', async () => {
    const g = gpu();
    const vocab = 300;
    const prm: SampleParams[] = [];
    const r = rng(11);
    for (let i = 0; i < 16; i++) prm.push({ ...configs[i % configs.length], u: r() });
    const x = new Float32Array(prm.length * vocab);
    for (let row = 0; row < prm.length; row++) {
      const v = randomArray(vocab, 50 + row, 2);
      for (let i = 0; i < vocab; i++) if (i % 3 !== 1) v[i] = -Infinity; // only ids = 1 mod 3 allowed
      x.set(v, row * vocab);
    }
    const got = await gpuSample(g, x, vocab, prm);
    expect(Array.from(got)).toEqual(prm.map((p, row) => sampleRef(x, vocab, row, p, p.u)));
    for (const id of got) expect(id % 3).toBe(1);
  });
  it('V=151936 single row (Qwen vocab)', async () => {
    const g = gpu();
    const vocab = 151936;
    const x = randomArray(vocab, 7, 4);
    const r = rng(3);
    for (let i = 0; i < 30; i++) x[Math.floor(r() * vocab)] = 8 + r() * 4; // a peaked head
    const prm = [{ temperature: 0.8, topP: 0.9, topK: 0, u: 0.37 }, { temperature: 1, topP: 1, topK: 20, u: 0.81 }];
    const xx = new Float32Array(2 * vocab);
    xx.set(x, 0);
    xx.set(x, vocab);
    const got = await gpuSample(g, xx, vocab, prm);
    expect(Array.from(got)).toEqual(prm.map((p, row) => sampleRef(xx, vocab, row, p, p.u)));
  });
});
