// Issue 12's probes through the public API on the embedded default model (real WebGPU in Node):
// isolation, cancellation of waiting requests, a small soak, dispose (cancel / drain) releasing every
// GPU buffer on a shared device, and device loss with recovery on the same and on a new device.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createEngine, createNodeGpu } from '../../src/node.ts';
import type { LocalEngine as Engine } from '../../src/api/engine.ts';
import type { Gpu } from '../../src/gpu/context.ts';
import type { MoeBatchModel } from '../../src/api/batch-model.ts';
import { EngineDisposedError } from '../../src/api/errors.ts';
import { GpuDeviceLostError } from '../../src/gpu/errors.ts';
import { countBuffers, type BufferCounter } from '../helpers/buffer-count.ts';
import { runSoak, soakViolations } from '../helpers/soak.ts';

const OPTS = { maxSequences: 4, maxContext: 96, maxBatchTokens: 32 } as const;
const WHALE = { maxTokens: 4, ignoreEos: true } as const;

describe('reliability on the default model (WebGPU in Node)', () => {
  let gpu: Gpu;
  let counter: BufferCounter;
  let engine: Engine;
  const uncaptured: string[] = [];
  let whaleAlone: number[] = [];

  beforeAll(async () => {
    gpu = await createNodeGpu();
    counter = countBuffers(gpu.device);
    gpu.device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
    engine = await createEngine({ ...OPTS, gpu });
  }, 120_000);

  afterAll(async () => {
    await engine?.dispose();
    counter?.restore();
    gpu?.destroy();
  });

  it('probe 1: an out-of-vocabulary request submitted while another runs fails alone', async () => {
    const g = engine.generate('The whale', WHALE);
    const it1 = g[Symbol.asyncIterator]();
    await it1.next(); // running now
    const bad = engine.generate({ ids: [99999] });
    await expect(bad.result).rejects.toThrow(/token id 99999 out of range \[0, 8192\)/);
    while (!(await it1.next()).done);
    const together = await g.result;
    expect(together.tokens).toHaveLength(4);
    whaleAlone = (await engine.generate('The whale', WHALE).result).tokens;
    expect(together.tokens).toEqual(whaleAlone);
  }, 300_000);

  it('probe 2: of 40 requests submitted at once, those aborted while waiting end at once', async () => {
    const acs = Array.from({ length: 40 }, () => new AbortController());
    const gens = acs.map((ac, i) => engine.generate(`Call me Ishmael ${i}`, { maxTokens: 1, ignoreEos: true, signal: ac.signal }));
    await gens[0][Symbol.asyncIterator]().next(); // the first batch is decoding
    const at = engine.scheduler.stepCount;
    const waiting = Array.from({ length: 30 }, (_, k) => 10 + k);
    for (const i of waiting) acs[i].abort();
    const t0 = performance.now();
    const ended = await Promise.all(waiting.map((i) => gens[i].result));
    const ms = performance.now() - t0;
    expect(engine.scheduler.stepCount - at).toBe(0); // not one more step was needed
    expect(ended.every((r) => r.finishReason === 'abort' && r.tokens.length === 0)).toBe(true);
    expect(ms).toBeLessThan(1000);
    const rest = await Promise.all(gens.filter((_, i) => !waiting.includes(i)).map((g) => g.result));
    expect(rest.every((r) => r.finishReason === 'length' && r.tokens.length === 1)).toBe(true);
  }, 300_000);

  it('soak: random lengths, sampling, cancellations and invalid requests; greedy == alone; no buffer leak', async () => {
    const afterLoad = counter.live;
    const rep = await runSoak(engine.scheduler, {
      requests: 12, seed: 7, vocabSize: 8192, maxPrompt: 24, maxTokens: 3, spreadMs: 1500,
      cancelFraction: 0.3, invalidFraction: 0.15, sampleFraction: 0.25,
    });
    const bad = await soakViolations(rep, async (r) => (await engine.scheduler.submit(r).result).tokens);
    expect(bad).toEqual([]);
    expect(rep.counts.greedy).toBeGreaterThan(2);
    expect(engine.scheduler.load).toEqual({ running: 0, waiting: 0 });
    // Steps allocate nothing per request: only the shape-keyed uniform cache may have grown.
    expect(counter.live - afterLoad).toBeLessThan(200);
    expect(rep.ms).toBeLessThan(240_000);
  }, 400_000);

  it("dispose({ mode: 'cancel' }) ends running requests within a step, releases every buffer, refuses new work", async () => {
    const running = [0, 1, 2].map((i) => engine.generate(`It was a dark night ${i}`, { maxTokens: 50, ignoreEos: true }));
    await running[0][Symbol.asyncIterator]().next();
    const at = engine.scheduler.stepCount;
    await engine.dispose({ mode: 'cancel' });
    expect(engine.scheduler.stepCount - at).toBeLessThanOrEqual(1);
    const res = await Promise.all(running.map((g) => g.result));
    expect(res.every((r) => r.finishReason === 'abort' && r.tokens.length < 50)).toBe(true);
    expect(counter.labels()).toEqual([]); // the shared device holds nothing of the engine
    const late = engine.generate('The whale');
    await expect(late.result).rejects.toBeInstanceOf(EngineDisposedError);
    await expect(late.result).rejects.toThrow(/disposed/);
    await gpu.device.queue.onSubmittedWorkDone();
    expect(uncaptured).toEqual([]); // no work reached destroyed buffers
  }, 300_000);

  it("recreate() on the same device, then dispose({ mode: 'drain' }) lets requests finish and releases everything", async () => {
    engine = await engine.recreate({ gpu });
    const g = engine.generate('The whale', WHALE);
    const drained = engine.dispose({ mode: 'drain' });
    await expect(engine.generate('x').result).rejects.toThrow(/disposed/);
    await drained;
    expect((await g.result).tokens).toEqual(whaleAlone);
    expect(counter.live).toBe(0);
    expect(uncaptured).toEqual([]);
  }, 300_000);

  it('probe 3: device loss ends every open stream with an error that says so; lost settles; recreate() works on a new device', async () => {
    const own = await createEngine({ ...OPTS, maxSequences: 2 });
    const dev = (own.model as MoeBatchModel).model.gpu.device;
    const gens = [0, 1, 2].map((i) => own.generate(`The sea ${i}`, { maxTokens: 60, ignoreEos: true })); // the third waits
    const it0 = gens[0][Symbol.asyncIterator]();
    await it0.next();
    dev.destroy();
    const errs = await Promise.all(gens.map((g) => g.result.then(() => null, (e) => e)));
    for (const e of errs) {
      expect(e).toBeInstanceOf(GpuDeviceLostError);
      expect(String(e.message)).toMatch(/^webmoe: the GPU device was lost \(reason: destroyed/);
    }
    await expect((async () => { while (!(await it0.next()).done); })()).rejects.toThrow(/GPU device was lost/);
    const lost = await own.lost;
    expect(lost.reason).toBe('destroyed');
    await expect(own.generate('again').result).rejects.toThrow(/GPU device was lost/);
    const again = await own.recreate();
    try {
      expect((again.model as MoeBatchModel).model.gpu.device).not.toBe(dev);
      expect((await again.generate('The whale', WHALE).result).tokens).toEqual(whaleAlone);
    } finally {
      await again.dispose();
    }
  }, 400_000);
});
