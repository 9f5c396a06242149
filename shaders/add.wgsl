// Elementwise (scaled) add over n elements. INPLACE: x += s * y (residual, granite's
// residual_multiplier as s). Otherwise: out = a + s * b.

struct Params { n: u32, s: f32, _p0: u32, _p1: u32 }

#if INPLACE
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#else
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.n) { return; }
#if INPLACE
  x[e] = x[e] + p.s * y[e];
#else
  out[e] = a[e] + p.s * b[e];
#endif
}
