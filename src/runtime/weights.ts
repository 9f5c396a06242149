// The model's weights on the GPU: every linear layer packed for the matmul kernels in the chosen format
// (f32 / f16 / int8 / int4, converted on load from the checkpoint's f32/f16/bf16), experts of a layer
// stacked as the grouped MoE FFN expects, norms / biases / RoPE frequencies as f32.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import type { Checkpoint, ReadProgress } from '../format/checkpoint.ts';
import { tensorByteLength } from '../format/safetensors.ts';
import type { MatmulWeight } from '../kernels/matmul.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { uploadWeight, destroyWeight, weightBytes } from '../quant/upload.ts';
import { packF16 } from '../quant/f16.ts';
import { packF16Rows, padRowsF32, paddedCols, quantizeInt4, quantizeInt8 } from '../quant/pack.ts';
import type { FfnRefs, MoeModelSpec, WeightRef } from '../models/spec.ts';
import { readWeightF32 } from '../models/weights.ts';
import type { MoeExpertChunk } from '../kernels/moe_ffn.ts';

export interface WeightLimits {
  /** Bytes one storage binding (and one buffer) may hold: the device's limits, or lower for tests. */
  binding: number;
}

/** What the weights need on the GPU, computed from the spec alone (nothing read, nothing allocated). */
export interface WeightPlan {
  /** GPU bytes of all weights in the chosen format. */
  bytes: number;
  /** Expert ranges [eBase, eEnd) per buffer chunk (the same for every MoE layer). */
  expertChunks: [number, number][];
}

/** GPU bytes of one expert's gate+up and down matrices in `format` (scales included): what a step reads per distinct expert. */
export function expertBytes(spec: Pick<MoeModelSpec, 'hidden' | 'moeIntermediate'>, format: WeightFormat): number {
  return weightBytes(format, 2 * spec.moeIntermediate, spec.hidden, QUANT_GROUP) + weightBytes(format, spec.hidden, spec.moeIntermediate, QUANT_GROUP);
}

/** Bytes for messages: '1.2 GiB', '800.0 MiB', '4.0 KiB', '100 bytes'. */
export function formatBytes(b: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (b >= size) return `${(b / size).toFixed(1)} ${unit}`;
  return `${b} bytes`;
}

/** The binding limit weights are planned against: the device's, optionally capped (tests, budgets). */
export function weightLimits(gpu: Gpu, maxBindingBytes?: number): WeightLimits {
  return { binding: Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize, maxBindingBytes ?? Infinity) };
}

/**
 * Plan the upload: bytes per tensor in `format`, how the experts of a layer split into buffers that each
 * fit one binding. Throws (before anything is allocated) when a matrix that cannot be split, or one
 * single expert, is larger than a binding, naming it with the bytes it needs and the limit.
 */
export function planWeights(spec: MoeModelSpec, format: WeightFormat, limits: WeightLimits): WeightPlan {
  const limit = limits.binding;
  const over = (what: string, need: number, fmt: string) =>
    new Error(`webmoe: ${what} needs ${formatBytes(need)} in one GPU buffer as ${fmt}, over this device's binding limit of ${formatBytes(limit)}; try a smaller weight format (f16, int8, int4)`);
  let bytes = 0;
  const mat = (r: WeightRef | undefined, fmt: WeightFormat = format) => {
    if (!r) return;
    const need = weightBytes(fmt, r.shape[0], r.shape[1], QUANT_GROUP);
    if (need > limit) throw over(`tensor '${r.tensor}'`, need, fmt);
    bytes += need;
  };
  const vec = (r: WeightRef | undefined) => {
    if (r) bytes += Math.max(16, r.shape.reduce((a, b) => a * b, 1) * 4);
  };
  // matrices uploaded as one (rows stacked): the stack must fit one binding
  const fused = (what: string, rs: WeightRef[]) => {
    const need = weightBytes(format, rs.reduce((n, r) => n + r.shape[0], 0), rs[0].shape[1], QUANT_GROUP);
    if (need > limit) throw over(`tensor ${what}`, need, format);
    bytes += need;
  };
  const H = spec.hidden;
  const I = spec.moeIntermediate;
  const E = spec.numExperts;
  // one expert's gate+up rows and down rows (data + scales: conservative for the binding check)
  const perGu = weightBytes(format, 2 * I, H, QUANT_GROUP);
  const perDn = weightBytes(format, H, I, QUANT_GROUP);
  const perExpert = Math.max(perGu, perDn);
  let expertChunks: [number, number][] = [];
  if (spec.layerKinds.includes('moe')) {
    if (perExpert > limit) throw over(`one expert of '${spec.layerRefs.find((r) => r.experts)!.experts![0].gate.tensor}' (gate+up [${2 * I}, ${H}] or down [${H}, ${I}])`, perExpert, format);
    const nChunks = Math.ceil(E / Math.floor(limit / perExpert));
    const per = Math.ceil(E / nChunks); // balanced chunk sizes
    expertChunks = Array.from({ length: nChunks }, (_, c): [number, number] => [c * per, Math.min(E, (c + 1) * per)]).filter(([a, b]) => b > a);
  }
  for (const r of spec.layerRefs) {
    vec(r.attnNorm);
    vec(r.mlpNorm);
    fused(`'${r.q.tensor}' with k and v`, [r.q, r.k, r.v]);
    mat(r.o);
    if (r.qBias || r.kBias || r.vBias) bytes += (r.q.shape[0] + r.k.shape[0] + r.v.shape[0]) * 4;
    vec(r.oBias);
    bytes += Math.max(16, ((r.qNorm?.shape[0] ?? 0) + (r.kNorm?.shape[0] ?? 0) + spec.rope.invFreq.length) * 4);
    mat(r.router, 'f32');
    if (r.experts) for (const [a, b] of expertChunks) bytes += weightBytes(format, (b - a) * 2 * I, H, QUANT_GROUP) + weightBytes(format, (b - a) * H, I, QUANT_GROUP);
    for (const f of [r.shared, r.dense]) {
      if (!f) continue;
      fused(`'${f.gate.tensor}' with up`, [f.gate, f.up]);
      mat(f.down);
    }
    mat(r.shared?.gate1, 'f32');
  }
  const [V] = spec.embed.shape;
  const embedBytes = format === 'f32' ? V * H * 4 : Math.ceil((V * H) / 2) * 4;
  if (embedBytes > limit) throw over(`embedding table '${spec.embed.tensor}'`, embedBytes, format === 'f32' ? 'f32' : 'f16');
  bytes += embedBytes;
  if (spec.tieEmbeddings) {
    const need = weightBytes(format, V, H, QUANT_GROUP);
    if (need > limit) throw over(`tied lm head '${spec.embed.tensor}'`, need, format);
    bytes += need;
  } else mat(spec.lmHead);
  vec(spec.finalNorm);
  return { bytes, expertChunks };
}

/** A SwiGLU MLP: gate and up fused into one weight (gate rows, then up rows [2I, H]; one matmul with split outputs). */
export interface GpuFfn {
  gateUp: MatmulWeight;
  /** I (the gate/up width). */
  inter: number;
  down: MatmulWeight;
}

/**
 * All E experts of a layer, in one or more chunks of consecutive experts (gate rows then up rows per
 * expert [n*2I, H], down [n*H, I]): as many per buffer as one storage binding holds.
 */
export interface GpuExperts {
  chunks: MoeExpertChunk[];
}

export interface GpuLayer {
  attnNorm: GPUBuffer;
  /** q, k and v fused: q rows, then k rows, then v rows [(nh + 2 nkv) hd, H] (one matmul with split outputs). */
  qkv: MatmulWeight;
  o: MatmulWeight;
  /** q|k|v biases concatenated (zeros for a projection without one). */
  qkvBias?: GPUBuffer;
  oBias?: GPUBuffer;
  /** For the fused norm + RoPE + KV write: q norm weights, k norm weights (absent without qk-norm), inv_freq. */
  ropeAux: { buffer: GPUBuffer; kNormOffset: number; freqOffset: number };
  mlpNorm: GPUBuffer;
  router?: MatmulWeight;
  experts?: GpuExperts;
  shared?: GpuFfn & { gate1: MatmulWeight };
  dense?: GpuFfn;
}

export interface GpuWeights {
  format: WeightFormat;
  /** Embedding table (f32, or packed f16 when the weight format is not f32). */
  embed: GPUBuffer;
  embedFormat: 'f32' | 'f16';
  finalNorm: GPUBuffer;
  lmHead: MatmulWeight;
  layers: GpuLayer[];
  bytes: number;
  destroy(): void;
}

/** Quantisation group for int8/int4. */
export const QUANT_GROUP = 32;

/** Upload every weight as `plan` says (planWeights first: it refuses what cannot fit before anything is allocated). */
export async function uploadWeights(gpu: Gpu, ckpt: Checkpoint, spec: MoeModelSpec, format: WeightFormat, plan: WeightPlan, onProgress?: (p: ReadProgress) => void): Promise<GpuWeights> {
  const buffers: GPUBuffer[] = [];
  const mats: MatmulWeight[] = [];
  let bytes = 0;
  // progress in checkpoint bytes of the tensors the model uses (expert slices of fused tensors included)
  let totalBytes = 0;
  for (const name of spec.tensors.keys()) totalBytes += tensorByteLength(ckpt.get(name).info);
  let bytesRead = 0;
  const rd = async (r: WeightRef) => {
    const w = await readWeightF32(ckpt, r);
    bytesRead += (w.length * tensorByteLength(ckpt.get(r.tensor).info)) / ckpt.get(r.tensor).info.shape.reduce((a, b) => a * b, 1);
    onProgress?.({ bytesRead, totalBytes, tensor: r.tensor });
    return w;
  };
  const vec = async (r: WeightRef, label: string) => {
    const b = createStorage(gpu.device, await rd(r), label);
    buffers.push(b);
    bytes += b.size;
    return b;
  };
  const mat = async (r: WeightRef, label: string, fmt: WeightFormat = format) => {
    const [n, k] = r.shape;
    const w = uploadWeight(gpu, await rd(r), n, k, fmt, { group: QUANT_GROUP, label });
    mats.push(w);
    bytes += w.bytes ?? 0;
    return w;
  };
  // several matrices with the same input width as one weight, rows stacked in order (fused projections)
  const matStack = async (rs: WeightRef[], label: string) => {
    const parts: Float32Array[] = [];
    for (const r of rs) parts.push(await rd(r));
    const n = rs.reduce((a, r) => a + r.shape[0], 0);
    const all = new Float32Array(n * rs[0].shape[1]);
    let o = 0;
    for (const x of parts) {
      all.set(x, o);
      o += x.length;
    }
    const w = uploadWeight(gpu, all, n, rs[0].shape[1], format, { group: QUANT_GROUP, label });
    mats.push(w);
    bytes += w.bytes ?? 0;
    return w;
  };
  const ffn = async (f: FfnRefs, label: string): Promise<GpuFfn> => ({
    gateUp: await matStack([f.gate, f.up], `${label}.gateUp`),
    inter: f.gate.shape[0],
    down: await mat(f.down, `${label}.down`),
  });
  // Stack rows of several matrices with the same column count and pack them in the expert format.
  const packStack = (parts: Float32Array[], rowsEach: number, cols: number, label: string) => {
    const rows = parts.length * rowsEach;
    const all = new Float32Array(rows * cols);
    parts.forEach((p, i) => all.set(p, i * rowsEach * cols));
    let data: GPUBuffer;
    let scales: GPUBuffer | undefined;
    if (format === 'f32') data = createStorage(gpu.device, padRowsF32(all, rows, cols, paddedCols('f32', cols)), label);
    else if (format === 'f16') data = createStorage(gpu.device, packF16Rows(all, rows, cols, paddedCols('f16', cols)), label);
    else {
      const q = format === 'int8' ? quantizeInt8(all, rows, cols, QUANT_GROUP) : quantizeInt4(all, rows, cols, QUANT_GROUP);
      data = createStorage(gpu.device, q.q, label);
      scales = createStorage(gpu.device, q.scales, `${label}.scales`);
      buffers.push(scales);
      bytes += scales.size;
    }
    buffers.push(data);
    bytes += data.size;
    return { data, scales };
  };

  const H = spec.hidden;
  const I = spec.moeIntermediate;
  const layers: GpuLayer[] = [];
  for (let l = 0; l < spec.layers; l++) {
    const r = spec.layerRefs[l];
    const p = `layer${l}`;
    const qn = r.qNorm ? await rd(r.qNorm) : new Float32Array(0);
    const kn = r.kNorm ? await rd(r.kNorm) : new Float32Array(0);
    const aux = createStorage(gpu.device, Float32Array.from([...qn, ...kn, ...spec.rope.invFreq]), `${p}.ropeAux`);
    buffers.push(aux);
    bytes += aux.size;
    const g: GpuLayer = {
      ropeAux: { buffer: aux, kNormOffset: qn.length, freqOffset: qn.length + kn.length },
      attnNorm: await vec(r.attnNorm, `${p}.attnNorm`),
      qkv: await matStack([r.q, r.k, r.v], `${p}.qkv`),
      o: await mat(r.o, `${p}.o`),
      mlpNorm: await vec(r.mlpNorm, `${p}.mlpNorm`),
    };
    if (r.qBias || r.kBias || r.vBias) {
      const nq = r.q.shape[0];
      const nk = r.k.shape[0];
      const b = new Float32Array(nq + nk + r.v.shape[0]);
      if (r.qBias) b.set(await rd(r.qBias), 0);
      if (r.kBias) b.set(await rd(r.kBias), nq);
      if (r.vBias) b.set(await rd(r.vBias), nq + nk);
      g.qkvBias = createStorage(gpu.device, b, `${p}.qkvBias`);
      buffers.push(g.qkvBias);
      bytes += g.qkvBias.size;
    }
    if (r.oBias) g.oBias = await vec(r.oBias, `${p}.oBias`);
    // The router stays f32: its top-k decisions are sensitive to rounding and it is tiny.
    if (r.router) g.router = await mat(r.router, `${p}.router`, 'f32');
    if (r.experts) {
      const chunks: MoeExpertChunk[] = [];
      for (const [eBase, eEnd] of plan.expertChunks) {
        const gu: Float32Array[] = [];
        const dn: Float32Array[] = [];
        for (const e of r.experts.slice(eBase, eEnd)) {
          gu.push(await rd(e.gate), await rd(e.up));
          dn.push(await rd(e.down));
        }
        const c = plan.expertChunks.length > 1 ? `[${eBase},${eEnd})` : '';
        const a = packStack(gu, I, H, `${p}.experts${c}.gateUp`);
        const b = packStack(dn, H, I, `${p}.experts${c}.down`);
        chunks.push({ eBase, eEnd, gateUp: a.data, gateUpScales: a.scales, down: b.data, downScales: b.scales });
      }
      g.experts = { chunks };
    }
    if (r.shared) g.shared = { ...(await ffn(r.shared, `${p}.shared`)), gate1: await mat(r.shared.gate1, `${p}.sharedGate`, 'f32') };
    if (r.dense) g.dense = await ffn(r.dense, `${p}.dense`);
    layers.push(g);
  }
  const embedF32 = await rd(spec.embed);
  const embedFormat = format === 'f32' ? 'f32' : 'f16';
  const embed = createStorage(gpu.device, embedFormat === 'f32' ? embedF32 : packF16(embedF32), 'embed');
  buffers.push(embed);
  bytes += embed.size;
  const [V] = spec.embed.shape;
  const lmHead = spec.tieEmbeddings ? uploadWeight(gpu, embedF32, V, H, format, { group: QUANT_GROUP, label: 'lmHead' }) : await mat(spec.lmHead, 'lmHead');
  if (spec.tieEmbeddings) {
    mats.push(lmHead);
    bytes += lmHead.bytes ?? 0;
  }
  const finalNorm = await vec(spec.finalNorm, 'finalNorm');
  return {
    format,
    embed,
    embedFormat,
    finalNorm,
    lmHead,
    layers,
    bytes,
    destroy() {
      for (const b of buffers) b.destroy();
      for (const m of mats) destroyWeight(m);
    },
  };
}
