// The public engine: text in, streamed text out, over the continuous-batching scheduler. The shape of
// chat.completions.create follows OpenAI's streaming API so existing client code ports over.
import { encodePrompt, type LoadedTokenizer, type ChatMessage } from '../format/tokenizer.ts';
import { RequestStream, Scheduler, type CloseMode, type FinishReason, type StepMetrics } from '../scheduler/scheduler.ts';
import type { BatchModel } from '../scheduler/types.ts';
import type { Gpu } from '../gpu/context.ts';
import type { GpuDeviceLostError } from '../gpu/errors.ts';
import { checkChatRequest, checkGenerateOptions, checkPrompt } from './validate.ts';
import { ParameterError } from './errors.ts';

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Keep going past end-of-sequence tokens. */
  ignoreEos?: boolean;
  /** Extra token ids that end generation (besides the model's eos). */
  stopTokenIds?: number[];
}

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
  recreate?: (gpu?: Gpu) => Promise<Engine>;
}

export interface GenerateChunk {
  /** Text that became complete with this token (may be '' inside a multi-byte character). */
  text: string;
  token: number;
}

export interface GenerateOutput {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  promptTokens: number;
}

export interface GenerateStream extends AsyncIterable<GenerateChunk> {
  /** The whole result once generation ends. */
  readonly result: Promise<GenerateOutput>;
}

export interface ChatCompletionRequest {
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null }[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

let nextId = 0;

export class Engine {
  readonly scheduler: Scheduler;
  readonly chat = {
    completions: {
      create: ((req: ChatCompletionRequest) => this.chatCompletion(req)) as {
        (req: ChatCompletionRequest & { stream: true }): AsyncIterable<ChatCompletionChunk>;
        (req: ChatCompletionRequest & { stream?: false }): Promise<ChatCompletion>;
      },
    },
  };
  private readonly stepListeners = new Set<(m: StepMetrics) => void>();
  /**
   * Settles (never rejects) with the error when the GPU device is lost while the engine is in use; every
   * open stream has then ended with that error, the engine's buffers are released, and recreate() gives
   * a working engine again.
   */
  readonly lost: Promise<GpuDeviceLostError>;
  private disposing: Promise<void> | null = null;

  private readonly bosTokenId: number | null;

  /**
   * `tokenizer` null (a model folder without tokenizer.json): prompts are token ids and chunks carry
   * ids only. `opts.bosTokenId`: the bos text prompts start with (default the tokenizer's; see promptBos).
   */
  constructor(
    readonly model: BatchModel,
    readonly tokenizer: LoadedTokenizer | null,
    readonly modelName: string,
    opts: { maxBatchTokens?: number; prefillChunk?: number; bosTokenId?: number | null } = {},
    private readonly hooks: EngineHooks = {},
  ) {
    const { bosTokenId, ...sched } = opts;
    this.bosTokenId = bosTokenId !== undefined ? bosTokenId : (tokenizer?.bosTokenId ?? null);
    this.scheduler = new Scheduler(model, { ...sched, onStep: (m) => this.stepListeners.forEach((l) => l(m)) });
    this.lost = new Promise((resolve) => {
      hooks.lost?.then((err) => {
        if (this.disposing) return; // the engine's own dispose destroyed the device
        this.scheduler.fail(err);
        resolve(err);
        void this.dispose();
      });
    });
  }

  /** Whether dispose() was called (or the device was lost): every new request is refused. */
  get disposed(): boolean {
    return this.disposing !== null;
  }

  /** Metrics per batched step (batch size, distinct experts per layer, time). Returns an unsubscribe. */
  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  /** Stream a continuation of `prompt` (text, or token ids). Concurrent calls are batched together. */
  generate(prompt: string | { ids: number[] }, opts: GenerateOptions = {}): GenerateStream {
    // Bad arguments reject the returned stream (never throw here), like every other failure.
    let stream: RequestStream;
    try {
      const p = checkPrompt(prompt);
      const o = checkGenerateOptions(opts);
      stream = this.scheduler.submit({
        prompt: typeof p === 'string' ? encodePrompt(this.needTokenizer(), p, this.bosTokenId) : p.ids,
        maxTokens: o.maxTokens ?? 64,
        temperature: o.temperature,
        topP: o.topP,
        seed: o.seed,
        signal: o.signal,
        ignoreEos: o.ignoreEos,
        stopTokenIds: o.stopTokenIds,
      });
    } catch (e) {
      stream = RequestStream.failed(e);
    }
    const decoder = this.tokenizer?.createStreamDecoder({ skipSpecialTokens: true }) ?? { push: () => '', flush: () => '' };
    let text = '';
    const chunks = (async function* () {
      for await (const token of stream) {
        const t = decoder.push(token);
        text += t;
        yield { text: t, token };
      }
      const rest = decoder.flush();
      if (rest) {
        text += rest;
        yield { text: rest, token: -1 };
      }
    })();
    const tokenizer = this.tokenizer;
    const result = stream.result.then((r) => ({
      text: tokenizer?.decode(r.tokens, { skipSpecialTokens: true }) ?? '',
      tokens: r.tokens,
      finishReason: r.finishReason,
      promptTokens: r.promptTokens,
    }));
    result.catch(() => {});
    return { [Symbol.asyncIterator]: () => chunks[Symbol.asyncIterator](), result };
  }

  private needTokenizer(): LoadedTokenizer {
    if (!this.tokenizer) throw new ParameterError('prompt', `webmoe: ${this.modelName} has no tokenizer.json; give the prompt as token ids ({ ids })`);
    return this.tokenizer;
  }

  private chatCompletion(raw: ChatCompletionRequest): AsyncIterable<ChatCompletionChunk> | Promise<ChatCompletion> {
    let req: ReturnType<typeof checkChatRequest>;
    let ids: number[];
    try {
      req = checkChatRequest(raw);
      const tokenizer = this.needTokenizer();
      const prompt = tokenizer.applyChatTemplate(req.messages, { addGenerationPrompt: true });
      ids = tokenizer.encode(prompt, { addSpecialTokens: false });
    } catch (e) {
      // Rejected asynchronously, in the shape the caller asked for.
      const streamed = typeof raw === 'object' && raw !== null && (raw as { stream?: unknown }).stream === true;
      return streamed ? (async function* (): AsyncGenerator<ChatCompletionChunk> { throw e; })() : Promise.reject(e);
    }
    const gen = this.generate(
      { ids },
      {
        maxTokens: req.maxTokens ?? 128,
        temperature: req.temperature ?? 1,
        topP: req.topP ?? 1,
        seed: req.seed,
        signal: req.signal,
      },
    );
    const id = `chatcmpl-webmoe-${Date.now().toString(36)}-${nextId++}`;
    const created = Math.floor(Date.now() / 1000);
    const model = this.modelName;
    if (req.stream) {
      return (async function* () {
        yield { id, object: 'chat.completion.chunk' as const, created, model, choices: [{ index: 0 as const, delta: { role: 'assistant' as const }, finish_reason: null }] };
        for await (const c of gen) {
          if (c.text) yield { id, object: 'chat.completion.chunk' as const, created, model, choices: [{ index: 0 as const, delta: { content: c.text }, finish_reason: null }] };
        }
        const r = await gen.result;
        yield { id, object: 'chat.completion.chunk' as const, created, model, choices: [{ index: 0 as const, delta: {}, finish_reason: r.finishReason }] };
      })();
    }
    return gen.result.then((r) => ({
      id,
      object: 'chat.completion' as const,
      created,
      model,
      choices: [{ index: 0 as const, message: { role: 'assistant' as const, content: r.text }, finish_reason: r.finishReason }],
      usage: { prompt_tokens: r.promptTokens, completion_tokens: r.tokens.length, total_tokens: r.promptTokens + r.tokens.length },
    }));
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
  async recreate(opts: { gpu?: Gpu } = {}): Promise<Engine> {
    if (!this.hooks.recreate) throw new Error('webmoe: this engine was constructed directly, not loaded; it cannot recreate itself');
    await this.dispose();
    return this.hooks.recreate(opts.gpu);
  }
}
