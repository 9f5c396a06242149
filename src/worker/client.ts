// Page side of the engine Worker: the `Engine` interface over comlink. The model runs in the Worker,
// so decoding never blocks the page.
import * as Comlink from 'comlink';
import type { WorkerApi, WorkerLoadOptions } from './protocol.ts';
import type { Engine, EngineInfo, GenerateChunk, GenerateOptions, GenerateStream, LoadProgress, Prompt, StepMetrics } from '../api/types.ts';
import { chatCompletions } from '../api/chat.ts';
import { Channel } from '../scheduler/channel.ts';

/** What the client needs of a Worker (a MessagePort works too, e.g. in tests). */
export type WorkerLike = Comlink.Endpoint & { terminate?(): void };

export class WorkerEngine implements Engine {
  readonly chat;
  private readonly api: Comlink.Remote<WorkerApi>;
  private nextId = 1;
  private loaded: EngineInfo | null = null;
  private readonly stepListeners = new Set<(m: StepMetrics) => void>();

  /** Wraps a Worker that runs serveEngine(); call load() before anything else (createWorkerEngine does). */
  constructor(readonly worker: WorkerLike) {
    this.api = Comlink.wrap<WorkerApi>(worker);
    this.chat = { completions: chatCompletions(this) };
  }

  get info(): EngineInfo {
    if (!this.loaded) throw new Error('webmoe: WorkerEngine.load() has not finished');
    return this.loaded;
  }

  async load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<EngineInfo> {
    this.loaded = await this.api.load(opts, onProgress ? Comlink.proxy(onProgress) : undefined);
    await this.api.onStep(Comlink.proxy((m: StepMetrics) => this.stepListeners.forEach((l) => l(m))));
    return this.loaded;
  }

  generate(prompt: Prompt, opts: GenerateOptions = {}): GenerateStream {
    const id = this.nextId++;
    const { signal, ...rest } = opts;
    const ch = new Channel<GenerateChunk>();
    const result = this.api.generate(id, prompt, rest, Comlink.proxy((c: GenerateChunk) => ch.push(c)));
    // After generate's message, so the Worker knows the id when the cancel arrives (one port, in order).
    if (signal?.aborted) void this.api.cancel(id);
    else signal?.addEventListener('abort', () => void this.api.cancel(id), { once: true });
    result.then(() => ch.close(), (e) => ch.close(e));
    return { [Symbol.asyncIterator]: () => ch[Symbol.asyncIterator](), result };
  }

  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  async dispose(): Promise<void> {
    try {
      await this.api.dispose();
    } finally {
      this.api[Comlink.releaseProxy]();
      this.worker.terminate?.();
    }
  }
}
