// webmoe's chat types against the `openai` package's own (a devDependency): `tsc --noEmit` (npm test's
// first step) fails if a request typed for the openai client is not accepted by engine.chat.completions,
// or if webmoe's responses are not assignable to openai's response types. The runtime half checks
// that real responses carry the fields openai's types promise.
import { describe, it, expect } from 'vitest';
import type OpenAI from 'openai';
import type { ChatCompletionChunk as OChunk, ChatCompletion as OCompletion, ChatCompletionMessageParam as OMessage, ChatCompletionCreateParamsStreaming as OStreaming, ChatCompletionCreateParamsNonStreaming as ONonStreaming } from 'openai/resources/chat/completions';
import type { Engine, ChatCompletionChunk, ChatCompletion, ChatCompletionCreateParams } from '../../src/index.ts';
import { localEngine, ScriptModel } from './engine-suite.ts';

// Requests: what code written for the openai client holds is accepted as is.
const messages: OMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
  { role: 'user', content: [{ type: 'text', text: 'Tell me ' }, { type: 'text', text: 'about the sea.' }] },
  { role: 'assistant', content: 'Ask me.', refusal: null },
  { role: 'user', content: 'Please.' },
];
const streaming: OStreaming = { model: 'script-model', messages, stream: true, stream_options: { include_usage: true }, stop: ['\n\n'], n: 1, max_tokens: 8, temperature: 0, seed: 1, top_p: 1 };
const nonStreaming: ONonStreaming = { model: 'script-model', messages, stop: 'x', max_completion_tokens: 4, logprobs: null };
const general: OpenAI.Chat.ChatCompletionCreateParams = nonStreaming;
const asOurs: ChatCompletionCreateParams = general;

function typed(engine: Engine) {
  // Responses: webmoe's objects are openai's objects.
  const s: AsyncIterable<OChunk> = engine.chat.completions.create(streaming);
  const c: Promise<OCompletion> = engine.chat.completions.create(nonStreaming);
  const either: AsyncIterable<ChatCompletionChunk> | Promise<ChatCompletion> = engine.chat.completions.create(general);
  const chunk = null as unknown as ChatCompletionChunk;
  const oChunk: OChunk = chunk;
  const completion = null as unknown as ChatCompletion;
  const oCompletion: OCompletion = completion;
  return { s, c, either, oChunk, oCompletion, asOurs };
}

describe('OpenAI compatibility (types from the openai package)', () => {
  it('openai-typed requests run; responses have the fields openai promises', async () => {
    const engine = localEngine(new ScriptModel());
    void typed;
    const chunks: OChunk[] = [];
    for await (const c of engine.chat.completions.create(streaming)) chunks.push(c);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ completion_tokens: expect.any(Number), prompt_tokens: expect.any(Number) });
    for (const c of chunks.slice(0, -1)) {
      expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'script-model', usage: null });
      expect(c.choices[0]).toHaveProperty('logprobs', null);
    }
    const full: OCompletion = await engine.chat.completions.create(nonStreaming);
    expect(full.choices[0].message).toEqual({ role: 'assistant', content: expect.any(String), refusal: null });
    expect(full.choices[0].logprobs).toBeNull();
    expect(['stop', 'length']).toContain(full.choices[0].finish_reason);
    await engine.dispose();
  });
});
