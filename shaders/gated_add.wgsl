// x[t, :] += s * sigmoid(g[t]) * y[t, :] — Qwen1.5-MoE's shared expert, scaled by its sigmoid gate.

struct Params { T: u32, dim: u32, s: f32, _p0: u32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.T * p.dim) { return; }
  let gate = 1.0 / (1.0 + exp(-g[e / p.dim]));
  x[e] = x[e] + p.s * gate * y[e];
}
