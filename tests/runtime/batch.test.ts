// The step's batch flattening and checks, without a GPU.
import { describe, expect, it } from 'vitest';
import { flattenBatch, type BatchLimits } from '../../src/runtime/batch.ts';
import { StepItemError } from '../../src/scheduler/types.ts';

const lengths = new Map([[0, 0], [1, 5], [2, 3]]);
const lim: BatchLimits = {
  vocabSize: 100,
  maxContext: 8,
  maxBatchTokens: 6,
  lengthOf: (id) => {
    const n = lengths.get(id);
    if (n === undefined) throw new Error(`webmoe: unknown sequence ${id}`);
    return n;
  },
};

describe('flattenBatch', () => {
  it('lays out a mixed prefill/decode step: positions continue each cache, last rows get logits', () => {
    const b = flattenBatch([{ id: 0, tokens: [7, 8, 9] }, { id: 1, tokens: [4] }, { id: 2, tokens: [1, 2] }], 'last', lim);
    expect([...b.ids]).toEqual([7, 8, 9, 4, 1, 2]);
    expect([...b.seqIds]).toEqual([0, 0, 0, 1, 2, 2]);
    expect([...b.positions]).toEqual([0, 1, 2, 5, 3, 4]);
    expect([...b.rows]).toEqual([2, 3, 5]);
    expect(b.rowsPerSeq).toEqual([1, 1, 1]);
    expect(flattenBatch([{ id: 0, tokens: [7, 8] }], 'none', lim).rows).toEqual(Uint32Array.of(1));
  });

  it("'all' gives every token row, grouped per sequence", () => {
    const b = flattenBatch([{ id: 2, tokens: [1, 2] }, { id: 0, tokens: [3, 4, 5] }], 'all', lim);
    expect([...b.rows]).toEqual([0, 1, 2, 3, 4]);
    expect(b.rowsPerSeq).toEqual([2, 3]);
  });

  it('an empty step is empty', () => {
    const b = flattenBatch([], 'last', lim);
    expect(b.ids.length).toBe(0);
    expect(b.rows.length).toBe(0);
  });

  it('refuses bad steps with the sequence, token and limit named', () => {
    expect(() => flattenBatch([{ id: 0, tokens: [1] }, { id: 0, tokens: [2] }], 'last', lim)).toThrow('sequence 0 appears twice in one step');
    expect(() => flattenBatch([{ id: 1, tokens: [] }], 'last', lim)).toThrow('sequence 1 has no tokens in this step');
    expect(() => flattenBatch([{ id: 1, tokens: [1, 2, 3, 4] }], 'last', lim)).toThrow('sequence 1 would hold 9 tokens, more than maxContext 8');
    expect(() => flattenBatch([{ id: 1, tokens: [1, 2, 3] }], 'last', lim)).not.toThrow();
    expect(() => flattenBatch([{ id: 0, tokens: [100] }], 'last', lim)).toThrow('token id 100 out of range [0, 100)');
    expect(() => flattenBatch([{ id: 0, tokens: [-1] }], 'last', lim)).toThrow('token id -1 out of range');
    expect(() => flattenBatch([{ id: 0, tokens: [1.5] }], 'last', lim)).toThrow('token id 1.5 out of range');
    expect(() => flattenBatch([{ id: 9, tokens: [1] }], 'last', lim)).toThrow('unknown sequence 9');
    expect(() => flattenBatch([{ id: 0, tokens: [1, 2, 3, 4] }, { id: 2, tokens: [1, 2, 3] }], 'last', lim)).toThrow('step has 7 tokens, more than maxBatchTokens 6');
  });

  it('a problem of one sequence names its index in the step (StepItemError), so the scheduler fails it alone', () => {
    const err = (() => {
      try {
        flattenBatch([{ id: 0, tokens: [1] }, { id: 2, tokens: [100] }, { id: 1, tokens: [3] }], 'last', lim);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StepItemError);
    expect((err as StepItemError).items).toEqual([1]);
    expect(() => flattenBatch([{ id: 0, tokens: [1] }, { id: 9, tokens: [1] }], 'last', lim)).toThrow(StepItemError);
  });
});
