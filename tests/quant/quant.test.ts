import { describe, expect, it } from 'vitest';
import { randomArray } from '../helpers/compare.ts';
import { f16BitsToF32, f32ToF16Bits, packF16 } from '../../src/quant/f16.ts';
import {
  dequantizeInt4, dequantizeInt8, packF16Rows, padRowsF32, paddedCols, quantizeInt4, quantizeInt8, roundUp,
} from '../../src/quant/pack.ts';
import { bytesToF32 } from '../../src/format/dtype.ts';

/** Inverse of packF16: `n` f32 values from packed f16 pairs. */
function unpackF16(p: Uint32Array, n = p.length * 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32(i & 1 ? p[i >>> 1] >>> 16 : p[i >>> 1] & 0xffff);
  return out;
}

/** Inverse of packF16Rows: [rows, cols] f32 (padding dropped). */
function unpackF16Rows(p: Uint32Array, rows: number, cols: number, kPad = roundUp(cols, 8)): Float32Array {
  const h = new Uint16Array(p.buffer, p.byteOffset, p.length * 2);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = f16BitsToF32(h[r * kPad + c]);
  return out;
}

const halfBytes = (words: number[]) => new Uint8Array(Uint16Array.from(words).buffer);

describe('f16 conversion', () => {
  it('special values', () => {
    expect(f32ToF16Bits(0)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff); // max finite
    expect(f32ToF16Bits(65519)).toBe(0x7bff); // rounds down
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds to inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    const nan = f32ToF16Bits(NaN);
    expect((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0).toBe(true);
    expect(f16BitsToF32(nan)).toBeNaN();
    // subnormals
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f16BitsToF32(1)).toBe(2 ** -24);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie -> even (0)
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // tie 1.5 -> 2
    expect(f32ToF16Bits(2 ** -26)).toBe(0);
    expect(f32ToF16Bits(-(2 ** -24))).toBe(0x8001);
    expect(f16BitsToF32(0x3ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(f32ToF16Bits(2 ** -14)).toBe(0x400); // smallest normal
    expect(f32ToF16Bits(1023.5 * 2 ** -24)).toBe(0x400); // subnormal rounding carries into normal
    // ties to even in the normal range
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it('round trip of every f16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16Bits(v)).toBe(h);
    }
    // the load path's f16 decode (src/format/dtype.ts, a table of f16BitsToF32) over every bit pattern
    const all = bytesToF32(halfBytes(Array.from({ length: 0x10000 }, (_, h) => h)), 'F16');
    for (let h = 0; h < 0x10000; h++) expect(Object.is(all[h], Math.fround(f16BitsToF32(h))) || (Number.isNaN(all[h]) && Number.isNaN(f16BitsToF32(h)))).toBe(true);
  });

  it('relative error of f16 rounding is at most 2^-11 in the normal range', () => {
    const x = randomArray(4096, 5, 1000);
    for (const v of x) {
      if (Math.abs(v) < 2 ** -14) continue;
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11);
    }
  });

  it('packF16 puts element 2i in the low half', () => {
    const p = packF16(new Float32Array([1, -2, 0.5]));
    expect(p.length).toBe(2);
    expect(p[0]).toBe((0x3c00 | (0xc000 << 16)) >>> 0);
    expect(p[1]).toBe(0x3800);
    expect(Array.from(unpackF16(p, 3))).toEqual([1, -2, 0.5]);
  });
});

describe('bf16', () => {
  it('checkpoints widen exactly (the load path, src/format/dtype.ts)', () => {
    const w = bytesToF32(halfBytes([0x3f80, 0xc000, 0x7f80, 0xff80, 0x7fc0, 0x8000, 0x0001, 0x4040, 0xbf00]), 'BF16');
    expect(Array.from(w.subarray(0, 4))).toEqual([1, -2, Infinity, -Infinity]);
    expect(w[4]).toBeNaN();
    expect(Object.is(w[5], -0)).toBe(true);
    expect(w[6]).toBe(2 ** -133); // subnormal
    expect(Array.from(w.subarray(7))).toEqual([3, -0.5]);
  });
});

describe('row packing and quantization', () => {
  const shapes: [number, number, number][] = [
    [1, 1, 32], [3, 37, 32], [5, 64, 64], [4, 130, 32], [2, 300, 128], [3, 9, 8],
  ];
  it('f32 and f16 rows pad to a multiple of 8', () => {
    for (const [rows, cols] of shapes) {
      const w = randomArray(rows * cols, rows + cols);
      const kPad = paddedCols('f32', cols);
      expect(kPad % 8).toBe(0);
      const p = padRowsF32(w, rows, cols);
      expect(p.length).toBe(rows * kPad);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < kPad; c++) expect(p[r * kPad + c]).toBe(c < cols ? w[r * cols + c] : 0);
      }
      const h = packF16Rows(w, rows, cols);
      expect(h.length).toBe((rows * kPad) / 2);
      const back = unpackF16Rows(h, rows, cols);
      for (let i = 0; i < w.length; i++) expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(Math.abs(w[i]) * 2 ** -11 + 2 ** -25);
    }
  });

  for (const [rows, cols, group] of shapes) {
    it(`int8/int4 ${rows}x${cols} group ${group}: layout and error bounds`, () => {
      const w = randomArray(rows * cols, rows * 31 + cols, 3);
      if (cols > 2) w[1] = 0; // exact zero survives
      for (const [bits, quant, deq, qmax] of [
        [8, quantizeInt8, dequantizeInt8, 127],
        [4, quantizeInt4, dequantizeInt4, 7],
      ] as const) {
        const qw = quant(w, rows, cols, group);
        expect(qw.kPad).toBe(Math.ceil(cols / group) * group);
        expect(qw.q.length).toBe((rows * qw.kPad * bits) / 32);
        expect(qw.scales.length).toBe((rows * qw.kPad) / group);
        const d = deq(qw);
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const s = qw.scales[r * (qw.kPad / group) + Math.floor(c / group)];
            // half a quantization step (plus f32 rounding)
            expect(Math.abs(d[r * cols + c] - w[r * cols + c])).toBeLessThanOrEqual(s / 2 + 1e-6);
          }
        }
        if (cols > 2) expect(d[1]).toBe(0);
        // the largest magnitude in each group is reproduced (up to f32 rounding)
        let amax = 0;
        let at = 0;
        for (let c = 0; c < Math.min(cols, group); c++) if (Math.abs(w[c]) > amax) { amax = Math.abs(w[c]); at = c; }
        expect(Math.abs(d[at] - w[at])).toBeLessThanOrEqual(amax * 1e-6);
        expect(qw.scales[0]).toBeCloseTo(amax / qmax, 6);
      }
    });
  }

  it('int8 and int4 bit layout', () => {
    const w = new Float32Array(16).fill(0);
    w[0] = 127; w[1] = -127; w[2] = 1; w[9] = -1;
    const q8 = quantizeInt8(w, 1, 16, 16);
    expect(q8.scales[0]).toBe(1);
    expect(q8.q[0]).toBe((127 | (0x81 << 8) | (1 << 16)) >>> 0);
    expect(q8.q[2]).toBe(0xff00);
    const w4 = new Float32Array(16).fill(0);
    w4[0] = 7; w4[1] = -7; w4[15] = 1;
    const q4 = quantizeInt4(w4, 1, 16, 8);
    expect(q4.scales[0]).toBe(1);
    expect(q4.q[0]).toBe(0x8888881f);
    expect(q4.scales[1]).toBeCloseTo(1 / 7, 7);
    expect(q4.q[1] >>> 28).toBe(15);
    // padding codes are zero values
    const q4p = quantizeInt4(new Float32Array([1, 2, 3]), 1, 3, 8);
    expect(q4p.q[0] >>> 12).toBe(0x88888);
  });

  it('all-zero groups quantize to zero with scale 0', () => {
    const qw = quantizeInt8(new Float32Array(40), 1, 40, 32);
    expect(Array.from(qw.scales)).toEqual([0, 0]);
    expect(Array.from(dequantizeInt8(qw)).every((v) => v === 0)).toBe(true);
  });

  it('rejects group sizes that are not multiples of 8', () => {
    expect(() => quantizeInt4(new Float32Array(12), 1, 12, 12)).toThrow(/multiple of 8/);
  });
});
