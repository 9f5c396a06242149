// The CPU sampler (src/runtime/sampling.ts) the runtime uses for requests with temperature > 0.
import { describe, expect, it } from 'vitest';
import { sampleToken } from '../../src/runtime/sampling.ts';
import { seededRandom } from '../../src/util/random.ts';

const counts = (logits: Float32Array, temperature: number, topP: number, draws: number): number[] => {
  const rand = seededRandom(7);
  const c = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) c[sampleToken(logits, temperature, topP, rand)]++;
  return c;
};

describe('sampleToken', () => {
  const x = new Float32Array([1, 5, 3, 5, 2]);
  it('temperature 0 and a tiny top_p give the argmax, ties -> lowest index', () => {
    const rand = seededRandom(1);
    for (let i = 0; i < 20; i++) {
      expect(sampleToken(x, 0, 1, rand)).toBe(1);
      expect(sampleToken(x, 1, 1e-9, rand)).toBe(1);
    }
  });
  it('draws follow softmax(logits / temperature)', () => {
    const l = new Float32Array([0, 1, 2, -1]);
    const T = 0.8;
    const p = Array.from(l, (v) => Math.exp(v / T));
    const z = p.reduce((a, b) => a + b, 0);
    const n = 40_000;
    const c = counts(l, T, 1, n);
    // 5 standard deviations of a binomial count
    for (let i = 0; i < l.length; i++) expect(Math.abs(c[i] / n - p[i] / z)).toBeLessThan(5 * Math.sqrt((p[i] / z) * (1 - p[i] / z) / n));
  });
  it('top_p keeps the smallest set with that mass, renormalised; -inf is never drawn', () => {
    // probabilities 0.5, 0.3, 0.2 (as logits): top_p 0.7 keeps the first two, 5:3
    const l = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.2), -Infinity]);
    const n = 20_000;
    const c = counts(l, 1, 0.7, n);
    expect(c[2] + c[3]).toBe(0);
    expect(Math.abs(c[0] / n - 0.625)).toBeLessThan(5 * Math.sqrt((0.625 * 0.375) / n));
    expect(counts(l, 1, 1, 2000)[3]).toBe(0);
  });
});
