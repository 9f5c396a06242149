// Mixed-step evaluation (src/eval/mixed.ts) on the default model, WebGPU and the TS reference model, on a
// short slice: both backends agree under every scope; under 'decode' the prompt chunks' KV cache is the
// baseline's (the prefilled segments' later tokens score exactly as in the baseline run) and the decode
// tokens route as in a decode step of their own (= `--mode decode` on the same tokens); the CLI runs it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGpu } from '../helpers/gpu.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { loadTokenizer } from '../../src/format/tokenizer.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights } from '../../src/reference/model.ts';
import { ReferenceStepModel } from '../../src/reference/step.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { evalDecode } from '../../src/eval/decode.ts';
import { evalMixed, planMixed, scopeVariants } from '../../src/eval/mixed.ts';
import { main } from '../../src/cli/main.ts';
import type { Policy } from '../../src/routing/types.ts';

const MODEL = path.resolve(import.meta.dirname, '../../models/webmoe-mini');
const SLICE = path.join(MODEL, 'eval/heldout-slice.txt');
// 2 decode tokens + one 2-token prompt chunk per step; 2 arrivals of 4 prompt tokens, 2 later tokens each
const O = { batch: 2, context: 4, steps: 4, prompt: 4, chunk: 2, arrivals: 1, after: 2, groups: 1 };
const POLICIES: Policy[] = [...scopeVariants({ kind: 'mass', coverage: 0.7, reroute: 'refill' }), ...scopeVariants({ kind: 'xshare', fraction: 0.5 })];

describe('mixed-step evaluation on webmoe-mini', () => {
  const gpu = useGpu();

  it('WebGPU = the reference under every scope; scope decode leaves prompts at the baseline', async () => {
    const files = filesFromNodeDir(MODEL);
    const tok = await loadTokenizer(files);
    const ckpt = await openCheckpoint(files);
    const spec = await resolveSpec(ckpt);
    const W = await loadReferenceWeights(ckpt, spec);
    const ids = tok.encode(readFileSync(SLICE, 'utf8'), { addSpecialTokens: false });
    const plan = planMixed(ids, { ...O, bos: spec.bosTokenId!, expertBytes: 1 }, 1 << 30);
    expect(plan.perGroup).toBe(2);
    const seqs = O.batch + plan.perGroup;
    const model = await MoeModel.fromCheckpoint(ckpt, spec, gpu(), { maxSeqs: seqs, maxContext: 8, maxBatchTokens: O.batch * O.context, calibration: null });
    await ckpt.close();
    const ref = new ReferenceStepModel(spec, W, { maxSeqs: seqs, maxContext: 8 });
    try {
      const opts = { ...O, bos: spec.bosTokenId!, expertBytes: 1 };
      const g = await evalMixed(model, ids, opts, POLICIES);
      const r = await evalMixed(ref, ids, opts, POLICIES);
      expect(r.decode_tokens).toBe(O.batch * O.steps);
      expect(r.arrival_tokens).toBe(plan.perGroup * O.after);
      expect(Math.abs(g.baseline.decode_nll - r.baseline.decode_nll)).toBeLessThan(2e-4);
      expect(g.baseline.distinct_experts_per_layer).toEqual(r.baseline.distinct_experts_per_layer);
      r.runs.forEach((rr, i) => {
        const gg = g.runs[i];
        const what = JSON.stringify(rr.policy);
        expect(Math.abs(gg.decode_nll - rr.decode_nll), what).toBeLessThan(2e-4);
        expect(Math.abs(gg.arrival_nll - rr.arrival_nll), what).toBeLessThan(2e-4);
        expect(gg.distinct_experts_per_layer, what).toEqual(rr.distinct_experts_per_layer);
        expect(rr.distinct_experts, what).toBeLessThanOrEqual(rr.baseline_distinct_experts_same_steps + 1e-9);
        const scope = (rr.policy as { scope: string }).scope;
        // prompt chunks under a decode scope: their KV cache is the baseline's, bit for bit on the reference
        if (scope !== 'all') expect(rr.arrival_nll_diff, what).toBe(0);
      });
      // under 'all' the prompt chunks are routed by the policy too: xshare at half the experts changes their KV
      expect(r.runs[3].arrival_nll_diff).not.toBe(0);
      // scope 'decode': the decode tokens route as in a decode-only step (the same tokens under --mode decode)
      for (const i of [1, 4]) {
        const d = await evalDecode(ref, ids, { batch: O.batch, context: O.context, steps: O.steps, segments: O.batch, policy: POLICIES[i], bos: spec.bosTokenId!, expertBytes: 1 });
        expect(Math.abs(d.nll - r.runs[i].decode_nll), JSON.stringify(POLICIES[i])).toBeLessThan(1e-9);
      }
    } finally {
      model.destroy();
    }
  }, 600_000);

  it('checks its settings; the CLI runs it on the reference backend', async () => {
    const ids = Array.from({ length: 400 }, (_, i) => i % 50);
    expect(() => planMixed(ids, { ...O, prompt: 5, bos: 0, expertBytes: 1 }, 64)).toThrow(/prompt \(5\) must be a multiple of chunk \(2\)/);
    expect(() => planMixed(ids, { ...O, steps: 3, bos: 0, expertBytes: 1 }, 64)).toThrow(/steps \(3\) must be a multiple/);
    expect(() => planMixed(ids, { ...O, bos: 0, expertBytes: 1 }, 3)).toThrow(/carries 4 tokens .* maxBatchTokens 3/);
    expect(() => planMixed(ids.slice(0, 10), { ...O, bos: 0, expertBytes: 1 }, 64)).toThrow(/has 10 tokens/);
    let out = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
    try {
      const rc = await main(['eval', '--mode', 'mixed', '--backend', 'reference', '--model', MODEL, '--text-file', SLICE, '--policy', 'xshare:0.5',
        '--batch', '2', '--context', '4', '--steps', '4', '--prompt', '4', '--chunk', '2', '--after', '2', '--groups', '1', '--json']);
      expect(rc).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const j = JSON.parse(out.trim().split('\n').pop()!);
    expect(j.mode).toBe('mixed');
    expect(j.runs.map((x: { policy: { scope: string } }) => x.policy.scope)).toEqual(['all', 'decode', 'decode_union']);
    for (const x of j.runs) for (const k of ['decode_ppl_ratio', 'decode_nll_diff_se', 'arrival_ppl_ratio', 'arrival_nll_diff_se', 'distinct_experts', 'distinct_ratio']) expect(typeof x[k]).toBe('number');
    await expect(main(['eval', '--mode', 'mixed', '--backend', 'reference', '--model', MODEL, '--text-file', SLICE])).rejects.toThrow(/give --policy/);
  }, 300_000);
});
