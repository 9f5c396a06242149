// The one engine interface of webmoe's public API, implemented by the in-thread engine (LocalEngine,
// src/api/engine.ts) and the Worker-backed one (WorkerEngine, src/worker/client.ts), and the
// OpenAI-shaped chat types. Everything here is structured-cloneable except AbortSignal and callbacks,
// so the same objects cross to a Worker.
import type { FinishReason, StepMetrics } from '../scheduler/scheduler.ts';
import type { Policy } from './policy.ts';

export type { FinishReason, StepMetrics };

/** A prompt: text (bos added when the model has one), token ids, or chat messages (the model's chat template). */
export type Prompt = string | { ids: number[] } | { messages: { role: string; content: string }[] };

export interface GenerateOptions {
  /** Most tokens to generate (default 64). */
  maxTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Stop before the first occurrence of any of these strings (it is not part of the output). */
  stop?: string[];
  signal?: AbortSignal;
  /** Keep going past end-of-sequence tokens. */
  ignoreEos?: boolean;
}

export interface GenerateChunk {
  /** Text that became complete with this token (may be '' inside a multi-byte character). */
  text: string;
  /** The token id, or -1 for text flushed at the end. */
  token: number;
}

export interface GenerateOutput {
  text: string;
  tokens: number[];
  /** 'abort' when the request's signal fired (generate() resolves; chat.completions rejects instead). */
  finishReason: FinishReason;
  promptTokens: number;
}

export interface GenerateStream extends AsyncIterable<GenerateChunk> {
  /** The whole result once generation ends. */
  readonly result: Promise<GenerateOutput>;
}

/** Where a loaded file's bytes came from. */
export type LoadSource = 'network' | 'cache' | 'local';

/**
 * Load progress. 'download': a model file fetched into the cache, or found there (bytes count the
 * file's body; totals grow as files are discovered, the shards after the index). 'weights': checkpoint
 * bytes uploaded to the GPU (totals exact from the start).
 */
export interface LoadProgress {
  stage: 'download' | 'weights';
  /** download: the file (relative path); weights: the tensor being uploaded. */
  file: string;
  from: LoadSource;
  /** Bytes of this file so far and its size (-1 when the server did not say). */
  fileBytes: number;
  fileTotal: number;
  /** Bytes of this stage so far, all files together, and their known total. */
  bytes: number;
  totalBytes: number;
  /** download: files complete / files known; weights: 0 / 0. */
  files: number;
  totalFiles: number;
}

export interface EngineInfo {
  /** The model's name (`model` in chat responses): the folder name, or `name` given at load. */
  model: string;
  /** The GPU adapter, in words. */
  adapter: string;
  /** Sequences decoded together at most, context length, tokens per step. */
  maxSequences: number;
  maxContext: number;
  maxBatchTokens: number;
  /** The experts, for reading step metrics: MoE layers, experts per layer and per token, GPU bytes of one expert as loaded. */
  experts?: ExpertShape;
}

export interface ExpertShape {
  layers: number;
  moeLayers: number;
  perLayer: number;
  topK: number;
  /** Gate, up and down matrices of one expert in the loaded weight format (what a step reads per distinct expert). */
  bytesPerExpert: number;
}

// ---------------------------------------------------------------------------------------------------
// OpenAI chat completions shape (a subset). Request types accept OpenAI's own request objects
// (ChatCompletionCreateParams from the `openai` package, checked by tests/api/openai-types.test.ts);
// fields webmoe cannot honour are rejected at run time with a clear error (src/api/openai.ts).

export interface ChatContentPart {
  type: string;
  text?: string;
}

export interface ChatCompletionMessageParam {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';
  /** Text, or content parts of which only `{ type: 'text', text }` are supported. */
  content?: string | readonly ChatContentPart[] | null;
  name?: string;
}

export interface ChatCompletionCreateParams {
  messages: readonly ChatCompletionMessageParam[];
  /** If given, must be the loaded model's name (engine.info.model). */
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean; include_obfuscation?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  /** Up to 4 stop strings. */
  stop?: string | readonly string[] | null;
  /** Only 1. */
  n?: number | null;
  /** Only false / null (no log probabilities). */
  logprobs?: boolean | null;
  /** Accepted and ignored (no effect on local generation). */
  user?: string;
  /** @deprecated pass `{ signal }` as the second argument, as with the openai client. */
  signal?: AbortSignal;
}

export interface ChatCompletionRequestOptions {
  /** Aborting rejects the promise (or ends the stream by throwing) with `signal.reason`, as fetch does. */
  signal?: AbortSignal;
}

/** OpenAI's finish reasons that webmoe produces. */
export type ChatFinishReason = 'stop' | 'length';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; refusal?: null };
    finish_reason: ChatFinishReason | null;
    logprobs: null;
  }[];
  /** With stream_options.include_usage: null on every chunk but the last, which has no choices. */
  usage?: CompletionUsage | null;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    finish_reason: ChatFinishReason;
    logprobs: null;
  }[];
  usage: CompletionUsage;
}

export type ChatCompletionCreateParamsStreaming = ChatCompletionCreateParams & { stream: true };
export type ChatCompletionCreateParamsNonStreaming = ChatCompletionCreateParams & { stream?: false | null };

export interface ChatCompletions {
  create(req: ChatCompletionCreateParamsStreaming, options?: ChatCompletionRequestOptions): AsyncIterable<ChatCompletionChunk>;
  create(req: ChatCompletionCreateParamsNonStreaming, options?: ChatCompletionRequestOptions): Promise<ChatCompletion>;
  create(req: ChatCompletionCreateParams, options?: ChatCompletionRequestOptions): AsyncIterable<ChatCompletionChunk> | Promise<ChatCompletion>;
}

/** What both engines (in this thread, or in a Worker) offer. */
export interface Engine {
  readonly info: EngineInfo;
  /** Stream a continuation of `prompt` (text, or token ids). Concurrent calls are batched together. */
  generate(prompt: Prompt, opts?: GenerateOptions): GenerateStream;
  /** OpenAI-shaped chat completions over the model's chat template. */
  readonly chat: { readonly completions: ChatCompletions };
  /** Metrics of every batched step (batch size, distinct experts per layer, time). Returns an unsubscribe. */
  onStep(listener: (m: StepMetrics) => void): () => void;
  /**
   * The expert routing policy of every step that starts after this call (a step already running
   * keeps its own; each step's metrics say which it ran with). The model stays loaded.
   */
  setPolicy(policy: Policy): Promise<void>;
  /**
   * Refuses new work, ends the open requests ('cancel', default: finishReason 'abort') or lets them
   * finish ('drain'), then frees the GPU memory (and the Worker).
   */
  dispose(opts?: { mode?: 'cancel' | 'drain' }): Promise<void>;
}
