/**
 * Tokenizer from tokenizer.json + tokenizer_config.json (+ generation_config.json for eos ids), on
 * @huggingface/tokenizers; chat templates rendered with @huggingface/jinja.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { FormatError } from './errors.ts';
import type { CheckpointFiles } from './checkpoint.ts';

export interface ChatMessage {
  role: string;
  content: string | unknown;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the assistant prefix (default true). */
  addGenerationPrompt?: boolean;
  /** Template name when tokenizer_config.chat_template is a list of {name, template} (default 'default'). */
  templateName?: string;
  /** Template text overriding the tokenizer's own. */
  chatTemplate?: string;
  /** Extra template variables (tools, documents, enable_thinking, ...). */
  [key: string]: unknown;
}

export interface StreamDecoder {
  /** Adds one token id; returns the text that became complete (possibly ''). */
  push(id: number): string;
  /** Returns whatever is still held back (an incomplete UTF-8 sequence decodes to U+FFFD here). */
  flush(): string;
}

export interface LoadedTokenizer {
  readonly inner: Tokenizer;
  bosTokenId: number | null;
  bosToken: string | null;
  /** End-of-sequence ids: generation_config's list first, then tokenizer_config's eos_token. */
  eosTokenIds: number[];
  eosToken: string | null;
  padTokenId: number | null;
  chatTemplate: string | null;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  createStreamDecoder(options?: { skipSpecialTokens?: boolean }): StreamDecoder;
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Special tokens in tokenizer_config may be strings or AddedToken objects {content}. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.content === 'string') return v.content;
  return null;
}

function idList(v: unknown): number[] {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
  return [];
}

function pickTemplate(cfg: Record<string, unknown>, name: string, file: string): string | null {
  const ct = cfg.chat_template;
  if (ct === undefined || ct === null) return null;
  if (typeof ct === 'string') return ct;
  if (Array.isArray(ct)) {
    const named = new Map<string, string>();
    for (const e of ct) {
      if (isObj(e) && typeof e.name === 'string' && typeof e.template === 'string') named.set(e.name, e.template);
      else throw new FormatError('TOKENIZER', file, `chat_template list entries must be {name, template}`);
    }
    const t = named.get(name);
    if (t === undefined) {
      if (name === 'default') return null;
      throw new FormatError('TOKENIZER', file, `no chat template named '${name}' (have ${[...named.keys()].join(', ')})`);
    }
    return t;
  }
  throw new FormatError('TOKENIZER', file, `chat_template must be a string or a list of {name, template}`);
}

/** Every id the file declares (added tokens, the vocabulary) is a non-negative integer: encode returns them as they are. */
function checkTokenIds(tj: Record<string, unknown>, file: string): void {
  const isId = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const added = tj.added_tokens ?? [];
  if (!Array.isArray(added)) throw new FormatError('TOKENIZER', file, `added_tokens must be an array`);
  added.forEach((t, i) => {
    if (!isObj(t) || !isId(t.id) || typeof t.content !== 'string') {
      throw new FormatError('TOKENIZER', file, `added_tokens[${i}] must be {id: non-negative integer, content: string}`);
    }
  });
  const vocab = (tj.model as Record<string, unknown>).vocab;
  if (isObj(vocab)) {
    for (const [tok, id] of Object.entries(vocab)) {
      if (!isId(id)) throw new FormatError('TOKENIZER', file, `model.vocab[${JSON.stringify(tok).slice(0, 40)}] must be a non-negative integer id`);
    }
  }
}

/** Builds the tokenizer from already-parsed JSON objects. */
export function createTokenizer(tokenizerJson: unknown, tokenizerConfig: unknown = {}, generationConfig: unknown = null, file = 'tokenizer.json'): LoadedTokenizer {
  if (!isObj(tokenizerJson) || !isObj(tokenizerJson.model)) throw new FormatError('TOKENIZER', file, `expected a tokenizer.json object with a 'model'`);
  if (!isObj(tokenizerConfig)) throw new FormatError('TOKENIZER', 'tokenizer_config.json', `expected a JSON object`);
  checkTokenIds(tokenizerJson, file);
  const cfg = tokenizerConfig;
  let inner: Tokenizer;
  try {
    inner = new Tokenizer(tokenizerJson, cfg);
  } catch (e) {
    throw new FormatError('TOKENIZER', file, `cannot build tokenizer: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
  }
  const idOf = (t: string | null) => (t === null ? undefined : inner.token_to_id(t));

  const bosToken = tokenText(cfg.bos_token);
  const eosToken = tokenText(cfg.eos_token);
  const padToken = tokenText(cfg.pad_token);
  const unkToken = tokenText(cfg.unk_token);
  const gen = isObj(generationConfig) ? generationConfig : {};
  const bosFromGen = idList(gen.bos_token_id);
  const bosTokenId = idOf(bosToken) ?? bosFromGen[0] ?? null;
  const eos: number[] = [...idList(gen.eos_token_id)];
  const eosId = idOf(eosToken);
  if (eosId !== undefined && !eos.includes(eosId)) eos.push(eosId);
  const padTokenId = idOf(padToken) ?? idList(gen.pad_token_id)[0] ?? null;

  const defaultTemplate = pickTemplate(cfg, 'default', 'tokenizer_config.json');
  const compiled = new Map<string, Template>();
  const compile = (text: string): Template => {
    let t = compiled.get(text);
    if (!t) {
      try {
        t = new Template(text);
      } catch (e) {
        throw new FormatError('TOKENIZER', 'tokenizer_config.json', `chat_template does not parse: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
      }
      compiled.set(text, t);
    }
    return t;
  };
  // A template that does not parse is a load error, not a surprise at the first chat request.
  if (defaultTemplate !== null) compile(defaultTemplate);

  const decode = (ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string => {
    if (ids.length === 0) return '';
    try {
      return inner.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false });
    } catch (e) {
      throw new FormatError('TOKENIZER', file, `cannot decode ${ids.length} token ids: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
    }
  };

  return {
    inner,
    bosTokenId,
    bosToken,
    eosTokenIds: eos,
    eosToken,
    padTokenId,
    chatTemplate: defaultTemplate,
    encode(text, options = {}) {
      // Some tokenizer files build but cannot encode every text (a WordLevel unk_token missing from its
      // vocabulary gives undefined ids): a typed error here, never bad ids downstream.
      let ids: number[];
      try {
        ids = inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
      } catch (e) {
        throw new FormatError('TOKENIZER', file, `cannot encode the text: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
      }
      const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
      if (bad >= 0) throw new FormatError('TOKENIZER', file, `encoding gave token id ${String(ids[bad])} at position ${bad} (the text has a piece with no id and no usable unk_token)`);
      return ids;
    },
    decode,
    tokenToId: (t) => inner.token_to_id(t),
    idToToken: (id) => inner.id_to_token(id),
    createStreamDecoder(options = {}) {
      // Decode a short window [prefix, end) and emit the part past the previously emitted text once
      // it no longer ends in U+FFFD (an incomplete UTF-8 sequence). Windowing keeps each step O(1)
      // and lets decoders that depend on context (leading spaces) see the preceding tokens.
      const ids: number[] = [];
      let prefix = 0;
      let read = 0;
      const MAX_HOLD = 8;
      const step = (force: boolean): string => {
        const prefixText = decode(ids.slice(prefix, read), options);
        const text = decode(ids.slice(prefix), options);
        if (text.length > prefixText.length && (force || !text.endsWith('\uFFFD') || ids.length - read > MAX_HOLD)) {
          const delta = text.slice(prefixText.length);
          prefix = read;
          read = ids.length;
          return delta;
        }
        return '';
      };
      return {
        push(id: number) {
          ids.push(id);
          return step(false);
        },
        flush() {
          if (read === ids.length) return '';
          const out = step(true);
          read = prefix = ids.length;
          return out;
        },
      };
    },
    applyChatTemplate(messages, options = {}) {
      const { addGenerationPrompt, templateName, chatTemplate, ...kwargs } = options;
      const text = chatTemplate ?? (templateName ? pickTemplate(cfg, templateName, 'tokenizer_config.json') : defaultTemplate);
      if (text === null) throw new FormatError('TOKENIZER', 'tokenizer_config.json', `no chat_template; pass options.chatTemplate`);
      const template = compile(text);
      try {
        return template.render({
          messages,
          add_generation_prompt: addGenerationPrompt ?? true,
          bos_token: bosToken ?? '',
          eos_token: eosToken ?? '',
          pad_token: padToken ?? '',
          unk_token: unkToken ?? '',
          // raise_exception is built into @huggingface/jinja (throws Error(msg)); it surfaces below.
          ...kwargs,
        });
      } catch (e) {
        if (e instanceof FormatError) throw e;
        throw new FormatError('TOKENIZER', 'tokenizer_config.json', `chat_template failed: ${(e as Error)?.message ?? e}`, undefined, { cause: e });
      }
    },
  };
}

async function readJson(files: CheckpointFiles, rel: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await files.readText(rel);
  } catch (e) {
    if (!required && e instanceof FormatError && e.code === 'NOT_FOUND') return null;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError('TOKENIZER', rel, `not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Reads tokenizer.json (required), tokenizer_config.json and generation_config.json (optional). */
export async function loadTokenizer(files: CheckpointFiles): Promise<LoadedTokenizer> {
  const [tj, tc, gc] = await Promise.all([
    readJson(files, 'tokenizer.json', true),
    readJson(files, 'tokenizer_config.json', false),
    readJson(files, 'generation_config.json', false),
  ]);
  return createTokenizer(tj, tc ?? {}, gc);
}

/**
 * The bos a text prompt starts with, for the library and the CLI alike: the tokenizer's bos_token (or
 * generation_config's), else config.json's bos_token_id (models trained on documents that follow a
 * separator, like webmoe-mini's <|endoftext|>); null when neither names one.
 */
export function promptBos(tokenizer: Pick<LoadedTokenizer, 'bosTokenId'> | null, configBosTokenId: number | null): number | null {
  return tokenizer?.bosTokenId ?? configBosTokenId;
}

/** Token ids of a text prompt: the tokenizer's encoding with its special tokens, `bos` first exactly once. */
export function encodePrompt(tokenizer: Pick<LoadedTokenizer, 'encode'>, text: string, bos: number | null): number[] {
  const ids = tokenizer.encode(text, { addSpecialTokens: true });
  return bos !== null && ids[0] !== bos ? [bos, ...ids] : ids;
}

/** The ids that end a generation: the tokenizer's (tokenizer_config / generation_config), else config.json's. */
export function stopTokenIds(tokenizer: Pick<LoadedTokenizer, 'eosTokenIds'> | null, configEosTokenIds: readonly number[]): number[] {
  return tokenizer?.eosTokenIds.length ? [...tokenizer.eosTokenIds] : [...configEosTokenIds];
}
