// The malformed (and edge-case valid) files of the reference safetensors implementation's own tests
// (huggingface/safetensors, safetensors/src/tensor.rs, `mod tests`), byte for byte, each with the
// FormatError code that stands for the Rust error it expects there.
import { describe, it, expect } from 'vitest';
import { FormatError, type FormatErrorCode } from '../../src/format/errors.ts';
import { readSafetensorsHeader, readTensorAll } from '../../src/format/safetensors.ts';
import { fromArrayBuffer } from '../../src/format/bytes.ts';
import { writeSafetensors } from '../../src/format/safetensors-writer.ts';

/** Rust byte-string literal: `\xNN` escapes, everything else as ASCII. */
function b(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === 'x') {
      out.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else out.push(s.charCodeAt(i));
  }
  return Uint8Array.from(out);
}
const zeros = (n: number) => '\\x00'.repeat(n);
const I32_2x2 = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';

async function fails(bytes: Uint8Array, code: FormatErrorCode, message?: RegExp): Promise<void> {
  const err = await readSafetensorsHeader(fromArrayBuffer(bytes, 'case.safetensors')).then(
    () => null,
    (e) => e,
  );
  expect(err, 'expected a FormatError').toBeInstanceOf(FormatError);
  expect((err as FormatError).code).toBe(code);
  expect((err as FormatError).message).toMatch(/^case\.safetensors: /);
  if (message) expect((err as FormatError).message).toMatch(message);
}

describe('safetensors reference test cases (tensor.rs)', () => {
  it('test_deserialization: a 2x2 I32 tensor loads', async () => {
    const h = await readSafetensorsHeader(fromArrayBuffer(b(`<${zeros(7)}${I32_2x2}${zeros(16)}`)));
    expect([...h.tensors.keys()]).toEqual(['test']);
    expect(h.tensors.get('test')).toMatchObject({ dtype: 'I32', shape: [2, 2] });
  });

  it('test_empty_shapes_allowed: a scalar (shape []) of 4 bytes loads', async () => {
    const src = fromArrayBuffer(b(`8${zeros(7)}{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}${zeros(4)}`));
    const h = await readSafetensorsHeader(src);
    expect(h.tensors.get('test')!.shape).toEqual([]);
    expect(await readTensorAll(src, h.tensors.get('test')!)).toEqual(new Uint8Array(4));
  });

  it('test_zero_sized_tensor: shape [2, 0] with data_offsets [0, 0] loads with empty data', async () => {
    const src = fromArrayBuffer(b(`<${zeros(7)}{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}`));
    const h = await readSafetensorsHeader(src);
    expect(h.tensors.get('test')).toMatchObject({ dtype: 'I32', shape: [2, 0] });
    expect((await readTensorAll(src, h.tensors.get('test')!)).length).toBe(0);
  });

  it('test_whitespace_padded_header: trailing JSON whitespace after the object is accepted', async () => {
    const h = await readSafetensorsHeader(fromArrayBuffer(b(`\\x06${zeros(7)}{}\\x0D\\x20\\x09\\x0A`)));
    expect(h.tensors.size).toBe(0);
  });

  it('whitespace before the object is refused (reserved in the reference for 0.4.0: InvalidHeaderStart)', async () => {
    await fails(b(`\\x06${zeros(7)}\\x09\\x0A{}\\x0D\\x20`), 'HEADER_JSON', /starting with '\{'/);
  });

  it('test_header_too_large: a length field of ~2^64 (HeaderTooLarge) is refused before any allocation', async () => {
    await fails(b(`<${zeros(4)}\\xff\\xff\\xff${I32_2x2}${zeros(16)}`), 'HEADER_LENGTH', /header length 18446742974197923900 is out of range|header length \d+ is out of range/);
  });

  it('test_header_too_small: an empty file (HeaderTooSmall)', async () => {
    await fails(new Uint8Array(0), 'HEADER_LENGTH', /file is 0 bytes, too small/);
  });

  it('test_invalid_header_length: the header runs past the end of the file (InvalidHeaderLength)', async () => {
    await fails(b(`<${zeros(7)}`), 'HEADER_LENGTH', /file is 8 bytes, too small/);
    await fails(b(`<${zeros(7)}{}`), 'HEADER_LENGTH', /header length 60 is out of range: expected 1\.\.2/);
  });

  it('test_invalid_header_non_utf8: a header byte 0xff (InvalidHeader)', async () => {
    await fails(b(`\\x01${zeros(7)}\\xff`), 'HEADER_ENCODING', /not valid UTF-8/);
  });

  it('test_invalid_header_not_json: a header "{" (InvalidHeaderDeserialization)', async () => {
    await fails(b(`\\x01${zeros(7)}{`), 'HEADER_JSON', /not valid JSON/);
  });

  it('test_invalid_info: shape [2, 2] of I32 with a 4-byte span (TensorInvalidInfo)', async () => {
    await fails(b(`<${zeros(7)}{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}`), 'SIZE_MISMATCH', /shape \[2,2\] x I32 = 16 bytes but data_offsets span 4 bytes/);
  });

  it('test_validation_overflow: shapes whose element count overflows (ValidationOverflow)', async () => {
    // 18446744073709551614 and 9223372036854775807 are not exact in a double: refused as shapes
    await fails(b(`O${zeros(7)}{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}${zeros(16)}`), 'SHAPE', /shape\[1\] must be a non-negative safe integer/);
    await fails(b(`N${zeros(7)}{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}${zeros(16)}`), 'SHAPE', /shape\[1\] must be a non-negative safe integer/);
    // exact integers whose product overflows 2^53
    const h = '{"test":{"dtype":"I32","shape":[4194304,4194304,4194304],"data_offsets":[0,16]}}';
    await fails(withLength(h, 16), 'SIZE_MISMATCH', /overflows 2\^53 bytes/);
  });

  it('offset overflow: data_offsets beyond 2^53 or past the data area', async () => {
    await fails(withLength('{"test":{"dtype":"U8","shape":[16],"data_offsets":[18446744073709551600,18446744073709551616]}}', 16), 'OFFSETS');
    await fails(withLength('{"test":{"dtype":"U8","shape":[16],"data_offsets":[9007199254740990,9007199254741006]}}', 16), 'OFFSETS');
    await fails(withLength('{"test":{"dtype":"U8","shape":[16],"data_offsets":[16,32]}}', 16), 'OUT_OF_BOUNDS', /extend past the data area/);
  });

  it('test_json_attack: ten tensors all claiming data_offsets [0, 16] (InvalidOffset)', async () => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 10; i++) header[`weight_${i}`] = { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] };
    await fails(withLength(JSON.stringify(header), 16), 'OVERLAP', /overlap tensor 'weight_\d'/);
  });

  it('test_metadata_incomplete_buffer: bytes after the last tensor, or fewer bytes than it needs (MetadataIncompleteBuffer)', async () => {
    await fails(b(`<${zeros(7)}${I32_2x2}${zeros(16)}extra_bogus_data_for_polyglot_file`), 'GAP', /34 trailing bytes not covered/);
    await fails(b(`<${zeros(7)}${I32_2x2}${zeros(14)}`), 'OUT_OF_BOUNDS', /extend past the data area \(14 bytes\)/);
  });

  it('round trip of what writeSafetensors makes (the Python writer pads the header with spaces to 8 bytes)', async () => {
    const f = writeSafetensors({ a: { dtype: 'F16', shape: [3], data: new Uint8Array(6) } }, { format: 'pt' });
    const h = await readSafetensorsHeader(fromArrayBuffer(f));
    expect(h.headerLength % 8).toBe(0);
    expect(h.metadata).toEqual({ format: 'pt' });
  });
});

/** header text + `n` zero data bytes, with a correct length prefix. */
function withLength(header: string, n: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}
