// OpenAI chat-completions requests in, webmoe generation parameters out, and the response objects.
// Fields webmoe cannot honour are refused by name with a ParameterError (never silently ignored), so
// code ported from the openai client learns at once what differs.
import { ParameterError } from './errors.ts';
import { checkChatRequest, checkStopStrings } from './validate.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatFinishReason,
  CompletionUsage,
  GenerateOptions,
} from './types.ts';

/** Fields of OpenAI's request that webmoe honours; any other present (not null) is refused by name. */
const SUPPORTED = new Set([
  'messages', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'seed', 'stop', 'n', 'logprobs', 'user', 'signal',
]);

/** OpenAI request fields webmoe knows of but cannot honour (said so, instead of "unknown"). */
const OPENAI_UNSUPPORTED = new Set([
  'tools', 'tool_choice', 'parallel_tool_calls', 'functions', 'function_call', 'response_format', 'logit_bias', 'top_logprobs',
  'presence_penalty', 'frequency_penalty', 'audio', 'modalities', 'prediction', 'reasoning_effort', 'service_tier', 'store',
  'metadata', 'web_search_options', 'verbosity', 'moderation', 'prompt_cache_key', 'safety_identifier',
]);

export interface ChatPlan {
  messages: { role: string; content: string }[];
  gen: Omit<GenerateOptions, 'signal'>;
  stream: boolean;
  includeUsage: boolean;
  signal?: AbortSignal;
}

const refuse = (param: string, msg: string) => new ParameterError(param, `webmoe: chat.completions.create: ${msg}`);

/**
 * Checks a request against what webmoe supports (`modelName` is the loaded model's): OpenAI's own
 * fields here, every parameter value in validate.ts's checkChatRequest. null means "not given", as
 * in OpenAI's types.
 */
export function planChat(req: ChatCompletionCreateParams, modelName: string): ChatPlan {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) checkChatRequest(req); // throws its error
  const known = [...SUPPORTED].filter((x) => x !== 'signal').join(', ');
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (v === undefined || v === null) continue;
    if (OPENAI_UNSUPPORTED.has(k)) throw new ParameterError(k, `webmoe: request field '${k}' is not supported by webmoe (known: ${known})`);
    if (!SUPPORTED.has(k)) throw new ParameterError(k, `webmoe: unknown request field '${k}' (known: ${known})`);
    given[k] = v;
  }
  const { stream_options: so, stop, n, logprobs, user, ...rest } = given as unknown as ChatCompletionCreateParams;
  void user; // accepted: an end-user id has no effect on local generation
  if (rest.model !== undefined && rest.model !== modelName) {
    throw refuse('model', `model ${JSON.stringify(rest.model)} is not the loaded model ${JSON.stringify(modelName)} (omit model, or pass engine.info.model)`);
  }
  if (n !== undefined && n !== 1) throw refuse('n', `n = ${n}: only n = 1 is supported`);
  if (logprobs) throw refuse('logprobs', 'logprobs: true is not supported (responses carry logprobs: null)');
  if (so !== undefined && !rest.stream) throw refuse('stream_options', 'stream_options is only allowed with stream: true');
  for (const [m, i] of (Array.isArray(rest.messages) ? rest.messages : []).map((m, i) => [m, i] as const)) {
    for (const k of ['tool_calls', 'function_call', 'audio'] as const) {
      if ((m as Record<string, unknown>)?.[k] != null) throw refuse(`messages[${i}].${k}`, `messages[${i}].${k} is not supported (no tool or audio use)`);
    }
  }
  const stops = checkStopStrings(typeof stop === 'string' ? [stop] : stop == null ? undefined : Array.isArray(stop) ? [...stop] : stop) ?? [];
  const r = checkChatRequest(rest);
  return {
    messages: r.messages,
    gen: { maxTokens: r.maxTokens ?? 128, temperature: r.temperature ?? 1, topP: r.topP ?? 1, seed: r.seed, stop: stops },
    stream: r.stream,
    includeUsage: !!(so as { include_usage?: boolean } | undefined)?.include_usage,
    signal: r.signal,
  };
}

let nextId = 0;

/** Builds the response objects of one request. */
export class ChatResponder {
  readonly id = `chatcmpl-webmoe-${Date.now().toString(36)}-${(nextId++).toString(36)}`;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(readonly model: string, private readonly includeUsage: boolean) {}

  chunk(delta: ChatCompletionChunk['choices'][0]['delta'], finish: ChatFinishReason | null): ChatCompletionChunk {
    const c: ChatCompletionChunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
    if (this.includeUsage) c.usage = null;
    return c;
  }

  /** The last chunk with stream_options.include_usage: no choices, the usage. */
  usageChunk(usage: CompletionUsage): ChatCompletionChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage };
  }

  completion(content: string, finish: ChatFinishReason, usage: CompletionUsage): ChatCompletion {
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: finish, logprobs: null }],
      usage,
    };
  }
}

export function usageOf(promptTokens: number, completionTokens: number): CompletionUsage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The error an aborted request rejects with: the signal's reason (an AbortError DOMException by default), as fetch does. */
export function abortReason(signal: AbortSignal | undefined): unknown {
  const r = signal?.reason;
  if (r !== undefined) return r;
  const e = new Error('webmoe: the request was aborted');
  e.name = 'AbortError';
  return e;
}
