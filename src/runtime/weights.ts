// The model's weights on the GPU: every linear layer packed for the matmul kernels in the chosen format
// (f32 / f16 / int8 / int4, converted on load from the checkpoint's f32/f16/bf16), experts of a layer
// stacked as the grouped MoE FFN expects, norms / biases / RoPE frequencies as f32.
import type { Gpu } from '../gpu/context.ts';
import { createStorage } from '../gpu/buffers.ts';
import type { Checkpoint, LoadProgress } from '../format/checkpoint.ts';
import { tensorByteLength } from '../format/safetensors.ts';
import { uploadWeight, destroyWeight, weightBytes, type MatmulWeight, type WeightFormat } from '../kernels/matmul.ts';
import { packF16Table } from '../kernels/embedding.ts';
import { packF16Rows, padRowsF32, paddedCols, quantizeInt4, quantizeInt8 } from '../quant/pack.ts';
import type { FfnRefs, MoeModelSpec, WeightRef } from '../models/spec.ts';
import { readWeightF32 } from '../models/weights.ts';

export interface GpuFfn {
  gate: MatmulWeight;
  up: MatmulWeight;
  down: MatmulWeight;
}

/** All E experts of a layer: gate rows then up rows per expert [E*2I, H], down [E*H, I]. */
export interface GpuExperts {
  gateUp: GPUBuffer;
  down: GPUBuffer;
  gateUpScales?: GPUBuffer;
  downScales?: GPUBuffer;
}

export interface GpuLayer {
  attnNorm: GPUBuffer;
  q: MatmulWeight;
  k: MatmulWeight;
  v: MatmulWeight;
  o: MatmulWeight;
  qBias?: GPUBuffer;
  kBias?: GPUBuffer;
  vBias?: GPUBuffer;
  oBias?: GPUBuffer;
  qNorm?: GPUBuffer;
  kNorm?: GPUBuffer;
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

export async function uploadWeights(gpu: Gpu, ckpt: Checkpoint, spec: MoeModelSpec, format: WeightFormat, onProgress?: (p: LoadProgress) => void): Promise<GpuWeights> {
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
  // One binding must hold a whole packed matrix (all experts of a layer for the grouped FFN): refuse
  // clearly before allocating rather than fail inside a step.
  const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const fits = (rows: number, cols: number, what: string) => {
    const need = weightBytes(format, rows, cols, QUANT_GROUP);
    if (need > limit) {
      throw new Error(`webmoe: ${what} needs ${(need / 2 ** 20).toFixed(0)} MiB in one GPU buffer as ${format}, over this device's limit of ${(limit / 2 ** 20).toFixed(0)} MiB; try a smaller weight format (f16, int8, int4)`);
    }
  };
  const vec = async (r: WeightRef, label: string) => {
    const b = createStorage(gpu.device, await rd(r), label);
    buffers.push(b);
    bytes += b.size;
    return b;
  };
  const mat = async (r: WeightRef, label: string, fmt: WeightFormat = format) => {
    const [n, k] = r.shape;
    fits(n, k, `tensor '${r.tensor}'`);
    const w = uploadWeight(gpu, await rd(r), n, k, fmt, { group: QUANT_GROUP, label });
    mats.push(w);
    bytes += w.bytes ?? 0;
    return w;
  };
  const ffn = async (f: FfnRefs, label: string): Promise<GpuFfn> => ({
    gate: await mat(f.gate, `${label}.gate`),
    up: await mat(f.up, `${label}.up`),
    down: await mat(f.down, `${label}.down`),
  });
  // Stack rows of several matrices with the same column count and pack them in the expert format.
  const packStack = (parts: Float32Array[], rowsEach: number, cols: number, label: string) => {
    const rows = parts.length * rowsEach;
    fits(rows, cols, `${label} (${parts.length} x [${rowsEach}, ${cols}])`);
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
    const g: GpuLayer = {
      attnNorm: await vec(r.attnNorm, `${p}.attnNorm`),
      q: await mat(r.q, `${p}.q`),
      k: await mat(r.k, `${p}.k`),
      v: await mat(r.v, `${p}.v`),
      o: await mat(r.o, `${p}.o`),
      mlpNorm: await vec(r.mlpNorm, `${p}.mlpNorm`),
    };
    if (r.qBias) g.qBias = await vec(r.qBias, `${p}.qBias`);
    if (r.kBias) g.kBias = await vec(r.kBias, `${p}.kBias`);
    if (r.vBias) g.vBias = await vec(r.vBias, `${p}.vBias`);
    if (r.oBias) g.oBias = await vec(r.oBias, `${p}.oBias`);
    if (r.qNorm) g.qNorm = await vec(r.qNorm, `${p}.qNorm`);
    if (r.kNorm) g.kNorm = await vec(r.kNorm, `${p}.kNorm`);
    // The router stays f32: its top-k decisions are sensitive to rounding and it is tiny.
    if (r.router) g.router = await mat(r.router, `${p}.router`, 'f32');
    if (r.experts) {
      const gu: Float32Array[] = [];
      const dn: Float32Array[] = [];
      for (const e of r.experts) {
        gu.push(await rd(e.gate), await rd(e.up));
        dn.push(await rd(e.down));
      }
      const a = packStack(gu, I, H, `${p}.experts.gateUp`);
      const b = packStack(dn, H, I, `${p}.experts.down`);
      g.experts = { gateUp: a.data, gateUpScales: a.scales, down: b.data, downScales: b.scales };
    }
    if (r.shared) g.shared = { ...(await ffn(r.shared, `${p}.shared`)), gate1: await mat(r.shared.gate1, `${p}.sharedGate`, 'f32') };
    if (r.dense) g.dense = await ffn(r.dense, `${p}.dense`);
    layers.push(g);
  }
  const embedF32 = await rd(spec.embed);
  const embedFormat = format === 'f32' ? 'f32' : 'f16';
  const embed = createStorage(gpu.device, embedFormat === 'f32' ? embedF32 : packF16Table(embedF32), 'embed');
  buffers.push(embed);
  bytes += embed.size;
  const [V] = spec.embed.shape;
  if (spec.tieEmbeddings) fits(V, H, 'tied lm head');
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
