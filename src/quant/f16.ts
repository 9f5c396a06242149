// IEEE binary16 (f16) on the CPU, both ways with round-to-nearest-even: packing f16 weights on load, and
// the f16 decode table of src/format/dtype.ts (bf16 and f16 checkpoints are widened there).

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 -> IEEE f16 bit pattern (u16 in a number), round-to-nearest-even; overflow gives ±inf, NaN stays NaN. */
export function f32ToF16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // f16 subnormal (or zero): m * 2^-24.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent rounds up correctly (to inf at the top)
  return sign | h;
}

/** IEEE f16 bit pattern -> number (exact). */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Round each value to the nearest f16 and back (what the GPU sees after packF16). */
export function roundToF16(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(w[i]));
  return out;
}

/** Pack f32 values as f16 pairs: u32 word i holds element 2i in its low half and 2i+1 in its high half. */
export function packF16(w: Float32Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(w.length / 2));
  for (let i = 0; i < w.length; i += 2) {
    const lo = f32ToF16Bits(w[i]);
    const hi = i + 1 < w.length ? f32ToF16Bits(w[i + 1]) : 0;
    out[i >>> 1] = (lo | (hi << 16)) >>> 0;
  }
  return out;
}
