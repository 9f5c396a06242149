// Decode-mode evaluation on the default model, WebGPU and the TS reference model, on a short slice:
// teacher forcing is exact (decode baseline = prefill of the same tokens), every policy runs on the GPU
// and equals the reference model, policies cut distinct experts, the step's routing read-back is right.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { rng } from '../helpers/compare.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { loadTokenizer } from '../../src/format/tokenizer.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights } from '../../src/reference/model.ts';
import { ReferenceStepModel } from '../../src/reference/step.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { decodeSegments, evalDecode, tokenNll } from '../../src/eval/decode.ts';
import type { Calibration } from '../../src/routing/calibration.ts';
import type { Policy } from '../../src/routing/types.ts';

const MODEL = path.resolve(import.meta.dirname, '../../models/webmoe-mini');
const SLICE = path.join(MODEL, 'eval/heldout-slice.txt');

/** A calibration with made-up numbers (the shipped file is checked elsewhere): exercises every policy. */
function fakeCalibration(layers: number, E: number): Calibration {
  const r = rng(9);
  const m = () => {
    const s = new Float32Array(E * E).map(() => r());
    for (let e = 0; e < E; e++) s[e * E + e] = 1;
    return s;
  };
  const rows = (v: number[]) => Array.from({ length: layers }, () => v.slice());
  return {
    E, layers, similarity: { cka: Array.from({ length: layers }, m) }, defaultSimilarity: 'cka',
    alloc: { levels: [1, 2, 3, 4], dloss: Array.from({ length: layers }, (_, l) => [0.3 / (l + 1), 0.1 / (l + 1), 0.02, 0]) },
    mass: { levels: [0.9, 0.8], dloss: rows([0.002, 0.004]), distinct: rows([5, 4]), baseDistinct: Array(layers).fill(6), batch: 2 },
    meta: {},
  };
}

describe('decode-mode evaluation on webmoe-mini', () => {
  const gpu = useGpu();
  const B = 2, C = 4, N = 3;

  async function setup() {
    const files = filesFromNodeDir(MODEL);
    const tok = await loadTokenizer(files);
    const ckpt = await openCheckpoint(files);
    const spec = await resolveSpec(ckpt);
    const W = await loadReferenceWeights(ckpt, spec);
    const cal = fakeCalibration(spec.layers, spec.numExperts);
    const model = await MoeModel.fromCheckpoint(ckpt, spec, gpu(), { maxSeqs: B, maxContext: C + N + 2, maxBatchTokens: B * (C + N), calibration: cal });
    await ckpt.close();
    const ref = new ReferenceStepModel(spec, W, { maxSeqs: B, maxContext: C + N + 2, calibration: cal });
    const ids = tok.encode(readFileSync(SLICE, 'utf8'), { addSpecialTokens: false });
    return { model, ref, ids, bos: spec.bosTokenId!, spec };
  }

  it('baseline decode = prefill of the same tokens; every policy on WebGPU = the reference model; stats', async () => {
    const { model, ref, ids, bos } = await setup();
    try {
      const opts = { batch: B, context: C, steps: N, segments: B, bos, expertBytes: 1 };
      const base = await evalDecode(model, ids, { ...opts, policy: { kind: 'baseline' } });
      // prefill mode on the same tokens: whole segment in one step, logits at every position
      const segs = decodeSegments(ids, C, N, bos).slice(0, B);
      let nll = 0;
      for (const s of segs) {
        const id = model.createSequence();
        const r = await model.forward({ seqs: [{ id, tokens: s.input }], logits: 'all' });
        model.freeSequence(id);
        const V = model.spec.vocabSize;
        for (let i = C; i < C + N; i++) nll += tokenNll(r.logits![0].subarray(i * V, (i + 1) * V), s.targets[i]);
      }
      expect(base.tokens).toBe(B * N);
      expect(Math.abs(base.nll - nll / (B * N))).toBeLessThan(1e-4);
      expect(base.mass_kept).toBeCloseTo(1, 5);
      expect(base.baseline_distinct_experts_same_steps).toBeCloseTo(base.distinct_experts, 9);

      const policies: Policy[] = [
        { kind: 'baseline' }, { kind: 'reduced_topk', k: [1, 2, 3, 4] }, { kind: 'xshare', fraction: 0.5 }, { kind: 'xshare', coverage: 0.25 },
        { kind: 'sere', threshold: 0 }, { kind: 'alloc', k: 2 }, { kind: 'alloc', k: 2, tokens: true }, { kind: 'alloc_t', k: 2 },
        { kind: 'mass', coverage: 0.7 }, { kind: 'mass', coverage: 0.7, reroute: 'refill' }, { kind: 'auto', maxPerplexityRise: 0.01 },
      ];
      for (const policy of policies) {
        const g = await evalDecode(model, ids, { ...opts, policy });
        const r = await evalDecode(ref, ids, { ...opts, policy });
        const what = JSON.stringify(policy);
        expect(Math.abs(g.nll - r.nll), `${what} nll gpu ${g.nll} ref ${r.nll}`).toBeLessThan(2e-4);
        expect(g.distinct_experts_per_layer, what).toEqual(r.distinct_experts_per_layer);
        expect(g.mass_kept, what).toBeCloseTo(r.mass_kept, 4);
        expect(g.distinct_experts, what).toBeLessThanOrEqual(g.baseline_distinct_experts_same_steps + 1e-9);
        if (policy.kind === 'xshare' || policy.kind === 'reduced_topk') {
          expect(g.distinct_experts, what).toBeLessThan(g.baseline_distinct_experts_same_steps);
          expect(g.mass_kept, what).toBeLessThan(1);
        }
      }
    } finally {
      model.destroy();
    }
  }, 600_000);

  it('the step read-back: baseline step has policy set = baseline set; a policy step a subset of it', async () => {
    const { model } = await setup();
    try {
      const seqs = [model.createSequence(), model.createSequence()];
      const r = await model.forward({ seqs: seqs.map((id, i) => ({ id, tokens: [5 + i, 9, 17] })), logits: 'none' });
      for (const l of r.routing) {
        expect(l.experts).toEqual(l.baselineExperts);
        expect(l.massKept).toBeCloseTo(1, 5);
      }
      const p = await model.forward({ seqs: seqs.map((id) => ({ id, tokens: [33] })), logits: 'none', policy: { kind: 'xshare', budget: 2 } });
      p.routing.forEach((l, i) => {
        expect(l.experts.length).toBe(p.distinctExperts[i]);
        expect(l.experts.length).toBeLessThanOrEqual(2);
        for (const e of l.experts) expect(l.baselineExperts).toContain(e);
        expect(l.massKept).toBeLessThanOrEqual(1 + 1e-6);
      });
      await expect(model.forward({ seqs: seqs.map((id) => ({ id, tokens: [1] })), policy: { kind: 'xshare', fraction: 2 } })).rejects.toThrow(/fraction = 2/);
      // still usable after the bad policy
      expect((await model.forward({ seqs: seqs.map((id) => ({ id, tokens: [1] })), logits: 'none' })).next.length).toBe(2);
    } finally {
      model.destroy();
    }
  }, 300_000);
});
