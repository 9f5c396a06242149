// Browser storage for downloaded model files: the Cache API (default) or the origin-private file
// system. Entries are written by streaming, so a file never has to fit in memory; an entry exists
// only once completely written (Cache API put / OPFS writable close commit atomically).

export type CacheKind = 'cache-api' | 'opfs';

export interface CacheOptions {
  /** Keep downloaded files for the next load: 'cache-api' (default in browsers), 'opfs', or false (HTTP Range, nothing kept). */
  cache?: CacheKind | false;
}

/** The browser refused to store a model file (quota) or storage is unavailable. */
export class ModelCacheError extends Error {
  override name = 'ModelCacheError';
  constructor(readonly code: 'QUOTA' | 'UNAVAILABLE', message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What a store knows of a file: its bytes, that the model has no such file, or nothing (null). */
export type Stored = Blob | 'missing' | null;

export interface FileStore {
  readonly kind: CacheKind;
  get(modelKey: string, rel: string): Promise<Stored>;
  /** Remembers that the model has no such file (optional files: a second load asks the network nothing). */
  putMissing(modelKey: string, rel: string): Promise<void>;
  /** Stores the stream's bytes (`size` of them, -1 if unknown) and returns them as a (disk-backed) Blob. */
  put(modelKey: string, rel: string, body: ReadableStream<Uint8Array>, size: number): Promise<Blob>;
  /** Deletes every file of the model; returns how many. */
  deleteModel(modelKey: string): Promise<number>;
}

const CACHE_NAME = 'webmoe-models-v1';
const OPFS_DIR = 'webmoe-models-v1';

const isQuota = (e: unknown) => (e as { name?: string })?.name === 'QuotaExceededError';

async function quotaError(rel: string, e: unknown, kind: CacheKind): Promise<ModelCacheError> {
  let room = '';
  try {
    const est = await navigator.storage?.estimate?.();
    if (est?.quota) room = ` (this origin uses ${mb(est.usage ?? 0)} of its ${mb(est.quota)} quota)`;
  } catch {
    /* no estimate */
  }
  return new ModelCacheError('QUOTA', `webmoe: the browser refused to store ${rel} in the ${kind === 'opfs' ? 'origin-private file system' : 'Cache API'}: storage quota exceeded${room}; free space (deleteModelCache) or load with cache: false`, { cause: e });
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Cache API keys are synthetic URLs: one namespace per model, whatever its real URLs are. */
const cacheKeyPrefix = (modelKey: string) => `https://webmoe.cache.invalid/${encodeURIComponent(modelKey)}/`;

export function cacheApiStore(): FileStore {
  const caches = (globalThis as { caches?: CacheStorage }).caches;
  if (!caches) throw new ModelCacheError('UNAVAILABLE', 'webmoe: the Cache API is not available here (it needs a secure context: https or localhost); load with cache: false');
  const open = () => caches.open(CACHE_NAME);
  return {
    kind: 'cache-api',
    async get(modelKey, rel) {
      const res = await (await open()).match(cacheKeyPrefix(modelKey) + rel);
      if (!res) return null;
      if (res.headers.get('x-webmoe-missing')) return 'missing';
      const blob = await res.blob();
      const want = res.headers.get('x-webmoe-size');
      return want !== null && Number(want) !== blob.size ? null : blob;
    },
    async put(modelKey, rel, body, size) {
      const cache = await open();
      const key = cacheKeyPrefix(modelKey) + rel;
      // Streamed straight into the cache; the size header lets get() refuse a truncated entry.
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (size >= 0) headers['x-webmoe-size'] = String(size);
      try {
        await cache.put(key, new Response(body, { headers }));
      } catch (e) {
        throw isQuota(e) ? await quotaError(rel, e, 'cache-api') : e;
      }
      const blob = await this.get(modelKey, rel);
      if (!(blob instanceof Blob)) throw new ModelCacheError('UNAVAILABLE', `webmoe: ${rel} was stored in the Cache API but cannot be read back (${size} bytes expected)`);
      return blob;
    },
    async putMissing(modelKey, rel) {
      await (await open()).put(cacheKeyPrefix(modelKey) + rel, new Response('', { headers: { 'x-webmoe-missing': '1' } }));
    },
    async deleteModel(modelKey) {
      const cache = await open();
      const prefix = cacheKeyPrefix(modelKey);
      let n = 0;
      for (const req of await cache.keys()) if (req.url.startsWith(prefix) && (await cache.delete(req))) n++;
      return n;
    },
  };
}

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function opfsStore(): FileStore {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) throw new ModelCacheError('UNAVAILABLE', 'webmoe: the origin-private file system is not available here; use cache: "cache-api" or false');
  const modelDir = async (modelKey: string, create: boolean) => {
    const root = await (await storage.getDirectory()).getDirectoryHandle(OPFS_DIR, { create: true });
    return root.getDirectoryHandle(await sha256Hex(modelKey), { create });
  };
  const fileName = (rel: string) => encodeURIComponent(rel);
  return {
    kind: 'opfs',
    async get(modelKey, rel) {
      try {
        const dir = await modelDir(modelKey, false);
        try {
          return await (await dir.getFileHandle(fileName(rel))).getFile();
        } catch (e) {
          if ((e as { name?: string })?.name !== 'NotFoundError') throw e;
          await dir.getFileHandle(fileName(rel) + '.missing');
          return 'missing';
        }
      } catch (e) {
        if ((e as { name?: string })?.name === 'NotFoundError') return null;
        throw e;
      }
    },
    async put(modelKey, rel, body, size) {
      const fh = await (await modelDir(modelKey, true)).getFileHandle(fileName(rel), { create: true });
      try {
        const w = await fh.createWritable();
        await body.pipeTo(w);
      } catch (e) {
        throw isQuota(e) ? await quotaError(rel, e, 'opfs') : e;
      }
      const file = await fh.getFile();
      if (size >= 0 && file.size !== size) throw new ModelCacheError('UNAVAILABLE', `webmoe: ${rel}: stored ${file.size} bytes in the origin-private file system, expected ${size}`);
      return file;
    },
    async putMissing(modelKey, rel) {
      await (await modelDir(modelKey, true)).getFileHandle(fileName(rel) + '.missing', { create: true });
    },
    async deleteModel(modelKey) {
      const root = await (await storage.getDirectory()).getDirectoryHandle(OPFS_DIR, { create: true });
      const name = await sha256Hex(modelKey);
      let n = 0;
      try {
        const dir = (await root.getDirectoryHandle(name)) as unknown as { keys(): AsyncIterable<string> };
        for await (const _ of dir.keys()) n++;
        await root.removeEntry(name, { recursive: true });
      } catch (e) {
        if ((e as { name?: string })?.name !== 'NotFoundError') throw e;
      }
      return n;
    },
  };
}

export function openStore(kind: CacheKind): FileStore {
  return kind === 'opfs' ? opfsStore() : cacheApiStore();
}
