// shaders/matmul.wgsl (every variant and weight format) vs src/reference/matmul.ts, through the op-case
// harness: guard words behind every output, sentinels in unwritten elements, NaN/Inf checks.
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { randomArray } from '../helpers/compare.ts';
import { describeOpCases, runOpCase, type OpCase } from '../helpers/op-cases.ts';
import { createStorage } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import { createNodeGpu } from '../../src/gpu/node.ts';
import { setKernelStyle } from '../../src/kernels/variants.ts';
import { encodeMatmul, matmulVariant, type MatmulArgs } from '../../src/kernels/matmul.ts';
import type { WeightFormat } from '../../src/quant/pack.ts';
import { destroyWeight, uploadWeight, weightBytes } from '../../src/quant/upload.ts';
import { matmulRef } from '../../src/reference/matmul.ts';
import { dequantizeInt4, dequantizeInt8, quantizeInt4, quantizeInt8, roundUp } from '../../src/quant/pack.ts';
import { roundToF16 } from '../../src/quant/f16.ts';

/** The f32 weights the GPU effectively multiplies by after packing W in `format`. */
function effectiveWeights(w: Float32Array, n: number, k: number, format: WeightFormat, group: number): Float32Array {
  switch (format) {
    case 'f32': return w;
    case 'f16': return roundToF16(w);
    case 'int8': return dequantizeInt8(quantizeInt8(w, n, k, group));
    case 'int4': return dequantizeInt4(quantizeInt4(w, n, k, group));
  }
}

interface Case {
  format: WeightFormat;
  t: number;
  n: number;
  k: number;
  bias?: boolean;
  group?: number;
  scale?: number;
  accumulate?: boolean;
  xOffset?: number;
  outOffset?: number;
  variant?: MatmulArgs['variant'];
  /** Output channel widths of a fused projection written to separate buffers (sum = n). */
  split?: number[];
  name?: string;
}

const FORMATS: WeightFormat[] = ['f32', 'f16', 'int8', 'int4'];
const label = (c: Case) => c.name ?? `${c.variant ?? 'default'} ${c.format} t=${c.t} k=${c.k} n=${c.n}${c.bias ? ' +bias' : ''}${c.accumulate ? ' +=' : ''}${c.xOffset ? ` xOff=${c.xOffset}` : ''}${c.outOffset ? ` outOff=${c.outOffset}` : ''}${c.group ? ` group=${c.group}` : ''}${c.scale ? ` scale=${c.scale}` : ''}`;

function matmulCase(c: Case): OpCase {
  const { format, t, n, k } = c;
  const group = c.group ?? 32;
  const scale = c.scale ?? 1;
  const seed = c.split ? t + n : t * 7919 + n * 131 + k;
  const x = randomArray(t * k, seed, scale);
  const w = randomArray(n * k, seed + 1);
  const bias = c.bias || c.split ? randomArray(n, seed + 2) : undefined;
  const prev = c.accumulate ? randomArray(t * n, seed + 3) : undefined;
  const xOff = c.xOffset ?? 0;
  const outOff = c.outOffset ?? 0;
  const xPadded = new Float32Array(xOff + t * k).fill(NaN); // garbage before the offset must not be read
  xPadded.set(x, xOff);
  const inputs: Record<string, Float32Array> = { x: xPadded };
  if (bias) inputs.bias = bias;
  const ref = () => matmulRef(x, effectiveWeights(w, n, k, format, group), t, n, k, bias, prev);
  const tol = 2e-5 * Math.sqrt(k) * scale;
  const encodeWith = (g: Gpu, pass: GPUComputePassEncoder, b: Record<string, GPUBuffer>, own: <R extends { destroy(): void }>(r: R) => R, outs: Partial<MatmulArgs>) => {
    const wd = uploadWeight(g, w, n, k, format, { group });
    own({ destroy: () => destroyWeight(wd) });
    expect(wd.bytes).toBe(weightBytes(format, n, k, group));
    encodeMatmul(g, pass, { x: b.x, w: wd, bias: b.bias, out: b.out, t, accumulate: c.accumulate, xOffset: c.xOffset, outOffset: c.outOffset, variant: c.variant, ...outs });
  };
  if (c.split) {
    // fused projection: one weight [sum n, k], channel ranges written to separate dense buffers
    const widths = c.split;
    const outputs: Record<string, number> = {};
    widths.forEach((m, p) => (outputs[`part${p}`] = t * m));
    return {
      name: label(c), inputs, outputs,
      encode: (g, pass, b, own) => encodeWith(g, pass, b, own, { out: b.part0, split: widths.slice(1).map((m, i) => ({ out: b[`part${i + 1}`], n: m })) }),
      expected: () => {
        const all = ref();
        const want: Record<string, Float32Array> = {};
        let c0 = 0;
        widths.forEach((m, p) => {
          const part = new Float32Array(t * m);
          for (let r = 0; r < t; r++) for (let j = 0; j < m; j++) part[r * m + j] = all[r * n + c0 + j];
          want[`part${p}`] = part;
          c0 += m;
        });
        return want;
      },
      atol: tol, rtol: 1e-4,
    };
  }
  // with an offset or accumulate the output buffer starts as given: -7 before the offset, the previous
  // values (accumulate) after it; otherwise it is a fresh output (every element must be written)
  const inPlace = c.accumulate || outOff > 0;
  const outInit = new Float32Array(outOff + t * n).fill(-7);
  if (prev) outInit.set(prev, outOff);
  return {
    name: label(c),
    inputs,
    ...(inPlace ? { inout: { out: outInit } } : { outputs: { out: t * n } }),
    encode: (g, pass, b, own) => encodeWith(g, pass, b, own, {}),
    expected: () => {
      const want = new Float32Array(outOff + t * n).fill(-7);
      want.set(ref(), outOff);
      return { out: want };
    },
    atol: tol, rtol: 1e-4,
    // nothing written before the offset: exactly -7
    check: (got) => { for (let i = 0; i < outOff; i++) expect(got.out[i]).toBe(-7); },
  };
}

describeOpCases('matmul kernel vs reference', () => {
  const cases: Case[] = [];
  const shapes: [number, number][] = [[37, 5], [64, 64], [130, 33]]; // [K, N]
  const ts = [1, 3, 17, 40]; // decode (TB 1, 4, 32) and prefill
  let i = 0;
  // every variant on every shape (the default follows the adapter: src/kernels/variants.ts)
  for (const variant of ['blocked', 'decode', 'prefill'] as const) {
    for (const format of FORMATS) for (const t of ts) for (const [k, n] of shapes) cases.push({ format, t, n, k, bias: i++ % 2 === 0, variant });
  }
  // fused projections
  for (const variant of ['blocked', 'decode', 'prefill'] as const) {
    for (const [format, t, widths] of [['f32', 1, [8, 6, 6]], ['int8', 5, [12, 9]], ['f16', 40, [5, 3, 7]], ['int4', 17, [16, 16, 4]]] as const) {
      cases.push({ name: `split outputs ${variant} ${format} t=${t} widths ${widths.join('+')}`, format, t, n: widths.reduce((a, b) => a + b, 0), k: 37, variant, split: [...widths] });
    }
  }
  cases.push(
    // blocked: rows and channels not multiples of 4, accumulate with offsets
    ...[2, 5, 7].map((t): Case => ({ format: 'f32', t, n: 6, k: 13, bias: true, variant: 'blocked' })),
    { format: 'int4', t: 6, n: 3, k: 64, accumulate: true, xOffset: 5, outOffset: 3, variant: 'blocked' },
    // one channel, one input (t=1, k=1, n=1) in every format
    ...FORMATS.map((format): Case => ({ format, t: 1, n: 1, k: 1, bias: true })),
    // int8 with group 64 and 128, K not a multiple of the group
    { format: 'int8', t: 3, n: 9, k: 200, group: 64, bias: true },
    { format: 'int8', t: 40, n: 9, k: 300, group: 128 },
    { format: 'int4', t: 1, n: 17, k: 100, group: 64 },
    // large activations
    { format: 'f32', t: 3, n: 33, k: 130, scale: 1e4, bias: true },
    { format: 'int4', t: 40, n: 33, k: 130, scale: 1e4 },
    // accumulate (out += x W^T + bias) with element offsets, decode and prefill
    { format: 'int8', t: 3, n: 33, k: 64, bias: true, accumulate: true, xOffset: 5, outOffset: 3 },
    { format: 'f16', t: 40, n: 33, k: 37, accumulate: true, xOffset: 1, outOffset: 7 },
    // forced variants: prefill with one row, decode with 33 rows (two passes of 32)
    { format: 'f32', t: 1, n: 33, k: 37, variant: 'prefill', bias: true },
    { format: 'f32', t: 33, n: 5, k: 37, variant: 'decode' },
  );
  return cases.map(matmulCase);
});

describe('matmul: grid folding, the f16 fallback, variant choice, argument checks', () => {
  const gpu = useGpu();

  it('N beyond 65535 workgroups folds into a 2D grid', async () => {
    const g = gpu();
    await runOpCase(g, matmulCase({ format: 'int4', t: 1, n: 4 * g.limits.maxComputeWorkgroupsPerDimension + 9, k: 8, bias: true }));
  }, 120_000);

  // Where the device has shader-f16 the cases above ran the native array<vec4<f16>> path; the packed-u32
  // unpack2x16float fallback runs here on a second device with the feature hidden (on a device without
  // shader-f16 it is the path the cases above ran too).
  it('f16 packed-u32 fallback on a device with shader-f16 hidden', async () => {
    const g2 = await createNodeGpu({ disable: { f16: true } });
    try {
      expect(g2.features.f16).toBe(false);
      await runOpCase(g2, matmulCase({ format: 'f16', t: 3, n: 33, k: 130, bias: true }));
      await runOpCase(g2, matmulCase({ format: 'f16', t: 40, n: 5, k: 64 }));
    } finally {
      await g2.device.queue.onSubmittedWorkDone();
      g2.destroy();
    }
  });

  it('the default variant follows the kernel style', () => {
    const g = gpu();
    setKernelStyle(g, 'blocked');
    expect([matmulVariant(g, 1), matmulVariant(g, 64)]).toEqual(['blocked', 'blocked']);
    setKernelStyle(g, 'lanes');
    expect([matmulVariant(g, 1), matmulVariant(g, 33)]).toEqual(['decode', 'prefill']);
    setKernelStyle(g, 'auto');
  });

  it('split outputs reject accumulate and bad widths', () => {
    const g = gpu();
    const b = createStorage(g.device, 64);
    const w = { format: 'f32' as const, data: b, n: 4, k: 8 };
    expect(() => runPassSync(g, { x: b, out: b, t: 1, w, split: [{ out: b, n: 4 }] })).toThrow(/split/);
    expect(() => runPassSync(g, { x: b, out: b, t: 1, w, accumulate: true, split: [{ out: b, n: 1 }] })).toThrow(/split/);
    b.destroy();
  });

  it('rejects int formats without scales and bad kPad', () => {
    const g = gpu();
    const b = createStorage(g.device, 64);
    expect(() => runPassSync(g, { x: b, out: b, t: 1, w: { format: 'int8', data: b, n: 1, k: 8 } })).toThrow(/scales/);
    expect(() => runPassSync(g, { x: b, out: b, t: 1, w: { format: 'f32', data: b, n: 1, k: 8, kPad: 12 } })).toThrow(/kPad/);
    b.destroy();
    expect(roundUp(37, 8)).toBe(40);
  });
});

function runPassSync(g: Gpu, a: MatmulArgs): void {
  const enc = g.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  try {
    encodeMatmul(g, pass, a);
  } finally {
    pass.end();
  }
}
