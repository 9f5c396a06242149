// Issue 12's soak, CI-sized, with the fake model: 200 requests with random lengths, cancellations at
// random times, random sampling settings and invalid ones mixed in, through the scheduler.
import { describe, it, expect } from 'vitest';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { FakeModel } from '../helpers/fake-model.ts';
import { runSoak, soakViolations } from '../helpers/soak.ts';

describe('soak (fake model)', () => {
  for (const seed of [1, 2]) {
    it(`200 requests, seed ${seed}: greedy == alone, cancels end within a step, invalid fail alone, all sequences freed`, async () => {
      const m = new FakeModel({ maxSequences: 6, maxContext: 48, vocabSize: 64, stepMs: 1 });
      const s = new Scheduler(m, { maxBatchTokens: 24, prefillChunk: 8 });
      const rep = await runSoak(s, {
        requests: 200, seed, vocabSize: 64, maxPrompt: 30, maxTokens: 12, spreadMs: 400,
        cancelFraction: 0.3, invalidFraction: 0.1, sampleFraction: 0.3,
      });
      const bad = await soakViolations(rep, (r) => m.alone(r.prompt, r.maxTokens, r.ignoreEos));
      expect(bad).toEqual([]);
      expect(rep.counts.invalid).toBeGreaterThan(5);
      expect(rep.counts.cancelled).toBeGreaterThan(30);
      expect(rep.counts.greedy).toBeGreaterThan(50);
      const aborted = rep.records.filter((r) => r.result?.finishReason === 'abort').length;
      expect(aborted).toBeGreaterThan(20);
      expect(m.live.size).toBe(0); // every KV sequence returned
      expect(s.load).toEqual({ running: 0, waiting: 0 });
      expect(rep.ms).toBeLessThan(20_000); // bounded run time (typically ~1 s)
    });
  }
});
