#!/usr/bin/env node
// webmoe CLI entry. Uses the built dist/ when present (installed package); in a source checkout it
// runs src/ through tsx (a devDependency), so `node bin/webmoe.js` works right after `npm install`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// A library build with a `cli` entry (vite lib entry 'cli/main' or 'cli') puts it at one of these.
const built = [path.join(root, 'dist', 'cli', 'main.js'), path.join(root, 'dist', 'cli.js')].find((p) => existsSync(p));
let mod;
if (built) {
  mod = await import(pathToFileURL(built).href);
} else {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    process.stderr.write('error: webmoe: no dist/ build and tsx is not installed (run npm install, or npm run build)\n');
    process.exit(1);
  }
  mod = await import(pathToFileURL(path.join(root, 'src', 'cli', 'main.ts')).href);
}
await mod.run(process.argv.slice(2));
