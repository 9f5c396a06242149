// The in-thread engine: text in, streamed text out, over the continuous-batching scheduler.
// WorkerEngine (src/worker/client.ts) offers the same `Engine` interface with this class in a Worker.
import { encodePrompt, type LoadedTokenizer } from '../format/tokenizer.ts';
import { RequestStream, Scheduler, type CloseMode, type SchedulerOptions, type StepMetrics } from '../scheduler/scheduler.ts';
import type { BatchModel } from '../scheduler/types.ts';
import type { Gpu } from '../gpu/context.ts';
import type { GpuDeviceLostError } from '../gpu/errors.ts';
import { Channel } from '../scheduler/channel.ts';
import { checkGenerateOptions, checkMessages, checkPrompt } from './validate.ts';
import { ParameterError } from './errors.ts';
import { chatCompletions } from './chat.ts';
import { StopMatcher } from './stop.ts';
import type { Engine, EngineInfo, ExpertShape, GenerateChunk, GenerateOptions, GenerateOutput, GenerateStream, Prompt } from './types.ts';
import type { Policy } from './policy.ts';

export interface DisposeOptions {
  /** 'cancel' (default): waiting requests end now and running ones at the next step (finishReason 'abort'); 'drain': let them finish. */
  mode?: CloseMode;
}

/** What the loader gives an engine besides the model: clean-up, device loss, and how to build it again. */
export interface EngineHooks {
  /** Releases the model's GPU buffers (and the device when the engine owns it). */
  onDispose?: () => void;
  /** Settles with the error when the GPU device is lost. */
  lost?: Promise<GpuDeviceLostError>;
  /** Loads the same model with the same options again, on `gpu` or on a new device. */
  recreate?: (gpu?: Gpu) => Promise<LocalEngine>;
}

export interface LocalEngineOptions extends Pick<SchedulerOptions, 'maxBatchTokens' | 'prefillChunk' | 'batchWindowMs'> {
  /** The GPU adapter in words (EngineInfo.adapter). */
  adapter?: string;
  /** The bos text prompts start with (default the tokenizer's; the loader passes promptBos, see format/tokenizer.ts). */
  bosTokenId?: number | null;
  /** EngineInfo.experts. */
  experts?: ExpertShape;
}

export class LocalEngine implements Engine {
  readonly scheduler: Scheduler;
  readonly info: EngineInfo;
  readonly chat;
  private readonly stepListeners = new Set<(m: StepMetrics) => void>();
  /**
   * Settles (never rejects) with the error when the GPU device is lost while the engine is in use; every
   * open stream has then ended with that error, the engine's buffers are released, and recreate() gives
   * a working engine again.
   */
  readonly lost: Promise<GpuDeviceLostError>;
  private disposing: Promise<void> | null = null;

  private readonly bosTokenId: number | null;

  /** `tokenizer` null (a model folder without tokenizer.json): prompts are token ids, chunks carry ids only. */
  constructor(
    readonly model: BatchModel,
    readonly tokenizer: LoadedTokenizer | null,
    modelName: string,
    opts: LocalEngineOptions = {},
    private readonly hooks: EngineHooks = {},
  ) {
    this.bosTokenId = opts.bosTokenId !== undefined ? opts.bosTokenId : (tokenizer?.bosTokenId ?? null);
    this.scheduler = new Scheduler(model, { maxBatchTokens: opts.maxBatchTokens, prefillChunk: opts.prefillChunk, batchWindowMs: opts.batchWindowMs, onStep: (m) => this.stepListeners.forEach((l) => l(m)) });
    this.info = {
      model: modelName,
      adapter: opts.adapter ?? 'unknown',
      maxSequences: model.maxSequences,
      maxContext: model.maxContext,
      maxBatchTokens: opts.maxBatchTokens ?? 64,
      ...(opts.experts ? { experts: opts.experts } : {}),
    };
    this.chat = { completions: chatCompletions(this) };
    this.lost = new Promise((resolve) => {
      hooks.lost?.then((err) => {
        if (this.disposing) return; // the engine's own dispose destroyed the device
        this.scheduler.fail(err);
        resolve(err);
        void this.dispose();
      });
    });
  }

  /** @deprecated use info.model */
  get modelName(): string {
    return this.info.model;
  }

  /** Whether dispose() was called (or the device was lost): every new request is refused. */
  get disposed(): boolean {
    return this.disposing !== null;
  }

  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  async setPolicy(policy: Policy): Promise<void> {
    if (!this.model.setPolicy) throw new Error('webmoe: this model has no expert routing policies');
    if (typeof policy !== 'object' || policy === null || typeof (policy as { kind?: unknown }).kind !== 'string') {
      throw new TypeError(`webmoe: setPolicy takes a policy object such as { kind: 'xshare', fraction: 0.75 }, not ${JSON.stringify(policy)}`);
    }
    this.model.setPolicy(policy);
  }

  generate(prompt: Prompt, opts: GenerateOptions = {}): GenerateStream {
    // Bad arguments reject the returned stream (never throw here), like every other failure.
    let stream: RequestStream;
    let stops: StopMatcher;
    // Stop strings end the request from here, so the scheduler sees one combined signal.
    const stopper = new AbortController();
    try {
      const o = checkGenerateOptions(opts);
      stops = new StopMatcher(o.stop ?? []);
      const signal = o.signal ? AbortSignal.any([o.signal, stopper.signal]) : stopper.signal;
      stream = this.scheduler.submit({
        prompt: this.encode(prompt),
        maxTokens: o.maxTokens ?? 64,
        temperature: o.temperature,
        topP: o.topP,
        seed: o.seed,
        signal,
        ignoreEos: o.ignoreEos,
        stopTokenIds: o.stopTokenIds,
      });
    } catch (e) {
      stream = RequestStream.failed(e);
      stops = new StopMatcher([]);
    }
    const decoder = this.tokenizer?.createStreamDecoder({ skipSpecialTokens: true }) ?? { push: () => '', flush: () => '' };
    const out = new Channel<GenerateChunk>();
    let text = '';
    // One pump consumes the scheduler's stream whether or not the caller iterates, so `result`
    // alone (non-streaming use) sees the same stop-string handling as the chunks.
    const result = (async (): Promise<GenerateOutput> => {
      try {
        for await (const token of stream) {
          if (stops.done) continue;
          const t = stops.push(decoder.push(token));
          text += t;
          out.push({ text: t, token });
          if (stops.done) stopper.abort();
        }
        const rest = stops.push(decoder.flush()) + stops.flush();
        if (rest) {
          text += rest;
          out.push({ text: rest, token: -1 });
        }
        const r = await stream.result;
        out.close();
        return { text, tokens: r.tokens, finishReason: stops.done ? 'stop' : r.finishReason, promptTokens: r.promptTokens };
      } catch (e) {
        out.close(e);
        throw e;
      }
    })();
    result.catch(() => {});
    return { [Symbol.asyncIterator]: () => out[Symbol.asyncIterator](), result };
  }

  private encode(prompt: Prompt): number[] {
    if (typeof prompt === 'object' && prompt !== null && 'messages' in prompt) {
      const text = this.needTokenizer().applyChatTemplate(checkMessages(prompt.messages), { addGenerationPrompt: true });
      return this.needTokenizer().encode(text, { addSpecialTokens: false });
    }
    const p = checkPrompt(prompt);
    return typeof p === 'string' ? encodePrompt(this.needTokenizer(), p, this.bosTokenId) : p.ids;
  }

  private needTokenizer(): LoadedTokenizer {
    if (!this.tokenizer) throw new ParameterError('prompt', `webmoe: ${this.info.model} has no tokenizer.json; give the prompt as token ids ({ ids })`);
    return this.tokenizer;
  }

  /**
   * Refuse new work (an EngineDisposedError), cancel or drain the open requests, then release every GPU
   * buffer the engine made (and the device, when the engine created it). Calling it again returns the
   * same promise.
   */
  dispose(opts: DisposeOptions = {}): Promise<void> {
    const mode = opts?.mode ?? 'cancel';
    if (mode !== 'cancel' && mode !== 'drain') {
      return Promise.reject(new ParameterError('mode', `webmoe: dispose mode must be 'cancel' or 'drain', got ${JSON.stringify(mode)}`));
    }
    this.disposing ??= this.scheduler.close(mode).then(() => this.hooks.onDispose?.());
    return this.disposing;
  }

  /**
   * A new engine with the same model and options: on `opts.gpu`, or on a new device (after the device
   * was lost, for example). This engine is disposed first.
   */
  async recreate(opts: { gpu?: Gpu } = {}): Promise<LocalEngine> {
    if (!this.hooks.recreate) throw new Error('webmoe: this engine was constructed directly, not loaded; it cannot recreate itself');
    await this.dispose();
    return this.hooks.recreate(opts.gpu);
  }
}
