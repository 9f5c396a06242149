// The in-thread engine: text in, streamed text out, over the continuous-batching scheduler.
// WorkerEngine (src/worker/client.ts) offers the same `Engine` interface with this class in a Worker.
import type { LoadedTokenizer } from '../format/tokenizer.ts';
import { Scheduler, type SchedulerOptions, type StepMetrics } from '../scheduler/scheduler.ts';
import type { BatchModel } from '../scheduler/types.ts';
import { Channel } from '../scheduler/channel.ts';
import { chatCompletions } from './chat.ts';
import { StopMatcher } from './stop.ts';
import type { Engine, EngineInfo, GenerateChunk, GenerateOptions, GenerateOutput, GenerateStream, Prompt } from './types.ts';

export interface LocalEngineOptions extends Pick<SchedulerOptions, 'maxBatchTokens' | 'prefillChunk' | 'batchWindowMs'> {
  /** The GPU adapter in words (EngineInfo.adapter). */
  adapter?: string;
}

export class LocalEngine implements Engine {
  readonly scheduler: Scheduler;
  readonly info: EngineInfo;
  readonly chat;
  private readonly stepListeners = new Set<(m: StepMetrics) => void>();

  constructor(
    readonly model: BatchModel,
    readonly tokenizer: LoadedTokenizer,
    modelName: string,
    opts: LocalEngineOptions = {},
    private readonly onDispose?: () => void,
  ) {
    this.scheduler = new Scheduler(model, { ...opts, onStep: (m) => this.stepListeners.forEach((l) => l(m)) });
    this.info = {
      model: modelName,
      adapter: opts.adapter ?? 'unknown',
      maxSequences: model.maxSequences,
      maxContext: model.maxContext,
      maxBatchTokens: opts.maxBatchTokens ?? 64,
    };
    this.chat = { completions: chatCompletions(this) };
  }

  /** @deprecated use info.model */
  get modelName(): string {
    return this.info.model;
  }

  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  generate(prompt: Prompt, opts: GenerateOptions = {}): GenerateStream {
    const ids = this.encode(prompt);
    // Stop strings end the request from here, so the scheduler sees one combined signal.
    const stopper = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stopper.signal]) : stopper.signal;
    const stream = this.scheduler.submit({
      prompt: ids,
      maxTokens: opts.maxTokens ?? 64,
      temperature: opts.temperature,
      topP: opts.topP,
      seed: opts.seed,
      signal,
      ignoreEos: opts.ignoreEos,
    });
    const decoder = this.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    const stops = new StopMatcher(opts.stop ?? []);
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
    if (typeof prompt === 'string') {
      const ids = this.tokenizer.encode(prompt, { addSpecialTokens: true });
      const bos = this.tokenizer.bosTokenId;
      // Models trained with a document separator as bos expect it first; never duplicate it.
      return bos !== null && ids[0] !== bos ? [bos, ...ids] : ids;
    }
    if ('ids' in prompt) return prompt.ids;
    const text = this.tokenizer.applyChatTemplate(prompt.messages, { addGenerationPrompt: true });
    return this.tokenizer.encode(text, { addSpecialTokens: false });
  }

  async dispose(): Promise<void> {
    await this.scheduler.idle();
    this.onDispose?.();
  }
}
