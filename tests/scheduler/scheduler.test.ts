import { describe, it, expect } from 'vitest';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { FakeModel, collect } from '../helpers/fake-model.ts';

const alone = (prompt: number[], n: number) => new FakeModel().alone(prompt, n);

describe('scheduler (continuous batching) with a fake model', () => {
  it('batched requests produce what each would alone, streaming token by token', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m, { maxBatchTokens: 16, prefillChunk: 4 });
    const prompts = [[1, 2, 3], [4, 5, 6, 8, 9, 10, 11, 12, 13], [20], [3, 3]];
    const streams = prompts.map((p) => s.submit({ prompt: p, maxTokens: 6 }));
    const got = await Promise.all(streams.map(collect));
    got.forEach((g, i) => expect(g).toEqual(alone(prompts[i], 6)));
    const results = await Promise.all(streams.map((st) => st.result));
    expect(results.map((r) => r.tokens)).toEqual(got);
    expect(m.live.size).toBe(0); // every KV cache freed
    // Prefill was chunked (the 9-token prompt took 3 chunks of <= 4) and steps mixed requests.
    expect(m.steps.flat().every((it) => it.tokens.length <= 4)).toBe(true);
    expect(Math.max(...m.steps.map((st) => st.length))).toBeGreaterThan(1);
  });

  it('marks every prompt chunk prefill (a one-token last chunk too) and no decode token', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m, { maxBatchTokens: 16, prefillChunk: 4 });
    await Promise.all([s.submit({ prompt: [1, 2, 3, 4, 5], maxTokens: 3, ignoreEos: true }).result, s.submit({ prompt: [6], maxTokens: 3, ignoreEos: true }).result]);
    const items = m.steps.flat();
    expect(items.filter((it) => it.prefill).map((it) => it.tokens)).toEqual([[1, 2, 3, 4], [6], [5]]);
    // the rest are decode tokens: one each, unmarked (the first sampled token comes from the last chunk)
    expect(items.filter((it) => !it.prefill).every((it) => it.tokens.length === 1 && it.prefill === undefined)).toBe(true);
    expect(items.filter((it) => !it.prefill)).toHaveLength(2 + 2);
  });

  it('stops at eos, at maxTokens, and at the context limit', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const r1 = await s.submit({ prompt: [3, 4], maxTokens: 10 }).result; // 3+4 = 7 = eos at once
    expect(r1).toMatchObject({ tokens: [], finishReason: 'stop' });
    const r2 = await s.submit({ prompt: [3, 4], maxTokens: 3, ignoreEos: true }).result;
    expect(r2.finishReason).toBe('length');
    expect(r2.tokens).toHaveLength(3);
    const r3 = await s.submit({ prompt: new Array(60).fill(1), maxTokens: 100, ignoreEos: true }).result;
    expect(r3.finishReason).toBe('length');
    expect(r3.tokens).toHaveLength(4);
  });

  it('admits at most maxSequences at once and serves waiting requests in order', async () => {
    const m = new FakeModel({ maxSequences: 2 });
    const s = new Scheduler(m);
    const streams = [1, 2, 3, 4, 5].map((p) => s.submit({ prompt: [p], maxTokens: 3, ignoreEos: true }));
    const res = await Promise.all(streams.map((st) => st.result));
    expect(res.every((r) => r.tokens.length === 3)).toBe(true);
    expect(Math.max(...m.steps.map((st) => st.length))).toBe(2);
  });

  it('requests submitted in the same tick share the first step', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const streams = [1, 2, 3].map((p) => s.submit({ prompt: [p, p], maxTokens: 2, ignoreEos: true }));
    await Promise.all(streams.map((st) => st.result));
    expect(m.steps[0].map((it) => it.tokens)).toEqual([[1, 1], [2, 2], [3, 3]]);
  });

  it('cancels with AbortSignal and frees the sequence', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const ac = new AbortController();
    const st = s.submit({ prompt: [1], maxTokens: 1000, ignoreEos: true, signal: ac.signal });
    const got: number[] = [];
    for await (const t of st) {
      got.push(t);
      if (got.length === 3) ac.abort();
    }
    const r = await st.result;
    expect(r.finishReason).toBe('abort');
    expect(r.tokens.length).toBeLessThan(10);
    expect(m.live.size).toBe(0);
  });

  it('rejects bad requests clearly and survives a failing step', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    await expect(s.submit({ prompt: [], maxTokens: 3 }).result).rejects.toThrow(/empty/);
    await expect(s.submit({ prompt: new Array(64).fill(1), maxTokens: 3 }).result).rejects.toThrow(/context/);
    m.failNext = new Error('device lost');
    const bad = s.submit({ prompt: [1, 1], maxTokens: 5, ignoreEos: true });
    await expect(collect(bad)).rejects.toThrow(/device lost/);
    expect(m.live.size).toBe(0);
    const ok = await s.submit({ prompt: [1, 1], maxTokens: 2, ignoreEos: true }).result;
    expect(ok.tokens).toEqual(alone([1, 1], 2));
  });

  it('uses the seed for sampling: the same seed gives the same u sequence', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    await s.submit({ prompt: [1], maxTokens: 3, temperature: 0.8, seed: 42, ignoreEos: true }).result;
    const u1 = m.steps.map((st) => st[0].sampling.u);
    m.steps.length = 0;
    await s.submit({ prompt: [1], maxTokens: 3, temperature: 0.8, seed: 42, ignoreEos: true }).result;
    expect(m.steps.map((st) => st[0].sampling.u)).toEqual(u1);
    expect(m.steps[0][0].sampling.temperature).toBe(0.8);
  });
});
