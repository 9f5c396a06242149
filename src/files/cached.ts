// CheckpointFiles over a ModelLocation that keep every file in a FileStore: the first load streams
// each file from the network into the store, later loads read it from there (no network at all).
// Weights are then read from the stored Blob, so no HTTP Range support is needed.
import { FormatError } from '../format/errors.ts';
import { fetchModelFile, fromBlob, type FetchLike } from '../format/bytes.ts';
import type { CheckpointFiles } from '../format/checkpoint.ts';
import type { LoadProgress, LoadSource } from '../api/types.ts';
import type { FileStore } from './stores.ts';
import type { ModelLocation } from './location.ts';

export interface CachedFilesOptions {
  fetch?: FetchLike;
  onProgress?: (p: LoadProgress) => void;
  /** Least time between two progress reports of one file (ms); a file's first and last always come. */
  progressIntervalMs?: number;
}

/** Running totals of the 'download' stage. */
class DownloadProgress {
  private readonly files = new Map<string, { bytes: number; total: number; done: boolean }>();

  constructor(private readonly report?: (p: LoadProgress) => void) {}

  update(file: string, from: LoadSource, bytes: number, total: number, done: boolean): void {
    this.files.set(file, { bytes, total, done });
    if (!this.report) return;
    let sum = 0;
    let totalBytes = 0;
    let nDone = 0;
    for (const f of this.files.values()) {
      sum += f.bytes;
      totalBytes += f.total >= 0 ? f.total : f.bytes;
      if (f.done) nDone++;
    }
    this.report({ stage: 'download', file, from, fileBytes: bytes, fileTotal: total, bytes: sum, totalBytes, files: nDone, totalFiles: this.files.size });
  }
}

export function cachedFiles(loc: ModelLocation, store: FileStore, opts: CachedFilesOptions = {}): CheckpointFiles {
  const doFetch: FetchLike = opts.fetch ?? ((u, i) => globalThis.fetch(u, i));
  const progress = new DownloadProgress(opts.onProgress);
  const interval = opts.progressIntervalMs ?? 50;
  const pending = new Map<string, Promise<Blob>>();

  const download = async (rel: string): Promise<Blob> => {
    const url = loc.url(rel);
    if (url === null) throw new FormatError('NOT_FOUND', rel, `not a file of ${loc.name}`);
    const hit = await store.get(loc.key, rel);
    if (hit === 'missing') throw new FormatError('NOT_FOUND', rel, `not a file of ${loc.name} (remembered in the cache)`);
    if (hit) {
      progress.update(rel, 'cache', hit.size, hit.size, true);
      return hit;
    }
    try {
      return await fetchInto(rel, url);
    } catch (e) {
      if (e instanceof FormatError && e.code === 'NOT_FOUND') await store.putMissing(loc.key, rel).catch(() => undefined);
      throw e;
    }
  };

  const fetchInto = async (rel: string, url: string): Promise<Blob> => {
    const res = await fetchModelFile(doFetch, url, rel);
    // Content-Length counts encoded bytes when the body is compressed: then the size is unknown.
    const cl = res.headers.get('content-length');
    const total = cl !== null && /^\d+$/.test(cl.trim()) && !res.headers.get('content-encoding') ? Number(cl) : -1;
    let bytes = 0;
    let last = 0;
    progress.update(rel, 'network', 0, total, false);
    const body = (res.body ?? new Response(new Uint8Array(0)).body!).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, ctl) {
          bytes += chunk.byteLength;
          const now = Date.now();
          if (now - last >= interval) {
            last = now;
            progress.update(rel, 'network', bytes, total, false);
          }
          ctl.enqueue(chunk);
        },
      }),
    );
    const blob = await store.put(loc.key, rel, body, total);
    progress.update(rel, 'network', blob.size, blob.size, true);
    return blob;
  };

  const file = (rel: string): Promise<Blob> => {
    let p = pending.get(rel);
    if (!p) {
      p = download(rel);
      pending.set(rel, p);
      p.catch(() => pending.delete(rel));
    }
    return p;
  };

  return {
    name: loc.name,
    async open(rel) {
      return fromBlob(await file(rel), rel);
    },
    async readText(rel) {
      return (await file(rel)).text();
    },
  };
}

/** Whether the store holds every file a load reads: config, tokenizer, and the index's shards or model.safetensors. */
export async function isModelStored(loc: ModelLocation, store: FileStore): Promise<boolean> {
  const has = async (rel: string) => (await store.get(loc.key, rel)) instanceof Blob;
  if (!(await has('config.json')) || !(await has('tokenizer.json'))) return false;
  const index = await store.get(loc.key, 'model.safetensors.index.json');
  if (!(index instanceof Blob)) return has('model.safetensors');
  let shards: string[];
  try {
    shards = [...new Set(Object.values((JSON.parse(await index.text()) as { weight_map: Record<string, string> }).weight_map))];
  } catch {
    return false;
  }
  for (const s of shards) if (!(await has(s))) return false;
  return true;
}
