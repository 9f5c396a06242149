// RMSNorm over rows: y = x / sqrt(mean(x^2) + eps) * (weight + OFFSET).
// OFFSET is 0 for every supported architecture today (Gemma-style 1+w would set it to 1).
// Default: one workgroup per row, a tree reduction in workgroup memory (GPUs). BLOCKED (CPU emulators,
// src/kernels/variants.ts): one invocation per row, no workgroup memory or barriers; V4 (dim a multiple
// of 4): rows read and written as vec4.

struct Params { rows: u32, dim: u32, eps: f32, offset: f32 }

#if V4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
#endif
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 64u;

#if BLOCKED
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
#if V4
  let n = p.dim / 4u;
  let base = row * n;
  var s4 = vec4<f32>(0.0);
  for (var i = 0u; i < n; i++) {
    let v = x[base + i];
    s4 += v * v;
  }
  let inv = inverseSqrt((s4.x + s4.y + s4.z + s4.w) / f32(p.dim) + p.eps);
  for (var i = 0u; i < n; i++) {
    y[base + i] = x[base + i] * inv * (w[i] + vec4<f32>(p.offset));
  }
#else
  let base = row * p.dim;
  var s = 0.0;
  for (var i = 0u; i < p.dim; i++) {
    let v = x[base + i];
    s += v * v;
  }
  let inv = inverseSqrt(s / f32(p.dim) + p.eps);
  for (var i = 0u; i < p.dim; i++) {
    y[base + i] = x[base + i] * inv * (w[i] + p.offset);
  }
#endif
}
#else
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var s = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let v = x[base + i];
    s += v * v;
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    y[base + i] = x[base + i] * inv * (w[i] + p.offset);
  }
}
#endif
