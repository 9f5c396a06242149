// Random-access byte sources the format layer reads from: memory, Blob/File, HTTP Range requests (Node
// files: source-node.ts), and readExact, which checks every read returns exactly the bytes asked for.
import { FormatError } from './errors.ts';

/** Random-access bytes. `read` resolves exactly `length` bytes or throws FormatError. */
export interface ByteSource {
  name: string;
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}


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

/**
 * GET a whole model file: the response when it is the file, else the FormatError that says why not
 * (fetch failed, 404/410 NOT_FOUND, another HTTP status, an HTML page where a model file should be).
 */
export async function fetchModelFile(doFetch: FetchLike, url: string, rel: string, headers?: Record<string, string>): Promise<Response> {
  let res: Response;
  try {
    res = await doFetch(url, { method: 'GET', headers });
  } catch (e) {
    throw new FormatError('IO', rel, `fetch ${url} failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
  }
  if (res.status === 404 || res.status === 410) throw new FormatError('NOT_FOUND', rel, `HTTP ${res.status} for ${url}`);
  if (!res.ok) throw new FormatError('HTTP', rel, `HTTP ${res.status} for ${url}`);
  if (isHtmlResponse(res, rel)) {
    await res.body?.cancel().catch(() => undefined);
    throw htmlNotFound(rel, url);
  }
  return res;
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

/** Read exactly `length` bytes at `offset` (every parser read goes through here): anything else is a FormatError naming the file. */
export async function readExact(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
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
