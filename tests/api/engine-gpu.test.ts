import { spawnSync } from 'node:child_process';
import path from 'node:path';
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
    expect(engine.info.model).toBe('webmoe-mini');
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

  it('the CLI gives the library\'s tokens: greedy, and sampled with the same seed (one generation path)', async () => {
    const cli = (args: string[]) => {
      const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../../bin/webmoe.js'), 'generate', '--json', ...args], { encoding: 'utf8', timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.replace(/\n+$/, '').split('\n'); // the text keeps its leading space
      return { text: lines.slice(0, -1).join('\n'), ids: JSON.parse(lines[lines.length - 1]).ids as number[] };
    };
    const greedy = cli(['--prompt', 'The whale', '--max-tokens', '8']);
    const lib = await engine.generate('The whale', { maxTokens: 8 }).result;
    expect(greedy.ids).toEqual(lib.tokens);
    expect(greedy.text).toBe(lib.text);
    const sampled = cli(['--prompt', 'The whale', '--max-tokens', '8', '--temperature', '0.8', '--seed', '1']);
    expect(sampled.ids).toEqual((await engine.generate('The whale', { maxTokens: 8, temperature: 0.8, seed: 1 }).result).tokens);
  }, 240_000);

  it('the shipped calibration is loaded: the auto preset runs and reads fewer experts at batch 4', async () => {
    const distinct: number[][] = [];
    const off = engine.onStep((m) => m.decodeTokens === 4 && distinct.push(m.distinctExperts ?? []));
    const prompts = ['The whale', 'Mr. Speaker', 'It was a dark', 'Call me'];
    const run = () => Promise.all(prompts.map((p) => engine.generate(p, { maxTokens: 4, ignoreEos: true }).result));
    await run();
    const base = distinct.splice(0).flat();
    await engine.setPolicy({ kind: 'auto', maxPerplexityRise: 0.01 }); // refused without calibration; webmoe-mini's table: uniform coverage 0.96 at 1%
    await run();
    await engine.setPolicy({ kind: 'baseline' });
    off();
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    expect(base.length).toBeGreaterThan(0);
    expect(sum(distinct.flat()) / distinct.flat().length).toBeLessThan(sum(base) / base.length);
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
