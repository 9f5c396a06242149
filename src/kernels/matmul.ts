// Linear layers: Y[T,N] = X[T,K] . W[N,K]^T (+ bias) (+= Y), for f32 / f16 / int8 / int4 weights
// (see shaders/matmul.wgsl; weight layouts in src/quant/pack.ts). T <= DECODE_MAX_T runs the decode
// kernel (weights read once for all rows), larger T the tiled prefill kernel.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import { grid1d } from '../gpu/dispatch.ts';
import type { PipelineSpec } from '../gpu/pipelines.ts';
import { kernelStyle } from './variants.ts';
import { paddedCols, weightFormatDefines, type WeightFormat } from '../quant/pack.ts';


/** A weight matrix on the GPU: N output channels (rows) of K inputs, each row padded to kPad. */
export interface MatmulWeight {
  format: WeightFormat;
  /** Packed rows [n, kPad]: f32, f16 pairs in u32, 4 int8 per u32, or 8 int4 nibbles (q+8) per u32. */
  data: GPUBuffer;
  /** int8/int4: f32 scales [n, kPad/group]. */
  scales?: GPUBuffer;
  n: number;
  k: number;
  /** Row stride in elements, a multiple of 8 (and of group for int formats). Default paddedCols(format, k, group). */
  kPad?: number;
  /** int8/int4 quantization group (multiple of 8). Default 32. */
  group?: number;
  /** Bytes of GPU memory held (data + scales); set by uploadWeight. */
  bytes?: number;
}

export interface MatmulArgs {
  /** Activations [t, k] f32 (from element xOffset). Must not be the same buffer as `out`. */
  x: GPUBuffer;
  w: MatmulWeight;
  /** Optional f32 bias [n]. */
  bias?: GPUBuffer;
  /** Output [t, n] f32 (from element outOffset); with `split`, the first part [t, split[0].n]. */
  out: GPUBuffer;
  /**
   * Fused projections: W's channels after the first part go to these buffers in order, each a dense
   * [t, n] matrix (e.g. q into `out`, then k and v). At most two; no accumulate or outOffset.
   */
  split?: { out: GPUBuffer; n: number }[];
  t: number;
  /** out += x W^T (+ bias) instead of out = ... (residual adds). */
  accumulate?: boolean;
  xOffset?: number;
  outOffset?: number;
  /** Force a kernel (tests, benchmarks); default: see matmulVariant. */
  variant?: MatmulVariant;
}

/**
 * 'decode': lanes split K, partial sums meet in workgroup memory (weights read once per 32 rows);
 * 'prefill': workgroup-memory tiles; 'blocked': register-blocked, no workgroup memory or barriers.
 */
export type MatmulVariant = 'decode' | 'prefill' | 'blocked';

/** Largest T that uses the decode kernel by default. */
export const DECODE_MAX_T = 32;
const DECODE_NR = 4;
const DECODE_KS = 16;
const PREFILL_BT = 32;
const PREFILL_BN = 32;

/** A 16-byte stand-in for an unused binding (one per label: a read-only and a writable use must differ); freed with the Gpu's caches. */
function dummyBuffer(gpu: Gpu, label = 'matmul-no-bias'): GPUBuffer {
  return gpu.shared(label, () => createStorage(gpu.device, 16, label));
}

/** Token rows per pass of the decode kernel for `t` rows (a few sizes, to bound pipeline variants). */
export function decodeTileRows(t: number): number {
  for (const tb of [1, 4, 8, 16]) if (t <= tb) return tb;
  return 32;
}

function resolveKPad(w: MatmulWeight): { kPad: number; group: number } {
  const group = w.group ?? 32;
  const kPad = w.kPad ?? paddedCols(w.format, w.k, group);
  if (kPad % 8 !== 0 || kPad < w.k) throw new Error(`webmoe: matmul kPad ${kPad} must be >= K=${w.k} and a multiple of 8`);
  if ((w.format === 'int8' || w.format === 'int4') && (kPad % group !== 0 || group % 8 !== 0)) {
    throw new Error(`webmoe: matmul ${w.format} needs group % 8 == 0 and kPad % group == 0 (group ${group}, kPad ${kPad})`);
  }
  return { kPad, group };
}

/** The kernel encodeMatmul uses for `t` rows on this device: blocked where the adapter prefers it (kernelStyle). */
export function matmulVariant(gpu: Gpu, t: number): MatmulVariant {
  if (kernelStyle(gpu) === 'blocked') return 'blocked';
  return t <= DECODE_MAX_T ? 'decode' : 'prefill';
}

/** Token rows per invocation of the blocked kernel (1, 4 or 8). */
export const blockedRows = (t: number): number => (t >= 8 ? BLOCKED_MAX_ROWS : t >= 4 ? 4 : 1);
let BLOCKED_MAX_ROWS = 8;
/** Benchmarks: cap the blocked kernel's rows per invocation (4 or 8). */
export function setBlockedMaxRows(n: 4 | 8): void {
  BLOCKED_MAX_ROWS = n;
}

/** Pipeline spec for a weight format and variant (exported for warm-up / inspection); tb = rows per pass or invocation. */
export function matmulSpec(format: WeightFormat, variant: MatmulVariant, tb = 1, xVec4 = false, split = false): PipelineSpec {
  const defines: Record<string, string | number | boolean> = {
    SPLIT: split,
    XV4: xVec4,
    ...weightFormatDefines(format),
    PREFILL: variant === 'prefill',
    BLOCKED: variant === 'blocked',
  };
  if (variant === 'blocked') Object.assign(defines, { TT: tb, TT1: tb === 1, TT4: tb === 4, TT8: tb === 8 });
  if (variant === 'decode') Object.assign(defines, { TB: tb, NR: DECODE_NR, KS: DECODE_KS });
  return { shader: 'matmul', defines };
}

/** Encode Y = X W^T (+ bias) (or Y += ...) into an open compute pass. */
export function encodeMatmul(gpu: Gpu, pass: GPUComputePassEncoder, a: MatmulArgs): void {
  const { w, t } = a;
  if (t <= 0 || w.n <= 0) return;
  const { kPad, group } = resolveKPad(w);
  const quant = w.format === 'int8' || w.format === 'int4';
  if (quant && !w.scales) throw new Error(`webmoe: matmul ${w.format} weight needs a scales buffer`);
  const variant = a.variant ?? matmulVariant(gpu, t);
  const tilesN = Math.ceil(w.n / PREFILL_BN);
  const flags = (a.bias ? 1 : 0) | (a.accumulate ? 2 : 0);
  const parts = a.split ?? [];
  if (parts.length > 2) throw new Error('webmoe: matmul split writes at most three outputs');
  const rest = parts.reduce((n, q) => n + q.n, 0);
  if (parts.length && (a.accumulate || a.outOffset || rest >= w.n || parts.some((q) => q.n <= 0))) {
    throw new Error(`webmoe: matmul split needs positive part widths below N=${w.n} and no accumulate / outOffset`);
  }
  // channel boundaries of the parts: [0, split1) -> out, [split1, split2) -> split[0], the rest -> split[1]
  const split1 = w.n - rest;
  const split2 = parts.length === 2 ? split1 + parts[0].n : w.n;
  const params = gpu.uniform([t, w.n, w.k, kPad, a.xOffset ?? 0, a.outOffset ?? 0, flags, group, tilesN, split1, split2, 0]);
  const xVec4 = w.k % 4 === 0 && (a.xOffset ?? 0) % 4 === 0;
  // binding numbers as in shaders/matmul.wgsl: 5 only with scales, 6 and 7 only with split outputs
  const entries: [number, GPUBuffer][] = [[0, a.x], [1, w.data], [2, a.out], [3, params], [4, a.bias ?? dummyBuffer(gpu)]];
  if (quant) entries.push([5, w.scales!]);
  if (parts.length) entries.push([6, parts[0].out], [7, parts[1]?.out ?? dummyBuffer(gpu, 'matmul-no-part')]);
  const split = parts.length > 0;
  const run = (spec: PipelineSpec, groups: [number, number, number]) => {
    const pipeline = gpu.pipelines.get(spec);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, gpu.device.createBindGroup({
      label: 'matmul', layout: pipeline.getBindGroupLayout(0), entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
    }));
    pass.dispatchWorkgroups(...groups);
  };
  if (variant === 'blocked') {
    const tt = blockedRows(t);
    run(matmulSpec(w.format, 'blocked', tt, xVec4, split), grid1d(gpu, Math.ceil((Math.ceil(w.n / 4) * Math.ceil(t / tt)) / 64)));
  } else if (variant === 'decode') {
    run(matmulSpec(w.format, 'decode', decodeTileRows(t), xVec4, split), grid1d(gpu, Math.ceil(w.n / DECODE_NR)));
  } else {
    run(matmulSpec(w.format, 'prefill', 1, xVec4, split), grid1d(gpu, tilesN * Math.ceil(t / PREFILL_BT)));
  }
}
