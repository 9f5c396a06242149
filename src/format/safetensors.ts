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

export { FormatError } from './errors.ts';

/** Random-access bytes. `read` resolves exactly `length` bytes or throws FormatError. */
export interface ByteSource {
  name: string;
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export type Dtype =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

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
// Byte sources
// ---------------------------------------------------------------------------------------------

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new FormatError('IO', name, `read of ${length} bytes at offset ${offset} is outside the file (${size} bytes)`);
  }
}

export function fromArrayBuffer(data: ArrayBuffer | Uint8Array, name = 'buffer'): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

export function fromBlob(blob: Blob, name?: string): ByteSource {
  const n = name ?? ((blob as { name?: unknown }).name && typeof (blob as { name?: unknown }).name === 'string' ? (blob as File).name : 'blob');
  return {
    name: n,
    size: blob.size,
    async read(offset, length) {
      checkRange(n, blob.size, offset, length);
      if (length === 0) return new Uint8Array(0);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw new FormatError('IO', n, `reading ${length} bytes at offset ${offset} failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
      }
      if (buf.byteLength !== length) throw new FormatError('IO', n, `read of ${length} bytes at offset ${offset} returned ${buf.byteLength} bytes`);
      return new Uint8Array(buf);
    },
  };
}

export type FetchLike = (input: string, init?: { method?: string; headers?: Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export interface UrlSourceOptions {
  /** Injected fetch (tests, auth wrappers). Defaults to globalThis.fetch. */
  fetch?: FetchLike;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** If the server ignores Range, accept the whole body only when it is at most this many bytes (default 16 MiB). */
  maxUnrangedBytes?: number;
  /** Display name; defaults to the last path segment of the URL. */
  name?: string;
  /**
   * If the server ignores Range on a larger body, read it as one Blob instead of failing (browsers
   * keep large Blobs on disk; in Node a Blob is memory, so this stays off there).
   */
  blobFallback?: boolean;
}

/** An HTML page where a model file was asked for: a server's index.html fallback for unknown paths. */
export function isHtmlResponse(res: Response, rel: string): boolean {
  return /^\s*text\/html\b/i.test(res.headers.get('content-type') ?? '') && !/\.html?$/i.test(rel);
}

export function htmlNotFound(name: string, url: string): FormatError {
  return new FormatError('NOT_FOUND', name, `${url} answered with an HTML page, not the file (the server's index.html fallback for a missing file?)`);
}

function urlName(url: string): string {
  try {
    const p = new URL(url, 'http://x/').pathname;
    const last = p.split('/').filter(Boolean).pop();
    return last ? decodeURIComponent(last) : url;
  } catch {
    return url;
  }
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    /* ignore */
  }
}

/**
 * HTTP source using Range requests. The size comes from a `Range: bytes=0-0` GET (Content-Range
 * total); if the server answers 200 (Range ignored) the body is accepted only when small
 * (maxUnrangedBytes), otherwise a RANGE_UNSUPPORTED error is thrown.
 */
export async function fromUrl(url: string, options: UrlSourceOptions = {}): Promise<ByteSource> {
  const doFetch: FetchLike = options.fetch ?? ((u, i) => globalThis.fetch(u, i));
  const name = options.name ?? urlName(url);
  const maxUnranged = options.maxUnrangedBytes ?? 16 * 1024 * 1024;
  const baseHeaders = options.headers ?? {};
  const get = async (range: string): Promise<Response> => {
    try {
      return await doFetch(url, { method: 'GET', headers: { ...baseHeaders, Range: range } });
    } catch (e) {
      throw new FormatError('IO', name, `fetch ${url} failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
    }
  };

  const first = await get('bytes=0-0');
  if (first.ok && isHtmlResponse(first, name)) {
    await discard(first);
    throw htmlNotFound(name, url);
  }
  let size: number;
  if (first.status === 206 || first.status === 416) {
    const cr = first.headers.get('content-range');
    await discard(first);
    const m = cr ? /^bytes\s+(?:\d+-\d+|\*)\/(\d+)\s*$/i.exec(cr) : null;
    if (!m) {
      throw new FormatError('HTTP', name, `HTTP ${first.status} without a readable Content-Range total (got ${cr === null ? 'none' : JSON.stringify(cr)}); cross-origin servers must expose Content-Range`);
    }
    size = Number(m[1]);
    if (!Number.isSafeInteger(size)) throw new FormatError('HTTP', name, `Content-Range total ${m[1]} is not a safe integer`);
  } else if (first.status === 200) {
    const cl = first.headers.get('content-length');
    const declared = cl !== null && /^\d+$/.test(cl.trim()) ? Number(cl) : NaN;
    if (!(declared <= maxUnranged) && options.blobFallback) return fromBlob(await first.blob(), name);
    if (!(declared <= maxUnranged)) {
      await discard(first);
      const what = Number.isFinite(declared) ? `${declared} bytes` : 'unknown size';
      throw new FormatError('RANGE_UNSUPPORTED', name, `server does not support HTTP Range requests (answered 200 with the whole body, ${what}; at most ${maxUnranged} bytes accepted without Range)`);
    }
    const body = new Uint8Array(await first.arrayBuffer());
    if (body.byteLength > maxUnranged) {
      throw new FormatError('RANGE_UNSUPPORTED', name, `server does not support HTTP Range requests (whole body is ${body.byteLength} bytes; at most ${maxUnranged} bytes accepted without Range)`);
    }
    return fromArrayBuffer(body, name);
  } else if (first.status === 404 || first.status === 410) {
    await discard(first);
    throw new FormatError('NOT_FOUND', name, `HTTP ${first.status} for ${url}`);
  } else {
    await discard(first);
    throw new FormatError('HTTP', name, `HTTP ${first.status} for ${url} (expected 206 Partial Content)`);
  }

  return {
    name,
    size,
    async read(offset, length) {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      const res = await get(`bytes=${offset}-${offset + length - 1}`);
      if (res.status !== 206) {
        await discard(res);
        if (res.status === 200) throw new FormatError('RANGE_UNSUPPORTED', name, `server does not support HTTP Range requests (answered 200 to bytes=${offset}-${offset + length - 1})`);
        throw new FormatError('HTTP', name, `HTTP ${res.status} for bytes=${offset}-${offset + length - 1} (expected 206)`);
      }
      const buf = new Uint8Array(await res.arrayBuffer());
      if (buf.byteLength !== length) {
        throw new FormatError('IO', name, `range bytes=${offset}-${offset + length - 1} returned ${buf.byteLength} bytes, expected ${length}`);
      }
      return buf;
    },
  };
}

/** Wraps a source so every read is checked to return exactly the bytes asked for. */
async function readExact(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw new FormatError('IO', src.name, `read of ${length} bytes at offset ${offset} is outside the file (${src.size} bytes)`);
  }
  let out: Uint8Array;
  try {
    out = await src.read(offset, length);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError('IO', src.name, `read of ${length} bytes at offset ${offset} failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
  }
  if (!(out instanceof Uint8Array) || out.byteLength !== length) {
    throw new FormatError('IO', src.name, `read of ${length} bytes at offset ${offset} returned ${out?.byteLength} bytes`);
  }
  return out;
}

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

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    let v: number;
    if (e === 0) v = m * 2 ** -24;
    else if (e === 31) v = m ? NaN : Infinity;
    else v = (1 + m / 1024) * 2 ** (e - 15);
    t[h] = s * v;
  }
  return t;
})();

function e4m3(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN; // E4M3FN: no infinities
  if (e === 0) return s * m * 2 ** -9;
  return s * (1 + m / 8) * 2 ** (e - 7);
}

/** Converts raw little-endian bytes of `dtype` to Float32 (64-bit integers lose precision past 2^24). */
export function bytesToF32(bytes: Uint8Array, dtype: Dtype): Float32Array {
  const size = DTYPE_SIZE[dtype];
  const n = Math.floor(bytes.byteLength / size);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) out.set(new Float32Array(bytes.slice(0, n * 4).buffer));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = F16_TABLE[dv.getUint16(i * 2, true)];
      break;
    case 'BF16': {
      const u = new Uint32Array(out.buffer);
      // Typed arrays share the host's byte order, so writing the bit pattern through a Uint32 view is portable.
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    case 'F8_E5M2':
      for (let i = 0; i < n; i++) out[i] = F16_TABLE[bytes[i] << 8];
      break;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = e4m3(bytes[i]);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      break;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      break;
  }
  return out;
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

// ---------------------------------------------------------------------------------------------
// Writer (tests, tools): builds a valid safetensors file in memory.
// ---------------------------------------------------------------------------------------------

export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

/** Serialises tensors (in the given order, contiguous) with the header padded to 8 bytes, like the Python writer. */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json: Uint8Array = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}
