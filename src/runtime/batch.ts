// Flattening one forward step's batch: the sequences' new tokens become token rows with their KV-cache
// sequence and position, plus the rows that get logits. Pure (no GPU), so the checks are tested alone.
import { StepItemError } from '../scheduler/types.ts';

export interface ForwardSequence {
  /** From createSequence(); its cache grows by tokens.length. */
  id: number;
  tokens: number[];
  /**
   * These tokens are a prompt chunk (the scheduler marks every prompt chunk, even a one-token one); unmarked
   * items are decode tokens. A policy whose scope is 'decode' routes prompt chunks with the baseline.
   */
  prefill?: boolean;
}

/** Which rows get logits: each sequence's last new token (default), every new token, or none. */
export type LogitRows = 'none' | 'last' | 'all';

export interface BatchLimits {
  vocabSize: number;
  maxContext: number;
  maxBatchTokens: number;
  /** Tokens already in a sequence's cache (throws for an unknown sequence). */
  lengthOf(id: number): number;
}

export interface FlatBatch {
  /** Token rows of the step, sequence after sequence: [T] ids, KV-cache sequence, absolute position. */
  ids: Uint32Array<ArrayBuffer>;
  seqIds: Uint32Array<ArrayBuffer>;
  positions: Uint32Array<ArrayBuffer>;
  /** Token rows that get logits, [R]. */
  rows: Uint32Array<ArrayBuffer>;
  /** Logit rows of each sequence, in request order (1 with 'last'/'none', its token count with 'all'). */
  rowsPerSeq: number[];
}

/** Check and flatten a step; every error names the sequence or token and the limit. */
export function flattenBatch(seqs: readonly ForwardSequence[], mode: LogitRows, lim: BatchLimits): FlatBatch {
  const ids: number[] = [];
  const seqIds: number[] = [];
  const positions: number[] = [];
  const rows: number[] = [];
  const rowsPerSeq: number[] = [];
  const seen = new Set<number>();
  // A problem of one sequence names its index (StepItemError), so the scheduler fails it alone and
  // runs the others.
  seqs.forEach((q, qi) => {
    const bad = (msg: string) => new StepItemError(msg, [qi]);
    if (seen.has(q.id)) throw bad(`webmoe: sequence ${q.id} appears twice in one step`);
    seen.add(q.id);
    if (q.tokens.length === 0) throw bad(`webmoe: sequence ${q.id} has no tokens in this step`);
    let start: number;
    try {
      start = lim.lengthOf(q.id);
    } catch (e) {
      throw bad((e as Error).message);
    }
    if (start + q.tokens.length > lim.maxContext) {
      throw bad(`webmoe: sequence ${q.id} would hold ${start + q.tokens.length} tokens, more than maxContext ${lim.maxContext}`);
    }
    q.tokens.forEach((tok, i) => {
      if (!Number.isInteger(tok) || tok < 0 || tok >= lim.vocabSize) throw bad(`webmoe: token id ${tok} out of range [0, ${lim.vocabSize})`);
      if (mode === 'all') rows.push(ids.length);
      ids.push(tok);
      seqIds.push(q.id);
      positions.push(start + i);
    });
    if (mode !== 'all') rows.push(ids.length - 1);
    rowsPerSeq.push(mode === 'all' ? q.tokens.length : 1);
  });
  if (ids.length > lim.maxBatchTokens) throw new Error(`webmoe: step has ${ids.length} tokens, more than maxBatchTokens ${lim.maxBatchTokens}`);
  return {
    ids: Uint32Array.from(ids),
    seqIds: Uint32Array.from(seqIds),
    positions: Uint32Array.from(positions),
    rows: Uint32Array.from(rows),
    rowsPerSeq,
  };
}
