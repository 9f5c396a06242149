// The benchmark harness's own machinery (not speed): statistics and interleaving, the policy list, the
// per-dispatch profiler hook in MoeModel.forward, the alternative MoE execution strategies (they must
// compute the same layer as the grouped kernel), and the synthetic checkpoint writer.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useGpu } from '../helpers/gpu.ts';
import { MoeModel } from '../../src/runtime/model.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { interleaved, median, quantile, summarize } from '../../bench/lib/stats.ts';
import { POLICIES, policiesFor } from '../../bench/lib/policies.ts';
import { DispatchProfiler, splitByFamily } from '../../bench/lib/profile.ts';
import { loadBenchModel } from '../../bench/lib/model.ts';
import { strategyCases } from '../../bench/lib/strategies.ts';
import { writeSynthModel, type SynthShape } from '../../bench/synth-model.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'hf');

describe('bench statistics', () => {
  it('quantiles interpolate, medians of even and odd samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    const s = summarize([5, 1, 3]);
    expect([s.min, s.median, s.max, s.n]).toEqual([1, 3, 5, 3]);
  });
  it('interleaves rounds with a rotating order, one sample per case per round', async () => {
    const order: string[] = [];
    const out = await interleaved(['a', 'b', 'c'], 3, async (c, r) => {
      order.push(c);
      return `${c}${r}`;
    });
    expect(order).toEqual(['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    expect(out).toEqual([['a0', 'a1', 'a2'], ['b0', 'b1', 'b2'], ['c0', 'c1', 'c2']]);
  });
});

describe('bench policy list', () => {
  const spec = { topK: 4 } as never;
  it('puts the baseline first and picks by name', () => {
    expect(policiesFor(spec, []).map((p) => p.name)).toEqual(['baseline']);
    expect(policiesFor(spec, ['xshare50%']).map((p) => p.name)).toEqual(['baseline', 'xshare50%']);
    expect(policiesFor(spec, 'all', true).length).toBe(POLICIES.length);
    // SERE and auto need the model's calibration file; without it they are left out, not failed
    expect(policiesFor(spec, 'all').map((p) => p.name)).not.toContain('sere');
    expect(policiesFor(spec, 'all').map((p) => p.name)).not.toContain('auto1%');
    expect(policiesFor(spec, ['topk/2'])[1].policy).toEqual({ kind: 'reduced_topk', k: 2 });
  });
  it('rejects unknown names and drops policies that do not apply', () => {
    expect(() => policiesFor(spec, ['nope'])).toThrow(/unknown policy nope/);
    expect(policiesFor({ topK: 1 } as never, 'all').some((p) => p.name === 'topk/2')).toBe(false);
  });
});

describe('bench on the GPU', () => {
  const gpu = useGpu();

  it('the per-dispatch profiler times every dispatch of a step and changes no result', async () => {
    const m = await MoeModel.load(filesFromNodeDir(join(FIXTURE, 'qwen3_moe')), gpu(), { maxSeqs: 2, maxContext: 32 });
    try {
      const prof = DispatchProfiler.create(gpu())!;
      expect(prof).not.toBeNull();
      const prompt = [3, 17, 42, 5, 9];
      const a = m.createSequence();
      const b = m.createSequence();
      const plain = await m.forward({ seqs: [{ id: a, tokens: prompt }], logits: 'last' });
      const timed = await m.forward({ seqs: [{ id: b, tokens: prompt }], logits: 'last', beginPass: prof.beginPass });
      expect(timed.next).toEqual(plain.next);
      expect(Array.from(timed.logits![0])).toEqual(Array.from(plain.logits![0]));
      const times = await prof.read();
      // per layer at least: norm, q, k, v, rope, kv write, attention, o, norm, router, 5 MoE dispatches
      expect(times.length).toBeGreaterThanOrEqual(m.spec.layers * 15);
      expect(times.every((t) => t.ms >= 0 && t.family.includes(':'))).toBe(true);
      const fams = splitByFamily(times);
      expect(fams.find((f) => f.family === 'moe_ffn:ffn_gate_up')?.dispatches).toBe(m.spec.layers);
      expect(fams.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 6);
      expect(fams.reduce((s, f) => s + f.dispatches, 0)).toBe(times.length);
      prof.destroy();
    } finally {
      m.destroy();
    }
  });

  it('the loop and dense strategies compute the grouped kernel\'s MoE layer (f32 fixture, int8 synthetic split in chunks)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-synth-'));
    try {
      // int8 groups of 32 along the expert width: dense lays experts side by side, so I % 32 == 0
      writeSynthModel(dir, { name: 't', note: '', hidden: 64, moeIntermediate: 32, experts: 16, topK: 4, heads: 2, headDim: 32, layers: 1, vocab: 64, weightFormat: 'int8' });
      // the int8 one with its experts split over 3 buffers (the real-size layout over the binding limit)
      for (const [files, weightFormat, maxBindingBytes, nChunks] of [[filesFromNodeDir(join(FIXTURE, 'olmoe')), 'f32', undefined, 1], [filesFromNodeDir(dir), 'int8', 32 * 1024, 3]] as const) {
        const bm = await loadBenchModel(gpu(), { name: 'fixture', note: '', files, weightFormat }, { maxSeqs: 2, maxContext: 32, maxBatchTokens: 16, promptLen: 4, maxBindingBytes });
        expect(bm.model.weights.layers[0].experts!.chunks.length).toBe(nChunks);
        try {
          // strategyCases itself throws when an output differs from grouped by more than 1e-3 (relative)
          const rows = await strategyCases(gpu(), bm, [1, 5], 1, () => {});
          expect(rows.map((r) => r.strategy)).toEqual(['grouped', 'loop', 'dense', 'grouped', 'loop', 'dense']);
          for (const r of rows) expect(r.relErr).toBeLessThan(1e-4);
          const E = bm.model.spec.numExperts;
          expect(rows.filter((r) => r.strategy === 'dense').every((r) => r.activeExperts === E)).toBe(true);
          const g = rows[3];
          expect(g.activeExperts).toBeLessThanOrEqual(Math.min(E, 5 * bm.model.spec.topK));
          expect(rows[4].dispatches).toBe(8 + 2 * g.activeExperts);
          expect(rows[5].dispatches).toBe(3 + 4 * nChunks);
        } finally {
          bm.model.destroy();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a synthetic OLMoE-layout checkpoint that the loader accepts and runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-synth-'));
    const shape: SynthShape = { name: 't', note: '', hidden: 64, moeIntermediate: 32, experts: 16, topK: 4, heads: 2, headDim: 32, layers: 2, vocab: 128, weightFormat: 'f16' };
    try {
      writeSynthModel(dir, shape);
      const m = await MoeModel.load(filesFromNodeDir(dir), gpu(), { weightFormat: 'f16', maxSeqs: 1, maxContext: 16 });
      try {
        expect([m.spec.arch, m.spec.hidden, m.spec.numExperts, m.spec.topK, m.spec.moeIntermediate, m.spec.layers, m.spec.vocabSize]).toEqual(['olmoe', 64, 16, 4, 32, 2, 128]);
        const s = m.createSequence();
        const r = await m.forward({ seqs: [{ id: s, tokens: [1, 2, 3, 4, 5, 6, 7, 8] }], logits: 'last' });
        expect(r.logits![0].every(Number.isFinite)).toBe(true);
        // the shared popularity direction makes tokens agree on experts: 8 tokens use far fewer than 8 x 4
        expect(r.distinctExperts.every((d) => d >= 4 && d <= 16)).toBe(true);
      } finally {
        m.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
