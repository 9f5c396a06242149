// The forward pass as blocks encoded into one compute pass, in the spirit of nanoGPT's Block and llm.c's
// gpt2_forward: embed, then per layer x += attention(norm(x)) and x += ffn(norm(x)) (dense, or routed
// experts plus an optional shared expert), then the head on the rows that get logits.
import type { Gpu } from '../gpu/context.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { encodeMatmul, type MatmulWeight } from '../kernels/matmul.ts';
import { encodeRmsNorm } from '../kernels/rmsnorm.ts';
import { encodeEmbedding } from '../kernels/embedding.ts';
import { encodeSiluMul } from '../kernels/activations.ts';
import { encodeAdd, encodeGatedAdd, encodeGatherRows } from '../kernels/elementwise.ts';
import { encodeMoeLayer, type MoeWorkspace } from '../kernels/moe_ffn.ts';
import { encodeMoeRouteStats, type GpuPolicy, type GpuTokenScope } from '../kernels/moe_router.ts';
import { encodeRopeKv, type RopeState } from '../kernels/rope.ts';
import { encodeAttention } from '../kernels/attention.ts';
import { encodeArgmax } from '../kernels/argmax.ts';
import type { GpuFfn, GpuLayer, GpuWeights } from './weights.ts';
import type { KvCache } from './kv_cache.ts';
import type { StepScratch } from './scratch.ts';

/** What every block of one step reads: the pass, the model, the step's buffers and token count. */
export interface StepContext {
  gpu: Gpu;
  pass: GPUComputePassEncoder;
  spec: MoeModelSpec;
  s: StepScratch;
  /** Token rows in this step. */
  T: number;
}

function mm(c: StepContext, x: GPUBuffer, w: MatmulWeight, out: GPUBuffer, bias?: GPUBuffer, accumulate = false): void {
  encodeMatmul(c.gpu, c.pass, { x, w, out, t: c.T, bias, accumulate });
}

/** x += residualMultiplier * y, for a branch output y [T, H]. */
function addResidual(c: StepContext, y: GPUBuffer): void {
  encodeAdd(c.gpu, c.pass, { x: c.s.x, y, n: c.T * c.spec.hidden, scale: c.spec.residualMultiplier });
}

/** out (+)= down(silu(gate h) * up h); gate and up in one matmul. */
function encodeSwiglu(c: StepContext, f: GpuFfn, out: GPUBuffer, accumulate = false): void {
  const { s } = c;
  encodeMatmul(c.gpu, c.pass, { x: s.h, w: f.gateUp, out: s.f1, t: c.T, split: [{ out: s.f2, n: f.inter }] });
  encodeSiluMul(c.gpu, c.pass, { gate: s.f1, up: s.f2, out: s.f3, tokens: c.T, inter: f.inter });
  mm(c, s.f3, f.down, out, undefined, accumulate);
}

/** x = embedding(ids) * embeddingMultiplier. */
export function encodeEmbed(c: StepContext, W: GpuWeights): void {
  const { spec, s } = c;
  encodeEmbedding(c.gpu, c.pass, { ids: s.ids, table: W.embed, out: s.x, tokens: c.T, dim: spec.hidden, vocab: spec.vocabSize, scale: spec.embeddingMultiplier, format: W.embedFormat });
}

export interface AttentionInputs {
  rope: RopeState;
  kv: KvCache;
  layer: number;
}

/** x += o(attention(rope(qk-norm(q, k)), KV cache)) of norm(x); this step's k, v are written to the cache first (one fused dispatch). */
export function encodeAttentionBlock(c: StepContext, L: GpuLayer, a: AttentionInputs): void {
  const { gpu, pass, spec, s, T } = c;
  const { heads: nh, kvHeads: nkv, headDim: hd, eps } = spec;
  encodeRmsNorm(gpu, pass, { x: s.x, weight: L.attnNorm, out: s.h, rows: T, dim: spec.hidden, eps });
  // q|k|v in one matmul, then q/k norm, clamp, RoPE and the KV-cache write in one dispatch
  const row = (nh + 2 * nkv) * hd;
  mm(c, s.h, L.qkv, s.qkv, L.qkvBias);
  const batch = { seqIds: s.seqIds, positions: s.positions, seqStart: s.seqStart };
  const cache = a.kv.layer(a.layer);
  encodeRopeKv(gpu, pass, {
    ...batch, rope: a.rope, qkv: s.qkv, row, kCache: cache.k, vCache: cache.v, maxSlots: a.kv.slots, tokens: T, nHeads: nh, nKvHeads: nkv,
    aux: L.ropeAux.buffer, qNormOffset: 0, kNormOffset: L.ropeAux.kNormOffset, freqOffset: L.ropeAux.freqOffset,
    norm: spec.qkNorm, eps, clip: spec.clipQkv,
  });
  encodeAttention(gpu, pass, {
    ...batch, q: s.qkv, qStride: row, kCache: cache.k, vCache: cache.v, out: s.att, tokens: T, nHeads: nh, nKvHeads: nkv, headDim: hd, scale: spec.attnScale,
    window: spec.slidingWindow ?? 0,
  });
  if (spec.residualMultiplier === 1) mm(c, s.att, L.o, s.x, L.oBias, true);
  else {
    mm(c, s.att, L.o, s.tmp, L.oBias);
    addResidual(c, s.tmp);
  }
}

export interface FfnInputs {
  /** Routed layers: the MoE workspace, this layer's routing policy (resolved), format and layer index. */
  ws: MoeWorkspace | null;
  policy: GpuPolicy;
  /** The step's rows outside the policy (prompt chunks under a 'decode' scope); null = none. */
  scope?: GpuTokenScope | null;
  W: GpuWeights;
  layer: number;
}

/** x += ffn(norm(x)): a dense SwiGLU, or router -> policy -> grouped experts (+ sigmoid-gated shared expert). */
export function encodeFfnBlock(c: StepContext, L: GpuLayer, a: FfnInputs): void {
  const { gpu, pass, spec, s, T } = c;
  const H = spec.hidden;
  encodeRmsNorm(gpu, pass, { x: s.x, weight: L.mlpNorm, out: s.h, rows: T, dim: H, eps: spec.eps });
  if (L.experts) {
    mm(c, s.h, L.router!, s.routerLogits);
    const e = L.experts;
    encodeMoeLayer(gpu, pass, {
      ws: a.ws!, logits: s.routerLogits, x: s.h, out: s.x, accumulate: true,
      chunks: e.chunks, format: a.W.format, group: 32,
      T, mode: spec.router.mode, normTopk: spec.router.normTopk, scale: spec.residualMultiplier,
      policy: a.policy, scope: a.scope, counters: s.counters, counterIndex: a.layer,
    });
    // reads only: the policy's and the baseline's expert sets and the mass kept, for the read-back
    encodeMoeRouteStats(gpu, pass, { scores: a.ws!.scores, ids: a.ws!.ids, stats: s.routeStats, index: a.layer, T, E: spec.numExperts, kMax: spec.topK });
    if (L.shared) {
      encodeSwiglu(c, L.shared, s.tmp);
      mm(c, s.h, L.shared.gate1, s.gate1);
      encodeGatedAdd(gpu, pass, { x: s.x, y: s.tmp, gate: s.gate1, T, dim: H, scale: spec.residualMultiplier });
    }
  } else if (spec.residualMultiplier === 1) {
    encodeSwiglu(c, L.dense!, s.x, true);
  } else {
    encodeSwiglu(c, L.dense!, s.tmp);
    addResidual(c, s.tmp);
  }
}

/** Logits and argmax for the R gathered rows only: gather -> final norm -> LM head -> argmax. */
export function encodeHead(c: StepContext, W: GpuWeights, R: number): void {
  const { gpu, pass, spec, s } = c;
  const H = spec.hidden;
  encodeGatherRows(gpu, pass, { x: s.x, rows: s.rows, out: s.xs, R, dim: H });
  encodeRmsNorm(gpu, pass, { x: s.xs, weight: W.finalNorm, out: s.xsn, rows: R, dim: H, eps: spec.eps });
  encodeMatmul(gpu, pass, { x: s.xsn, w: W.lmHead, out: s.logits, t: R });
  encodeArgmax(gpu, pass, { logits: s.logits, out: s.next, rows: R, vocab: spec.vocabSize });
}
