/**
 * Small elementwise kernels the forward pass needs that have no module in src/kernels: row gather
 * (rows that get logits), the shared-expert gated add and clamp. Inline WGSL, compiled once per device.
 */
import type { Gpu } from '../gpu/context.ts';
import { grid1d } from '../gpu/dispatch.ts';

const WGSL: Record<string, string> = {
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


export function encodeGather(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; rows: GPUBuffer; out: GPUBuffer; R: number; dim: number }): void {
  const u = gpu.uniform([a.R, a.dim, 0, 0]);
  run(gpu, pass, 'gather', [a.x, a.rows, a.out, u], threads(gpu, a.R * a.dim));
}

export function encodeGatedAdd(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; y: GPUBuffer; gate: GPUBuffer; T: number; dim: number; scale: number }): void {
  const u = gpu.uniform([a.T, a.dim, a.scale, 0], new Set([2]));
  run(gpu, pass, 'gated_add', [a.x, a.y, a.gate, u], threads(gpu, a.T * a.dim));
}

export function encodeClamp(gpu: Gpu, pass: GPUComputePassEncoder, a: { x: GPUBuffer; n: number; c: number }): void {
  const u = gpu.uniform([a.n, a.c, 0, 0], new Set([1]));
  run(gpu, pass, 'clamp', [a.x, u], threads(gpu, a.n));
}
