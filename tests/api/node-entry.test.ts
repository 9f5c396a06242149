// src/node.ts runs from source in plain Node (tsx), outside Vite: no import.meta.glob on its import graph.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the Node entry from source', () => {
  it('imports under tsx and exports createEngine, LocalEngine, the errors', () => {
    const code = "const m = await import('./src/node.ts'); console.log(JSON.stringify([typeof m.createEngine, typeof m.LocalEngine, typeof m.FormatError, 'createBrowserGpu' in m]));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: path.resolve(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual(['function', 'function', 'function', false]);
  }, 60_000);
});
