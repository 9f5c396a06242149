// Page side of the engine Worker: the same generate() streaming shape as Engine, over comlink.
import * as Comlink from 'comlink';
import type { WorkerApi, WorkerLoadOptions, LoadProgress } from './protocol.ts';
import type { GenerateChunk, GenerateOptions, GenerateOutput } from '../api/engine.ts';
import type { StepMetrics } from '../scheduler/scheduler.ts';
import { Channel } from '../scheduler/channel.ts';

export interface WorkerGenerateStream extends AsyncIterable<GenerateChunk> {
  readonly result: Promise<GenerateOutput>;
  cancel(): void;
}

export class WorkerEngine {
  private readonly api: Comlink.Remote<WorkerApi>;
  private nextId = 1;

  constructor(readonly worker: Worker) {
    this.api = Comlink.wrap<WorkerApi>(worker);
  }

  /** Start the engine worker shipped with webmoe (a module Worker). */
  static create(): WorkerEngine {
    return new WorkerEngine(new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' }));
  }

  load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<{ adapter: string; model: string }> {
    return this.api.load(opts, onProgress ? Comlink.proxy(onProgress) : undefined);
  }

  generate(prompt: string | { ids: number[] }, opts: GenerateOptions = {}): WorkerGenerateStream {
    const id = this.nextId++;
    const { signal, ...rest } = opts;
    const ch = new Channel<GenerateChunk>();
    const result = this.api.generate(id, prompt, rest, Comlink.proxy((c: GenerateChunk) => ch.push(c)));
    result.then(() => ch.close(), (e) => ch.close(e));
    signal?.addEventListener('abort', () => void this.api.cancel(id));
    return { [Symbol.asyncIterator]: () => ch[Symbol.asyncIterator](), result, cancel: () => void this.api.cancel(id) };
  }

  onStep(cb: (m: StepMetrics) => void): Promise<void> {
    return this.api.onStep(Comlink.proxy(cb));
  }

  async dispose(): Promise<void> {
    await this.api.dispose();
    this.api[Comlink.releaseProxy]();
    this.worker.terminate();
  }
}
