// Issue 12's probes against the scheduler with a fake model: isolation, cancellation, close, failure.
import { describe, it, expect } from 'vitest';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { StepItemError } from '../../src/scheduler/types.ts';
import { EngineDisposedError, ParameterError } from '../../src/api/errors.ts';
import { GpuDeviceLostError } from '../../src/gpu/errors.ts';
import { FakeModel, collect } from '../helpers/fake-model.ts';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('isolation: one bad request never hurts another', () => {
  it('an out-of-vocabulary id submitted while another runs rejects alone, at submission', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const good = s.submit({ prompt: [1, 2], maxTokens: 8, ignoreEos: true });
    await tick();
    const steps = m.steps.length;
    const bad = s.submit({ prompt: [99999], maxTokens: 4 });
    await expect(bad.result).rejects.toThrow(/token id 99999 out of range \[0, 64\)/);
    await expect(bad.result).rejects.toBeInstanceOf(ParameterError);
    expect((await good.result).tokens).toEqual(m.alone([1, 2], 8, true));
    // it never reached the model
    expect(m.steps.slice(steps).flat().some((it) => it.tokens.includes(99999))).toBe(false);
  });

  it('every parameter is checked on submit, each with its own error', async () => {
    const s = new Scheduler(new FakeModel());
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ prompt: [], maxTokens: 3 }, /prompt is empty/],
      [{ prompt: [1.5], maxTokens: 3 }, /prompt\[0\] must be a non-negative integer/],
      [{ prompt: [-1], maxTokens: 3 }, /prompt\[0\] must be a non-negative integer/],
      [{ prompt: new Array(64).fill(1), maxTokens: 3 }, /context is 64/],
      [{ prompt: [1], maxTokens: 2.5 }, /maxTokens must be an integer >= 1, got 2.5/],
      [{ prompt: [1], maxTokens: 0 }, /maxTokens must be an integer >= 1, got 0/],
      [{ prompt: [1], maxTokens: 3, temperature: NaN }, /temperature must be a finite number >= 0.*got NaN/],
      [{ prompt: [1], maxTokens: 3, topP: 2 }, /topP must be a number in \(0, 1\], got 2/],
      [{ prompt: [1], maxTokens: 3, seed: 0.5 }, /seed must be an integer, got 0.5/],
      [{ prompt: [1], maxTokens: 3, stopTokenIds: [64] }, /token id 64 out of range/],
    ];
    for (const [req, re] of cases) await expect(s.submit(req as never).result, JSON.stringify(req)).rejects.toThrow(re);
  });

  it('a step failure pinned on one request (StepItemError) fails it alone; the others continue', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const prompts = [[1, 2], [3], [5, 5, 5]];
    const streams = prompts.map((p) => s.submit({ prompt: p, maxTokens: 6, ignoreEos: true }));
    await tick();
    await tick();
    m.failNext = new StepItemError('kernel rejected sequence', [1]);
    const res = await Promise.allSettled(streams.map((st) => st.result));
    const failed = res.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(String((failed[0] as PromiseRejectedResult).reason)).toMatch(/kernel rejected sequence/);
    res.forEach((r, i) => {
      if (r.status === 'fulfilled') expect(r.value.tokens).toEqual(m.alone(prompts[i], 6, true));
    });
    expect(m.live.size).toBe(0);
  });

  it('an unattributed step failure is retried per request: only the offender fails', async () => {
    const m = new FakeModel({ maxSequences: 4 });
    m.poison.add(33);
    const s = new Scheduler(m, { maxBatchTokens: 16, prefillChunk: 4 });
    const prompts = [[1, 2, 3], [4, 33, 6], [9], [2, 2, 2, 2, 2, 2]];
    const streams = prompts.map((p) => s.submit({ prompt: p, maxTokens: 5, ignoreEos: true }));
    const res = await Promise.allSettled(streams.map((st) => collect(st)));
    expect(res[1].status).toBe('rejected');
    expect(String((res[1] as PromiseRejectedResult).reason)).toMatch(/poisoned token/);
    for (const i of [0, 2, 3]) {
      expect(res[i].status).toBe('fulfilled');
      expect((res[i] as PromiseFulfilledResult<number[]>).value).toEqual(m.alone(prompts[i], 5, true));
    }
    expect(m.live.size).toBe(0);
  });

  it('a transient failure of a shared step loses nothing: every request still gives its tokens', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const prompts = [[1], [2], [3]];
    const streams = prompts.map((p) => s.submit({ prompt: p, maxTokens: 6, ignoreEos: true }));
    await tick();
    await tick();
    m.failNext = new Error('transient');
    const res = await Promise.all(streams.map((st) => st.result));
    res.forEach((r, i) => expect(r.tokens).toEqual(m.alone(prompts[i], 6, true)));
  });
});

describe('cancellation', () => {
  it('40 requests at once: one aborted while waiting ends at once, not when it reaches the head', async () => {
    const m = new FakeModel({ maxSequences: 4, stepMs: 2 });
    const s = new Scheduler(m);
    const acs = Array.from({ length: 40 }, () => new AbortController());
    const streams = acs.map((ac, i) => s.submit({ prompt: [i % 50 + 1], maxTokens: 20, ignoreEos: true, signal: ac.signal }));
    await tick();
    const before = s.stepCount;
    const waitingBefore = s.load.waiting; // 39 or 36: new requests join at the next step boundary
    for (let i = 10; i < 40; i += 3) acs[i].abort();
    const ended = await Promise.all([10, 13, 16, 19, 22, 25, 28, 31, 34, 37].map((i) => streams[i].result));
    expect(s.stepCount - before).toBe(0); // all ended before another step completed
    expect(ended.every((r) => r.finishReason === 'abort' && r.tokens.length === 0)).toBe(true);
    expect(s.load.waiting).toBe(waitingBefore - 10);
    for (const ac of acs) ac.abort();
    await s.idle();
    expect(m.live.size).toBe(0);
  });

  it('a running request ends at the next step boundary and frees its sequence', async () => {
    const m = new FakeModel({ stepMs: 5 });
    const s = new Scheduler(m);
    const ac = new AbortController();
    const other = s.submit({ prompt: [2], maxTokens: 30, ignoreEos: true });
    const st = s.submit({ prompt: [1], maxTokens: 1000, ignoreEos: true, signal: ac.signal });
    const got: number[] = [];
    let abortedAt = -1;
    for await (const t of st) {
      got.push(t);
      if (got.length === 3) {
        ac.abort();
        abortedAt = s.stepCount;
      }
    }
    const r = await st.result;
    expect(r.finishReason).toBe('abort');
    expect(s.stepCount - abortedAt).toBeLessThanOrEqual(1);
    expect(r.tokens).toEqual(got);
    expect(r.tokens.length).toBe(3); // nothing from the step it was aborted in
    expect((await other.result).tokens).toEqual(m.alone([2], 30, true));
    expect(m.live.size).toBe(0);
  });

  it('an already-aborted signal ends the request without running a step', async () => {
    const m = new FakeModel();
    const s = new Scheduler(m);
    const r = await s.submit({ prompt: [1], maxTokens: 4, signal: AbortSignal.abort() }).result;
    expect(r).toMatchObject({ finishReason: 'abort', tokens: [] });
    expect(m.steps.length).toBe(0);
  });
});

describe('close and fail', () => {
  it("close('cancel') ends waiting requests now, running ones within a step, and refuses new ones as disposed", async () => {
    const m = new FakeModel({ maxSequences: 2, stepMs: 3 });
    const s = new Scheduler(m);
    const streams = [1, 2, 3, 4, 5].map((p) => s.submit({ prompt: [p], maxTokens: 100, ignoreEos: true }));
    await tick();
    const at = s.stepCount;
    await s.close('cancel');
    expect(s.stepCount - at).toBeLessThanOrEqual(1);
    const res = await Promise.all(streams.map((st) => st.result));
    expect(res.every((r) => r.finishReason === 'abort')).toBe(true);
    const late = s.submit({ prompt: [1], maxTokens: 3 });
    await expect(late.result).rejects.toBeInstanceOf(EngineDisposedError);
    await expect(collect(late)).rejects.toThrow(/disposed/);
    expect(m.live.size).toBe(0);
  });

  it("close('drain') lets running and waiting requests finish but refuses new ones", async () => {
    const m = new FakeModel({ maxSequences: 2 });
    const s = new Scheduler(m);
    const prompts = [[1], [2], [3]];
    const streams = prompts.map((p) => s.submit({ prompt: p, maxTokens: 5, ignoreEos: true }));
    const closed = s.close('drain');
    await expect(s.submit({ prompt: [1], maxTokens: 1 }).result).rejects.toThrow(/disposed/);
    await closed;
    const res = await Promise.all(streams.map((st) => st.result));
    res.forEach((r, i) => expect(r.tokens).toEqual(m.alone(prompts[i], 5, true)));
  });

  it('a device-loss error from a step ends every open request (waiting ones too) with it', async () => {
    const m = new FakeModel({ maxSequences: 2 });
    const s = new Scheduler(m);
    const streams = [1, 2, 3].map((p) => s.submit({ prompt: [p], maxTokens: 50, ignoreEos: true }));
    await tick();
    m.failNext = new GpuDeviceLostError('destroyed', 'Device was destroyed.');
    const res = await Promise.allSettled(streams.map((st) => collect(st)));
    for (const r of res) {
      expect(r.status).toBe('rejected');
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/GPU device was lost \(reason: destroyed; Device was destroyed\.\)/);
    }
    await expect(s.submit({ prompt: [1], maxTokens: 1 }).result).rejects.toThrow(/GPU device was lost/);
    expect(m.live.size).toBe(0);
  });
});

describe('sampling draws survive a retried step', () => {
  it('a request whose step failed because of another samples with the same draws as without the failure', async () => {
    const run = async (fail: boolean) => {
      const m = new FakeModel();
      const ok: number[] = []; // the sampled request's draw in each successful step
      const step = m.step.bind(m);
      m.step = async (items) => {
        const out = await step(items);
        for (const it of items) if (it.sampling.temperature > 0) ok.push(it.sampling.u!);
        return out;
      };
      const s = new Scheduler(m);
      const other = s.submit({ prompt: [5], maxTokens: 6, ignoreEos: true });
      const st = s.submit({ prompt: [1, 2], maxTokens: 6, temperature: 0.7, seed: 11, ignoreEos: true });
      await tick();
      await tick();
      if (fail) m.failNext = new StepItemError('the other request failed', [0]);
      const [o] = await Promise.allSettled([other.result, st.result]);
      expect(o.status).toBe(fail ? 'rejected' : 'fulfilled');
      expect((await st.result).tokens).toHaveLength(6);
      return ok;
    };
    const plain = await run(false);
    expect(plain).toHaveLength(6);
    expect(await run(true)).toEqual(plain);
  });
});
