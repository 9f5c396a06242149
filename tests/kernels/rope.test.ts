import { describe, expect, it } from 'vitest';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { encodeRopeKv, ropeState } from '../../src/kernels/rope.ts';
import { ropeKvRef } from '../../src/reference/rope_kv.ts';
import { ropeTables, type RopeConfig } from '../../src/reference/rope.ts';

// inv_freq / attention_scaling from transformers' ROPE_INIT_FUNCTIONS (modeling_rope_utils.py) for
// head_dim 64 (partial_rotary_factor 1) and 32 (factor 0.5), generated once with the Python package.
const HF: Record<string, { inv: number[]; att: number }> = JSON.parse('{"linear/64/1.0":{"inv":[0.25,0.18747355,0.140585333,0.105424128,0.079056941,0.0592843406,0.0444569848,0.0333380364,0.0250000004,0.0187473539,0.0140585322,0.0105424123,0.00790569466,0.00592843397,0.00444569858,0.00333380373,0.00249999994,0.00187473558,0.00140585331,0.00105424121,0.000790569466,0.000592843455,0.000444569858,0.000333380362,0.000250000012,0.000187473546,0.000140585325,0.000105424122,7.90569466e-05,5.92843462e-05,4.44569851e-05,3.33380376e-05],"att":1.0},"linear/32/0.5":{"inv":[0.25,0.079056941,0.0250000004,0.00790569466,0.00249999994,0.000790569466,0.000250000012,7.90569466e-05],"att":1.0},"llama3/64/1.0":{"inv":[1.0,0.663601279,0.440366626,0.292227834,0.193922758,0.128687382,0.0853971019,0.0566696189,0.0376060307,0.0249554086,0.0165604409,0.0109895291,0.00729266508,0.00483942125,0.00321144611,0.00137189368,0.000524846022,0.000178507791,7.78465546e-05,5.16590699e-05,3.42810235e-05,2.2748929e-05,1.50962178e-05,1.00178686e-05,6.64786967e-06,4.41153452e-06,2.92749974e-06,1.94269251e-06,1.28917316e-06,8.55496921e-07,5.6770881e-07,3.7673226e-07],"att":1.0},"llama3/32/0.5":{"inv":[1.0,0.193922758,0.0376060307,0.00729266508,0.000524846022,3.42810235e-05,6.64786967e-06,1.28917316e-06],"att":1.0},"yarn/64/1.0":{"inv":[1.0,0.649381638,0.421696514,0.273841977,0.177827939,0.115478203,0.0749894157,0.0486967526,0.0316227786,0.0205352511,0.0133352149,0.00865964312,0.00515479548,0.0030431177,0.00177853031,0.00102661771,0.000583333371,0.000324690831,0.000175706868,9.12806499e-05,4.44569851e-05,2.88695483e-05,1.87473561e-05,1.21741887e-05,7.90569356e-06,5.13381246e-06,3.33380353e-06,2.16491094e-06,1.40585337e-06,9.1293532e-07,5.92843435e-07,3.84981632e-07],"att":1.138629436111989},"yarn/32/0.5":{"inv":[1.0,0.177827939,0.0316227786,0.00421755994,0.000500000024,4.44569851e-05,7.90569356e-06,1.40585337e-06],"att":1.138629436111989},"yarn_ms/64/1.0":{"inv":[1.0,0.749894202,0.562341332,0.421696514,0.316227764,0.237137362,0.177827939,0.133352146,0.100000001,0.0749894157,0.0562341288,0.0390069261,0.0268793609,0.0183781441,0.012447956,0.0083345091,0.00550000044,0.00356199732,0.00224936521,0.00137051346,0.000790569407,0.000414990413,0.00017782794,3.3338034e-05,2.49999994e-05,1.87473543e-05,1.40585325e-05,1.05424124e-05,7.90569447e-06,5.92843435e-06,4.44569832e-06,3.33380353e-06],"att":1.0},"yarn_ms/32/0.5":{"inv":[1.0,0.316227764,0.100000001,0.0239147246,0.00512499968,0.000849862176,2.49999994e-05,7.90569447e-06],"att":1.0},"yarn_ms2/64/1.0":{"inv":[1.0,0.749894202,0.562341332,0.421696514,0.316227764,0.237137362,0.177827939,0.133352146,0.100000001,0.0749894157,0.0562341288,0.0390069261,0.0268793609,0.0183781441,0.012447956,0.0083345091,0.00550000044,0.00356199732,0.00224936521,0.00137051346,0.000790569407,0.000414990413,0.00017782794,3.3338034e-05,2.49999994e-05,1.87473543e-05,1.40585325e-05,1.05424124e-05,7.90569447e-06,5.92843435e-06,4.44569832e-06,3.33380353e-06],"att":0.9210423553163399},"yarn_ms2/32/0.5":{"inv":[1.0,0.316227764,0.100000001,0.0239147246,0.00512499968,0.000849862176,2.49999994e-05,7.90569447e-06],"att":0.9210423553163399}}');
const CFGS: Record<string, RopeConfig> = {
  linear: { type: 'linear', theta: 10000, factor: 4 },
  llama3: { type: 'llama3', theta: 500000, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPos: 8192 },
  yarn: { type: 'yarn', theta: 1e6, factor: 4, originalMaxPos: 32768, betaFast: 32, betaSlow: 1 },
  yarn_ms: { type: 'yarn', theta: 10000, factor: 40, originalMaxPos: 4096, mscale: 1, mscaleAllDim: 1 },
  yarn_ms2: { type: 'yarn', theta: 10000, factor: 40, originalMaxPos: 4096, mscale: 0.707, mscaleAllDim: 1 },
};

describe('rope tables match transformers', () => {
  for (const [key, v] of Object.entries(HF)) {
    it(key, () => {
      const [name, hd, prf] = key.split('/');
      const t = ropeTables(CFGS[name], Math.floor(Number(hd) * Number(prf)));
      expectClose(t.invFreq, v.inv, 0, 3e-7, 'inv_freq');
      expect(t.attentionScaling).toBeCloseTo(v.att, 12);
    });
  }
  it('default: inv_freq = theta^(-2i/d)', () => {
    const t = ropeTables({ type: 'default', theta: 10000 }, 8);
    expectClose(t.invFreq, [1, 0.1, 0.01, 0.001], 0, 1e-6);
    expect(t.attentionScaling).toBe(1);
  });
});

interface RopeKvCase {
  name: string;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rotDim: number;
  rope: RopeConfig;
  norm: 'none' | 'per_head' | 'full';
  clip: number;
  /** [sequence, position] per token; sequence s owns cache slots from seqStart[s]. */
  tokens: [number, number][];
  seqStart: number[];
  maxSlots: number;
  /** Magnitude of the q/k/v values. */
  scale?: number;
  /** [atol, rtol] of q and k; default 1e-5, 1e-4. */
  tol?: [number, number];
}

/** One dispatch of the fused q/k norm + clamp + RoPE + KV write vs ropeKvRef (the composed references). */
function ropeKvCase(c: RopeKvCase): OpCase {
  const { nHeads, nKvHeads, headDim, rotDim, norm } = c;
  const T = c.tokens.length;
  const seqIds = Uint32Array.from(c.tokens.map((x) => x[0]));
  const positions = Uint32Array.from(c.tokens.map((x) => x[1]));
  const seqStart = Uint32Array.from(c.seqStart);
  const kvRow = nKvHeads * headDim;
  const row = (nHeads + 2 * nKvHeads) * headDim;
  const nq = nHeads * headDim;
  const qkv = randomArray(T * row, T + headDim, c.scale ?? 2);
  const kCache = randomArray(c.maxSlots * kvRow, 5);
  const vCache = randomArray(c.maxSlots * kvRow, 6);
  const qNorm = norm === 'none' ? undefined : randomArray(norm === 'full' ? nq : headDim, 7);
  const kNorm = norm === 'none' ? undefined : randomArray(norm === 'full' ? kvRow : headDim, 8);
  const tables = ropeTables(c.rope, rotDim);
  const aux = new Float32Array([...(qNorm ?? []), ...(kNorm ?? []), ...tables.invFreq]);
  return {
    name: c.name,
    inputs: { seqIds, positions, seqStart, aux },
    inout: { qkv, kCache, vCache },
    encode: (g, pass, b) => encodeRopeKv(g, pass, {
      rope: ropeState(tables, headDim, rotDim), qkv: b.qkv, kCache: b.kCache, vCache: b.vCache, seqIds: b.seqIds, positions: b.positions,
      seqStart: b.seqStart, maxSlots: c.maxSlots, tokens: T, nHeads, nKvHeads, aux: b.aux, qNormOffset: 0, kNormOffset: qNorm?.length ?? 0,
      freqOffset: (qNorm?.length ?? 0) + (kNorm?.length ?? 0), norm, eps: 1e-6, clip: c.clip,
    }),
    expected: () => {
      const kc = Float32Array.from(kCache);
      const vc = Float32Array.from(vCache);
      const q = ropeKvRef({ qkv, kCache: kc, vCache: vc, seqIds, positions, seqStart, nHeads, nKvHeads, headDim, rotDim, tables, norm, qNorm, kNorm, eps: 1e-6, clip: c.clip });
      // q rewritten in place; each row's k and v stay as they were (only the cache gets them)
      const want = Float32Array.from(qkv);
      for (let t = 0; t < T; t++) want.set(q.subarray(t * nq, (t + 1) * nq), t * row);
      return { qkv: want, kCache: kc, vCache: vc };
    },
    // The shader reduces the f32 angle to [-pi, pi] itself; what is left is sin/cos error near 0. v is a copy: exact.
    atol: { qkv: c.tol?.[0] ?? 1e-5, kCache: c.tol?.[0] ?? 1e-5, vCache: 0 },
    rtol: { qkv: c.tol?.[1] ?? 1e-4, kCache: c.tol?.[1] ?? 1e-4, vCache: 0 },
    check: (got) => {
      for (let t = 0; t < T; t++) {
        // exact: k and v of the row untouched, and (no norm, no clamp) the dims past the rotary ones
        expect(got.qkv.subarray(t * row + nq, (t + 1) * row)).toEqual(qkv.subarray(t * row + nq, (t + 1) * row));
        if (norm === 'none' && !c.clip) {
          for (let h = 0; h < nHeads; h++) for (let i = rotDim; i < headDim; i++) expect(got.qkv[t * row + h * headDim + i]).toBe(qkv[t * row + h * headDim + i]);
        }
      }
    },
  };
}

const positionsUpTo = (n: number, maxPos: number, seed: number): [number, number][] => {
  const r = rng(seed);
  // distinct sequences (one cache slot each), position 0 first
  return Array.from({ length: n }, (_, t) => [t, t === 0 ? 0 : Math.floor(r() * maxPos)] as [number, number]);
};

describeOpCases('fused norm + clamp + rope + KV write (encodeRopeKv) vs the composed references', () => {
  const cases: RopeKvCase[] = [];
  // RoPE alone (no norm, no clamp) under every table kind: [name, tokens, nHeads, nKvHeads, headDim, rotDim, rope, max position]
  const ropes: [string, number, number, number, number, number, RopeConfig, number][] = [
    ['one token default', 1, 1, 1, 2, 2, { type: 'default', theta: 10000 }, 5],
    ['gqa default', 5, 4, 2, 64, 64, { type: 'default', theta: 1e6 }, 4000],
    ['partial rotary', 3, 3, 1, 32, 16, { type: 'default', theta: 10000 }, 100],
    ['odd heads, linear', 7, 5, 1, 16, 16, CFGS.linear, 2000],
    ['llama3', 4, 2, 2, 64, 64, CFGS.llama3, 9000],
    ['yarn mscale', 6, 4, 1, 32, 32, CFGS.yarn, 3000],
    ['long context positions', 3, 2, 1, 16, 16, { type: 'default', theta: 10000 }, 120000],
    ['yarn partial', 3, 2, 2, 48, 24, CFGS.yarn_ms2, 500],
  ];
  for (const [name, tokens, nHeads, nKvHeads, headDim, rotDim, rope, maxPos] of ropes) {
    const toks = positionsUpTo(tokens, maxPos, tokens * 17 + headDim);
    cases.push({ name: `rope: ${name}`, nHeads, nKvHeads, headDim, rotDim, rope, norm: 'none', clip: 0, tokens: toks, seqStart: toks.map((_, i) => i), maxSlots: tokens, scale: 3, tol: [2e-5, 1e-5] });
  }
  const dflt: RopeConfig = { type: 'default', theta: 10000 };
  cases.push(
    { name: 'qwen3: per-head norm, gqa', nHeads: 4, nKvHeads: 2, headDim: 16, rotDim: 16, rope: dflt, norm: 'per_head', clip: 0, tokens: [[0, 0], [1, 5], [1, 6], [2, 30]], seqStart: [0, 10, 40], maxSlots: 80 },
    { name: 'olmoe: norm over all heads, clamp', nHeads: 4, nKvHeads: 4, headDim: 8, rotDim: 8, rope: dflt, norm: 'full', clip: 0.5, tokens: [[0, 3], [1, 0]], seqStart: [0, 10, 40], maxSlots: 80 },
    { name: 'mixtral: no norm, partial rotary, clamp', nHeads: 3, nKvHeads: 1, headDim: 32, rotDim: 16, rope: dflt, norm: 'none', clip: 1.5, tokens: [[0, 7], [0, 8], [0, 9]], seqStart: [0, 10, 40], maxSlots: 80 },
    // the second token's slot 13 is past the cache: it writes nothing there
    { name: 'one head of 2, slot past the cache skipped', nHeads: 1, nKvHeads: 1, headDim: 2, rotDim: 2, rope: dflt, norm: 'none', clip: 0, tokens: [[0, 0], [1, 3]], seqStart: [0, 10, 40], maxSlots: 12 },
    { name: 'large values, per-head norm, yarn', nHeads: 2, nKvHeads: 1, headDim: 32, rotDim: 32, rope: CFGS.yarn, norm: 'per_head', clip: 0, tokens: [[0, 1000], [1, 2]], seqStart: [0, 1], maxSlots: 2, scale: 1e4 },
  );
  return cases.map(ropeKvCase);
});
