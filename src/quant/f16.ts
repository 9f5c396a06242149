// Half-precision conversions done on the CPU when weights are loaded: IEEE binary16 (f16) both ways
// with round-to-nearest-even, and bfloat16 (bf16) checkpoints widened to f32.

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

/** bfloat16 bit pattern -> number (exact: bf16 is the top half of an f32). */
export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0];
}

/** f32 -> bf16 bit pattern, round-to-nearest-even (NaN stays NaN). */
export function f32ToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A bf16 tensor (raw u16 words, e.g. from safetensors) widened to f32. */
export function bf16ToF32Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return out;
}

/** An f16 tensor (raw u16 words) widened to f32. */
export function f16ToF32Array(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  return out;
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

/** Inverse of packF16: `n` f32 values from packed f16 pairs. */
export function unpackF16(p: Uint32Array, n = p.length * 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const word = p[i >>> 1];
    out[i] = f16BitsToF32(i & 1 ? word >>> 16 : word & 0xffff);
  }
  return out;
}
