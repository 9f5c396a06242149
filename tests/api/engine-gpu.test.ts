import { describe, it, expect, afterAll } from 'vitest';
import { createEngine } from '../../src/node.ts';
import type { Engine } from '../../src/api/types.ts';

// The whole product path on real WebGPU: default model, tokenizer, scheduler, batched forward.
describe('Engine on the embedded default model (WebGPU in Node)', () => {
  let engine: Engine;
  afterAll(async () => engine?.dispose());

  it('three concurrent prompts in shared steps give the same greedy text as each alone', async () => {
    engine = await createEngine();
    expect(engine.info.maxSequences).toBeGreaterThanOrEqual(16); // the default KV budget admits many
    expect(engine.info.model).toBe('webmoe-tiny');
    const steps: number[] = [];
    engine.onStep((m) => steps.push(m.decodeTokens));
    const prompts = ['The whale', 'Mr. Speaker, the state of the Union', 'It was a dark and stormy night'];
    const together = await Promise.all(prompts.map((p) => engine.generate(p, { maxTokens: 6, ignoreEos: true }).result));
    expect(Math.max(...steps)).toBe(3); // decode steps carried all three requests
    for (let i = 0; i < prompts.length; i++) {
      const alone = await engine.generate(prompts[i], { maxTokens: 6, ignoreEos: true }).result;
      expect(together[i].tokens).toEqual(alone.tokens);
      expect(together[i].text.length).toBeGreaterThan(0);
    }
  }, 240_000);

  it('chat.completions.create streams OpenAI-shaped chunks', async () => {
    let text = '';
    let finish: string | null = null;
    for await (const c of engine.chat.completions.create({ messages: [{ role: 'user', content: 'Tell me about the sea.' }], stream: true, max_tokens: 5, seed: 3 })) {
      text += c.choices[0].delta.content ?? '';
      finish = c.choices[0].finish_reason ?? finish;
    }
    expect(['length', 'stop']).toContain(finish);
    expect(typeof text).toBe('string');
  }, 120_000);
});
