/**
 * Small kernels the forward pass needs that have no module in src/kernels yet: RoPE, KV-cache write,
 * causal GQA attention over per-sequence cache ranges, row gather, argmax, shared-expert gated add and
 * clamp. Inline WGSL, compiled once per device. Every kernel is per (token, head) or per element, so a
 * token's result never depends on which other tokens share the batch.
 */
import type { Gpu } from '../gpu/context.ts';
import { createUniform } from '../gpu/buffers.ts';
import { grid1d } from '../gpu/dispatch.ts';

const WGSL: Record<string, string> = {
  // In-place HF rotate_half RoPE on x [T, nHeads*hd]; pos[t] = tmeta[2t+1]. cos/sin come from a table
  // made on the CPU: WGSL cos/sin only promise ~2^-11 absolute error (SwiftShader is that coarse).
  rope: /* wgsl */ `
struct P { T: u32, nHeads: u32, hd: u32, attnFactor: f32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> tmeta: array<u32>;
@group(0) @binding(2) var<storage, read> cosSin: array<vec2<f32>>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let half = p.hd / 2u;
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.T * p.nHeads * half) { return; }
  let t = i / (p.nHeads * half);
  let r = i % (p.nHeads * half);
  let h = r / half;
  let d = r % half;
  let cs = cosSin[tmeta[2u * t + 1u] * half + d] * p.attnFactor;
  let c = cs.x;
  let s = cs.y;
  let base = t * p.nHeads * p.hd + h * p.hd;
  let a = x[base + d];
  let b = x[base + d + half];
  x[base + d] = a * c - b * s;
  x[base + d + half] = b * c + a * s;
}`,
  // kc[slot(t)] = k[t], vc[slot(t)] = v[t]; slot = tmeta[2t] + tmeta[2t+1].
  kv_write: /* wgsl */ `
struct P { T: u32, kvDim: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> kc: array<f32>;
@group(0) @binding(3) var<storage, read_write> vc: array<f32>;
@group(0) @binding(4) var<storage, read> tmeta: array<u32>;
@group(0) @binding(5) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.T * p.kvDim) { return; }
  let t = i / p.kvDim;
  let d = i % p.kvDim;
  let slot = tmeta[2u * t] + tmeta[2u * t + 1u];
  kc[slot * p.kvDim + d] = k[i];
  vc[slot * p.kvDim + d] = v[i];
}`,
  // One workgroup per (token, head): scores over cache slots base..base+pos (causal within the
  // sequence), softmax, weighted sum of values. Scores go through a global scratch row per (t, h).
  attention: /* wgsl */ `
struct P { T: u32, nh: u32, nkv: u32, hd: u32, scale: f32, maxCtx: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<f32>;
@group(0) @binding(2) var<storage, read> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<storage, read> tmeta: array<u32>;
@group(0) @binding(5) var<storage, read_write> sc: array<f32>;
@group(0) @binding(6) var<uniform> p: P;
const WG = 64u;
var<workgroup> red: array<f32, WG>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let idx = wid.x + wid.y * nwg.x;
  if (idx >= p.T * p.nh) { return; }
  let t = idx / p.nh;
  let h = idx % p.nh;
  let kvh = h / (p.nh / p.nkv);
  let base = tmeta[2u * t];
  let n = tmeta[2u * t + 1u] + 1u;
  let kvDim = p.nkv * p.hd;
  let qo = t * p.nh * p.hd + h * p.hd;
  let so = idx * p.maxCtx;
  var m = -3.0e38;
  for (var j = lid; j < n; j += WG) {
    let ko = (base + j) * kvDim + kvh * p.hd;
    var s = 0.0;
    for (var d = 0u; d < p.hd; d++) { s += q[qo + d] * kc[ko + d]; }
    s *= p.scale;
    sc[so + j] = s;
    m = max(m, s);
  }
  red[lid] = m;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st /= 2u) {
    if (lid < st) { red[lid] = max(red[lid], red[lid + st]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var z = 0.0;
  for (var j = lid; j < n; j += WG) {
    let e = exp(sc[so + j] - m);
    sc[so + j] = e;
    z += e;
  }
  red[lid] = z;
  storageBarrier();
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st /= 2u) {
    if (lid < st) { red[lid] += red[lid + st]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var d = lid; d < p.hd; d += WG) {
    var acc = 0.0;
    for (var j = 0u; j < n; j++) { acc += sc[so + j] * vc[(base + j) * kvDim + kvh * p.hd + d]; }
    o[qo + d] = acc * inv;
  }
}`,
  // out[r, :] = x[rows[r], :]
  gather: /* wgsl */ `
struct P { R: u32, dim: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.R * p.dim) { return; }
  out[i] = x[rows[i / p.dim] * p.dim + i % p.dim];
}`,
  // ids[r] = argmax(x[r, :]) (lowest index on ties, like torch.argmax on CPU).
  argmax: /* wgsl */ `
struct P { R: u32, n: u32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
@group(0) @binding(2) var<uniform> p: P;
const WG = 64u;
var<workgroup> bv: array<f32, WG>;
var<workgroup> bi: array<u32, WG>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.R) { return; }
  var v = -3.4e38;
  var k = 0xffffffffu;
  for (var j = lid; j < p.n; j += WG) {
    let a = x[r * p.n + j];
    if (a > v || k == 0xffffffffu) { v = a; k = j; }
  }
  bv[lid] = v;
  bi[lid] = k;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st /= 2u) {
    if (lid < st) {
      let ov = bv[lid + st];
      let oi = bi[lid + st];
      if (oi != 0xffffffffu && (ov > bv[lid] || (ov == bv[lid] && oi < bi[lid]) || bi[lid] == 0xffffffffu)) { bv[lid] = ov; bi[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { ids[r] = bi[0]; }
}`,
  // x[t, :] += scale * sigmoid(g[t]) * y[t, :]   (Qwen1.5-MoE shared expert)
  gated_add: /* wgsl */ `
struct P { T: u32, dim: u32, scale: f32, _b: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.T * p.dim) { return; }
  let s = 1.0 / (1.0 + exp(-g[i / p.dim]));
  x[i] += p.scale * s * y[i];
}`,
  // x = clamp(x, -c, c)   (OLMoE clip_qkv)
  clamp: /* wgsl */ `
struct P { n: u32, c: f32, _a: u32, _b: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  x[i] = clamp(x[i], -p.c, p.c);
}`,
};

const cache = new WeakMap<Gpu, Map<string, GPUComputePipeline>>();

function pipeline(gpu: Gpu, name: string): GPUComputePipeline {
  let m = cache.get(gpu);
  if (!m) cache.set(gpu, (m = new Map()));
  let p = m.get(name);
  if (!p) {
    const module = gpu.device.createShaderModule({ code: WGSL[name], label: `runtime.${name}` });
    p = gpu.device.createComputePipeline({ label: `runtime.${name}`, layout: 'auto', compute: { module, entryPoint: 'main' } });
    m.set(name, p);
  }
  return p;
}

function run(gpu: Gpu, pass: GPUComputePassEncoder, name: string, buffers: GPUBuffer[], groups: [number, number, number]): void {
  const p = pipeline(gpu, name);
  pass.setPipeline(p);
  pass.setBindGroup(0, gpu.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) }));
  pass.dispatchWorkgroups(...groups);
}

const threads = (gpu: Gpu, n: number) => grid1d(gpu, Math.ceil(n / 64));

/** Compile every runtime kernel now (model load), not during the first step. */
export function warmRuntimeOps(gpu: Gpu): void {
  for (const n of Object.keys(WGSL)) pipeline(gpu, n);
}

/** (cos, sin) of pos * invFreq[i] for pos < maxContext, [maxContext, hd/2] vec2, computed like HF (f32 angle). */
export function ropeTable(invFreq: Float32Array, maxContext: number): Float32Array {
  const half = invFreq.length;
  const t = new Float32Array(maxContext * half * 2);
  for (let p = 0; p < maxContext; p++) {
    for (let i = 0; i < half; i++) {
      const ang = Math.fround(p * invFreq[i]);
      t[2 * (p * half + i)] = Math.cos(ang);
      t[2 * (p * half + i) + 1] = Math.sin(ang);
    }
  }
  return t;
}

/** Token metadata `meta` is u32 [T, 2] = (first cache slot of the token's sequence, position). */
export function encodeRope(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; meta: GPUBuffer; cosSin: GPUBuffer; T: number; heads: number; headDim: number; attentionFactor: number }): void {
  const u = createUniform(gpu.device, [a.T, a.heads, a.headDim, a.attentionFactor], new Set([3]));
  run(gpu, pass, 'rope', [a.x, a.meta, a.cosSin, u], threads(gpu, (a.T * a.heads * a.headDim) / 2));
}

export function encodeKvWrite(gpu: Gpu, pass: GPUComputePassEncoder, a: { k: GPUBuffer; v: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; meta: GPUBuffer; T: number; kvDim: number }): void {
  const u = createUniform(gpu.device, [a.T, a.kvDim, 0, 0]);
  run(gpu, pass, 'kv_write', [a.k, a.v, a.kCache, a.vCache, a.meta, u], threads(gpu, a.T * a.kvDim));
}

export function encodeAttention(gpu: Gpu, pass: GPUComputePassEncoder, a: {
  q: GPUBuffer; kCache: GPUBuffer; vCache: GPUBuffer; out: GPUBuffer; meta: GPUBuffer; scratch: GPUBuffer;
  T: number; heads: number; kvHeads: number; headDim: number; scale: number; maxContext: number;
}): void {
  const u = createUniform(gpu.device, [a.T, a.heads, a.kvHeads, a.headDim, a.scale, a.maxContext, 0, 0], new Set([4]));
  run(gpu, pass, 'attention', [a.q, a.kCache, a.vCache, a.out, a.meta, a.scratch, u], grid1d(gpu, a.T * a.heads));
}

export function encodeGather(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; rows: GPUBuffer; out: GPUBuffer; R: number; dim: number }): void {
  const u = createUniform(gpu.device, [a.R, a.dim, 0, 0]);
  run(gpu, pass, 'gather', [a.x, a.rows, a.out, u], threads(gpu, a.R * a.dim));
}

export function encodeArgmax(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; ids: GPUBuffer; R: number; n: number }): void {
  const u = createUniform(gpu.device, [a.R, a.n, 0, 0]);
  run(gpu, pass, 'argmax', [a.x, a.ids, u], grid1d(gpu, a.R));
}

export function encodeGatedAdd(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; y: GPUBuffer; gate: GPUBuffer; T: number; dim: number; scale: number }): void {
  const u = createUniform(gpu.device, [a.T, a.dim, a.scale, 0], new Set([2]));
  run(gpu, pass, 'gated_add', [a.x, a.y, a.gate, u], threads(gpu, a.T * a.dim));
}

export function encodeClamp(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; n: number; c: number }): void {
  const u = createUniform(gpu.device, [a.n, a.c, 0, 0], new Set([1]));
  run(gpu, pass, 'clamp', [a.x, u], threads(gpu, a.n));
}
