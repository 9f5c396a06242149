/**
 * Strict safetensors reader over a random-access ByteSource (memory, Blob/File, HTTP Range, Node file).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data area [8+N, size).
 * Checks (each failure is a FormatError naming the file and tensor):
 *  - 1 <= N <= min(MAX_HEADER_BYTES, size-8), checked before anything is allocated (a 1-byte header
 *    then fails the UTF-8 / JSON checks, as in the reference Rust implementation);
 *  - header is valid UTF-8 (fatal decoder) and a JSON object; optional `__metadata__` string->string map;
 *  - every entry has a known dtype, a shape of non-negative safe integers, data_offsets [begin, end]
 *    with begin <= end, and prod(shape) * dtypeSize == end - begin (overflow-guarded);
 *  - every span lies in the data area, spans do not overlap.
 *  - Gaps: by default strict, like the reference Rust implementation: the spans, sorted, must tile the
 *    data area exactly (no holes, no trailing bytes). `allowGaps: true` accepts holes and trailing bytes
 *    (never overlaps).
 * Note on duplicate JSON keys: JSON.parse keeps the last; the first entry's span then becomes a gap, so
 * the strict gap check rejects such files unless both entries describe the same span.
 */
import { FormatError } from './errors.ts';
import { readExact, type ByteSource } from './bytes.ts';
import { DTYPE_SIZE, bytesToF32, type Dtype } from './dtype.ts';

export { FormatError } from './errors.ts';

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offsets in the file: [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Tensors in header order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  headerLength: number;
  /** First byte of the data area (8 + headerLength). */
  dataStart: number;
}

export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

export interface ReadHeaderOptions {
  /** Accept holes between spans and trailing bytes after the last span (default false: strict). */
  allowGaps?: boolean;
  /** Header size cap (default 100 MiB). */
  maxHeaderBytes?: number;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  return typeof v;
}

export async function readSafetensorsHeader(src: ByteSource, options: ReadHeaderOptions = {}): Promise<SafetensorsHeader> {
  const file = src.name;
  const size = src.size;
  const maxHeader = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(size) || size < 0) throw new FormatError('IO', file, `invalid file size ${size}`);
  if (size < 8 + 1) throw new FormatError('HEADER_LENGTH', file, `file is ${size} bytes, too small for a safetensors header (at least 9)`);
  const lenBytes = await readExact(src, 0, 8);
  const lenView = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8);
  const lo = lenView.getUint32(0, true);
  const hi = lenView.getUint32(4, true);
  const limit = Math.min(maxHeader, size - 8);
  // hi > 0 means N >= 2^32, far beyond any allowed cap.
  const n = hi === 0 ? lo : Number.POSITIVE_INFINITY;
  if (n < 1 || n > limit) {
    const shown = hi === 0 ? String(lo) : (BigInt(hi) * 2n ** 32n + BigInt(lo)).toString();
    throw new FormatError('HEADER_LENGTH', file, `header length ${shown} is out of range: expected 1..${limit} (file is ${size} bytes, cap ${maxHeader})`);
  }
  const headerBytes = await readExact(src, 8, n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new FormatError('HEADER_ENCODING', file, `header (${n} bytes) is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw new FormatError('HEADER_JSON', file, `header must be a JSON object starting with '{'`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError('HEADER_JSON', file, `header is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isPlainObject(json)) throw new FormatError('HEADER_JSON', file, `header must be a JSON object, got ${describe(json)}`);

  const dataStart = 8 + n;
  const dataSize = size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();

  for (const key of Object.keys(json)) {
    const entry = json[key];
    if (key === '__metadata__') {
      if (!isPlainObject(entry)) throw new FormatError('METADATA', file, `__metadata__ must be an object of strings, got ${describe(entry)}`);
      for (const mk of Object.keys(entry)) {
        const mv = entry[mk];
        if (typeof mv !== 'string') throw new FormatError('METADATA', file, `__metadata__['${mk}'] must be a string, got ${describe(mv)}`);
        metadata[mk] = mv;
      }
      continue;
    }
    tensors.set(key, parseEntry(file, key, entry, dataStart, dataSize));
  }

  // Spans: no overlaps; by default no gaps either.
  const spans = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  let prev: TensorInfo | undefined;
  for (const t of spans) {
    if (t.begin < cursor) {
      throw new FormatError('OVERLAP', file, `data_offsets [${t.begin - dataStart}, ${t.end - dataStart}] overlap tensor '${prev!.name}' [${prev!.begin - dataStart}, ${prev!.end - dataStart}]`, t.name);
    }
    if (t.begin > cursor && !options.allowGaps) {
      throw new FormatError('GAP', file, `data_offsets begin at ${t.begin - dataStart} but the previous tensor ends at ${cursor - dataStart}: ${t.begin - cursor} bytes not covered by any tensor`, t.name);
    }
    // Zero-length spans do not move the cursor; they may sit anywhere inside the data area.
    if (t.end > cursor) {
      cursor = t.end;
      prev = t;
    } else if (prev === undefined) {
      prev = t;
    }
  }
  if (cursor !== size && !options.allowGaps) {
    throw new FormatError('GAP', file, `tensor data ends at ${cursor - dataStart} but the data area is ${dataSize} bytes: ${size - cursor} trailing bytes not covered by any tensor`);
  }
  return { tensors, metadata, headerLength: n, dataStart };
}

function parseEntry(file: string, name: string, entry: unknown, dataStart: number, dataSize: number): TensorInfo {
  if (!isPlainObject(entry)) throw new FormatError('ENTRY', file, `entry must be an object {dtype, shape, data_offsets}, got ${describe(entry)}`, name);
  const dtype = entry.dtype;
  if (typeof dtype !== 'string') throw new FormatError('ENTRY', file, `dtype must be a string, got ${describe(dtype)}`, name);
  if (!Object.prototype.hasOwnProperty.call(DTYPE_SIZE, dtype)) {
    throw new FormatError('DTYPE', file, `unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_SIZE).join(', ')}`, name);
  }
  const elemSize = DTYPE_SIZE[dtype as Dtype];
  const shape = entry.shape;
  if (!Array.isArray(shape)) throw new FormatError('SHAPE', file, `shape must be an array of non-negative integers, got ${describe(shape)}`, name);
  if (shape.length > 64) throw new FormatError('SHAPE', file, `shape has ${shape.length} dimensions (at most 64)`, name);
  let elements = 1;
  let overflow = false;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new FormatError('SHAPE', file, `shape[${i}] must be a non-negative safe integer, got ${describe(d)}`, name);
    }
  }
  if (shape.includes(0)) elements = 0;
  else {
    for (const d of shape as number[]) {
      if (elements > Number.MAX_SAFE_INTEGER / d) {
        overflow = true;
        break;
      }
      elements *= d;
    }
  }
  const offs = entry.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2) {
    throw new FormatError('OFFSETS', file, `data_offsets must be [begin, end], got ${describe(offs)}`, name);
  }
  const [b, e] = offs;
  if (typeof b !== 'number' || typeof e !== 'number' || !Number.isSafeInteger(b) || !Number.isSafeInteger(e) || b < 0 || e < 0) {
    throw new FormatError('OFFSETS', file, `data_offsets must be non-negative safe integers, got [${describe(b)}, ${describe(e)}]`, name);
  }
  if (b > e) throw new FormatError('OFFSETS', file, `data_offsets [${b}, ${e}] have begin > end`, name);
  const span = e - b;
  const shapeStr = `[${(shape as number[]).join(',')}]`;
  if (overflow || elements > Number.MAX_SAFE_INTEGER / elemSize) {
    throw new FormatError('SIZE_MISMATCH', file, `shape ${shapeStr} x ${dtype} overflows 2^53 bytes but data_offsets span ${span} bytes`, name);
  }
  const bytes = elements * elemSize;
  if (bytes !== span) {
    throw new FormatError('SIZE_MISMATCH', file, `shape ${shapeStr} x ${dtype} = ${bytes} bytes but data_offsets span ${span} bytes`, name);
  }
  if (e > dataSize) {
    throw new FormatError('OUT_OF_BOUNDS', file, `data_offsets [${b}, ${e}] extend past the data area (${dataSize} bytes)`, name);
  }
  for (const k of Object.keys(entry)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') {
      throw new FormatError('ENTRY', file, `unexpected field '${k}' (expected dtype, shape, data_offsets)`, name);
    }
  }
  return { name, dtype: dtype as Dtype, shape: (shape as number[]).slice(), begin: dataStart + b, end: dataStart + e };
}

// ---------------------------------------------------------------------------------------------
// Tensor data
// ---------------------------------------------------------------------------------------------

export function tensorByteLength(info: TensorInfo): number {
  return info.end - info.begin;
}

export function tensorElementCount(info: TensorInfo): number {
  return info.shape.reduce((a, b) => a * b, 1);
}

export interface ReadBytesOptions {
  /** Bytes per read (default 8 MiB). */
  chunkSize?: number;
  /** Called with each chunk in order; may return a promise (awaited before the next read). The chunk may be reused after it returns. */
  onChunk: (bytes: Uint8Array, offsetWithinTensor: number) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Streams a tensor's bytes in chunks; the whole tensor is never held in memory at once. */
export async function readTensorBytes(src: ByteSource, info: TensorInfo, options: ReadBytesOptions): Promise<void> {
  const chunk = options.chunkSize ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunk) || chunk <= 0) throw new FormatError('IO', src.name, `chunkSize must be a positive integer, got ${chunk}`, info.name);
  if (info.end > src.size) throw new FormatError('OUT_OF_BOUNDS', src.name, `span [${info.begin}, ${info.end}) is past the end of the file (${src.size} bytes)`, info.name);
  const total = info.end - info.begin;
  for (let off = 0; off < total; off += chunk) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    const len = Math.min(chunk, total - off);
    const bytes = await readExact(src, info.begin + off, len);
    await options.onChunk(bytes, off);
  }
}

/** Reads a whole (small) tensor's bytes; refuses above maxBytes (default 64 MiB). */
export async function readTensorAll(src: ByteSource, info: TensorInfo, maxBytes = 64 * 1024 * 1024): Promise<Uint8Array> {
  const total = info.end - info.begin;
  if (total > maxBytes) throw new FormatError('TOO_LARGE', src.name, `${total} bytes exceed the ${maxBytes}-byte cap for a whole-tensor read; stream it with readTensorBytes`, info.name);
  return (await readExact(src, info.begin, total)).slice();
}

export interface ReadF32Options {
  /** Refuse tensors with more elements than this (default 16M elements = 64 MiB of f32). */
  maxElements?: number;
}

/** Reads a small tensor of any dtype as Float32Array. */
export async function readTensorF32(src: ByteSource, info: TensorInfo, options: ReadF32Options = {}): Promise<Float32Array> {
  const max = options.maxElements ?? 16 * 1024 * 1024;
  const count = tensorElementCount(info);
  if (count > max) throw new FormatError('TOO_LARGE', src.name, `${count} elements exceed the ${max}-element cap of readTensorF32; stream it with readTensorBytes`, info.name);
  const bytes = await readExact(src, info.begin, info.end - info.begin);
  return bytesToF32(bytes, info.dtype);
}
