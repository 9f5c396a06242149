// Functions the loading tests call in the page (window.__load): a whole engine load + a few greedy
// tokens, and a file-level load (everything a load reads, without the GPU) that hashes every tensor.
import { createEngine, hasModelInCache, deleteModelCache, ModelCacheError, type LoadProgress } from '../../src/index.ts';
import { modelFiles } from '../../src/create-engine.ts';
import { openCheckpoint } from '../../src/format/checkpoint.ts';
import { loadTokenizer } from '../../src/format/tokenizer.ts';
import type { CacheKind } from '../../src/files/stores.ts';

type Cache = CacheKind | false;

const summarise = (events: LoadProgress[]) => ({
  fromNetwork: [...new Set(events.filter((e) => e.stage === 'download' && e.from === 'network').map((e) => e.file))].sort(),
  fromCache: [...new Set(events.filter((e) => e.stage === 'download' && e.from === 'cache').map((e) => e.file))].sort(),
  lastDownload: events.filter((e) => e.stage === 'download').at(-1) ?? null,
  lastWeights: events.filter((e) => e.stage === 'weights').at(-1) ?? null,
});

async function engineLoad(model: string | undefined, cache: Cache) {
  const events: LoadProgress[] = [];
  const engine = await createEngine({ model, cache, maxSequences: 1, maxContext: 64, onProgress: (p) => events.push(p) });
  const out = await engine.generate('The whale', { maxTokens: 4, ignoreEos: true }).result;
  const name = engine.info.model;
  await engine.dispose();
  return { ...summarise(events), tokens: out.tokens, name };
}

/** FNV-1a over every tensor's bytes in name order, plus what the tokenizer says. */
async function filesLoad(model: string, cache: Cache) {
  const events: LoadProgress[] = [];
  const files = modelFiles({ model, cache, onProgress: (p) => events.push(p) });
  const ckpt = await openCheckpoint(files);
  let h = 0x811c9dc5;
  for (const name of [...ckpt.tensors.keys()].sort()) {
    await ckpt.readTensorBytes(name, {
      onChunk: (b) => {
        for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619) >>> 0;
      },
    });
  }
  await ckpt.close();
  const tok = await loadTokenizer(files);
  const config = JSON.parse(await files.readText('config.json')) as { model_type: string };
  return { ...summarise(events), hash: h, tensors: ckpt.tensors.size, name: files.name, modelType: config.model_type, whale: tok.encode('The whale') };
}

async function quotaError(model: string) {
  // A Cache API that is full: every put fails as Chromium fails it.
  const real = caches.open.bind(caches);
  caches.open = async (name: string) => {
    const c = await real(name);
    c.put = async () => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    };
    return c;
  };
  try {
    await filesLoad(model, 'cache-api');
    return { error: null };
  } catch (e) {
    return { error: String((e as Error).message), isCacheError: e instanceof ModelCacheError, code: (e as ModelCacheError).code };
  } finally {
    caches.open = real;
  }
}

async function failure(model: string, cache: Cache) {
  try {
    await filesLoad(model, cache);
    return null;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

(window as unknown as { __load: unknown }).__load = { engineLoad, filesLoad, quotaError, failure, hasModelInCache, deleteModelCache };
