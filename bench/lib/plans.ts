// What `npm run bench` runs, full and --quick, for the two models (the same plans in Node and browser).
import type { LoadedTokenizer } from '../../src/format/tokenizer.ts';
import type { BenchConfig, ModelPlan } from './harness.ts';
import type { ModelSource } from './model.ts';

/** n prompts of len tokens from evenly spaced windows of a text. */
export function promptsFromText(tok: LoadedTokenizer, text: string, n: number, len: number): number[][] {
  const ids = tok.encode(text, { addSpecialTokens: false });
  if (ids.length < len) throw new Error(`bench: prompt text has ${ids.length} tokens, fewer than ${len}`);
  const stride = Math.max(1, Math.floor((ids.length - len) / n));
  const bos = tok.bosTokenId;
  return Array.from({ length: n }, (_, i) => {
    const w = ids.slice(i * stride, i * stride + len);
    return bos !== null ? [bos, ...w.slice(0, len - 1)] : w;
  });
}

export const PROMPTS = 32;

export function defaultModelPlan(src: ModelSource, quick: boolean): ModelPlan {
  return quick
    ? {
      src, batches: [1, 8], policies: ['xshare50%', 'topk/2', 'mass90%'], reps: 3, profileBatches: [8], strategyTs: [8], strategyReps: 2,
      concurrency: [1, 4], schedPolicies: [], schedPolicyConcurrency: [], schedReps: 1, promptLen: 8, genTokens: 3, maxContext: 128,
    }
    : {
      src, batches: [1, 4, 8, 16, 32], policies: 'all', reps: 3, profileBatches: [1, 8, 32], strategyTs: [1, 8, 32], strategyReps: 3,
      concurrency: [1, 4, 8, 16, 32], schedPolicies: ['xshare50%', 'topk/2'], schedPolicyConcurrency: [16], schedReps: 1, promptLen: 16, genTokens: 6, maxContext: 256,
    };
}

export function synthModelPlan(src: ModelSource, quick: boolean): ModelPlan {
  return quick
    ? {
      src, batches: [1, 4], policies: ['xshare50%'], reps: 1, profileBatches: [4], strategyTs: [4], strategyReps: 1,
      concurrency: [], schedPolicies: [], schedPolicyConcurrency: [], schedReps: 1, promptLen: 8, genTokens: 2, maxContext: 64,
    }
    : {
      // 1.6 GB and seconds per step on SwiftShader: decode only at 1 and 4, prompts of 2 random ids, no
      // scheduler sweep (the default model shows continuous batching; this model shows expert traffic)
      src, batches: [1, 4], policies: ['topk/2', 'xshare50%'], reps: 2, profileBatches: [1, 4], strategyTs: [1], strategyReps: 2,
      concurrency: [], schedPolicies: [], schedPolicyConcurrency: [], schedReps: 1, promptLen: 2, genTokens: 2, maxContext: 64,
    };
}

export function benchConfig(quick: boolean, models: ModelPlan[]): BenchConfig {
  return {
    quick,
    matmul: quick ? { n: 512, k: 512, ts: [1, 64], formats: ['f32', 'f16'] } : { n: 1024, k: 1024, ts: [1, 32, 64], formats: ['f32', 'f16', 'int8'] },
    copyBytes: (quick ? 16 : 64) * 2 ** 20,
    models,
  };
}
