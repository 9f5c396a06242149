import { describe, expect, it } from 'vitest';
import { expectClose, randomArray, rng } from '../helpers/compare.ts';
import { describeOpCases, type OpCase } from '../helpers/op-cases.ts';
import { useGpu } from '../helpers/gpu.ts';
import { createStorage, readBuffer } from '../../src/gpu/buffers.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { createRope, encodeRope, encodeRopeKv } from '../../src/kernels/rope.ts';
import { ropeKvRef } from '../../src/reference/rope_kv.ts';
import { ropeRef, ropeTables, type RopeConfig } from '../../src/reference/rope.ts';

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

describeOpCases('rope kernel vs reference', () => {
  // [name, tokens, nHeads, nKvHeads, headDim, rotDim, rope, max position]
  const shapes: [string, number, number, number, number, number, RopeConfig, number][] = [
    ['one token default', 1, 1, 1, 2, 2, { type: 'default', theta: 10000 }, 5],
    ['gqa default', 5, 4, 2, 64, 64, { type: 'default', theta: 1e6 }, 4000],
    ['partial rotary', 3, 3, 1, 32, 16, { type: 'default', theta: 10000 }, 100],
    ['odd heads, linear', 7, 5, 1, 16, 16, CFGS.linear, 2000],
    ['llama3', 4, 2, 2, 64, 64, CFGS.llama3, 9000],
    ['yarn mscale', 6, 4, 1, 32, 32, CFGS.yarn, 3000],
    ['long context positions', 3, 2, 1, 16, 16, { type: 'default', theta: 10000 }, 120000],
    ['yarn partial', 3, 2, 2, 48, 24, CFGS.yarn_ms2, 500],
  ];
  return shapes.map(([name, tokens, nHeads, nKvHeads, headDim, rotDim, rope, maxPos]): OpCase => {
    const r = rng(tokens * 17 + headDim);
    const positions = new Uint32Array(tokens);
    for (let t = 0; t < tokens; t++) positions[t] = Math.floor(r() * maxPos);
    positions[0] = 0;
    const q = randomArray(tokens * nHeads * headDim, tokens + 1, 3);
    const k = randomArray(tokens * nKvHeads * headDim, tokens + 2, 3);
    const tables = ropeTables(rope, rotDim);
    return {
      name,
      inputs: { positions },
      inout: { q, k },
      encode: (g, pass, b) => encodeRope(g, pass, { rope: createRope(g, tables, headDim, rotDim), q: b.q, k: b.k, positions: b.positions, tokens, nHeads, nKvHeads }),
      // dims beyond rotDim are untouched: ropeRef copies them
      expected: () => ({ q: ropeRef(q, tokens, nHeads, headDim, rotDim, positions, tables), k: ropeRef(k, tokens, nKvHeads, headDim, rotDim, positions, tables) }),
      // The shader reduces the f32 angle to [-pi, pi] itself; what is left is sin/cos error near 0.
      atol: 2e-5,
      rtol: 1e-5,
      check: (got) => {
        for (let t = 0; t < tokens; t++) for (let i = rotDim; i < headDim; i++) expect(got.q[t * nHeads * headDim + i]).toBe(q[t * nHeads * headDim + i]);
      },
    };
  });
});

describe('fused norm + clamp + rope + KV write (encodeRopeKv) vs the composed references', () => {
  const gpu = useGpu();
  // [name, nHeads, nKvHeads, headDim, rotDim, norm, clip, tokens as [seq, pos]]
  const cases: [string, number, number, number, number, 'none' | 'per_head' | 'full', number, [number, number][]][] = [
    ['qwen3: per-head norm, gqa', 4, 2, 16, 16, 'per_head', 0, [[0, 0], [1, 5], [1, 6], [2, 30]]],
    ['olmoe: norm over all heads, clamp', 4, 4, 8, 8, 'full', 0.5, [[0, 3], [1, 0]]],
    ['mixtral: no norm, partial rotary, clamp', 3, 1, 32, 16, 'none', 1.5, [[0, 7], [0, 8], [0, 9]]],
    ['one head of 2, slot past the cache skipped', 1, 1, 2, 2, 'none', 0, [[0, 0], [1, 3]]],
  ];
  for (const [name, nHeads, nKvHeads, headDim, rotDim, norm, clip, toks] of cases) {
    it(name, async () => {
      const g = gpu();
      const T = toks.length;
      const seqIds = Uint32Array.from(toks.map((x) => x[0]));
      const positions = Uint32Array.from(toks.map((x) => x[1]));
      const seqStart = Uint32Array.from([0, 10, 40]);
      const maxSlots = name.startsWith('one head') ? 12 : 80; // the second token's slot 13 is past the cache
      const kvRow = nKvHeads * headDim;
      const row = (nHeads + 2 * nKvHeads) * headDim;
      const qkv = randomArray(T * row, T + headDim, 2);
      const kCache = randomArray(maxSlots * kvRow, 5);
      const vCache = randomArray(maxSlots * kvRow, 6);
      const wq = norm === 'full' ? nHeads * headDim : headDim;
      const wk = norm === 'full' ? nKvHeads * headDim : headDim;
      const qNorm = norm === 'none' ? undefined : randomArray(wq, 7);
      const kNorm = norm === 'none' ? undefined : randomArray(wk, 8);
      const cfg: RopeConfig = { type: 'default', theta: 10000 };
      const tables = ropeTables(cfg, rotDim);
      const aux = new Float32Array([...(qNorm ?? []), ...(kNorm ?? []), ...tables.invFreq]);
      const rope = createRope(g, ropeTables(cfg, rotDim), headDim, rotDim);
      const b = (a: Float32Array | Uint32Array) => createStorage(g.device, a);
      const [qkvB, kcB, vcB] = [b(qkv), b(kCache), b(vCache)];
      await runPass(g, (pass) => encodeRopeKv(g, pass, {
        rope, qkv: qkvB, kCache: kcB, vCache: vcB, seqIds: b(seqIds), positions: b(positions), seqStart: b(seqStart), maxSlots,
        tokens: T, nHeads, nKvHeads, aux: b(aux), qNormOffset: 0, kNormOffset: qNorm?.length ?? 0, freqOffset: (qNorm?.length ?? 0) + (kNorm?.length ?? 0),
        norm, eps: 1e-6, clip,
      }));
      const kc = Float32Array.from(kCache);
      const vc = Float32Array.from(vCache);
      const q = ropeKvRef({ qkv, kCache: kc, vCache: vc, seqIds, positions, seqStart, nHeads, nKvHeads, headDim, rotDim, tables, norm, qNorm, kNorm, eps: 1e-6, clip });
      const out = new Float32Array(await readBuffer(g.device, qkvB, T * row * 4));
      const gotQ = new Float32Array(T * nHeads * headDim);
      for (let t = 0; t < T; t++) gotQ.set(out.subarray(t * row, t * row + nHeads * headDim), t * nHeads * headDim);
      expectClose(gotQ, q, 1e-5, 1e-4, 'q');
      // k and v of each row untouched in qkv (only the cache gets them)
      for (let t = 0; t < T; t++) expect(out.subarray(t * row + nHeads * headDim, (t + 1) * row)).toEqual(qkv.subarray(t * row + nHeads * headDim, (t + 1) * row));
      expectClose(new Float32Array(await readBuffer(g.device, kcB, kc.byteLength)), kc, 1e-5, 1e-4, 'k cache');
      expect(new Float32Array(await readBuffer(g.device, vcB, vc.byteLength))).toEqual(vc);
    });
  }
});
