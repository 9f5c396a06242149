// Every HF fixture through the public loader on WebGPU: logits, argmax, greedy ids vs transformers, and
// the three prompts batched in one step vs each alone.
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { argmax, listFixtures, maxAbsDiff } from './fixtures.ts';

describe('GPU forward vs transformers', () => {
  const gpu = useGpu();
  const models: MoeModel[] = [];
  afterAll(() => models.forEach((m) => m.destroy()));
  for (const fx of listFixtures()) {
    it(fx.name, async () => {
      const model = await MoeModel.load(filesFromNodeDir(fx.dir), gpu(), { maxSeqs: 4, maxContext: 64, maxBatchTokens: 32 });
      models.push(model);
      const prompts = fx.expected.prompts;
      const alone: Float32Array[] = [];
      for (const p of prompts) {
        const id = model.createSequence();
        const r = await model.forward({ seqs: [{ id, tokens: p.ids }], logits: 'all' });
        model.freeSequence(id);
        const V = model.spec.vocabSize;
        const all = r.logits![0];
        const last = all.subarray((p.ids.length - 1) * V);
        alone.push(last.slice());
        expect(maxAbsDiff(last, p.last_logits), `${fx.name} last logits`).toBeLessThan(1e-3);
        const am = p.ids.map((_, t) => argmax(all.subarray(t * V, (t + 1) * V)));
        expect(am, `${fx.name} argmax`).toEqual(p.argmax);
        const greedy = await model.generate(p.ids, { maxTokens: p.greedy.length, stopIds: [] });
        expect(greedy, `${fx.name} greedy`).toEqual(p.greedy);
      }
      // all prompts in one step
      const ids = prompts.map(() => model.createSequence());
      const r = await model.forward({ seqs: prompts.map((p, i) => ({ id: ids[i], tokens: p.ids })), logits: 'last' });
      ids.forEach((id) => model.freeSequence(id));
      r.logits!.forEach((l, i) => expect(maxAbsDiff(l, alone[i]), `${fx.name} batched prompt ${i}`).toBeLessThan(1e-4));
    }, 120_000);
  }
});
