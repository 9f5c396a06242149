// Row-major weight packing for the matmul kernels (W[rows=N out channels, cols=K in channels], the HF
// nn.Linear [out, in] layout). Every format pads each ROW to `kPad` elements (zeros; zero codes for the
// quantized formats), so no 8-element block or quantization group straddles two rows:
//   f32, f16: kPad = K rounded up to a multiple of 8
//   int8, int4: kPad = K rounded up to a multiple of the group size (group itself a multiple of 8)
// Layouts (all little-endian, element k of row n at flat index n*kPad + k):
//   f32:  Float32Array [N, kPad]
//   f16:  u32 words [N, kPad/2]; word i of a row holds element 2i in its low half, 2i+1 in its high half
//   int8: u32 words [N, kPad/4]; byte j of word i = element 4i+j as a signed (two's complement) int8 in
//         [-127, 127]; scales: Float32Array [N, kPad/group]; value = q * scale, scale = max|w|/127
//   int4: u32 words [N, kPad/8]; nibble j (bits 4j..4j+3) of word i = element 8i+j stored as q+8 with q in
//         [-7, 7] (nibble 8 = zero); scales: Float32Array [N, kPad/group]; value = q * scale, scale = max|w|/7
import { f32ToF16Bits, f16BitsToF32 } from './f16.ts';

export const WEIGHT_FORMATS = ['f32', 'f16', 'int8', 'int4'] as const;
export type WeightFormat = (typeof WEIGHT_FORMATS)[number];

/** The WGSL defines that select a weight format, the same names in every weight-reading shader (matmul, moe_ffn). */
export function weightFormatDefines(format: WeightFormat): Record<'FMT_F32' | 'FMT_F16' | 'FMT_I8' | 'FMT_I4' | 'SCALES', boolean> {
  return {
    FMT_F32: format === 'f32',
    FMT_F16: format === 'f16',
    FMT_I8: format === 'int8',
    FMT_I4: format === 'int4',
    SCALES: format === 'int8' || format === 'int4',
  };
}

export interface QuantizedWeight {
  /** Packed codes (see the layout notes above). */
  q: Uint32Array;
  /** Per-group scales [rows, kPad/group]. */
  scales: Float32Array;
  rows: number;
  cols: number;
  /** Padded row length in elements (a multiple of group). */
  kPad: number;
  group: number;
}

export function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Padded row length (elements) used by `format` for K columns. */
export function paddedCols(format: WeightFormat, cols: number, group = 32): number {
  if (format === 'f32' || format === 'f16') return roundUp(cols, 8);
  checkGroup(group);
  return roundUp(cols, group);
}

function checkGroup(group: number): void {
  if (!Number.isInteger(group) || group < 8 || group % 8 !== 0) {
    throw new Error(`webmoe: quantization group must be a positive multiple of 8 (got ${group})`);
  }
}

/** f32 matrix [rows, cols] copied to [rows, kPad] with zero padding (kPad defaults to roundUp(cols, 8)). */
export function padRowsF32(w: Float32Array, rows: number, cols: number, kPad = roundUp(cols, 8)): Float32Array {
  if (w.length < rows * cols) throw new Error(`webmoe: weight has ${w.length} values, expected ${rows}x${cols}`);
  if (kPad === cols) return w.length === rows * cols ? w : w.slice(0, rows * cols);
  const out = new Float32Array(rows * kPad);
  for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols, r * cols + cols), r * kPad);
  return out;
}

/** f32 matrix [rows, cols] -> packed f16 [rows, kPad/2] u32 words (kPad defaults to roundUp(cols, 8)). */
export function packF16Rows(w: Float32Array, rows: number, cols: number, kPad = roundUp(cols, 8)): Uint32Array {
  if (kPad % 2) throw new Error('webmoe: f16 row length must be even');
  const out = new Uint32Array((rows * kPad) / 2);
  const h = new Uint16Array(out.buffer);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) h[r * kPad + c] = f32ToF16Bits(w[r * cols + c]);
  }
  return out;
}

function groupScales(w: Float32Array, rows: number, cols: number, group: number, qmax: number): { scales: Float32Array; kPad: number } {
  const kPad = roundUp(cols, group);
  const gpr = kPad / group;
  const scales = new Float32Array(rows * gpr);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gpr; g++) {
      let amax = 0;
      const end = Math.min(cols, (g + 1) * group);
      for (let c = g * group; c < end; c++) amax = Math.max(amax, Math.abs(w[r * cols + c]));
      scales[r * gpr + g] = amax / qmax;
    }
  }
  return { scales, kPad };
}

function quantCode(v: number, scale: number, qmax: number): number {
  if (!(scale > 0)) return 0;
  return Math.max(-qmax, Math.min(qmax, Math.round(v / scale)));
}

/** Symmetric per-group int8 quantization of W [rows, cols] (scale = max|w|/127 per group of `group` columns). */
export function quantizeInt8(w: Float32Array, rows: number, cols: number, group = 32): QuantizedWeight {
  checkGroup(group);
  const { scales, kPad } = groupScales(w, rows, cols, group, 127);
  const gpr = kPad / group;
  const q = new Uint32Array((rows * kPad) / 4);
  const b = new Int8Array(q.buffer);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) b[r * kPad + c] = quantCode(w[r * cols + c], scales[r * gpr + ((c / group) | 0)], 127);
  }
  return { q, scales, rows, cols, kPad, group };
}

/** Symmetric per-group int4 quantization (scale = max|w|/7; codes q+8 in nibbles, 8 per u32). */
export function quantizeInt4(w: Float32Array, rows: number, cols: number, group = 32): QuantizedWeight {
  checkGroup(group);
  const { scales, kPad } = groupScales(w, rows, cols, group, 7);
  const gpr = kPad / group;
  const q = new Uint32Array((rows * kPad) / 8).fill(0x88888888);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = quantCode(w[r * cols + c], scales[r * gpr + ((c / group) | 0)], 7) + 8;
      const idx = r * kPad + c;
      const word = idx >>> 3;
      const sh = (idx & 7) * 4;
      q[word] = ((q[word] & ~(0xf << sh)) | (code << sh)) >>> 0;
    }
  }
  return { q, scales, rows, cols, kPad, group };
}

/** int8 codes x scales -> f32 [rows, cols], computed as f32(q) * scale exactly like the kernels. */
export function dequantizeInt8(qw: QuantizedWeight): Float32Array {
  const { q, scales, rows, cols, kPad, group } = qw;
  const b = new Int8Array(q.buffer, q.byteOffset, q.length * 4);
  const gpr = kPad / group;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.fround(b[r * kPad + c] * scales[r * gpr + ((c / group) | 0)]);
  }
  return out;
}

/** int4 codes x scales -> f32 [rows, cols]. */
export function dequantizeInt4(qw: QuantizedWeight): Float32Array {
  const { q, scales, rows, cols, kPad, group } = qw;
  const gpr = kPad / group;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const idx = r * kPad + c;
      const code = ((q[idx >>> 3] >>> ((idx & 7) * 4)) & 0xf) - 8;
      out[r * cols + c] = Math.fround(code * scales[r * gpr + ((c / group) | 0)]);
    }
  }
  return out;
}
