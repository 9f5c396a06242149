#!/usr/bin/env node
// webmoe CLI entry. Uses the built dist/ when present (installed package); in a source checkout it
// runs src/ through tsx (a devDependency), so `node bin/webmoe.js` works right after `npm install`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// A source checkout (src/ present, tsx installed) runs the sources, so a stale dist/ never shadows
// them; an installed package (no src/) runs the library build's `cli` entry.
const src = path.join(root, 'src', 'cli', 'main.ts');
const built = path.join(root, 'dist', 'cli.js');
let mod;
let tsx = null;
if (existsSync(src)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    tsx = null;
  }
}
if (tsx) {
  tsx.register();
  mod = await import(pathToFileURL(src).href);
} else if (existsSync(built)) {
  mod = await import(pathToFileURL(built).href);
} else {
  process.stderr.write('error: webmoe: neither the sources with tsx (npm install) nor dist/cli.js (npm run build) are available\n');
  process.exit(1);
}
await mod.run(process.argv.slice(2));
