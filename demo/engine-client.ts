// Page side of the demo's engine Worker: streams as async iterables with a result and cancel().
import * as Comlink from 'comlink';
import type { GenerateOutput, Policy, StepMetrics } from 'webmoe';
import type { DemoWorkerApi, LoadRequest, LoadProgressEvent, ModelInfo, ChatTurn, SamplingOptions, ChatOutput } from './protocol.ts';

export interface Run<T> {
  result: Promise<T>;
  cancel(): void;
}

export class DemoEngine {
  private readonly api: Comlink.Remote<DemoWorkerApi>;
  private nextId = 1;

  constructor() {
    const worker = new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module' });
    this.api = Comlink.wrap<DemoWorkerApi>(worker);
  }

  load(req: LoadRequest, onProgress: (p: LoadProgressEvent) => void): Promise<ModelInfo> {
    return this.api.load(req, Comlink.proxy(onProgress));
  }

  generate(prompt: string, opts: SamplingOptions, onText: (text: string) => void): Run<GenerateOutput> {
    const id = this.nextId++;
    return { result: this.api.generate(id, prompt, opts, Comlink.proxy((t: string) => onText(t))), cancel: () => void this.api.cancel(id) };
  }

  chat(messages: ChatTurn[], opts: SamplingOptions, onText: (text: string) => void): Run<ChatOutput> {
    const id = this.nextId++;
    return { result: this.api.chat(id, messages, opts, Comlink.proxy(onText)), cancel: () => void this.api.cancel(id) };
  }

  setPolicy(p: Policy): Promise<number> {
    return this.api.setPolicy(p);
  }

  onStep(cb: (m: StepMetrics) => void): Promise<void> {
    return this.api.onStep(Comlink.proxy(cb));
  }
}
