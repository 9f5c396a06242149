import { describe, it, expect } from 'vitest';
import { defaultMaxSequences, kvBytesPerSequence, DEFAULT_KV_CACHE_BYTES } from '../../src/api/load.ts';

describe('default concurrency from the KV-cache budget', () => {
  const tiny = { layers: 4, kvHeads: 2, headDim: 64 }; // webmoe-mini
  it('webmoe-mini admits 64 sequences of 512 tokens (2 MiB each), capped by maxBatchTokens', () => {
    expect(kvBytesPerSequence(tiny, 512)).toBe(2 * 2 ** 20);
    expect(defaultMaxSequences(tiny, 512, 64, DEFAULT_KV_CACHE_BYTES, 2 ** 30)).toBe(64);
    expect(defaultMaxSequences(tiny, 512, 16, DEFAULT_KV_CACHE_BYTES, 2 ** 30)).toBe(16);
  });
  it('a large model gets what the budget holds, at least one', () => {
    const big = { layers: 48, kvHeads: 4, headDim: 128 }; // Qwen3-30B-A3B: 96 MiB per 512-token sequence
    expect(defaultMaxSequences(big, 512, 64, DEFAULT_KV_CACHE_BYTES, 2 ** 30)).toBe(2);
    expect(defaultMaxSequences(big, 4096, 64, DEFAULT_KV_CACHE_BYTES, 2 ** 30)).toBe(1);
  });
  it('the per-layer KV buffer must fit one binding', () => {
    // 128 MiB binding limit (lavapipe): a layer's K buffer holds 512 * 128 * 4 = 256 KiB per sequence
    expect(defaultMaxSequences(tiny, 512, 1024, 2 ** 40, 128 * 2 ** 20)).toBe(512);
    expect(defaultMaxSequences(tiny, 512, 1024, 2 ** 40, 2 ** 20)).toBe(4);
  });
});
