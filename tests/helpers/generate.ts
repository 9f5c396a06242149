// Greedy generation on a loaded MoeModel through the library's own path (MoeBatchModel + Scheduler, as
// Engine runs it), for tests that hold a MoeModel rather than an Engine.
import { MoeBatchModel } from '../../src/api/batch-model.ts';
import type { MoeModel } from '../../src/runtime/model.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';

/** `n` greedy ids after `prompt`, past any eos (like transformers' generate with min_new_tokens = n). */
export async function greedyIds(model: MoeModel, prompt: number[], n: number): Promise<number[]> {
  const sched = new Scheduler(new MoeBatchModel(model, model.spec.eosTokenIds), { maxBatchTokens: model.maxBatchTokens });
  return (await sched.submit({ prompt, maxTokens: n, ignoreEos: true }).result).tokens;
}
