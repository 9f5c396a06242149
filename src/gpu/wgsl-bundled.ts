// Browser: Vite inlines every shaders/*.wgsl file as a string at build time.
import { setShaderLoader, hasShaderLoader } from './wgsl.ts';

const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export function installBundledShaderLoader(): void {
  if (hasShaderLoader()) return;
  const byName = new Map<string, string>();
  for (const [path, src] of Object.entries(files)) byName.set(path.replace(/^.*\//, '').replace(/\.wgsl$/, ''), src);
  setShaderLoader((name) => {
    const s = byName.get(name);
    if (s === undefined) throw new Error(`webmoe: unknown shader '${name}'`);
    return s;
  });
}
