// Reference of the fused post-projection step (src/kernels/rope.ts encodeRopeKv), composed from the op
// references: q/k RMSNorm, clamp, RoPE, KV-cache write.
import { rmsNormRef } from './rmsnorm.ts';
import { clampRef } from './elementwise.ts';
import { ropeRef, type RopeTables } from './rope.ts';
import { kvWriteRef } from './attention.ts';

export interface RopeKvRefArgs {
  qkv: Float32Array; // [T, (nh + 2 nkv) hd], not modified
  kCache: Float32Array; // modified in place
  vCache: Float32Array;
  seqIds: ArrayLike<number>;
  positions: ArrayLike<number>;
  seqStart: ArrayLike<number>;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rotDim: number;
  tables: RopeTables;
  norm: 'none' | 'per_head' | 'full';
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  eps: number;
  clip?: number;
}

/** Returns q after norm/clamp/RoPE [T, nh*hd]; writes rotated k and v into the caches. */
export function ropeKvRef(a: RopeKvRefArgs): Float32Array<ArrayBufferLike> {
  const { nHeads: nh, nKvHeads: nkv, headDim: hd } = a;
  const T = a.seqIds.length;
  const row = (nh + 2 * nkv) * hd;
  const part = (off: number, n: number) => {
    const out = new Float32Array(T * n);
    for (let t = 0; t < T; t++) out.set(a.qkv.subarray(t * row + off, t * row + off + n), t * n);
    return out;
  };
  let q: Float32Array<ArrayBufferLike> = part(0, nh * hd);
  let k: Float32Array<ArrayBufferLike> = part(nh * hd, nkv * hd);
  let v: Float32Array<ArrayBufferLike> = part((nh + nkv) * hd, nkv * hd);
  if (a.norm === 'per_head') {
    q = rmsNormRef(q, a.qNorm!, T * nh, hd, a.eps);
    k = rmsNormRef(k, a.kNorm!, T * nkv, hd, a.eps);
  } else if (a.norm === 'full') {
    q = rmsNormRef(q, a.qNorm!, T, nh * hd, a.eps);
    k = rmsNormRef(k, a.kNorm!, T, nkv * hd, a.eps);
  }
  if (a.clip) {
    q = clampRef(q, a.clip);
    k = clampRef(k, a.clip);
    v = clampRef(v, a.clip);
  }
  q = ropeRef(q, T, nh, hd, a.rotDim, a.positions, a.tables);
  k = ropeRef(k, T, nkv, hd, a.rotDim, a.positions, a.tables);
  kvWriteRef(k, v, a.kCache, a.vCache, a.seqIds, a.positions, a.seqStart, nkv, hd);
  return q;
}
