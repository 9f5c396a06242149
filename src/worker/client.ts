// Page side of the engine Worker: the `Engine` interface over comlink. The model runs in the Worker,
// so decoding never blocks the page. comlink never settles a call whose worker is gone, so every
// call is raced against the worker's death (an `error` / `messageerror` event, or terminate()
// through dispose): none can hang.
import * as Comlink from 'comlink';
import type { WorkerApi, WorkerLoadOptions } from './protocol.ts';
import type { Engine, EngineInfo, GenerateChunk, GenerateOptions, GenerateStream, LoadProgress, Prompt, StepMetrics } from '../api/types.ts';
import { chatCompletions } from '../api/chat.ts';
import { Channel } from '../scheduler/channel.ts';
import { EngineDisposedError } from '../api/errors.ts';
import type { Policy } from '../api/policy.ts';

/** The engine Worker stopped (crashed, failed to load, or was terminated): every pending call rejects with this. */
export class WorkerDiedError extends Error {
  override name = 'WorkerDiedError';
}

/** What the client needs of a Worker (tests pass a stand-in). */
export type WorkerLike = Comlink.Endpoint & { terminate(): void };

export class WorkerEngine implements Engine {
  readonly chat;
  private readonly api: Comlink.Remote<WorkerApi>;
  private nextId = 1;
  private loaded: EngineInfo | null = null;
  private readonly stepListeners = new Set<(m: StepMetrics) => void>();
  private dead: Error | null = null;
  private readonly pending = new Set<(e: Error) => void>();

  /** Wraps a Worker that runs serveEngine(); call load() before anything else (createWorkerEngine does). */
  constructor(readonly worker: WorkerLike) {
    this.api = Comlink.wrap<WorkerApi>(worker);
    this.chat = { completions: chatCompletions(this) };
    const died = (what: string) => (ev: Event) => {
      const msg = (ev as ErrorEvent).message;
      this.die(new WorkerDiedError(`webmoe: the engine worker died (${what}${msg ? `: ${msg}` : ''}); create a new engine`));
    };
    worker.addEventListener('error', died('error event'));
    worker.addEventListener('messageerror', died('a message could not be deserialised'));
  }

  get info(): EngineInfo {
    if (!this.loaded) throw new Error('webmoe: WorkerEngine.load() has not finished');
    return this.loaded;
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

  async load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo> {
    const info = await this.call(() => this.api.load(opts, onProgress ? Comlink.proxy(onProgress) : undefined));
    await this.call(() => this.api.onStep(Comlink.proxy((m: StepMetrics) => this.stepListeners.forEach((l) => l(m)))));
    this.loaded = info;
    return info;
  }

  generate(prompt: Prompt, opts: GenerateOptions = {}): GenerateStream {
    const id = this.nextId++;
    const { signal, ...rest } = opts;
    const ch = new Channel<GenerateChunk>();
    const result = this.call(() => this.api.generate(id, prompt, rest, Comlink.proxy((c: GenerateChunk) => ch.push(c))));
    result.then(() => ch.close(), (e) => ch.close(e));
    // After generate's message, so the Worker knows the id when the cancel arrives (one port, in order).
    const cancel = () => {
      if (!this.dead) this.api.cancel(id).catch(() => undefined);
    };
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    return { [Symbol.asyncIterator]: () => ch[Symbol.asyncIterator](), result };
  }

  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  setPolicy(policy: Policy): Promise<void> {
    return this.call(() => this.api.setPolicy(policy));
  }

  async dispose(opts?: { mode?: 'cancel' | 'drain' }): Promise<void> {
    if (this.dead) return;
    try {
      await this.call(() => this.api.dispose(opts));
    } finally {
      this.api[Comlink.releaseProxy]();
      this.die(new EngineDisposedError('webmoe: the worker engine is disposed; create a new engine'));
    }
  }
}
