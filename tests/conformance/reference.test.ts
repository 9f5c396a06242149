// The plain TS forward pass (src/reference/model.ts) against transformers' own outputs, for every fixture:
// validates the architecture mappings in src/models/ independently of the GPU.
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights, referenceForward } from '../../src/reference/model.ts';
import { argmax, listFixtures, maxAbsDiff } from './fixtures.ts';

describe('reference forward vs transformers', () => {
  const fixtures = listFixtures();
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThan(0));
  for (const fx of fixtures) {
    it(fx.name, async () => {
      const ckpt = await openCheckpoint(filesFromNodeDir(fx.dir));
      try {
        const spec = await resolveSpec(ckpt);
        expect(spec.arch).toBe(fx.expected.model_type);
        const W = await loadReferenceWeights(ckpt, spec);
        for (const p of fx.expected.prompts) {
          const logits = referenceForward(spec, W, p.ids);
          expect(maxAbsDiff(logits[logits.length - 1], p.last_logits), `${fx.name} last logits`).toBeLessThan(1e-3);
          expect(logits.map(argmax), `${fx.name} argmax`).toEqual(p.argmax);
          // greedy continuation, recomputing the whole prefix each step (slow, but obviously right)
          const ids = [...p.ids];
          for (let i = 0; i < p.greedy.length; i++) {
            const l = referenceForward(spec, W, ids);
            ids.push(argmax(l[l.length - 1]));
          }
          expect(ids.slice(p.ids.length), `${fx.name} greedy`).toEqual(p.greedy);
        }
      } finally {
        await ckpt.close();
      }
    });
  }
});
