// Continuous batching: every step runs the decode token of each running request plus prefill chunks
// of newly admitted ones, in one batched forward. Requests join and leave between steps.
//
// Reliability rules (issue 12): a request is checked completely when submitted and rejected alone; a
// failing step fails only the requests it can be pinned on (StepItemError names them; otherwise each
// request's part is retried alone) and the rest continue; an AbortSignal ends a waiting request at
// once and a running one at the next step boundary; close() cancels or drains and refuses new work;
// fail() (device lost) ends every open request with that error at once.
import { Channel } from './channel.ts';
import { seededRandom } from '../util/random.ts';
import { checkGenerateRequest } from '../api/validate.ts';
import { EngineDisposedError } from '../api/errors.ts';
import type { Policy } from '../api/policy.ts';
import { GpuUnavailableError } from '../gpu/errors.ts';
import { StepItemError, type BatchModel, type ExpertRouting, type SamplingParams, type StepItem, type StepResult } from './types.ts';

export interface GenerateRequest {
  prompt: number[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Extra stop token ids besides the model's eos. */
  stopTokenIds?: number[];
  /** Keep generating past eos (benchmarks, conformance). */
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerateResult {
  tokens: number[];
  finishReason: FinishReason;
  promptTokens: number;
}

export interface StepMetrics {
  step: number;
  running: number;
  waiting: number;
  batchTokens: number;
  decodeTokens: number;
  ms: number;
  distinctExperts?: number[];
  /** The routing policy the step ran with (a switch applies from the next step that starts). */
  policy?: Policy;
  /** Per layer: the policy's experts and the baseline routing's experts of this same step. */
  routing?: ExpertRouting[];
}

export interface SchedulerOptions {
  /** Most tokens in one step (decode tokens + prefill chunks). */
  maxBatchTokens?: number;
  /** Longest prefill chunk of one request in one step. */
  prefillChunk?: number;
  onStep?: (m: StepMetrics) => void;
  /**
   * When idle, wait this long (ms; 0 = one macrotask) before the first step, so requests submitted
   * in the same tick (a Promise.all, a burst of messages from a Worker) share it. Default 0.
   */
  batchWindowMs?: number;
}

/** 'cancel': waiting requests end now, running ones at the next step boundary (finishReason 'abort'); 'drain': all finish. */
export type CloseMode = 'cancel' | 'drain';

export class RequestStream implements AsyncIterable<number> {
  readonly result: Promise<GenerateResult>;
  /** @internal */ resolve!: (r: GenerateResult) => void;
  /** @internal */ reject!: (e: unknown) => void;
  /** @internal */ readonly channel = new Channel<number>();

  constructor() {
    this.result = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.result.catch(() => {}); // consumers may only iterate; the error also reaches the iterator
  }

  /** A stream that has already failed with `err` (a request refused at submission). */
  static failed(err: unknown): RequestStream {
    const s = new RequestStream();
    s.channel.close(err);
    s.reject(err);
    return s;
  }

  [Symbol.asyncIterator](): AsyncIterator<number> {
    return this.channel[Symbol.asyncIterator]();
  }
}

interface Request {
  req: GenerateRequest;
  stream: RequestStream;
  state: 'waiting' | 'running' | 'done';
  seq: number;
  /** Prompt tokens not yet fed. */
  pending: number[];
  generated: number[];
  last: number;
  rand: () => number;
  stops: Set<number>;
  /** Abort asked while running: ends at the next step boundary. */
  aborted: boolean;
  /** This step's random draw, kept until a step succeeds so a retried step samples as it would have. */
  draw: number | null;
  unlisten?: () => void;
}

/** One request's part of a step: its tokens and the sampling draw, kept for a retry. */
interface Part {
  r: Request;
  item: StepItem;
  /** Prompt tokens this part feeds (0 for a decode token). */
  prefill: number;
}

export class Scheduler {
  private readonly waiting: Request[] = [];
  private readonly running: Request[] = [];
  private loop: Promise<void> | null = null;
  private steps = 0;
  private readonly maxBatchTokens: number;
  private readonly prefillChunk: number;
  /** Set by close() / fail(): new requests are refused with it. */
  private closed: Error | null = null;
  private failure: Error | null = null;

  constructor(private readonly model: BatchModel, private readonly opts: SchedulerOptions = {}) {
    this.maxBatchTokens = opts.maxBatchTokens ?? 64;
    this.prefillChunk = Math.min(opts.prefillChunk ?? 32, this.maxBatchTokens);
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  /** Steps run so far (a cancelled request ends within one step of its abort). */
  get stepCount(): number {
    return this.steps;
  }

  submit(req: GenerateRequest): RequestStream {
    if (this.closed) return RequestStream.failed(this.closed);
    try {
      checkGenerateRequest(req, this.model);
    } catch (e) {
      return RequestStream.failed(e);
    }
    const stops = new Set<number>(req.ignoreEos ? [] : this.model.eosTokenIds);
    for (const s of req.stopTokenIds ?? []) stops.add(s);
    const r: Request = {
      req,
      stream: new RequestStream(),
      state: 'waiting',
      seq: -1,
      pending: req.prompt.slice(),
      generated: [],
      last: -1,
      rand: seededRandom(req.seed ?? Math.floor(Math.random() * 2 ** 32)),
      stops,
      aborted: false,
      draw: null,
    };
    const signal = req.signal;
    if (signal?.aborted) {
      this.finish(r, 'abort');
      return r.stream;
    }
    if (signal) {
      const onAbort = () => this.abort(r);
      signal.addEventListener('abort', onAbort, { once: true });
      r.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    this.waiting.push(r);
    this.kick();
    return r.stream;
  }

  /** Resolves when no request is waiting or running. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Refuse new requests (with `reason`, default "disposed"); cancel or drain the open ones; resolves when all ended. */
  close(mode: CloseMode = 'cancel', reason: Error = new EngineDisposedError()): Promise<void> {
    this.closed ??= reason;
    if (mode === 'cancel') {
      for (const r of [...this.waiting]) this.finish(r, 'abort');
      for (const r of this.running) r.aborted = true;
    }
    return this.idle();
  }

  /** End every open request with `err` now and refuse new ones (the device is gone). */
  fail(err: Error): void {
    this.failure ??= err;
    this.closed ??= err;
    for (const r of [...this.waiting, ...this.running]) this.finish(r, 'abort', err);
  }

  private abort(r: Request): void {
    if (r.state === 'waiting') this.finish(r, 'abort');
    else if (r.state === 'running') r.aborted = true;
  }

  private kick(): void {
    if (this.loop) return;
    const ms = this.opts.batchWindowMs ?? 0;
    this.loop = new Promise<void>((r) => setTimeout(r, ms)).then(() => this.run()).finally(() => {
      this.loop = null;
      if (this.waiting.length || this.running.length) this.kick();
    });
  }

  private admit(): void {
    while (this.waiting.length && this.running.length < this.model.maxSequences) {
      const r = this.waiting.shift()!;
      r.seq = this.model.newSequence();
      r.state = 'running';
      this.running.push(r);
    }
  }

  private finish(r: Request, reason: FinishReason, err?: unknown): void {
    if (r.state === 'done') return;
    if (r.state === 'running') {
      this.model.freeSequence(r.seq);
      this.running.splice(this.running.indexOf(r), 1);
    } else {
      const i = this.waiting.indexOf(r);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    r.state = 'done';
    r.unlisten?.();
    if (err !== undefined) {
      r.stream.channel.close(err);
      r.stream.reject(err);
    } else {
      r.stream.channel.close();
      r.stream.resolve({ tokens: r.generated, finishReason: reason, promptTokens: r.req.prompt.length });
    }
  }

  private async run(): Promise<void> {
    while (!this.failure) {
      this.admit();
      for (const r of [...this.running]) if (r.aborted) this.finish(r, 'abort');
      if (!this.running.length) return;
      await this.runStep(this.plan());
    }
  }

  /** Decode tokens first (one per request, oldest first), then prefill chunks while the budget lasts. */
  private plan(): Part[] {
    const parts: Part[] = [];
    let budget = this.maxBatchTokens;
    for (const r of this.running) {
      if (r.pending.length === 0 && budget > 0) {
        parts.push({ r, item: { seq: r.seq, tokens: [r.last], sampling: this.sampling(r) }, prefill: 0 });
        budget--;
      }
    }
    for (const r of this.running) {
      if (r.pending.length > 0 && budget > 0) {
        const n = Math.min(r.pending.length, this.prefillChunk, budget);
        parts.push({ r, item: { seq: r.seq, tokens: r.pending.slice(0, n), sampling: this.sampling(r), prefill: true }, prefill: n });
        budget -= n;
      }
    }
    return parts;
  }

  private async runStep(parts: Part[]): Promise<void> {
    const t0 = performance.now();
    let out: StepResult;
    try {
      out = await this.model.step(parts.map((p) => p.item));
    } catch (e) {
      await this.recover(parts, e);
      return;
    }
    this.apply(parts, out, performance.now() - t0);
  }

  private isFatal(e: unknown): boolean {
    return e instanceof GpuUnavailableError;
  }

  /** A step failed: fail the requests at fault, leave the others to the next step (their state is unchanged). */
  private async recover(parts: Part[], e: unknown): Promise<void> {
    if (this.isFatal(e)) return this.fail(e as Error);
    if (e instanceof StepItemError && e.items.length > 0 && e.items.every((i) => Number.isInteger(i) && i >= 0 && i < parts.length)) {
      for (const i of e.items) this.finish(parts[i].r, 'abort', e);
      return;
    }
    if (parts.length === 1) return this.finish(parts[0].r, 'abort', e);
    // Not attributable: run each request's part alone; those that fail again are the offenders.
    for (const p of parts) {
      if (this.failure) return;
      if (p.r.state !== 'running') continue;
      const t0 = performance.now();
      try {
        const out = await this.model.step([p.item]);
        this.apply([p], out, performance.now() - t0);
      } catch (e2) {
        if (this.isFatal(e2)) return this.fail(e2 as Error);
        this.finish(p.r, 'abort', e2);
      }
    }
  }

  private apply(parts: Part[], out: StepResult, ms: number): void {
    this.steps++;
    for (let i = 0; i < parts.length; i++) {
      const { r, prefill } = parts[i];
      if (r.state !== 'running') continue;
      r.draw = null;
      if (prefill) r.pending = r.pending.slice(prefill);
      if (r.aborted) {
        this.finish(r, 'abort');
        continue;
      }
      if (r.pending.length > 0) continue; // mid-prefill: the sampled token is not meaningful yet
      const tok = out.next[i];
      if (r.stops.has(tok)) {
        this.finish(r, 'stop');
        continue;
      }
      r.generated.push(tok);
      r.last = tok;
      r.stream.channel.push(tok);
      const used = r.req.prompt.length + r.generated.length;
      if (r.generated.length >= r.req.maxTokens || used >= this.model.maxContext) this.finish(r, 'length');
    }
    this.opts.onStep?.({
      step: this.steps,
      running: this.running.length,
      waiting: this.waiting.length,
      batchTokens: parts.reduce((s, p) => s + p.item.tokens.length, 0),
      decodeTokens: parts.filter((p) => p.prefill === 0).length,
      ms,
      distinctExperts: out.distinctExperts,
      policy: out.policy,
      routing: out.routing,
    });
  }

  private sampling(r: Request): SamplingParams {
    r.draw ??= r.rand();
    return { temperature: r.req.temperature ?? 0, topP: r.req.topP ?? 1, u: r.draw };
  }
}
