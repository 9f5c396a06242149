import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../src/format/errors.ts';
import { normalizeConfig } from '../../src/format/config.ts';
import { filesFromMap, filesFromUrl, openCheckpoint, type Checkpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir, fromNodeFile } from '../../src/format/source-node.ts';
import { readSafetensorsHeader } from '../../src/format/safetensors.ts';
import { fromUrl } from '../../src/format/bytes.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/format/safetensors-writer.ts';

const f32 = (n: number, seed: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed);
  return { dtype: 'F32' as const, shape: [n], data: new Uint8Array(a.buffer) };
};

let root: string;
const shard1: Record<string, TensorToWrite> = { 'model.embed_tokens.weight': { ...f32(4096, 1), shape: [64, 64] }, 'model.norm.weight': f32(64, 2) };
const shard2: Record<string, TensorToWrite> = { 'model.layers.0.mlp.gate.weight': { ...f32(512, 3), shape: [8, 64] }, 'lm_head.weight': { ...f32(4096, 4), shape: [64, 64] } };

function weightMap(extra: Record<string, string> = {}) {
  const wm: Record<string, string> = {};
  for (const k of Object.keys(shard1)) wm[k] = 'model-00001-of-00002.safetensors';
  for (const k of Object.keys(shard2)) wm[k] = 'model-00002-of-00002.safetensors';
  return JSON.stringify({ metadata: { total_size: 8768 * 4 }, weight_map: { ...wm, ...extra } });
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'webmoe-format-'));
  mkdirSync(join(root, 'sharded'));
  writeFileSync(join(root, 'sharded/model-00001-of-00002.safetensors'), writeSafetensors(shard1, { format: 'pt' }));
  writeFileSync(join(root, 'sharded/model-00002-of-00002.safetensors'), writeSafetensors(shard2, { format: 'pt' }));
  writeFileSync(join(root, 'sharded/model.safetensors.index.json'), weightMap());
  mkdirSync(join(root, 'single'));
  writeFileSync(join(root, 'single/model.safetensors'), writeSafetensors({ ...shard1, ...shard2 }));
  for (const [dir, index] of [
    ['missing-shard', weightMap({ extra: 'model-00003-of-00002.safetensors' })],
    ['missing-tensor', weightMap({ 'model.layers.9.x': 'model-00002-of-00002.safetensors' })],
    ['unsafe', weightMap({ evil: '../single/model.safetensors' })],
  ]) {
    mkdirSync(join(root, dir));
    writeFileSync(join(root, dir, 'model-00001-of-00002.safetensors'), writeSafetensors(shard1));
    writeFileSync(join(root, dir, 'model-00002-of-00002.safetensors'), writeSafetensors(shard2));
    writeFileSync(join(root, dir, 'model.safetensors.index.json'), index);
  }
  mkdirSync(join(root, 'empty'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function allTensors(ck: Checkpoint): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const name of [...ck.tensors.keys()].sort()) out.set(name, [...(await ck.readTensorF32(name))]);
  return out;
}

const expected = new Map(
  Object.entries({ ...shard1, ...shard2 }).map(([k, t]) => [k, [...new Float32Array(t.data.slice().buffer)]] as const).sort(([a], [b]) => (a < b ? -1 : 1)),
);

describe('checkpoints from a Node directory', () => {
  it('single file and sharded give the same tensors; progress reaches the total', async () => {
    const single = await openCheckpoint(filesFromNodeDir(join(root, 'single')));
    expect(single.shards).toEqual(['model.safetensors']);
    expect(await allTensors(single)).toEqual(expected);
    await single.close();

    const events: number[] = [];
    const ck = await openCheckpoint(filesFromNodeDir(join(root, 'sharded')), { onProgress: (p) => events.push(p.bytesRead / p.totalBytes) });
    expect(ck.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ck.get('lm_head.weight').file).toBe('model-00002-of-00002.safetensors');
    expect(ck.get('lm_head.weight').info.shape).toEqual([64, 64]);
    expect(ck.metadata.format).toBe('pt');
    expect(ck.metadata.total_size).toBe(String(8768 * 4));
    expect(ck.totalBytes).toBe(8768 * 4);
    expect(await allTensors(ck)).toEqual(expected);
    expect(events.at(-1)).toBe(1);
    // streamed reads report progress per chunk
    let chunks = 0;
    await ck.readTensorBytes('model.embed_tokens.weight', { chunkSize: 4096, onChunk: () => void chunks++ });
    expect(chunks).toBe(4);
    expect(() => ck.get('nope')).toThrow("sharded: tensor 'nope': not in this checkpoint (4 tensors)");
    await ck.close();
  });

  it('errors name the index, the shard and the tensor', async () => {
    const err = async (dir: string) => {
      try {
        await openCheckpoint(filesFromNodeDir(join(root, dir)));
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        return e as FormatError;
      }
      throw new Error('expected FormatError');
    };
    const a = await err('missing-shard');
    expect(a.code).toBe('NOT_FOUND');
    expect(a.message).toMatch(/^model\.safetensors\.index\.json: shard 'model-00003-of-00002\.safetensors' does not exist in missing-shard \(model-00003-of-00002\.safetensors: cannot open .*ENOENT\)$/);
    const b = await err('missing-tensor');
    expect(b.code).toBe('MISSING_TENSOR');
    expect(b.message).toBe("model.safetensors.index.json: tensor 'model.layers.9.x': weight_map puts it in 'model-00002-of-00002.safetensors', but that shard's header does not list it");
    const c = await err('unsafe');
    expect(c.message).toBe('model.safetensors.index.json: unsafe or invalid relative path "../single/model.safetensors"');
    const d = await err('empty');
    expect(d.message).toBe('empty: neither model.safetensors.index.json nor model.safetensors found');
  });

  it('fromNodeFile reads at offsets', async () => {
    const src = await fromNodeFile(join(root, 'single/model.safetensors'));
    const h = await readSafetensorsHeader(src);
    expect(h.tensors.size).toBe(4);
    await src.close?.();
  });
});

describe('checkpoints from picked files (Map of Blobs)', () => {
  it('strips the common folder prefix', async () => {
    const dir = join(root, 'sharded');
    const map = new Map<string, Blob>();
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']) {
      map.set(`mymodel/${f}`, new Blob([readFileSync(join(dir, f))]));
    }
    const files = filesFromMap(map);
    expect(files.name).toBe('mymodel');
    expect(await allTensors(await openCheckpoint(files))).toEqual(expected);
  });
});

describe('checkpoints over HTTP', () => {
  let server: http.Server;
  let plain: http.Server;
  let base = '';
  let plainBase = '';
  const stats = { requests: 0, ranged: 0, bytes: 0, unranged: [] as string[] };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      stats.requests++;
      let body: Buffer;
      try {
        body = readFileSync(join(root, 'sharded', decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1))));
      } catch {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!m) {
        stats.unranged.push(req.url!);
        stats.bytes += body.length;
        res.writeHead(200, { 'Content-Length': body.length }).end(body);
        return;
      }
      stats.ranged++;
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), body.length - 1);
      if (a >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      const part = body.subarray(a, b + 1);
      stats.bytes += part.length;
      res.writeHead(206, { 'Content-Range': `bytes ${a}-${b}/${body.length}`, 'Content-Length': part.length }).end(part);
    });
    plain = http.createServer((req, res) => {
      try {
        const body = readFileSync(join(root, 'sharded', new URL(req.url!, 'http://x').pathname.slice(1)));
        res.writeHead(200, { 'Content-Length': body.length }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    plainBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    plain.closeAllConnections();
    await new Promise((r) => server.close(r));
    await new Promise((r) => plain.close(r));
  });

  it('reads only ranges and yields the same tensors as files', async () => {
    stats.requests = stats.ranged = stats.bytes = 0;
    stats.unranged = [];
    const ck = await openCheckpoint(filesFromUrl(base));
    const headerOnly = stats.bytes;
    expect(stats.unranged).toEqual(['/model.safetensors.index.json']);
    // two shards: probe + length + header each
    expect(stats.ranged).toBe(6);
    const indexBytes = readFileSync(join(root, 'sharded/model.safetensors.index.json')).length;
    expect(headerOnly - indexBytes).toBeLessThan(1024);
    const one = new Float32Array(64);
    await ck.readTensorBytes('model.norm.weight', { onChunk: (b, o) => one.set(new Float32Array(b.slice().buffer), o / 4) });
    expect(stats.bytes - headerOnly).toBe(256);
    expect([...one]).toEqual(expected.get('model.norm.weight'));
    expect(await allTensors(ck)).toEqual(expected);
    expect(stats.bytes - headerOnly).toBe(256 + ck.totalBytes);
  });

  it('a server that ignores Range: clear error for a large file, accepted for a small one', async () => {
    const url = plainBase + 'model-00001-of-00002.safetensors';
    await expect(fromUrl(url, { maxUnrangedBytes: 1024 })).rejects.toThrow(
      /^model-00001-of-00002\.safetensors: server does not support HTTP Range requests \(answered 200 with the whole body, \d+ bytes; at most 1024 bytes accepted without Range\)$/,
    );
    const err = await fromUrl(url, { maxUnrangedBytes: 1024 }).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.code).toBe('RANGE_UNSUPPORTED');
    const small = await fromUrl(url, { maxUnrangedBytes: 1 << 20 });
    expect((await readSafetensorsHeader(small)).tensors.size).toBe(2);
    await expect(fromUrl(plainBase + 'nope.safetensors')).rejects.toThrow('nope.safetensors: HTTP 404 for');
  });

  it('injected fetch: missing Content-Range is a clear error', async () => {
    const fake = async () => new Response(new Uint8Array(1), { status: 206 });
    await expect(fromUrl('https://h/x/model.safetensors', { fetch: fake })).rejects.toThrow(
      'model.safetensors: HTTP 206 without a readable Content-Range total (got none); cross-origin servers must expose Content-Range',
    );
  });
});

// Tiny checkpoints written by transformers (tests/fixtures/hf, owned by another engineer): when present,
// every one must parse strictly and its config must normalise.
const HF = 'tests/fixtures/hf';
const hfDirs = existsSync(HF) ? readdirSync(HF).filter((d) => existsSync(join(HF, d, 'config.json'))) : [];
describe.skipIf(hfDirs.length === 0)('transformers-written fixtures', () => {
  it('open strictly, tensors readable, configs normalise', async () => {
    for (const d of hfDirs) {
      const dir = join(HF, d);
      const cfg = normalizeConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), `${d}/config.json`);
      const ck = await openCheckpoint(filesFromNodeDir(dir));
      expect(ck.tensors.size, d).toBeGreaterThan(0);
      expect(ck.tensors.has('model.embed_tokens.weight'), d).toBe(true);
      expect(ck.get('model.embed_tokens.weight').info.shape, d).toEqual([cfg.vocabSize, cfg.hiddenSize]);
      for (const name of ck.tensors.keys()) await ck.readTensorF32(name);
      await ck.close();
    }
  });
});
