// The elementwise ops, one per define, sharing the uniform layout, the element index and its bounds
// check (e < p.n, n = output elements). Each op binds its buffers in order, the uniform last.
//   ADD_INPLACE  x += s * y                          (residual, granite's residual_multiplier as s)
//   ADD          out = a + s * b
//   GATED_ADD    x[t, :] += s * sigmoid(g[t]) * y[t, :]   (Qwen1.5-MoE's shared expert; dim = row length)
//   GATHER_ROWS  out[r, :] = x[rows[r], :]           (the rows that get logits)
//   SILU_MUL     out[t, i] = silu(gate[t*gate_stride + gate_off + i]) * up[t*up_stride + up_off + i]
//                (SwiGLU; gate and up may be one fused [T, 2I] buffer; dim = inter)

struct Params { n: u32, dim: u32, s: f32, _pad: u32, gate_stride: u32, gate_off: u32, up_stride: u32, up_off: u32 }

#if ADD_INPLACE
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
#endif
#if ADD
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif
#if GATED_ADD
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif
#if GATHER_ROWS
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif
#if SILU_MUL
@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
#endif

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.n) { return; }
#if ADD_INPLACE
  x[e] = x[e] + p.s * y[e];
#endif
#if ADD
  out[e] = a[e] + p.s * b[e];
#endif
#if GATED_ADD
  let gv = 1.0 / (1.0 + exp(-g[e / p.dim]));
  x[e] = x[e] + p.s * gv * y[e];
#endif
#if GATHER_ROWS
  out[e] = x[rows[e / p.dim] * p.dim + e % p.dim];
#endif
#if SILU_MUL
  let t = e / p.dim;
  let i = e - t * p.dim;
  let gv = gate[t * p.gate_stride + p.gate_off + i];
  // g * sigmoid(g); for very negative g exp(-g) overflows to inf and the quotient is -0 as wanted.
  out[e] = gv / (1.0 + exp(-gv)) * up[t * p.up_stride + p.up_off + i];
#endif
}
