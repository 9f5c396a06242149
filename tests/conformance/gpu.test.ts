// Every HF fixture through the public loader on WebGPU: logits, argmax, greedy ids vs transformers, and
// the three prompts batched in one step vs each alone.
import { afterAll, describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { greedyIds } from '../helpers/generate.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { argmax, listFixtures, maxAbsDiff } from './fixtures.ts';

describe('GPU forward vs transformers', () => {
  const gpu = useGpu();
  const models: MoeModel[] = [];
  afterAll(() => models.forEach((m) => m.destroy()));
  for (const fx of listFixtures()) {
    it(fx.name, async () => {
      let last = { bytesRead: 0, totalBytes: -1 };
      const model = await MoeModel.load(filesFromNodeDir(fx.dir), gpu(), { maxSeqs: 4, maxContext: 64, maxBatchTokens: 32, onProgress: (p) => (last = p) });
      expect(last.bytesRead).toBe(last.totalBytes);
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
        const greedy = await greedyIds(model, p.ids, p.greedy.length);
        expect(greedy, `${fx.name} greedy`).toEqual(p.greedy);
      }
      // all prompts in one step
      const ids = prompts.map(() => model.createSequence());
      const r = await model.forward({ seqs: prompts.map((p, i) => ({ id: ids[i], tokens: p.ids })), logits: 'last' });
      ids.forEach((id) => model.freeSequence(id));
      // distinct experts per MoE layer: between top-k and min(E, tokens * k)
      const T = prompts.reduce((n, p) => n + p.ids.length, 0);
      r.distinctExperts.forEach((d, l) => {
        if (model.spec.layerKinds[l] === 'moe') expect(d).toBeGreaterThanOrEqual(model.spec.topK), expect(d).toBeLessThanOrEqual(Math.min(model.spec.numExperts, T * model.spec.topK));
      });
      r.logits!.forEach((l, i) => expect(maxAbsDiff(l, alone[i]), `${fx.name} batched prompt ${i}`).toBeLessThan(1e-4));
      // mixed step: sequence A decodes its last prompt token while B prefills a whole prompt
      const [p0, , p2] = prompts;
      const a = model.createSequence();
      const b = model.createSequence();
      await model.forward({ seqs: [{ id: a, tokens: p0.ids.slice(0, -1) }], logits: 'none' });
      const mixed = await model.forward({ seqs: [{ id: b, tokens: p2.ids }, { id: a, tokens: p0.ids.slice(-1) }] });
      model.freeSequence(a);
      model.freeSequence(b);
      expect(maxAbsDiff(mixed.logits![1], alone[0]), `${fx.name} decode in a mixed step`).toBeLessThan(1e-4);
      expect(maxAbsDiff(mixed.logits![0], alone[2]), `${fx.name} prefill in a mixed step`).toBeLessThan(1e-4);
    }, 120_000);
  }
});

describe('weight formats converted on load', () => {
  const gpu = useGpu();
  const fx = listFixtures().find((f) => f.name === 'qwen3_moe')!;
  // Rounding moves logits (and, on these random tiny models, some expert choices): check closeness for
  // f16/int8 and that int4 logits still follow the f32 ones (correlation), i.e. the packing is right.
  const tol = { f16: 2e-2, int8: 0.1, int4: Infinity } as const;
  const minCorr = { f16: 0.9999, int8: 0.999, int4: 0.9 } as const;
  const corr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    const n = b.length;
    let ma = 0, mb = 0;
    for (let i = 0; i < n; i++) (ma += a[i] / n), (mb += b[i] / n);
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < n; i++) (ab += (a[i] - ma) * (b[i] - mb)), (aa += (a[i] - ma) ** 2), (bb += (b[i] - mb) ** 2);
    return ab / Math.sqrt(aa * bb);
  };
  for (const fmt of ['f16', 'int8', 'int4'] as const) {
    it(fmt, async () => {
      const model = await MoeModel.load(filesFromNodeDir(fx.dir), gpu(), { weightFormat: fmt, maxSeqs: 1, maxContext: 32, maxBatchTokens: 16 });
      try {
        expect(model.weights.format).toBe(fmt);
        const p = fx.expected.prompts[0];
        const id = model.createSequence();
        const r = await model.forward({ seqs: [{ id, tokens: p.ids }] });
        expect(maxAbsDiff(r.logits![0], p.last_logits)).toBeLessThan(tol[fmt]);
        expect(corr(r.logits![0], p.last_logits)).toBeGreaterThan(minCorr[fmt]);
      } finally {
        model.destroy();
      }
    }, 60_000);
  }
});
