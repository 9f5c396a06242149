import { test, expect, type Page } from '@playwright/test';
import { startModelServer } from './model-server.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { filesFromNodeDir } from '../../src/format/source-node.ts';

// Loading by URL in Chromium against a local model server: the Cache API (first load from the
// network, second from the cache with no request at all), OPFS, an SPA server that ignores Range and
// answers index.html for unknown paths, the Hugging Face layout with a redirect, page-relative URLs,
// and a full storage quota.
const DIR = 'models/webmoe-mini';
const PORT = Number(process.env.WEBMOE_TEST_PORT ?? 5199) + 1; // next to the page's dev server
const ORIGIN = `http://127.0.0.1:${PORT}`;
// every file the engine reads from the default model's folder (calibration.safetensors: the calibrated policies' data)
const MODEL_FILES = ['calibration.safetensors', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

type Api = Record<string, (...a: unknown[]) => Promise<unknown>>;
const call = <T>(page: Page, fn: string, ...args: unknown[]) =>
  page.evaluate(([f, a]) => ((window as unknown as { __load: Api }).__load[f as string](...(a as unknown[]))), [fn, args] as const) as Promise<T>;

async function expectedHash(): Promise<number> {
  const ckpt = await openCheckpoint(filesFromNodeDir(DIR));
  let h = 0x811c9dc5;
  for (const name of [...ckpt.tensors.keys()].sort()) {
    await ckpt.readTensorBytes(name, { onChunk: (b) => { for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0; } });
  }
  await ckpt.close();
  return h;
}

type FilesResult = { hash: number; name: string; fromNetwork: string[]; fromCache: string[]; modelType: string; whale: number[]; lastDownload: { bytes: number; totalBytes: number; files: number; totalFiles: number } | null };
type EngineResult = FilesResult & { tokens: number[]; lastWeights: { bytes: number; totalBytes: number; stage: string; from: string } | null };

test.describe('loading models by URL', () => {
  let srv: Awaited<ReturnType<typeof startModelServer>>;
  let hash: number;
  test.beforeAll(async () => {
    srv = await startModelServer(DIR, PORT);
    hash = await expectedHash();
  });
  test.afterAll(() => new Promise<void>((r) => srv.server.close(() => r())));

  const open = async (page: Page) => {
    page.on('console', (m) => m.type() === 'error' && !/404|Failed to load resource/.test(m.text()) && console.log('[page]', m.text()));
    await page.goto('/tests/browser/loading.html');
    await page.waitForFunction(() => (window as unknown as { __load?: unknown }).__load);
  };

  test('Cache API: the first load downloads, the second reads the cache and asks the network nothing', async ({ page }) => {
    await open(page);
    const url = `${ORIGIN}/plain/`;
    expect(await call(page, 'hasModelInCache', url)).toBe(false);
    srv.reset();
    const first = await call<EngineResult>(page, 'engineLoad', url, 'cache-api');
    expect(first.fromNetwork).toEqual(MODEL_FILES);
    expect(first.lastDownload).toMatchObject({ files: first.lastDownload!.totalFiles });
    expect(first.lastDownload!.bytes).toBe(first.lastDownload!.totalBytes);
    expect(first.lastWeights!.bytes).toBe(first.lastWeights!.totalBytes);
    expect(first.lastWeights).toMatchObject({ stage: 'weights', from: 'cache' });
    expect(first.name).toBe('plain');
    expect(srv.stats().bytes).toBeGreaterThan(30e6);
    expect(await call(page, 'hasModelInCache', url)).toBe(true);

    srv.reset();
    const second = await call<EngineResult>(page, 'engineLoad', url, 'cache-api');
    expect(srv.stats()).toEqual({ requests: 0, bytes: 0, paths: [] });
    expect(second.fromNetwork).toEqual([]);
    expect(second.fromCache).toEqual(MODEL_FILES);
    expect(second.tokens).toEqual(first.tokens);

    expect(await call(page, 'deleteModelCache', url)).toBeGreaterThanOrEqual(MODEL_FILES.length);
    expect(await call(page, 'hasModelInCache', url)).toBe(false);
  });

  test('OPFS cache, SPA server without Range, Hugging Face layout, page-relative URL: the same bytes', async ({ page }) => {
    await open(page);
    srv.reset();
    const opfs1 = await call<FilesResult>(page, 'filesLoad', `${ORIGIN}/plain/`, 'opfs');
    const opfs2 = await call<FilesResult>(page, 'filesLoad', `${ORIGIN}/plain/`, 'opfs');
    expect(opfs1.hash).toBe(hash);
    expect(opfs2.hash).toBe(hash);
    expect(opfs2.fromNetwork).toEqual([]);
    expect(srv.stats().paths.filter((p) => p.endsWith('.safetensors'))).toHaveLength(1);
    expect(await call(page, 'deleteModelCache', `${ORIGIN}/plain/`, { cache: 'opfs' })).toBeGreaterThan(0);

    for (const cache of [false, 'cache-api'] as const) {
      const spa = await call<FilesResult>(page, 'filesLoad', `${ORIGIN}/spa/`, cache);
      expect(spa.hash, `spa, cache ${cache}`).toBe(hash);
      expect(spa.modelType).toBe('qwen3_moe');
    }
    const hf = await call<FilesResult>(page, 'filesLoad', `${ORIGIN}/org/name/resolve/main/`, 'cache-api');
    expect(hf.hash).toBe(hash);
    expect(hf.name).toBe('org/name');
    const rel = await call<FilesResult>(page, 'filesLoad', '/models/webmoe-mini/', false);
    expect(rel.hash).toBe(hash);
    expect(rel.whale).toEqual(hf.whale);
  });

  test('clear errors: an SPA server without the model, a full quota', async ({ page }) => {
    await open(page);
    for (const cache of [false, 'cache-api'] as const) {
      const err = await call<string | null>(page, 'failure', `${ORIGIN}/spa/missing/`, cache);
      expect(err, `cache ${cache}`).toMatch(/FormatError: .*neither model\.safetensors\.index\.json nor model\.safetensors found \(.*answered with an HTML page/);
    }
    const q = await call<{ error: string; isCacheError: boolean; code: string }>(page, 'quotaError', `${ORIGIN}/plain/`);
    expect(q.isCacheError).toBe(true);
    expect(q.code).toBe('QUOTA');
    expect(q.error).toMatch(/refused to store .* storage quota exceeded .*cache: false/);
  });
});
