// Node: read shaders/*.wgsl from the package on disk (src/gpu -> ../../shaders, dist -> ../shaders).
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { setShaderLoader, hasShaderLoader } from './wgsl.ts';

function findShaderDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = join(dir, 'shaders');
    if (existsSync(join(cand, 'common.wgsl'))) return cand;
    dir = dirname(dir);
  }
  throw new Error('webmoe: cannot find the shaders/ folder next to the package');
}

export function installFsShaderLoader(): void {
  if (hasShaderLoader()) return;
  const dir = findShaderDir();
  setShaderLoader((name) => {
    const p = join(dir, `${name}.wgsl`);
    if (!existsSync(p)) throw new Error(`webmoe: unknown shader '${name}' (no ${p})`);
    return readFileSync(p, 'utf8');
  });
}
