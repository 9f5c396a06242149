/**
 * Checkpoints made of one `model.safetensors` or shards listed by `model.safetensors.index.json`
 * (hub format: {metadata: {total_size}, weight_map: {tensor: file}}), from any CheckpointFiles:
 * a Node directory (source-node.ts), a base URL, or a Map of Files (browser folder picker).
 */
import { FormatError } from './errors.ts';
import {
  readSafetensorsHeader,
  readTensorBytes as readBytes,
  readTensorF32 as readF32,
  type ReadF32Options,
  type ReadHeaderOptions,
  type TensorInfo,
} from './safetensors.ts';
import { fetchModelFile, fromBlob, fromUrl, type ByteSource, type FetchLike } from './bytes.ts';

/** A folder of model files. Missing files must throw FormatError with code 'NOT_FOUND'. */
export interface CheckpointFiles {
  name: string;
  list?(): Promise<string[]>;
  open(relPath: string): Promise<ByteSource>;
  readText(relPath: string): Promise<string>;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

/** Refuses absolute paths, '..', backslashes and empty segments in a relative path. */
export function checkRelPath(rel: string, file: string): string {
  if (
    typeof rel !== 'string' || rel === '' || rel.startsWith('/') || rel.includes('\\') || rel.includes('\0') ||
    /^[a-zA-Z]:/.test(rel) || rel.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new FormatError('INDEX', file, `unsafe or invalid relative path ${JSON.stringify(rel)}`);
  }
  return rel;
}

export interface UrlFilesOptions {
  fetch?: FetchLike;
  headers?: Record<string, string>;
  maxUnrangedBytes?: number;
  blobFallback?: boolean;
  name?: string;
}

/** Files relative to a base URL (e.g. `https://huggingface.co/org/model/resolve/main/`). */
export function filesFromUrl(baseUrl: string, options: UrlFilesOptions = {}): CheckpointFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  return filesAtUrls(options.name ?? base, (rel) => new URL(checkRelPath(rel, base), base).toString(), options);
}

/** Files each at its own URL (`urlOf` gives null for a file the model does not have): bundled assets. */
export function filesAtUrls(name: string, urlOf: (rel: string) => string | null, options: UrlFilesOptions = {}): CheckpointFiles {
  const doFetch: FetchLike = options.fetch ?? ((u, i) => globalThis.fetch(u, i));
  const resolve = (rel: string) => {
    const url = urlOf(rel);
    if (url === null) throw new FormatError('NOT_FOUND', rel, `not a file of ${name}`);
    return url;
  };
  return {
    name,
    async open(rel) {
      return fromUrl(resolve(rel), { ...options, name: rel });
    },
    async readText(rel) {
      return (await fetchModelFile(doFetch, resolve(rel), rel, options.headers)).text();
    },
  };
}

/**
 * Files picked in a browser (`<input type=file webkitdirectory>` or drag and drop). Keys are paths
 * relative to the model folder; a common leading folder (webkitRelativePath style) is stripped.
 */
export function filesFromMap(map: Map<string, Blob>, name = 'files'): CheckpointFiles {
  const keys = [...map.keys()];
  const firstSeg = (k: string) => (k.includes('/') ? k.slice(0, k.indexOf('/')) : null);
  const prefix = keys.length > 0 && keys.every((k) => firstSeg(k) !== null && firstSeg(k) === firstSeg(keys[0])) ? firstSeg(keys[0])! + '/' : '';
  const files = new Map<string, Blob>();
  for (const [k, v] of map) files.set(k.slice(prefix.length), v);
  const get = (rel: string): Blob => {
    const b = files.get(rel);
    if (!b) throw new FormatError('NOT_FOUND', rel, `not among the ${files.size} selected files`);
    return b;
  };
  return {
    name: prefix ? prefix.slice(0, -1) : name,
    async list() {
      return [...files.keys()].sort();
    },
    async open(rel) {
      return fromBlob(get(rel), rel);
    },
    async readText(rel) {
      return get(rel).text();
    },
  };
}

export interface CheckpointTensor {
  /** Shard file (relative path). */
  file: string;
  source: ByteSource;
  info: TensorInfo;
}

/** Checkpoint bytes read so far (the loader turns it into the public LoadProgress, api/types.ts). */
export interface ReadProgress {
  bytesRead: number;
  totalBytes: number;
  tensor: string;
}

export interface OpenCheckpointOptions extends ReadHeaderOptions {
  /** Called after every chunk read through the checkpoint, with cumulative bytes. */
  onProgress?: (p: ReadProgress) => void;
}

export interface Checkpoint {
  files: CheckpointFiles;
  /** Shard files in index order (one entry for a single-file checkpoint). */
  shards: string[];
  tensors: Map<string, CheckpointTensor>;
  /** __metadata__ of the shards merged, plus the index's metadata stringified. */
  metadata: Record<string, string>;
  /** Sum of the tensors' byte lengths. */
  totalBytes: number;
  /** Bytes read so far through readTensorBytes / readTensorF32. */
  readonly bytesRead: number;
  get(name: string): CheckpointTensor;
  readTensorBytes(name: string, options: { chunkSize?: number; onChunk: (bytes: Uint8Array, offsetWithinTensor: number) => void | Promise<void>; signal?: AbortSignal }): Promise<void>;
  readTensorF32(name: string, options?: ReadF32Options): Promise<Float32Array>;
  close(): Promise<void>;
}

async function tryReadText(files: CheckpointFiles, rel: string): Promise<string | null> {
  if (files.list) {
    const all = await files.list();
    if (!all.includes(rel)) return null;
  }
  try {
    return await files.readText(rel);
  } catch (e) {
    if (e instanceof FormatError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
}

export async function openCheckpoint(files: CheckpointFiles, options: OpenCheckpointOptions = {}): Promise<Checkpoint> {
  const indexText = await tryReadText(files, INDEX_FILE);
  const tensors = new Map<string, CheckpointTensor>();
  const metadata: Record<string, string> = {};
  const sources = new Map<string, ByteSource>();
  let shards: string[];

  const openShard = async (rel: string, referencedBy: string) => {
    let src: ByteSource;
    try {
      src = await files.open(rel);
    } catch (e) {
      if (e instanceof FormatError && e.code === 'NOT_FOUND') {
        throw new FormatError('NOT_FOUND', referencedBy, `shard '${rel}' does not exist in ${files.name} (${e.message})`, undefined, { cause: e });
      }
      throw e;
    }
    sources.set(rel, src);
    const header = await readSafetensorsHeader(src, options);
    Object.assign(metadata, header.metadata);
    return { src, header };
  };

  const closeAll = async () => {
    for (const s of sources.values()) await s.close?.().catch(() => undefined);
  };
  try {
    if (indexText !== null) {
      let index: unknown;
      try {
        index = JSON.parse(indexText);
      } catch (e) {
        throw new FormatError('INDEX', INDEX_FILE, `not valid JSON: ${(e as Error).message.split('\n')[0]}`);
      }
      if (typeof index !== 'object' || index === null || Array.isArray(index)) throw new FormatError('INDEX', INDEX_FILE, `expected a JSON object with weight_map`);
      const wm = (index as Record<string, unknown>).weight_map;
      if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new FormatError('INDEX', INDEX_FILE, `weight_map must be an object {tensor: file}`);
      const byShard = new Map<string, string[]>();
      for (const [t, f] of Object.entries(wm as Record<string, unknown>)) {
        if (typeof f !== 'string') throw new FormatError('INDEX', INDEX_FILE, `weight_map['${t}'] must be a file name string`, t);
        checkRelPath(f, INDEX_FILE);
        if (!byShard.has(f)) byShard.set(f, []);
        byShard.get(f)!.push(t);
      }
      if (byShard.size === 0) throw new FormatError('INDEX', INDEX_FILE, `weight_map is empty`);
      const idxMeta = (index as Record<string, unknown>).metadata;
      if (idxMeta && typeof idxMeta === 'object' && !Array.isArray(idxMeta)) {
        for (const [k, v] of Object.entries(idxMeta)) metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
      shards = [...byShard.keys()];
      for (const [rel, names] of byShard) {
        const { src, header } = await openShard(rel, INDEX_FILE);
        for (const t of names) {
          const info = header.tensors.get(t);
          if (!info) throw new FormatError('MISSING_TENSOR', INDEX_FILE, `weight_map puts it in '${rel}', but that shard's header does not list it`, t);
          tensors.set(t, { file: rel, source: src, info });
        }
      }
    } else {
      let hasSingle = true;
      if (files.list) hasSingle = (await files.list()).includes(SINGLE_FILE);
      if (!hasSingle) throw new FormatError('NOT_FOUND', files.name, `neither ${INDEX_FILE} nor ${SINGLE_FILE} found`);
      try {
        const { src, header } = await openShard(SINGLE_FILE, files.name);
        for (const [t, info] of header.tensors) tensors.set(t, { file: SINGLE_FILE, source: src, info });
      } catch (e) {
        if (e instanceof FormatError && e.code === 'NOT_FOUND' && e.file === files.name) {
          // The cause says how the server answered (404, an index.html fallback page, ...).
          throw new FormatError('NOT_FOUND', files.name, `neither ${INDEX_FILE} nor ${SINGLE_FILE} found (${e.message})`, undefined, { cause: e });
        }
        throw e;
      }
      shards = [SINGLE_FILE];
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  let totalBytes = 0;
  for (const t of tensors.values()) totalBytes += t.info.end - t.info.begin;
  let bytesRead = 0;
  const get = (name: string): CheckpointTensor => {
    const t = tensors.get(name);
    if (!t) throw new FormatError('UNKNOWN_TENSOR', files.name, `not in this checkpoint (${tensors.size} tensors)`, name);
    return t;
  };
  const report = (n: number, tensor: string) => {
    bytesRead += n;
    options.onProgress?.({ bytesRead, totalBytes, tensor });
  };

  return {
    files,
    shards,
    tensors,
    metadata,
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    get,
    async readTensorBytes(name, opts) {
      const t = get(name);
      await readBytes(t.source, t.info, {
        ...opts,
        onChunk: async (bytes, off) => {
          await opts.onChunk(bytes, off);
          report(bytes.byteLength, name);
        },
      });
    },
    async readTensorF32(name, opts) {
      const t = get(name);
      const out = await readF32(t.source, t.info, opts);
      report(t.info.end - t.info.begin, name);
      return out;
    },
    close: closeAll,
  };
}
