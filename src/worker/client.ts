// Page side of the engine Worker: the same generate() streaming shape as Engine, over comlink.
// comlink never settles a call whose worker is gone, so every call is raced against the worker's
// death (an `error` / `messageerror` event, or terminate() through dispose): none can hang.
import * as Comlink from 'comlink';
import type { WorkerApi, WorkerLoadOptions, LoadProgress } from './protocol.ts';
import type { GenerateChunk, GenerateOptions, GenerateOutput } from '../api/engine.ts';
import type { StepMetrics } from '../scheduler/scheduler.ts';
import { Channel } from '../scheduler/channel.ts';
import { EngineDisposedError } from '../api/errors.ts';

export interface WorkerGenerateStream extends AsyncIterable<GenerateChunk> {
  readonly result: Promise<GenerateOutput>;
  cancel(): void;
}

/** The engine Worker stopped (crashed, failed to load, or was terminated): every pending call rejects with this. */
export class WorkerDiedError extends Error {
  override name = 'WorkerDiedError';
}

/** What the client needs of a Worker (tests pass a stand-in). */
export type WorkerLike = Comlink.Endpoint & { terminate(): void };

export class WorkerEngine {
  private readonly api: Comlink.Remote<WorkerApi>;
  private nextId = 1;
  private dead: Error | null = null;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(readonly worker: WorkerLike) {
    this.api = Comlink.wrap<WorkerApi>(worker);
    const died = (what: string) => (ev: Event) => {
      const msg = (ev as ErrorEvent).message;
      this.die(new WorkerDiedError(`webmoe: the engine worker died (${what}${msg ? `: ${msg}` : ''}); create a new WorkerEngine`));
    };
    worker.addEventListener('error', died('error event'));
    worker.addEventListener('messageerror', died('a message could not be deserialised'));
  }

  /** Start the engine worker shipped with webmoe (a module Worker). */
  static create(): WorkerEngine {
    return new WorkerEngine(new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' }));
  }

  /** Whether the worker is gone (then every call rejects with the reason). */
  get isDead(): boolean {
    return this.dead !== null;
  }

  private die(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    try {
      this.worker.terminate();
    } catch {
      /* already gone */
    }
    for (const fail of [...this.pending]) fail(e);
    this.pending.clear();
  }

  /** Run one RPC; it rejects when the worker dies before answering. */
  private call<T>(rpc: () => Promise<T>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      this.pending.add(reject);
      rpc().then(resolve, reject).finally(() => this.pending.delete(reject));
    });
  }

  load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<{ adapter: string; model: string }> {
    return this.call(() => this.api.load(opts, onProgress ? Comlink.proxy(onProgress) : undefined));
  }

  generate(prompt: string | { ids: number[] }, opts: GenerateOptions = {}): WorkerGenerateStream {
    const id = this.nextId++;
    const { signal, ...rest } = opts;
    const ch = new Channel<GenerateChunk>();
    const result = this.call(() => this.api.generate(id, prompt, rest, Comlink.proxy((c: GenerateChunk) => ch.push(c))));
    result.then(() => ch.close(), (e) => ch.close(e));
    const cancel = () => {
      if (!this.dead) this.api.cancel(id).catch(() => undefined);
    };
    signal?.addEventListener('abort', cancel);
    return { [Symbol.asyncIterator]: () => ch[Symbol.asyncIterator](), result, cancel };
  }

  onStep(cb: (m: StepMetrics) => void): Promise<void> {
    return this.call(() => this.api.onStep(Comlink.proxy(cb)));
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    try {
      await this.call(() => this.api.dispose());
    } finally {
      this.api[Comlink.releaseProxy]();
      this.die(new EngineDisposedError('webmoe: the worker engine is disposed; create a new WorkerEngine'));
    }
  }
}
