// OpenAI chat-completions requests in, webmoe generation parameters out, and the response objects.
// Fields webmoe cannot honour are refused by name (never silently ignored), so code ported from the
// openai client learns at once what differs.
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
  ChatFinishReason,
  CompletionUsage,
  GenerateOptions,
} from './types.ts';

/** Request fields webmoe reads. Anything else present (and not null/undefined) is an error. */
const SUPPORTED = new Set([
  'messages', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'seed', 'stop', 'n', 'logprobs', 'user', 'signal',
]);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const MAX_STOPS = 4;

export class UnsupportedRequestError extends TypeError {
  override name = 'UnsupportedRequestError';
}

export interface ChatPlan {
  messages: { role: string; content: string }[];
  gen: Omit<GenerateOptions, 'signal'>;
  stream: boolean;
  includeUsage: boolean;
}

const bad = (msg: string) => new UnsupportedRequestError(`webmoe: chat.completions.create: ${msg}`);

function messageText(m: unknown, i: number): { role: string; content: string } {
  if (typeof m !== 'object' || m === null) throw bad(`messages[${i}] must be an object {role, content}`);
  const { role, content } = m as { role?: unknown; content?: unknown };
  if (typeof role !== 'string' || !ROLES.has(role)) throw bad(`messages[${i}].role ${JSON.stringify(role)} is not one of ${[...ROLES].join(', ')}`);
  for (const k of ['tool_calls', 'function_call', 'audio'] as const) {
    if ((m as Record<string, unknown>)[k] != null) throw bad(`messages[${i}].${k} is not supported (no tool or audio use)`);
  }
  let text: string;
  if (content === undefined || content === null) text = '';
  else if (typeof content === 'string') text = content;
  else if (Array.isArray(content)) {
    text = content
      .map((p, j) => {
        const part = p as { type?: unknown; text?: unknown };
        if (part?.type !== 'text' || typeof part.text !== 'string') {
          throw bad(`messages[${i}].content[${j}] has type ${JSON.stringify(part?.type)}; only { type: 'text', text } parts are supported`);
        }
        return part.text;
      })
      .join('');
  } else throw bad(`messages[${i}].content must be a string, an array of text parts, or null`);
  return { role, content: text };
}

/** Checks a request against what webmoe supports; `modelName` is the loaded model's. */
export function planChat(req: ChatCompletionCreateParams, modelName: string): ChatPlan {
  if (typeof req !== 'object' || req === null) throw bad('the request must be an object');
  for (const [k, v] of Object.entries(req)) {
    if (v !== undefined && v !== null && !SUPPORTED.has(k)) throw bad(`'${k}' is not supported by webmoe (supported: ${[...SUPPORTED].filter((s) => s !== 'signal').join(', ')})`);
  }
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw bad('messages must be a non-empty array');
  if (req.model != null && req.model !== modelName) {
    throw bad(`model ${JSON.stringify(req.model)} is not the loaded model ${JSON.stringify(modelName)} (omit model, or pass engine.info.model)`);
  }
  if (req.n != null && req.n !== 1) throw bad(`n = ${req.n}: only n = 1 is supported`);
  if (req.logprobs) throw bad('logprobs: true is not supported (responses carry logprobs: null)');
  const stops = req.stop == null ? [] : typeof req.stop === 'string' ? [req.stop] : [...req.stop];
  if (stops.length > MAX_STOPS || stops.some((s) => typeof s !== 'string' || s === '')) {
    throw bad(`stop must be a non-empty string or up to ${MAX_STOPS} non-empty strings`);
  }
  const so = req.stream_options;
  if (so != null && !req.stream) throw bad('stream_options is only allowed with stream: true');
  return {
    messages: req.messages.map(messageText),
    gen: {
      maxTokens: req.max_completion_tokens ?? req.max_tokens ?? 128,
      temperature: req.temperature ?? 1,
      topP: req.top_p ?? 1,
      seed: req.seed ?? undefined,
      stop: stops,
    },
    stream: !!req.stream,
    includeUsage: !!so?.include_usage,
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
