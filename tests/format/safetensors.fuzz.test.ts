import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/format/errors.ts';
import {
  DTYPE_SIZE, fromArrayBuffer, readSafetensorsHeader, readTensorF32, writeSafetensors,
  type ByteSource, type Dtype, type SafetensorsHeader, type TensorToWrite,
} from '../../src/format/safetensors.ts';
import { seededRandom } from '../../src/util/random.ts';


const DTYPES = Object.keys(DTYPE_SIZE) as Dtype[];

function validFile(rnd: () => number): { bytes: Uint8Array; header: Record<string, unknown> } {
  const n = Math.floor(rnd() * 5);
  const tensors: Record<string, TensorToWrite> = {};
  for (let i = 0; i < n; i++) {
    const dtype = DTYPES[Math.floor(rnd() * DTYPES.length)];
    const rank = Math.floor(rnd() * 4);
    const shape = Array.from({ length: rank }, () => Math.floor(rnd() * 5));
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Uint8Array(count * DTYPE_SIZE[dtype]).map(() => Math.floor(rnd() * 256));
    tensors[`model.layers.${i}.w${Math.floor(rnd() * 100)}`] = { dtype, shape, data };
  }
  const meta = rnd() < 0.5 ? { format: 'pt' } : undefined;
  const bytes = writeSafetensors(tensors, meta);
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  return { bytes, header };
}

function withHeader(orig: Uint8Array, origHeaderLen: number, headerText: string | Uint8Array): Uint8Array {
  const h = typeof headerText === 'string' ? new TextEncoder().encode(headerText) : headerText;
  const data = orig.subarray(8 + origHeaderLen);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function mutate(rnd: () => number, bytes: Uint8Array, header: Record<string, unknown>): { bytes: Uint8Array; dataOnly: boolean } {
  const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const pick = <T,>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const kind = Math.floor(rnd() * 12);
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  switch (kind) {
    case 0: { // flip bytes in the header
      const k = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < k; i++) out[8 + Math.floor(rnd() * hlen)] ^= 1 << Math.floor(rnd() * 8);
      return { bytes: out, dataOnly: false };
    }
    case 1: // truncate
      return { bytes: out.subarray(0, Math.floor(rnd() * out.length)), dataOnly: false };
    case 2: { // header length field
      const v = pick([0n, 1n, 2n, BigInt(hlen + 1), BigInt(hlen - 1), BigInt(hlen | 1), 2n ** 63n, 2n ** 64n - 1n, 2n ** 32n + BigInt(hlen), BigInt(Math.floor(rnd() * 2 ** 31)), 100n * 1024n * 1024n + 1n]);
      dv.setBigUint64(0, v, true);
      return { bytes: out, dataOnly: false };
    }
    case 3: { // flip bytes anywhere (including the length field)
      const k = 1 + Math.floor(rnd() * 3);
      for (let i = 0; i < k; i++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
      return { bytes: out, dataOnly: false };
    }
    case 4: { // flip data bytes only: must parse identically
      const dataLen = out.length - 8 - hlen;
      if (dataLen > 0) out[8 + hlen + Math.floor(rnd() * dataLen)] ^= 0xff;
      return { bytes: out, dataOnly: true };
    }
    case 5: { // huge / odd shapes
      if (!names.length) break;
      const h = structuredClone(header) as Record<string, { shape: unknown[] }>;
      const t = h[pick(names)];
      t.shape = [pick([2 ** 53, 2 ** 53 - 1, 1e308, -1, 0.5, '3', null, 2 ** 32, Number.MAX_SAFE_INTEGER]), ...t.shape];
      return { bytes: withHeader(bytes, hlen, JSON.stringify(h)), dataOnly: false };
    }
    case 6: { // offsets out of range / malformed
      if (!names.length) break;
      const h = structuredClone(header) as Record<string, { data_offsets: unknown }>;
      const t = h[pick(names)];
      t.data_offsets = pick([[0, 2 ** 60], [-1, 3], [5, 2], [0], [0, 1, 2], 'x', [1e400, 1e400], [out.length, out.length + 4], [2 ** 53, 2 ** 53 + 8]]);
      return { bytes: withHeader(bytes, hlen, JSON.stringify(h)), dataOnly: false };
    }
    case 7: { // overlapping spans: copy one tensor's entry under a new name
      if (!names.length) break;
      const h = structuredClone(header);
      h['dup.' + pick(names)] = structuredClone(h[pick(names)]);
      return { bytes: withHeader(bytes, hlen, JSON.stringify(h)), dataOnly: false };
    }
    case 8: { // non-UTF-8 bytes in the header
      const h = new TextEncoder().encode(JSON.stringify(header));
      const b = new Uint8Array(h.length + 2);
      b.set(h);
      const at = 1 + Math.floor(rnd() * (h.length - 1));
      b.copyWithin(at + 2, at);
      b[at] = pick([0xff, 0xc0, 0xed, 0x80]);
      b[at + 1] = pick([0xa0, 0x20, 0xff]);
      return { bytes: withHeader(bytes, hlen, b), dataOnly: false };
    }
    case 9: // not an object
      return { bytes: withHeader(bytes, hlen, pick(['[' + JSON.stringify(header) + ']', 'null', '"x"', '12', '{"a":[]}', '{"__metadata__":{"x":{}}}', '{"a":{"dtype":"F32"}}', '{"a":{"dtype":"Q8_0","shape":[],"data_offsets":[0,1]}}'])), dataOnly: false };
    case 10: { // duplicate keys (JSON.parse keeps the last)
      if (!names.length) break;
      const nm = pick(names);
      const text = JSON.stringify(header);
      const dup = `${JSON.stringify(nm)}:{"dtype":"U8","shape":[1],"data_offsets":[0,1]},`;
      return { bytes: withHeader(bytes, hlen, '{' + dup + text.slice(1)), dataOnly: false };
    }
    case 11: { // dtype change
      if (!names.length) break;
      const h = structuredClone(header) as Record<string, { dtype: string }>;
      h[pick(names)].dtype = pick([...DTYPES, 'f32', 'F4', '']);
      return { bytes: withHeader(bytes, hlen, JSON.stringify(h)), dataOnly: false };
    }
  }
  return { bytes: out, dataOnly: false };
}

/** Source that fails the test if the parser ever asks for bytes outside the file. */
function guarded(bytes: Uint8Array, log: { maxRead: number }): ByteSource {
  return {
    name: 'fuzz.safetensors',
    size: bytes.length,
    async read(offset, length) {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
        throw new Error(`unchecked read offset=${offset} length=${length} size=${bytes.length}`);
      }
      log.maxRead = Math.max(log.maxRead, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

function checkConsistent(h: SafetensorsHeader, size: number): void {
  const spans = [...h.tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = h.dataStart;
  for (const t of spans) {
    expect(t.begin).toBeGreaterThanOrEqual(cursor);
    expect(t.begin).toBe(cursor); // strict mode: no gaps
    expect(t.end - t.begin).toBe(t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype]);
    cursor = Math.max(cursor, t.end);
  }
  expect(cursor).toBe(size);
}

describe('safetensors fuzz', () => {
  it('valid results or FormatError, never anything else', async () => {
    const rnd = seededRandom(0x5eed);
    const counts = { ok: 0, err: 0 };
    const codes = new Map<string, number>();
    const t0 = performance.now();
    for (let iter = 0; iter < 4000; iter++) {
      const { bytes, header } = validFile(rnd);
      const { bytes: m, dataOnly } = mutate(rnd, bytes, header);
      const log = { maxRead: 0 };
      const src = guarded(m, log);
      try {
        const h = await readSafetensorsHeader(src);
        counts.ok++;
        checkConsistent(h, m.length);
        if (dataOnly) {
          const ref = await readSafetensorsHeader(fromArrayBuffer(bytes));
          expect([...h.tensors.entries()]).toEqual([...ref.tensors.entries()]);
        }
        for (const t of h.tensors.values()) {
          const v = await readTensorF32(src, t);
          expect(v.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
      } catch (e) {
        if (!(e instanceof FormatError)) throw new Error(`iteration ${iter}: non-FormatError ${(e as Error)?.stack ?? e}`);
        expect(e.message).toMatch(/^fuzz\.safetensors: /);
        expect(e.message).not.toContain('\n');
        counts.err++;
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
      expect(log.maxRead).toBeLessThanOrEqual(m.length);
    }
    const ms = performance.now() - t0;
    expect(counts.ok).toBeGreaterThan(300);
    expect(counts.err).toBeGreaterThan(1500);
    for (const c of ['HEADER_LENGTH', 'HEADER_ENCODING', 'HEADER_JSON', 'SHAPE', 'OFFSETS', 'SIZE_MISMATCH', 'OVERLAP', 'GAP', 'DTYPE', 'OUT_OF_BOUNDS']) {
      expect(codes.get(c) ?? 0, c).toBeGreaterThan(0);
    }
    expect(ms).toBeLessThan(5000);
  });
});
