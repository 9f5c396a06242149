// The public engine: text in, streamed text out, over the continuous-batching scheduler. The shape of
// chat.completions.create follows OpenAI's streaming API so existing client code ports over.
import { encodePrompt, type LoadedTokenizer, type ChatMessage } from '../format/tokenizer.ts';
import { Scheduler, type FinishReason, type StepMetrics } from '../scheduler/scheduler.ts';
import type { BatchModel } from '../scheduler/types.ts';

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Keep going past end-of-sequence tokens. */
  ignoreEos?: boolean;
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
    private readonly onDispose?: () => void,
  ) {
    const { bosTokenId, ...sched } = opts;
    this.bosTokenId = bosTokenId !== undefined ? bosTokenId : (tokenizer?.bosTokenId ?? null);
    this.scheduler = new Scheduler(model, { ...sched, onStep: (m) => this.stepListeners.forEach((l) => l(m)) });
  }

  /** Metrics per batched step (batch size, distinct experts per layer, time). Returns an unsubscribe. */
  onStep(listener: (m: StepMetrics) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  /** Stream a continuation of `prompt` (text, or token ids). Concurrent calls are batched together. */
  generate(prompt: string | { ids: number[] }, opts: GenerateOptions = {}): GenerateStream {
    const ids = typeof prompt === 'string' ? encodePrompt(this.needTokenizer(), prompt, this.bosTokenId) : prompt.ids;
    const stream = this.scheduler.submit({
      prompt: ids,
      maxTokens: opts.maxTokens ?? 64,
      temperature: opts.temperature,
      topP: opts.topP,
      seed: opts.seed,
      signal: opts.signal,
      ignoreEos: opts.ignoreEos,
    });
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
    if (!this.tokenizer) throw new Error(`webmoe: ${this.modelName} has no tokenizer.json; give the prompt as token ids ({ ids })`);
    return this.tokenizer;
  }

  private chatCompletion(req: ChatCompletionRequest): AsyncIterable<ChatCompletionChunk> | Promise<ChatCompletion> {
    const tokenizer = this.needTokenizer();
    const prompt = tokenizer.applyChatTemplate(req.messages, { addGenerationPrompt: true });
    const ids = tokenizer.encode(prompt, { addSpecialTokens: false });
    const gen = this.generate(
      { ids },
      {
        maxTokens: req.max_completion_tokens ?? req.max_tokens ?? 128,
        temperature: req.temperature ?? 1,
        topP: req.top_p ?? 1,
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

  async dispose(): Promise<void> {
    await this.scheduler.idle();
    this.onDispose?.();
  }
}
