// The `webmoe` CLI as a user runs it (node bin/webmoe.js): logits / generate on the HF fixtures, and one
// corrupted copy of a fixture per class of bad input, each failing fast with a single `error:` line.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFixtures, maxAbsDiff } from '../conformance/fixtures.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/webmoe.js');

function cli(args: string[], timeout = 60_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const fixtures = listFixtures();

describe('webmoe logits / generate on the HF fixtures', () => {
  for (const fx of fixtures) {
    it(`logits ${fx.name}`, () => {
      const p = fx.expected.prompts[0];
      const r = cli(['logits', '--model', fx.dir, '--ids', p.ids.join(',')]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(maxAbsDiff(out.last_logits, p.last_logits)).toBeLessThan(1e-3);
      expect(out.argmax).toEqual(p.argmax);
    }, 60_000);
  }
  for (const fx of fixtures.filter((f) => ['qwen3_moe', 'granitemoe', 'qwen2_moe'].includes(f.name))) {
    it(`generate --json ${fx.name}`, () => {
      const p = fx.expected.prompts[2];
      const r = cli(['generate', '--model', fx.dir, '--ids', p.ids.join(','), '--max-tokens', String(p.greedy.length), '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!).ids).toEqual(p.greedy);
    }, 60_000);
  }
});

describe('webmoe generate sampling', () => {
  it('--temperature/--top-p/--seed: same seed, same ids', () => {
    const fx = fixtures.find((f) => f.name === 'qwen3_moe')!;
    const args = ['generate', '--model', fx.dir, '--ids', '1,2,3', '--max-tokens', '12', '--temperature', '1.5', '--top-p', '0.95', '--json'];
    const a = cli([...args, '--seed', '7']);
    const b = cli([...args, '--seed', '7']);
    const c = cli([...args, '--seed', '8']);
    for (const r of [a, b, c]) expect(r.code, r.stderr).toBe(0);
    const ids = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split('\n').pop()!).ids as number[];
    expect(ids(a)).toHaveLength(12);
    expect(ids(a)).toEqual(ids(b));
    expect(ids(a)).not.toEqual(ids(c));
  }, 150_000); // three CLI runs, each starting a device and loading the model
});

// ---- corrupted checkpoints ----

const base = fixtures.find((f) => f.name === 'qwen3_moe')!;
const tmp = mkdtempSync(path.join(tmpdir(), 'webmoe-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Parsed {
  header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Buffer;
}

function parse(buf: Buffer): Parsed {
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

function serialize(headerText: string, data: Buffer): Buffer {
  const h = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** A copy of the base fixture in a fresh folder, with model.safetensors / config.json transformed. */
function corrupt(name: string, f: { st?: (b: Buffer) => Buffer; config?: (c: Record<string, unknown>) => string }): string {
  const dir = path.join(tmp, name);
  spawnSync('mkdir', ['-p', dir]);
  const st = readFileSync(path.join(base.dir, 'model.safetensors'));
  writeFileSync(path.join(dir, 'model.safetensors'), f.st ? f.st(st) : st);
  const cfg = JSON.parse(readFileSync(path.join(base.dir, 'config.json'), 'utf8'));
  writeFileSync(path.join(dir, 'config.json'), f.config ? f.config(cfg) : JSON.stringify(cfg));
  copyFileSync(path.join(base.dir, 'expected.json'), path.join(dir, 'expected.json'));
  return dir;
}

function withHeader(edit: (h: Parsed['header']) => void): (b: Buffer) => Buffer {
  return (b) => {
    const p = parse(b);
    edit(p.header);
    return serialize(JSON.stringify(p.header), p.data);
  };
}

const T = 'model.layers.0.self_attn.q_proj.weight';
type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };

const cases: [string, Parameters<typeof corrupt>[1], RegExp][] = [
  ['truncated file', { st: (b) => b.subarray(0, b.length - 1000) }, /model\.safetensors/],
  ['absurd header length', { st: (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n << 50n, 0); return c; } }, /model\.safetensors.*header/i],
  ['header not JSON', { st: (b) => { const p = parse(b); const n = Number(b.readBigUInt64LE(0)); return serialize('{' + 'x'.repeat(n - 1), p.data); } }, /model\.safetensors/],
  ['unknown dtype', { st: withHeader((h) => { (h[T] as Entry).dtype = 'F17'; }) }, /q_proj|F17/],
  ['offsets out of range', { st: withHeader((h) => { const e = h[T] as Entry; e.data_offsets = [e.data_offsets[0], e.data_offsets[1] + 1e9]; }) }, /q_proj/],
  ['shape/size mismatch', { st: withHeader((h) => { (h[T] as Entry).shape = [64, 31]; }) }, /q_proj/],
  ['missing tensor', { st: withHeader((h) => { const e = h[T]; delete h[T]; h['model.layers.0.self_attn.unused.weight'] = e; }) }, /q_proj/],
  ['mis-shaped tensor', { st: withHeader((h) => { (h[T] as Entry).shape = [32, 64]; }) }, /q_proj.*\[64,32\]/],
  ['bad config JSON', { config: () => '{"model_type": "qwen3_moe",' }, /config\.json/],
  ['unsupported model_type', { config: (c) => JSON.stringify({ ...c, model_type: 'llama4' }) }, /config\.json.*llama4/],
  ['inconsistent config', { config: (c) => JSON.stringify({ ...c, num_key_value_heads: 3 }) }, /config\.json/],
  ['config shape disagrees with tensors', { config: (c) => JSON.stringify({ ...c, hidden_size: 48 }) }, /model\.safetensors.*tensor/],
];

describe('webmoe on bad input: one error line, non-zero exit, fast', () => {
  for (const [name, f, re] of cases) {
    it(name, () => {
      const dir = corrupt(name.replace(/\W+/g, '_'), f);
      const r = cli(['logits', '--model', dir, '--ids', '1,2,3'], 20_000);
      expect(r.code, r.stdout).not.toBe(0);
      expect(r.code).not.toBe(null);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: /);
      expect(lines[0]).toMatch(re);
      expect(r.ms).toBeLessThan(20_000);
    }, 30_000);
  }
  it('missing model folder', () => {
    const r = cli(['logits', '--model', path.join(tmp, 'nope'), '--ids', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*nope/);
  });
  it('token id outside the vocabulary (refused before the GPU starts)', () => {
    const r = cli(['logits', '--model', base.dir, '--ids', '1,96']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: token id 96 .*vocab_size 96/);
  });
  it('bad arguments', () => {
    const r = cli(['logits', '--model', base.dir, '--ids', 'a,b']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: --ids/);
  });
  it('sampling flags follow the library parameter rules (one error per bad value)', () => {
    for (const [flag, v, re] of [
      ['--top-p', '2', /^error: --top-p must be a number in \(0, 1\], got 2$/],
      ['--max-tokens', '2.5', /^error: --max-tokens must be an integer >= 1, got 2.5$/],
      ['--seed', '0.5', /^error: --seed must be an integer, got 0.5$/],
    ] as const) {
      const r = cli(['generate', '--model', base.dir, '--ids', '1', flag, v]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(re);
    }
  });
});
