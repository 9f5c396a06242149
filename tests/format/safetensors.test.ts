import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/format/errors.ts';
import { readSafetensorsHeader, readTensorAll, readTensorBytes, readTensorF32 } from '../../src/format/safetensors.ts';
import { fromArrayBuffer, fromBlob, type ByteSource } from '../../src/format/bytes.ts';
import { writeSafetensors } from '../../src/format/safetensors-writer.ts';
import { bytesToF32 } from '../../src/format/dtype.ts';

/** A file from a raw header (object or string) and `dataLen` data bytes; header length field optional override. */
function raw(header: unknown, dataLen: number, lengthField?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

async function parseErr(bytes: Uint8Array, name = 'model.safetensors', opts = {}): Promise<FormatError> {
  try {
    await readSafetensorsHeader(fromArrayBuffer(bytes, name), opts);
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors header', () => {
  it('parses a valid file written by writeSafetensors', async () => {
    const file = writeSafetensors(
      { a: { dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3, 4) }, b: { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) }, e: { dtype: 'F16', shape: [0, 5], data: new Uint8Array(0) } },
      { format: 'pt' },
    );
    const src = fromArrayBuffer(file, 'x.safetensors');
    const h = await readSafetensorsHeader(src);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect([...h.tensors.keys()]).toEqual(['a', 'b', 'e']);
    const a = h.tensors.get('a')!;
    expect(a).toMatchObject({ dtype: 'F32', shape: [2, 2], begin: h.dataStart, end: h.dataStart + 16 });
    expect(h.headerLength % 8).toBe(0);
    expect([...(await readTensorF32(src, a))]).toEqual([1, 2, 3, 4]);
    expect([...(await readTensorF32(src, h.tensors.get('b')!))]).toEqual([7, 8, 9]);
    expect((await readTensorF32(src, h.tensors.get('e')!)).length).toBe(0);
  });

  it('exact messages for each error class', async () => {
    const cases: [Uint8Array, string, string][] = [
      [new Uint8Array(5), 'HEADER_LENGTH', 'model.safetensors: file is 5 bytes, too small for a safetensors header (at least 9)'],
      [raw('{}', 0, 0n), 'HEADER_LENGTH', 'model.safetensors: header length 0 is out of range: expected 1..2 (file is 10 bytes, cap 104857600)'],
      [raw('{}', 0, 1n << 62n), 'HEADER_LENGTH', 'model.safetensors: header length 4611686018427387904 is out of range: expected 1..2 (file is 10 bytes, cap 104857600)'],
      [raw('{}', 4, 7n), 'HEADER_LENGTH', 'model.safetensors: header length 7 is out of range: expected 1..6 (file is 14 bytes, cap 104857600)'],
      [(() => { const b = raw('{"a":1}', 0); b[10] = 0xff; return b; })(), 'HEADER_ENCODING', 'model.safetensors: header (7 bytes) is not valid UTF-8'],
      [raw('[1,2]', 0), 'HEADER_JSON', "model.safetensors: header must be a JSON object starting with '{'"],
      [raw('{"a":', 0), 'HEADER_JSON', 'model.safetensors: header is not valid JSON'],
      [raw({ __metadata__: { a: 1 } }, 0), 'METADATA', "model.safetensors: __metadata__['a'] must be a string, got number 1"],
      [raw({ __metadata__: [] }, 0), 'METADATA', 'model.safetensors: __metadata__ must be an object of strings, got an array'],
      [raw({ w: 5 }, 0), 'ENTRY', "model.safetensors: tensor 'w': entry must be an object {dtype, shape, data_offsets}, got number 5"],
      [raw({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 1), 'DTYPE', "model.safetensors: tensor 'w': unknown dtype \"Q4\"; expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2"],
      [raw({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), 'SHAPE', "model.safetensors: tensor 'w': shape[0] must be a non-negative safe integer, got number -1"],
      [raw({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), 'SHAPE', "model.safetensors: tensor 'w': shape[0] must be a non-negative safe integer, got number 1.5"],
      [raw({ w: { dtype: 'F32', shape: 4, data_offsets: [0, 4] } }, 4), 'SHAPE', "model.safetensors: tensor 'w': shape must be an array of non-negative integers, got number 4"],
      [raw({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4), 'OFFSETS', "model.safetensors: tensor 'w': data_offsets [4, 0] have begin > end"],
      [raw({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), 'OFFSETS', "model.safetensors: tensor 'w': data_offsets must be [begin, end], got an array"],
      [raw({ 'model.layers.0.mlp.gate.weight': { dtype: 'F32', shape: [8, 64], data_offsets: [0, 2040] } }, 2040), 'SIZE_MISMATCH', "model.safetensors: tensor 'model.layers.0.mlp.gate.weight': shape [8,64] x F32 = 2048 bytes but data_offsets span 2040 bytes"],
      [raw({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, 4), 'SIZE_MISMATCH', "model.safetensors: tensor 'w': shape [1073741824,1073741824,1073741824] x F32 overflows 2^53 bytes but data_offsets span 4 bytes"],
      [raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), 'OUT_OF_BOUNDS', "model.safetensors: tensor 'w': data_offsets [0, 8] extend past the data area (4 bytes)"],
      [raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'OVERLAP', "model.safetensors: tensor 'b': data_offsets [4, 8] overlap tensor 'a' [0, 8]"],
      [raw({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'GAP', "model.safetensors: tensor 'a': data_offsets begin at 4 but the previous tensor ends at 0: 4 bytes not covered by any tensor"],
      [raw({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 6), 'GAP', 'model.safetensors: tensor data ends at 4 but the data area is 6 bytes: 2 trailing bytes not covered by any tensor'],
      [raw({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, 4), 'ENTRY', "model.safetensors: tensor 'a': unexpected field 'extra' (expected dtype, shape, data_offsets)"],
    ];
    for (const [bytes, code, msg] of cases) {
      const e = await parseErr(bytes);
      expect(e.code, msg).toBe(code);
      expect(e.file).toBe('model.safetensors');
      if (code === 'HEADER_JSON' && msg.endsWith('JSON')) expect(e.message.startsWith(msg)).toBe(true);
      else expect(e.message).toBe(msg);
      expect(e.message).not.toContain('\n');
    }
  });

  it('error carries the tensor name', async () => {
    const e = await parseErr(raw({ 'w.x': { dtype: 'F32', shape: [1], data_offsets: [0, 3] } }, 3));
    expect(e.tensor).toBe('w.x');
    expect(e.name).toBe('FormatError');
  });

  it('allowGaps accepts holes and trailing bytes but never overlaps', async () => {
    const gappy = raw({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 12);
    const h = await readSafetensorsHeader(fromArrayBuffer(gappy), { allowGaps: true });
    expect(h.tensors.get('a')!.begin).toBe(h.dataStart + 4);
    const e = await parseErr(raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'U8', shape: [1], data_offsets: [7, 8] } }, 8), 'f', { allowGaps: true });
    expect(e.code).toBe('OVERLAP');
  });

  it('zero-length tensors and a header-only file', async () => {
    await readSafetensorsHeader(fromArrayBuffer(raw({}, 0)));
    await readSafetensorsHeader(fromArrayBuffer(raw({ a: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, b: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 2)));
  });

  it('does not allocate for a huge header length', async () => {
    const asked: number[] = [];
    const bytes = raw('{}', 0, 2n ** 40n);
    const base = fromArrayBuffer(bytes);
    const src: ByteSource = { name: 'm', size: base.size, read: (o, l) => (asked.push(l), base.read(o, l)) };
    await expect(readSafetensorsHeader(src)).rejects.toThrow(FormatError);
    expect(asked).toEqual([8]);
  });

  it('a short read from a source is a FormatError', async () => {
    const file = writeSafetensors({ a: { dtype: 'U8', shape: [4], data: new Uint8Array(4) } });
    const src: ByteSource = { name: 's', size: file.length, read: async (o, l) => file.subarray(o, o + l - 1) };
    await expect(readSafetensorsHeader(src)).rejects.toThrow(/s: read of 8 bytes at offset 0 returned 7 bytes/);
    const src2: ByteSource = { name: 's2', size: file.length, read: async () => { throw new TypeError('boom'); } };
    await expect(readSafetensorsHeader(src2)).rejects.toThrow(FormatError);
  });
});

describe('tensor data', () => {
  it('streams in chunks and matches a whole read', async () => {
    const data = new Uint8Array(1000).map((_, i) => (i * 7) & 255);
    const file = writeSafetensors({ x: { dtype: 'U8', shape: [10, 100], data } });
    const src = fromBlob(new Blob([file as Uint8Array<ArrayBuffer>]), 'x.safetensors');
    const h = await readSafetensorsHeader(src);
    const got = new Uint8Array(1000);
    const offs: number[] = [];
    await readTensorBytes(src, h.tensors.get('x')!, { chunkSize: 300, onChunk: (b, o) => { got.set(b, o); offs.push(o); } });
    expect(offs).toEqual([0, 300, 600, 900]);
    expect(got).toEqual(data);
    expect(await readTensorAll(src, h.tensors.get('x')!)).toEqual(data);
    await expect(readTensorAll(src, h.tensors.get('x')!, 999)).rejects.toThrow("x.safetensors: tensor 'x': 1000 bytes exceed the 999-byte cap");
    await expect(readTensorF32(src, h.tensors.get('x')!, { maxElements: 10 })).rejects.toThrow(/1000 elements exceed the 10-element cap/);
  });

  it('converts dtypes to f32', () => {
    const le = (arr: ArrayBufferView) => new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    expect([...bytesToF32(le(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001])), 'F16')]).toEqual([1, -2, Infinity, 2 ** -24]);
    expect([...bytesToF32(le(new Uint16Array([0x3f80, 0xbfc0])), 'BF16')]).toEqual([1, -1.5]);
    expect([...bytesToF32(le(new Float64Array([0.5, -3])), 'F64')]).toEqual([0.5, -3]);
    expect([...bytesToF32(le(new BigInt64Array([-5n, 7n])), 'I64')]).toEqual([-5, 7]);
    expect([...bytesToF32(le(new Int8Array([-1, 2])), 'I8')]).toEqual([-1, 2]);
    expect([...bytesToF32(le(new Int32Array([-9])), 'I32')]).toEqual([-9]);
    expect([...bytesToF32(new Uint8Array([0x38, 0xb8, 0x7e, 0x01]), 'F8_E4M3')]).toEqual([1, -1, 448, 2 ** -9]);
    expect(Number.isNaN(bytesToF32(new Uint8Array([0x7f]), 'F8_E4M3')[0])).toBe(true);
    expect([...bytesToF32(new Uint8Array([0x3c, 0xc0]), 'F8_E5M2')]).toEqual([1, -2]);
    // unaligned F32
    const buf = new Uint8Array(9);
    buf.set(f32(1.25, -2), 1);
    expect([...bytesToF32(buf.subarray(1), 'F32')]).toEqual([1.25, -2]);
  });
});
