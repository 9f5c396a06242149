// What the scheduler needs from a model: sequences with their own KV cache, and one batched step.
// The GPU runtime implements it (src/runtime); tests use a fake.
import type { Policy } from '../api/policy.ts';

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** Uniform random number in [0,1) for this step (drawn by the scheduler from the request's seed). */
  u?: number;
}

export interface StepItem {
  seq: number;
  /** New tokens of this sequence for this step: a prefill chunk, or the last sampled token. */
  tokens: number[];
  sampling: SamplingParams;
  /**
   * The tokens are a chunk of the request's prompt (set by the scheduler on every prompt chunk, a one-token
   * last chunk included); absent on a decode token (the last sampled token of a request whose prompt is in
   * its cache). Models route prompt chunks by the policy's scope (src/routing/types.ts PolicyScope).
   */
  prefill?: boolean;
}

export interface StepResult {
  /** Next token per item, in item order. */
  next: number[];
  /** Distinct experts used per MoE layer in this step (metrics), if the model reports it. */
  distinctExperts?: number[];
  /** The routing policy this step ran with (metrics), if the model has policies. */
  policy?: Policy;
  /** Per layer, the experts the step read and those the baseline routing would have read (metrics). */
  routing?: ExpertRouting[];
}

/** One layer's experts in one step (dense layers: empty sets, massKept 1). */
export interface ExpertRouting {
  /** Experts the step's policy used, ascending. */
  experts: number[];
  /** Experts the baseline top-k would have used in the same step (same router scores), ascending. */
  baselineExperts: number[];
  /** Share of the baseline top-k gating mass the policy's experts kept. */
  massKept: number;
}

export interface BatchModel {
  readonly maxContext: number;
  /** Token ids must be in [0, vocabSize): checked when a request is submitted. */
  readonly vocabSize: number;
  /** How many sequences may hold a KV cache at once. */
  readonly maxSequences: number;
  readonly eosTokenIds: readonly number[];
  newSequence(): number;
  freeSequence(seq: number): void;
  /**
   * One batched step. A step that throws must leave every sequence as it was (the scheduler retries
   * the others); throw StepItemError to name the items at fault.
   */
  step(items: StepItem[]): Promise<StepResult>;
  /** Routing policy of the steps that start after this call (models with expert routing). */
  setPolicy?(policy: Policy): void;
}

/** A step failed because of some of its items (indices into the step's items); the rest may be retried. */
export class StepItemError extends Error {
  override name = 'StepItemError';
  constructor(message: string, readonly items: number[]) {
    super(message);
  }
}
