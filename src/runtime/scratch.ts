// Every buffer one forward step writes, allocated once for the largest step (maxBatchTokens token rows)
// and reused by every layer and step. Only the logits and the read-back grow, for 'all'-logits steps.
import type { Gpu } from '../gpu/context.ts';
import { Usage, createStorage } from '../gpu/buffers.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { readbackBytes } from './readback.ts';
import { ROUTE_STATS_WORDS } from '../kernels/moe_router.ts';

export interface ScratchSizes {
  /** Token rows of the largest step. */
  maxTokens: number;
  maxSeqs: number;
  /** First KV-cache slot of each sequence, [maxSeqs]. */
  seqStart: Uint32Array;
}

export class StepScratch {
  // batch description (u32)
  readonly ids: GPUBuffer; // [T]
  readonly seqIds: GPUBuffer; // [T] KV-cache sequence of each token
  readonly positions: GPUBuffer; // [T]
  readonly seqStart: GPUBuffer; // [maxSeqs] first cache slot of each sequence (constant)
  readonly rows: GPUBuffer; // [R] rows that get logits
  // activations (f32)
  readonly x: GPUBuffer; // residual stream [T, H]
  readonly h: GPUBuffer; // normed [T, H]
  readonly tmp: GPUBuffer; // a branch output before its scaled residual add [T, H]
  readonly qkv: GPUBuffer; // [T, (nh + 2 nkv) hd]: q, k, v per row (q normed and rotated in place)
  readonly att: GPUBuffer; // attention output [T, nh*hd]
  readonly f1: GPUBuffer; // dense / shared FFN gate, up, silu*up [T, maxI]
  readonly f2: GPUBuffer;
  readonly f3: GPUBuffer;
  readonly routerLogits: GPUBuffer; // [T, E]
  readonly gate1: GPUBuffer; // shared-expert gate logit [T]
  readonly xs: GPUBuffer; // rows that get logits, gathered [R, H]
  readonly xsn: GPUBuffer; // ... after the final norm
  logits: GPUBuffer; // [R, V]
  readonly next: GPUBuffer; // u32 [R] argmax
  readonly counters: GPUBuffer; // u32 [layers] distinct experts
  readonly routeStats: GPUBuffer; // u32 [layers, ROUTE_STATS_WORDS] policy / baseline sets, mass kept
  readback: GPUBuffer; // MAP_READ, see readback.ts

  constructor(private readonly gpu: Gpu, private readonly spec: MoeModelSpec, private readonly size: ScratchSizes) {
    const { hidden: H, heads: nh, kvHeads: nkv, headDim: hd, vocabSize: V } = spec;
    const T = size.maxTokens;
    const maxI = Math.max(
      spec.moeIntermediate,
      ...spec.layerRefs.map((r) => Math.max(r.dense?.gate.shape[0] ?? 0, r.shared?.gate.shape[0] ?? 0)),
    );
    const b = (n: number, label: string) => createStorage(gpu.device, Math.max(16, n * 4), `step.${label}`);
    this.ids = b(T, 'ids');
    this.seqIds = b(T, 'seqIds');
    this.positions = b(T, 'positions');
    this.seqStart = createStorage(gpu.device, size.seqStart, 'step.seqStart');
    this.rows = b(T, 'rows');
    this.x = b(T * H, 'x');
    this.h = b(T * H, 'h');
    this.tmp = b(T * H, 'tmp');
    this.qkv = b(T * (nh + 2 * nkv) * hd, 'qkv');
    this.att = b(T * nh * hd, 'att');
    this.f1 = b(T * maxI, 'f1');
    this.f2 = b(T * maxI, 'f2');
    this.f3 = b(T * maxI, 'f3');
    this.routerLogits = b(T * Math.max(1, spec.numExperts), 'routerLogits');
    this.gate1 = b(T, 'gate1');
    this.xs = b(T * H, 'xs');
    this.xsn = b(T * H, 'xsn');
    // sized for one row per sequence; grown on demand by steps that want logits at every position
    this.logits = b(size.maxSeqs * V, 'logits');
    this.next = b(T, 'next');
    this.counters = b(Math.max(1, spec.layers), 'counters');
    this.routeStats = b(spec.layers * ROUTE_STATS_WORDS, 'routeStats');
    this.readback = this.readbackBuffer(size.maxSeqs);
  }

  private readbackBuffer(rows: number): GPUBuffer {
    const bytes = readbackBytes(Math.max(this.size.maxTokens, rows), this.spec.layers, rows * this.spec.vocabSize);
    return this.gpu.device.createBuffer({ size: Math.max(16, bytes), usage: Usage.MAP_READ | Usage.COPY_DST, label: 'step.readback' });
  }

  /** Make room for `rows` rows of logits (steps with logits 'all' over many tokens). */
  ensureLogitRows(rows: number): void {
    const V = this.spec.vocabSize;
    if (this.logits.size >= rows * V * 4) return;
    this.logits.destroy();
    this.readback.destroy();
    this.logits = createStorage(this.gpu.device, rows * V * 4, 'step.logits');
    this.readback = this.readbackBuffer(rows);
  }

  destroy(): void {
    const { ids, seqIds, positions, seqStart, rows, x, h, tmp, qkv, att, f1, f2, f3, routerLogits, gate1, xs, xsn, logits, next, counters, routeStats, readback } = this;
    for (const b of [ids, seqIds, positions, seqStart, rows, x, h, tmp, qkv, att, f1, f2, f3, routerLogits, gate1, xs, xsn, logits, next, counters, routeStats, readback]) b.destroy();
  }
}
