// `webmoe eval` on the embedded model's held-out slice must reproduce the training script's perplexity
// (models/webmoe-mini/eval/reference.json) within 1%.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';
import { resolveSpec } from '../../src/models/index.ts';
import { loadReferenceWeights, referenceForward } from '../../src/reference/model.ts';
import { evalChunks, nllOfTargets } from '../../src/cli/eval.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// WEBMOE_TINY_DIR: check another export of the same layout (e.g. a training run's) with these tests.
const MODEL = process.env.WEBMOE_TINY_DIR ?? path.join(ROOT, 'models/webmoe-mini');
const REF = path.join(MODEL, 'eval/reference.json');
const SLICE = path.join(MODEL, 'eval/heldout-slice.txt');


describe.skipIf(!existsSync(REF) || !existsSync(SLICE))('webmoe eval on models/webmoe-mini', () => {
  it('matches eval/reference.json within 1%', () => {
    const ref = JSON.parse(readFileSync(REF, 'utf8'));
    // tools/train: {..., slice: {tokens, ids, ppl}} (protocol: chunks of 128, bos first, all tokens predicted)
    const want = ref.slice.ppl as number;
    expect(want).toBeGreaterThan(1);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'eval', '--model', MODEL, '--text-file', SLICE, '--batch', '4', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.tokens).toBe(ref.slice.tokens);
    const got = out.ppl;
    expect(Math.abs(got - want) / want, `engine ${got} vs reference ${want}`).toBeLessThan(0.01);
  }, 300_000);
});

describe.skipIf(!existsSync(REF))('webmoe generate with the default model', () => {
  it('--prompt TEXT (bos prepended) gives transformers\' greedy ids', () => {
    const ref = JSON.parse(readFileSync(REF, 'utf8'));
    const p = ref.prompts[0] as { text: string; greedy?: number[]; greedy_ids?: number[]; ids: number[] };
    const greedy = (p.greedy ?? p.greedy_ids)!;
    // the default model when WEBMOE_TINY_DIR is not set: no --model
    const model = process.env.WEBMOE_TINY_DIR ? ['--model', MODEL] : [];
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'generate', ...model, '--prompt', p.text, '--max-tokens', String(greedy.length), '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const ids = JSON.parse(r.stdout.trim().split('\n').pop()!).ids as number[];
    // HF ran with min_new_tokens (no stop at eos); we stop at eos (not printed), so compare up to it
    expect(ids).toEqual(greedy.slice(0, ids.length));
    expect(ids.length === greedy.length || greedy[ids.length] === p.ids[0]).toBe(true);
  }, 150_000);
});

// The eval plumbing (tokenize, chunk, bos, batch, NLL) on an HF fixture with a hand-made word-level
// tokenizer, against the same protocol computed with the plain TS reference forward.

describe('webmoe eval protocol on a fixture', () => {
  it('CLI perplexity equals the reference forward under the same protocol', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'webmoe-eval-'));
    try {
      cpSync(path.join(ROOT, 'tests/fixtures/hf/qwen3_moe'), dir, { recursive: true });
      const words = 'the a whale ship sea call me ishmael some years ago never mind how long precisely'.split(' ');
      const vocab: Record<string, number> = { '[UNK]': 0, '<s>': 1 };
      words.forEach((w, i) => (vocab[w] = i + 2));
      writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify({
        version: '1.0', normalizer: null, post_processor: null, decoder: null, pre_tokenizer: { type: 'Whitespace' },
        added_tokens: [{ id: 1, content: '<s>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
        model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
      }));
      writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' }));
      const ids = Array.from({ length: 300 }, (_, i) => 2 + ((i * 7 + (i >> 3)) % words.length));
      writeFileSync(path.join(dir, 'text.txt'), ids.map((i) => words[i - 2]).join(' '));

      const ckpt = await openCheckpoint(filesFromNodeDir(dir));
      const spec = await resolveSpec(ckpt);
      const W = await loadReferenceWeights(ckpt, spec);
      await ckpt.close();
      let nll = 0;
      let n = 0;
      for (const c of evalChunks(ids, 128, 1)) {
        const logits = referenceForward(spec, W, c.input);
        const flat = new Float32Array(logits.length * spec.vocabSize);
        logits.forEach((l, t) => flat.set(l, t * spec.vocabSize));
        nll += nllOfTargets(flat, spec.vocabSize, c.targets);
        n += c.targets.length;
      }
      const want = Math.exp(nll / n);

      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/webmoe.js'), 'eval', '--model', dir, '--text-file', path.join(dir, 'text.txt'), '--batch', '2', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.tokens).toBe(300);
      expect(out.chunks).toBe(3);
      expect(Math.abs(out.ppl - want) / want).toBeLessThan(1e-4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
