// The embedded default model (models/webmoe-mini) against transformers' own run of it
// (eval/reference.json from tools/train/evaluate.py: fp16 file upcast to f32, like our f32 load).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { greedyIds } from '../helpers/generate.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { maxAbsDiff } from './fixtures.ts';

// WEBMOE_TINY_DIR: check another export of the same layout (e.g. a training run's) with these tests.
const MODEL = process.env.WEBMOE_TINY_DIR ?? path.resolve(import.meta.dirname, '../../models/webmoe-mini');
const REF = path.join(MODEL, 'eval/reference.json');

/** reference.json prompt entries (key names of both tools/train versions). */
interface RefPrompt {
  text: string;
  ids: number[];
  greedy?: number[];
  greedy_ids?: number[];
  last_logits_head?: number[];
  last_logits_first32?: number[];
  argmax: number;
}

describe.skipIf(!existsSync(REF))('models/webmoe-mini vs transformers', () => {
  const gpu = useGpu();
  let model: MoeModel | null = null;
  afterAll(() => model?.destroy());
  const prompts: RefPrompt[] = existsSync(REF) ? JSON.parse(readFileSync(REF, 'utf8')).prompts : [];
  for (const p of prompts) {
    it(JSON.stringify(p.text), async () => {
      model ??= await MoeModel.load(filesFromNodeDir(MODEL), gpu(), { maxSeqs: 2, maxContext: 64, maxBatchTokens: 32 });
      const id = model.createSequence();
      const r = await model.forward({ seqs: [{ id, tokens: p.ids }] });
      model.freeSequence(id);
      const want = (p.last_logits_head ?? p.last_logits_first32)!;
      const greedy = (p.greedy ?? p.greedy_ids)!;
      // reference.json stores logits rounded to 5 decimals
      expect(maxAbsDiff(r.logits![0].subarray(0, want.length), want)).toBeLessThan(1e-3);
      expect(r.next[0]).toBe(p.argmax);
      expect(await greedyIds(model, p.ids, greedy.length)).toEqual(greedy);
    }, 120_000);
  }
});
