// A deterministic stand-in for the GPU model behind the scheduler: the next token of a sequence is
// (sum of its tokens so far) mod `mod`; sequences are tracked like KV caches (allocation, length), a
// failing step changes nothing, and `poison` makes every step containing one of its tokens fail.
import type { BatchModel, StepItem, StepResult } from '../../src/scheduler/types.ts';

export interface FakeModelOptions {
  maxSequences?: number;
  maxContext?: number;
  vocabSize?: number;
  eos?: number[];
  mod?: number;
  /** Milliseconds a step takes (a timer, so aborts can land mid-step). */
  stepMs?: number;
}

export class FakeModel implements BatchModel {
  readonly maxSequences: number;
  readonly maxContext: number;
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  readonly mod: number;
  readonly stepMs: number;
  /** Items of every step that ran (failed ones included). */
  readonly steps: StepItem[][] = [];
  readonly live = new Map<number, number[]>();
  /** Steps containing one of these tokens throw a plain Error (not attributed). */
  readonly poison = new Set<number>();
  /** Throw this once on the next step. */
  failNext: Error | null = null;
  private nextSeq = 0;

  constructor(o: FakeModelOptions = {}) {
    this.maxSequences = o.maxSequences ?? 4;
    this.maxContext = o.maxContext ?? 64;
    this.vocabSize = o.vocabSize ?? 64;
    this.eosTokenIds = o.eos ?? [7];
    this.mod = o.mod ?? 50;
    this.stepMs = o.stepMs ?? 1;
  }

  newSequence(): number {
    if (this.live.size >= this.maxSequences) throw new Error('fake: all sequences in use');
    const id = this.nextSeq++;
    this.live.set(id, []);
    return id;
  }

  freeSequence(seq: number): void {
    if (!this.live.delete(seq)) throw new Error(`fake: sequence ${seq} freed twice or never allocated`);
  }

  async step(items: StepItem[]): Promise<StepResult> {
    this.steps.push(items);
    if (items.length > this.maxSequences) throw new Error('fake: more items than sequences');
    await new Promise((r) => setTimeout(r, this.stepMs));
    const f = this.failNext;
    if (f) {
      this.failNext = null;
      throw f;
    }
    for (const it of items) {
      const toks = this.live.get(it.seq);
      if (!toks) throw new Error(`fake: step on freed sequence ${it.seq}`);
      if (toks.length + it.tokens.length > this.maxContext) throw new Error('fake: past the context');
      if (it.tokens.some((t) => this.poison.has(t))) throw new Error(`fake: poisoned token in sequence ${it.seq}`);
    }
    return {
      next: items.map((it) => {
        const toks = this.live.get(it.seq)!;
        toks.push(...it.tokens);
        return toks.reduce((a, b) => a + b, 0) % this.mod;
      }),
    };
  }

  /** What a request gives alone (greedy), as the scheduler would stop it. */
  alone(prompt: number[], maxTokens: number, ignoreEos = false): number[] {
    const toks = [...prompt];
    const out: number[] = [];
    while (out.length < maxTokens && toks.length < this.maxContext) {
      const t = toks.reduce((a, b) => a + b, 0) % this.mod;
      if (!ignoreEos && this.eosTokenIds.includes(t)) break;
      out.push(t);
      toks.push(t);
    }
    return out;
  }
}

export async function collect<T>(s: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const t of s) out.push(t);
  return out;
}
