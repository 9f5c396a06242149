// HF conformance fixtures (tests/fixtures/hf/<name>/ from tools/fixtures): config + weights + HF's outputs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURE_ROOT = path.resolve(import.meta.dirname, '../fixtures/hf');

export interface FixturePrompt {
  ids: number[];
  argmax: number[];
  greedy: number[];
  last_logits: number[];
  all_logits: number[][];
}

export interface Fixture {
  name: string;
  dir: string;
  expected: { model_type: string; prompts: FixturePrompt[]; min_argmax_gap?: number };
}

/** Every fixture folder that has an expected.json (folders still being written are skipped). */
export function listFixtures(): Fixture[] {
  if (!existsSync(FIXTURE_ROOT)) return [];
  return readdirSync(FIXTURE_ROOT)
    .filter((n) => existsSync(path.join(FIXTURE_ROOT, n, 'expected.json')))
    .sort()
    .map((name) => {
      const dir = path.join(FIXTURE_ROOT, name);
      return { name, dir, expected: JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) };
    });
}

export function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}
