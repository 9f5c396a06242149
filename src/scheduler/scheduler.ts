// Continuous batching: every step runs the decode token of each running request plus prefill chunks
// of newly admitted ones, in one batched forward. Requests join and leave between steps.
import { Channel } from './channel.ts';
import { seededRandom } from '../util/random.ts';
import type { BatchModel, StepItem } from './types.ts';

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

  [Symbol.asyncIterator](): AsyncIterator<number> {
    return this.channel[Symbol.asyncIterator]();
  }
}

interface Running {
  req: GenerateRequest;
  stream: RequestStream;
  seq: number;
  /** Prompt tokens not yet fed. */
  pending: number[];
  generated: number[];
  last: number;
  rand: () => number;
  stops: Set<number>;
}

export class Scheduler {
  private readonly waiting: { req: GenerateRequest; stream: RequestStream }[] = [];
  private readonly running: Running[] = [];
  private loop: Promise<void> | null = null;
  private steps = 0;
  private readonly maxBatchTokens: number;
  private readonly prefillChunk: number;

  constructor(private readonly model: BatchModel, private readonly opts: SchedulerOptions = {}) {
    this.maxBatchTokens = opts.maxBatchTokens ?? 64;
    this.prefillChunk = Math.min(opts.prefillChunk ?? 32, this.maxBatchTokens);
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running.length, waiting: this.waiting.length };
  }

  submit(req: GenerateRequest): RequestStream {
    const stream = new RequestStream();
    const bad = this.validate(req);
    if (bad) {
      stream.channel.close(bad);
      stream.reject(bad);
      return stream;
    }
    this.waiting.push({ req, stream });
    this.kick();
    return stream;
  }

  /** Resolves when no request is waiting or running. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private validate(req: GenerateRequest): Error | null {
    if (!req.prompt.length) return new RangeError('webmoe: the prompt is empty (give at least one token)');
    if (req.prompt.length >= this.model.maxContext) {
      return new RangeError(`webmoe: the prompt has ${req.prompt.length} tokens; the model's context is ${this.model.maxContext}`);
    }
    if (!(req.maxTokens >= 1)) return new RangeError('webmoe: maxTokens must be >= 1');
    return null;
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
      const { req, stream } = this.waiting.shift()!;
      if (req.signal?.aborted) {
        stream.channel.close();
        stream.resolve({ tokens: [], finishReason: 'abort', promptTokens: req.prompt.length });
        continue;
      }
      const stops = new Set<number>(req.ignoreEos ? [] : this.model.eosTokenIds);
      for (const s of req.stopTokenIds ?? []) stops.add(s);
      this.running.push({
        req,
        stream,
        seq: this.model.newSequence(),
        pending: req.prompt.slice(),
        generated: [],
        last: -1,
        rand: seededRandom(req.seed ?? Math.floor(Math.random() * 2 ** 32)),
        stops,
      });
    }
  }

  private finish(r: Running, reason: FinishReason, err?: unknown): void {
    this.model.freeSequence(r.seq);
    this.running.splice(this.running.indexOf(r), 1);
    if (err !== undefined) {
      r.stream.channel.close(err);
      r.stream.reject(err);
    } else {
      r.stream.channel.close();
      r.stream.resolve({ tokens: r.generated, finishReason: reason, promptTokens: r.req.prompt.length });
    }
  }

  private async run(): Promise<void> {
    for (;;) {
      this.admit();
      for (const r of [...this.running]) if (r.req.signal?.aborted) this.finish(r, 'abort');
      if (!this.running.length) return;

      // Decode tokens first (one per request, oldest first), then prefill chunks while budget lasts.
      const items: StepItem[] = [];
      const owners: Running[] = [];
      let budget = this.maxBatchTokens;
      for (const r of this.running) {
        if (r.pending.length === 0 && budget > 0) {
          items.push({ seq: r.seq, tokens: [r.last], sampling: this.sampling(r) });
          owners.push(r);
          budget--;
        }
      }
      const decodeTokens = items.length;
      for (const r of this.running) {
        if (r.pending.length > 0 && budget > 0) {
          const n = Math.min(r.pending.length, this.prefillChunk, budget);
          items.push({ seq: r.seq, tokens: r.pending.splice(0, n), sampling: this.sampling(r) });
          owners.push(r);
          budget -= n;
        }
      }
      const t0 = performance.now();
      let out;
      try {
        out = await this.model.step(items);
      } catch (e) {
        // The model failed for this batch: fail these requests, keep the engine usable for others.
        for (const r of [...this.running]) this.finish(r, 'abort', e);
        continue;
      }
      this.steps++;
      for (let i = 0; i < owners.length; i++) {
        const r = owners[i];
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
        batchTokens: items.reduce((s, it) => s + it.tokens.length, 0),
        decodeTokens,
        ms: performance.now() - t0,
        distinctExperts: out.distinctExperts,
      });
    }
  }

  private sampling(r: Running) {
    return { temperature: r.req.temperature ?? 0, topP: r.req.topP ?? 1, u: r.rand() };
  }
}
