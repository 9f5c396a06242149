// Where a model's files are, by URL: a folder (relative URLs resolve against the page), a Hugging
// Face repository URL (`.../resolve/<revision>/`), or one URL per file (assets a bundler emitted).
import { checkRelPath } from '../format/checkpoint.ts';

export interface ModelLocation {
  /** The model's name (`model` in responses). */
  name: string;
  /** Identifies the model's files in the cache. */
  key: string;
  /** URL of a file, or null when the model has no such file. */
  url(rel: string): string | null;
}

/** The page's (or Worker's) URL, the base of relative model URLs; undefined in Node. */
export function documentBase(): string | undefined {
  const loc = (globalThis as { location?: { href?: string } }).location;
  return typeof loc?.href === 'string' ? loc.href : undefined;
}

/** Absolute URL of `model` (relative ones against the page), always ending in '/'. */
export function absoluteFolderUrl(model: string | URL, base = documentBase()): string {
  let u: URL;
  try {
    u = new URL(String(model), base);
  } catch {
    throw new TypeError(`webmoe: model ${JSON.stringify(String(model))} is not a URL${base ? '' : ' (relative URLs need a page to resolve against; give an absolute URL)'}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'file:' && u.protocol !== 'blob:') {
    throw new TypeError(`webmoe: model URL ${u.href} must be http(s)`);
  }
  u.search = '';
  u.hash = '';
  return u.href.endsWith('/') ? u.href : u.href + '/';
}

/** `org/name` for a Hugging Face `.../org/name/resolve/<rev>/` URL, else the folder's last segment. */
export function modelNameFromUrl(folder: string): string {
  const parts = new URL(folder).pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const r = parts.lastIndexOf('resolve');
  if (r >= 2 && r === parts.length - 2) return `${parts[r - 2]}/${parts[r - 1]}`;
  return parts.at(-1) ?? new URL(folder).host;
}

export function folderLocation(model: string | URL, name?: string): ModelLocation {
  const base = absoluteFolderUrl(model);
  return { name: name ?? modelNameFromUrl(base), key: base, url: (rel) => new URL(checkRelPath(rel, base), base).href };
}

/** One URL per file (e.g. the default model's bundled assets). */
export function urlMapLocation(name: string, files: Readonly<Record<string, string>>): ModelLocation {
  const weights = files['model.safetensors'] ?? files['model.safetensors.index.json'] ?? Object.values(files)[0];
  return { name, key: `${name}@${weights}`, url: (rel) => files[rel] ?? null };
}
