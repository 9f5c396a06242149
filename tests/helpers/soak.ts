// Soak driver shared by the CI soak tests and `npm run bench:soak`: many requests through one
// Scheduler with random prompt lengths, random sampling settings, random cancellations at random
// times and some invalid requests, then the issue-12 checks on every one of them:
//   - a valid, uncancelled greedy request gives the same tokens as when run alone;
//   - a cancelled one ends (finishReason 'abort') within one step of its abort;
//   - an invalid one fails alone with a ParameterError (and nothing else fails);
//   - every request ends (the caller bounds the run time).
import { seededRandom } from '../../src/util/random.ts';
import { ParameterError } from '../../src/api/errors.ts';
import type { GenerateRequest, GenerateResult, Scheduler } from '../../src/scheduler/scheduler.ts';

export interface SoakOptions {
  requests: number;
  seed: number;
  vocabSize: number;
  /** Longest random prompt (tokens). */
  maxPrompt: number;
  /** Largest random maxTokens. */
  maxTokens: number;
  /** Requests are submitted at random times within this many ms. */
  spreadMs: number;
  cancelFraction: number;
  invalidFraction: number;
  /** Fraction of valid requests that sample (temperature > 0) instead of greedy decoding. */
  sampleFraction: number;
  /** Token ids drawn for prompts are < this (defaults to vocabSize). */
  tokenRange?: number;
}

export type SoakKind = 'greedy' | 'sampled' | 'cancelled' | 'invalid';

export interface SoakRecord {
  i: number;
  kind: SoakKind;
  req: GenerateRequest;
  result?: GenerateResult;
  error?: unknown;
  abortedAtStep?: number;
  endedAtStep?: number;
}

export interface SoakReport {
  records: SoakRecord[];
  counts: Record<SoakKind, number>;
  /** Steps the scheduler ran during the soak. */
  steps: number;
  ms: number;
}

const INVALID: ((r: GenerateRequest, v: number) => void)[] = [
  (r, v) => (r.prompt = [...r.prompt, v + 7]), // out of the vocabulary
  (r) => (r.temperature = NaN),
  (r) => (r.topP = 2),
  (r) => (r.maxTokens = 0),
  (r) => (r.prompt = []),
  (r) => (r.seed = 0.5),
  (r) => (r.maxTokens = 2.5),
];

/** Submit every request (at random times), wait for all to end, and return what happened. */
export async function runSoak(s: Scheduler, o: SoakOptions): Promise<SoakReport> {
  const rnd = seededRandom(o.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const range = o.tokenRange ?? o.vocabSize;
  const records: SoakRecord[] = [];
  const t0 = performance.now();
  const step0 = s.stepCount;
  const done: Promise<void>[] = [];
  for (let i = 0; i < o.requests; i++) {
    const req: GenerateRequest = {
      prompt: Array.from({ length: int(1, o.maxPrompt) }, () => int(0, range - 1)),
      maxTokens: int(1, o.maxTokens),
      ignoreEos: rnd() < 0.5,
    };
    const u = rnd();
    let kind: SoakKind;
    if (u < o.invalidFraction) {
      kind = 'invalid';
      INVALID[int(0, INVALID.length - 1)](req, o.vocabSize);
    } else if (u < o.invalidFraction + o.cancelFraction) kind = 'cancelled';
    else kind = rnd() < o.sampleFraction ? 'sampled' : 'greedy';
    if (kind === 'sampled' || (kind === 'cancelled' && rnd() < 0.5)) {
      req.temperature = 0.1 + rnd() * 1.4;
      req.topP = 0.05 + rnd() * 0.95;
      req.seed = int(0, 2 ** 31);
    }
    const rec: SoakRecord = { i, kind, req };
    records.push(rec);
    const delay = rnd() * o.spreadMs;
    // cancellation: at submission, after a random number of tokens, or after a random time
    const how = int(0, 2);
    const afterTokens = int(0, req.maxTokens);
    const afterMs = rnd() * o.spreadMs;
    done.push(
      (async () => {
        await new Promise((r) => setTimeout(r, delay));
        const ac = kind === 'cancelled' ? new AbortController() : null;
        if (ac) req.signal = ac.signal;
        const abort = () => {
          if (ac && !ac.signal.aborted) {
            rec.abortedAtStep = s.stepCount;
            ac.abort();
          }
        };
        if (ac && how === 0) abort();
        const st = s.submit(req);
        if (ac && how === 2) setTimeout(abort, afterMs);
        let n = 0;
        try {
          for await (const _ of st) {
            n++;
            if (ac && how === 1 && n >= afterTokens) abort();
          }
          rec.result = await st.result;
        } catch (e) {
          rec.error = e;
        }
        rec.endedAtStep = s.stepCount;
      })(),
    );
  }
  await Promise.all(done);
  const counts = { greedy: 0, sampled: 0, cancelled: 0, invalid: 0 };
  for (const r of records) counts[r.kind]++;
  return { records, counts, steps: s.stepCount - step0, ms: performance.now() - t0 };
}

/**
 * Every violation of the soak's rules, as readable lines (empty = all good). `alone` gives a greedy
 * request's tokens when it runs by itself.
 */
export async function soakViolations(rep: SoakReport, alone: (req: GenerateRequest) => Promise<number[]> | number[]): Promise<string[]> {
  const bad: string[] = [];
  for (const r of rep.records) {
    const tag = `request ${r.i} (${r.kind})`;
    if (r.kind === 'invalid') {
      if (!(r.error instanceof ParameterError)) bad.push(`${tag}: expected a ParameterError, got ${r.error ?? 'success'}`);
      continue;
    }
    if (r.error !== undefined) {
      bad.push(`${tag}: failed: ${(r.error as Error)?.message ?? r.error}`);
      continue;
    }
    const res = r.result!;
    if (res.tokens.length > r.req.maxTokens) bad.push(`${tag}: ${res.tokens.length} tokens > maxTokens ${r.req.maxTokens}`);
    if (r.kind === 'cancelled') {
      if (r.abortedAtStep === undefined) {
        if (res.finishReason === 'abort') bad.push(`${tag}: ended 'abort' without being aborted`);
      } else if (res.finishReason === 'abort' && r.endedAtStep! - r.abortedAtStep > 1) {
        bad.push(`${tag}: ended ${r.endedAtStep! - r.abortedAtStep} steps after its abort`);
      } else if (res.finishReason !== 'abort' && r.endedAtStep! > r.abortedAtStep + 1) {
        bad.push(`${tag}: aborted at step ${r.abortedAtStep} but finished '${res.finishReason}' at step ${r.endedAtStep}`);
      }
      continue;
    }
    if (res.finishReason === 'abort') bad.push(`${tag}: ended 'abort' without being aborted`);
    if (r.kind === 'greedy') {
      const want = await alone({ ...r.req, signal: undefined });
      if (JSON.stringify(want) !== JSON.stringify(res.tokens)) bad.push(`${tag}: tokens ${JSON.stringify(res.tokens)} != alone ${JSON.stringify(want)}`);
    }
  }
  return bad;
}
