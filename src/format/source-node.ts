/**
 * Node-only sources (node:fs). Kept apart so browser bundles never import node:fs.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import type { ByteSource } from './bytes.ts';
import type { CheckpointFiles } from './checkpoint.ts';
import { FormatError } from './errors.ts';
import { checkRelPath } from './checkpoint.ts';

/** A file opened lazily on first read; call close() when done. */
export async function fromNodeFile(path: string, name: string = nodePath.basename(path)): Promise<ByteSource> {
  let size: number;
  try {
    size = (await fsp.stat(path)).size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    throw new FormatError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', name, `cannot open ${path}: ${code ?? (e as Error)?.message}`, undefined, { cause: e });
  }
  let handle: Promise<fsp.FileHandle> | undefined;
  return {
    name,
    size,
    async read(offset, length) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new FormatError('IO', name, `read of ${length} bytes at offset ${offset} is outside the file (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      if (length === 0) return out;
      try {
        handle ??= fsp.open(path, 'r');
        const fh = await handle;
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        if (done !== length) throw new FormatError('IO', name, `read of ${length} bytes at offset ${offset} returned ${done} bytes (file truncated?)`);
      } catch (e) {
        if (e instanceof FormatError) throw e;
        throw new FormatError('IO', name, `read of ${length} bytes at offset ${offset} failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
      }
      return out;
    },
    async close() {
      const h = handle;
      handle = undefined;
      if (h) await (await h).close();
    },
  };
}

/** A checkpoint directory on disk. Paths are relative to `dir`; '..' and absolute paths are refused. */
export function filesFromNodeDir(dir: string): CheckpointFiles {
  const name = nodePath.basename(nodePath.resolve(dir));
  const full = (rel: string) => nodePath.join(dir, checkRelPath(rel, name));
  return {
    name,
    async list() {
      const out: string[] = [];
      const walk = async (sub: string): Promise<void> => {
        for (const ent of await fsp.readdir(nodePath.join(dir, sub), { withFileTypes: true })) {
          const rel = sub ? `${sub}/${ent.name}` : ent.name;
          if (ent.isDirectory()) await walk(rel);
          else out.push(rel);
        }
      };
      await walk('');
      return out.sort();
    },
    open(rel) {
      return fromNodeFile(full(rel), rel);
    },
    async readText(rel) {
      try {
        return await fsp.readFile(full(rel), 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException)?.code;
        throw new FormatError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', rel, `cannot read ${nodePath.join(dir, rel)}: ${code ?? (e as Error)?.message}`, undefined, { cause: e });
      }
    },
  };
}
