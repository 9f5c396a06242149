// SwiGLU gate: out[t, i] = silu(gate[t*gate_stride + gate_off + i]) * up[t*up_stride + up_off + i].
// gate and up may be the same buffer (fused [T, 2I] projection: gate_off 0, up_off I, strides 2I).

struct Params { tokens: u32, inter: u32, gate_stride: u32, gate_off: u32, up_stride: u32, up_off: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.tokens * p.inter) { return; }
  let t = e / p.inter;
  let i = e - t * p.inter;
  let g = gate[t * p.gate_stride + p.gate_off + i];
  // g * sigmoid(g); for very negative g exp(-g) overflows to inf and the quotient is -0 as wanted.
  let s = g / (1.0 + exp(-g));
  out[e] = s * up[t * p.up_stride + p.up_off + i];
}
