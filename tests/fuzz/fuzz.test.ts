// The CI-sized run of the fuzz targets (the bench runs >= 100,000 inputs: `npm run bench:fuzz`).
import { describe, it, expect } from 'vitest';
import { TARGETS, fuzz } from './targets.ts';

const RUNS: Record<string, number> = { 'safetensors header': 1500, 'sharded index': 600, 'config.json': 1000, 'tokenizer + chat template': 250 };

describe('fuzz (fast-check): every input loads or raises a FormatError, and no read exceeds the file', () => {
  for (const t of TARGETS) {
    it(t.name, async () => {
      const r = await fuzz(t, RUNS[t.name], 20_261_201);
      expect(r.inputs).toBe(RUNS[t.name]);
      // both outcomes are exercised: the generators are not all-valid or all-garbage
      expect(r.loaded).toBeGreaterThan(r.inputs * 0.05);
      expect(r.inputs - r.loaded).toBeGreaterThan(r.inputs * 0.3);
    }, 120_000);
  }
  it('the safetensors target reaches every header check', async () => {
    const r = await fuzz(TARGETS[0], 1500, 7);
    for (const c of ['HEADER_LENGTH', 'HEADER_ENCODING', 'HEADER_JSON', 'METADATA', 'ENTRY', 'DTYPE', 'SHAPE', 'OFFSETS', 'SIZE_MISMATCH', 'OUT_OF_BOUNDS', 'OVERLAP']) {
      expect(r.errors[c] ?? 0, c).toBeGreaterThan(0);
    }
  }, 120_000);
});
