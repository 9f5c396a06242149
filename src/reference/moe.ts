// Plain-TS references of the MoE expert path: per-expert lists, grouped gated FFN and combine.
import { NO_EXPERT } from '../routing/types.ts';

export interface MoeListsRef {
  counts: Uint32Array;
  offsets: Uint32Array;
  /** [n] slot index t*kMax + j, grouped by expert, (token, slot) order inside an expert. */
  slots: Uint32Array;
  weights: Float32Array;
  /** Active experts ascending. */
  active: number[];
  /** (expert, start, count) per token tile of `tile` entries. */
  tiles: [number, number, number][];
}

export function moeListsRef(ids: Uint32Array, weights: Float32Array, E: number, tile: number): MoeListsRef {
  const counts = new Uint32Array(E);
  for (const e of ids) if (e !== NO_EXPERT) counts[e]++;
  const offsets = new Uint32Array(E);
  const active: number[] = [];
  const tiles: [number, number, number][] = [];
  let o = 0;
  for (let e = 0; e < E; e++) {
    offsets[e] = o;
    if (counts[e]) {
      active.push(e);
      for (let s = 0; s < counts[e]; s += tile) tiles.push([e, o + s, Math.min(tile, counts[e] - s)]);
    }
    o += counts[e];
  }
  const slots = new Uint32Array(o);
  const ws = new Float32Array(o);
  const pos = offsets.slice();
  for (let i = 0; i < ids.length; i++) {
    const e = ids[i];
    if (e === NO_EXPERT) continue;
    slots[pos[e]] = i;
    ws[pos[e]++] = weights[i];
  }
  return { counts, offsets, slots, weights: ws, active, tiles };
}

export interface MoeFfnRefArgs {
  /** [T, H] input activations. */
  x: Float32Array;
  /** [T, kMax] routing (NO_EXPERT unused). */
  ids: Uint32Array;
  weights: Float32Array;
  /** [E, 2I, H] unpadded values (gate rows then up rows), already rounded to the storage format. */
  gateUp: Float32Array;
  /** [E, H, I] unpadded values. */
  down: Float32Array;
  T: number;
  H: number;
  I: number;
  kMax: number;
  /** out = residual + sum (the combine kernel's modes 1 and 2). */
  residual?: Float32Array;
}

/** out[t] = residual[t] + sum over used slots j (in slot order) of w[t,j] * FFN_{ids[t,j]}(x[t]). */
export function moeFfnRef(a: MoeFfnRefArgs): Float32Array {
  const { T, H, I, kMax } = a;
  const out = new Float32Array(T * H);
  const h = new Float64Array(I);
  for (let t = 0; t < T; t++) {
    const acc = new Float64Array(H);
    for (let j = 0; j < kMax; j++) {
      const e = a.ids[t * kMax + j];
      if (e === NO_EXPERT) continue;
      for (let i = 0; i < I; i++) {
        let g = 0;
        let u = 0;
        const rg = (e * 2 * I + i) * H;
        const ru = (e * 2 * I + I + i) * H;
        for (let c = 0; c < H; c++) {
          g += a.gateUp[rg + c] * a.x[t * H + c];
          u += a.gateUp[ru + c] * a.x[t * H + c];
        }
        h[i] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let o = 0; o < H; o++) {
        let y = 0;
        for (let i = 0; i < I; i++) y += a.down[(e * H + o) * I + i] * h[i];
        acc[o] += a.weights[t * kMax + j] * y;
      }
    }
    for (let o = 0; o < H; o++) out[t * H + o] = (a.residual ? a.residual[t * H + o] : 0) + acc[o];
  }
  return out;
}
