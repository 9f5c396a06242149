// x = clamp(x, -c, c) in place — OLMoE's clip_qkv.

struct Params { n: u32, c: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.n) { return; }
  x[e] = clamp(x[e], -p.c, p.c);
}
