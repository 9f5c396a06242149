// Every request parameter is checked here, once, when a request is submitted: the engine's generate(),
// the OpenAI-shaped chat.completions.create() and the scheduler all call these. One clear error per bad
// value (a ParameterError naming the parameter and what was expected); nothing is silently coerced.
import { ParameterError } from './errors.ts';

/** The roles a chat message may have (OpenAI's, plus 'tool' / 'developer'). */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

/** Options generate() understands; anything else is named in an error. */
export const GENERATE_OPTION_KEYS = ['maxTokens', 'temperature', 'topP', 'seed', 'signal', 'ignoreEos', 'stopTokenIds', 'stop'] as const;

/** Fields chat.completions.create() understands (`model` is accepted and ignored: one engine, one model). */
export const CHAT_REQUEST_KEYS = ['messages', 'model', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'signal'] as const;

export interface SamplingOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  ignoreEos?: boolean;
  stopTokenIds?: number[];
  stop?: string[];
}

/** Most stop strings a request may carry (OpenAI's limit). */
export const MAX_STOP_STRINGS = 4;

/** Stop strings: up to MAX_STOP_STRINGS non-empty strings. */
export function checkStopStrings(v: unknown, param = 'stop'): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_STOP_STRINGS || v.some((x) => typeof x !== 'string' || x === '')) {
    fail(param, `an array of at most ${MAX_STOP_STRINGS} non-empty strings`, v);
  }
  return v as string[];
}

const fail = (param: string, expected: string, got: unknown): never => {
  throw new ParameterError(param, `webmoe: ${param} must be ${expected}, got ${show(got)}`);
};

/** A short, unambiguous rendering of a bad value (NaN, -1, '3', null, an object, ...). */
export function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(o: Record<string, unknown>, known: readonly string[], what: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new ParameterError(k, `webmoe: unknown ${what} '${k}' (known: ${known.join(', ')})`);
  }
}

export function checkMaxTokens(v: unknown, param = 'maxTokens'): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(param, 'an integer >= 1', v);
  return v as number;
}

export function checkTemperature(v: unknown, param = 'temperature'): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(param, 'a finite number >= 0 (0 = greedy)', v);
  return v as number;
}

export function checkTopP(v: unknown, param = 'topP'): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) fail(param, 'a number in (0, 1]', v);
  return v as number;
}

export function checkSeed(v: unknown, param = 'seed'): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(param, 'an integer', v);
  return v as number;
}

function checkSignal(v: unknown, param = 'signal'): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v) || typeof v.aborted !== 'boolean' || typeof v.addEventListener !== 'function') fail(param, 'an AbortSignal', v);
  return v as unknown as AbortSignal;
}

function checkBool(v: unknown, param: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') fail(param, 'a boolean', v);
  return v as boolean;
}

/**
 * Token ids: an array of integers in [0, vocabSize). `vocabSize` is omitted where the vocabulary is not
 * known yet (then only integrality is checked; the scheduler checks the range on submit).
 */
export function checkTokenIds(v: unknown, param: string, vocabSize?: number, allowEmpty = false): number[] {
  if (!Array.isArray(v)) fail(param, 'an array of token ids', v);
  const a = v as unknown[];
  if (!allowEmpty && a.length === 0) throw new ParameterError(param, `webmoe: ${param} is empty (give at least one token)`);
  for (let i = 0; i < a.length; i++) {
    const t = a[i];
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) fail(`${param}[${i}]`, 'a non-negative integer token id', t);
    if (vocabSize !== undefined && (t as number) >= vocabSize) {
      throw new ParameterError(`${param}[${i}]`, `webmoe: token id ${t} out of range [0, ${vocabSize}) (${param}[${i}])`);
    }
  }
  return a as number[];
}

/** generate()'s options: unknown keys named, each value checked. Returns the same object. */
export function checkGenerateOptions(opts: unknown): SamplingOptions {
  if (opts === undefined) return {};
  if (!isObj(opts)) return fail('options', 'an object', opts);
  checkKeys(opts, GENERATE_OPTION_KEYS, 'option');
  checkMaxTokens(opts.maxTokens);
  checkTemperature(opts.temperature);
  checkTopP(opts.topP);
  checkSeed(opts.seed);
  checkSignal(opts.signal);
  checkBool(opts.ignoreEos, 'ignoreEos');
  if (opts.stopTokenIds !== undefined) checkTokenIds(opts.stopTokenIds, 'stopTokenIds', undefined, true);
  checkStopStrings(opts.stop);
  return opts as SamplingOptions;
}

/** generate()'s prompt: text, or `{ ids }`. */
export function checkPrompt(prompt: unknown): string | { ids: number[] } {
  if (typeof prompt === 'string') return prompt;
  if (isObj(prompt)) {
    checkKeys(prompt, ['ids'], 'prompt field');
    return { ids: checkTokenIds(prompt.ids, 'prompt.ids') };
  }
  return fail('prompt', 'a string or { ids: number[] }', prompt);
}

export interface ChatMessageText {
  role: (typeof CHAT_ROLES)[number];
  content: string;
  [key: string]: unknown;
}

/** A message's content: a string, or OpenAI text parts [{ type: 'text', text }] (joined). */
function checkContent(v: unknown, param: string): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    return v
      .map((p, j) => {
        const pp = `${param}[${j}]`;
        if (!isObj(p)) return fail(pp, "a content part { type: 'text', text }", p);
        if (p.type !== 'text') throw new ParameterError(pp, `webmoe: ${pp}: only text content parts are supported, got type ${show(p.type)}`);
        if (typeof p.text !== 'string') return fail(`${pp}.text`, 'a string', p.text);
        return p.text;
      })
      .join('');
  }
  return fail(param, "a string or an array of { type: 'text', text } parts", v);
}

export function checkMessages(v: unknown, param = 'messages'): ChatMessageText[] {
  if (!Array.isArray(v)) return fail(param, 'an array of { role, content } messages', v);
  if (v.length === 0) throw new ParameterError(param, `webmoe: ${param} is empty (give at least one message)`);
  return v.map((m, i) => {
    const p = `${param}[${i}]`;
    if (!isObj(m)) return fail(p, 'a { role, content } object', m);
    if (typeof m.role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(m.role)) {
      fail(`${p}.role`, `one of ${CHAT_ROLES.join(', ')}`, m.role);
    }
    return { ...m, role: m.role as ChatMessageText['role'], content: checkContent(m.content, `${p}.content`) };
  });
}

export interface CheckedChatRequest {
  messages: ChatMessageText[];
  stream: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
}

/** chat.completions.create()'s request, in OpenAI's field names; returns it normalised. */
export function checkChatRequest(req: unknown): CheckedChatRequest {
  if (!isObj(req)) return fail('request', 'an object with messages', req);
  checkKeys(req, CHAT_REQUEST_KEYS, 'request field');
  if (req.model !== undefined && typeof req.model !== 'string') fail('model', 'a string', req.model);
  const maxA = checkMaxTokens(req.max_completion_tokens, 'max_completion_tokens');
  const maxB = checkMaxTokens(req.max_tokens, 'max_tokens');
  return {
    messages: checkMessages(req.messages),
    stream: checkBool(req.stream, 'stream') ?? false,
    maxTokens: maxA ?? maxB,
    temperature: checkTemperature(req.temperature, 'temperature'),
    topP: checkTopP(req.top_p, 'top_p'),
    seed: checkSeed(req.seed, 'seed'),
    signal: checkSignal(req.signal),
  };
}

/** What the scheduler checks about a request against the model it runs on. */
export interface RequestLimits {
  vocabSize: number;
  maxContext: number;
}

/** A complete scheduler request (ids in the vocabulary, prompt shorter than the context, parameters). */
export function checkGenerateRequest(req: unknown, limits: RequestLimits): void {
  if (!isObj(req)) fail('request', 'an object', req);
  const r = req as Record<string, unknown>;
  const prompt = checkTokenIds(r.prompt, 'prompt', limits.vocabSize);
  if (prompt.length >= limits.maxContext) {
    throw new ParameterError('prompt', `webmoe: the prompt has ${prompt.length} tokens; the model's context is ${limits.maxContext} (the prompt must leave room for one generated token)`);
  }
  if (r.maxTokens === undefined) fail('maxTokens', 'an integer >= 1', undefined);
  checkMaxTokens(r.maxTokens);
  checkTemperature(r.temperature);
  checkTopP(r.topP);
  checkSeed(r.seed);
  checkSignal(r.signal);
  checkBool(r.ignoreEos, 'ignoreEos');
  if (r.stopTokenIds !== undefined) checkTokenIds(r.stopTokenIds, 'stopTokenIds', limits.vocabSize, true);
}
