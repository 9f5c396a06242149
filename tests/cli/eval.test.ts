// `webmoe eval` on the embedded model's held-out slice must reproduce the training script's perplexity
// (models/webmoe-tiny/eval/reference.json) within 1%.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MODEL = path.join(ROOT, 'models/webmoe-tiny');
const REF = path.join(MODEL, 'eval/reference.json');
const SLICE = path.join(MODEL, 'eval/heldout-slice.txt');

/** The perplexity number in reference.json, whatever the training script called it. */
function referencePpl(ref: Record<string, unknown>): number {
  for (const k of ['ppl', 'perplexity', 'heldout_ppl', 'slice_ppl']) if (typeof ref[k] === 'number') return ref[k] as number;
  for (const v of Object.values(ref)) if (v && typeof v === 'object') {
    const r = referencePpl(v as Record<string, unknown>);
    if (Number.isFinite(r)) return r;
  }
  return NaN;
}

describe.skipIf(!existsSync(REF) || !existsSync(SLICE))('webmoe eval on models/webmoe-tiny', () => {
  it('matches eval/reference.json within 1%', () => {
    const ref = JSON.parse(readFileSync(REF, 'utf8'));
    const want = referencePpl(ref);
    expect(want).toBeGreaterThan(1);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'eval', '--text-file', SLICE, '--batch', '4', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!).ppl;
    expect(Math.abs(got - want) / want, `engine ${got} vs reference ${want}`).toBeLessThan(0.01);
  }, 300_000);
});
