// Combine per-(token, slot) expert outputs in slot order (deterministic): one thread per (t, h).
// mode 0: out = sum;  1: out += sum (in place, e.g. onto the residual stream);  2: out = residual + sum.

struct Params { T: u32, H: u32, kMax: u32, mode: u32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = wg_linear(wid, nwg) * WG + lid;
  if (idx >= p.T * p.H) { return; }
  let t = idx / p.H;
  let h = idx - t * p.H;
  var s = 0.0;
  for (var j = 0u; j < p.kMax; j++) {
    let sl = t * p.kMax + j;
    if (ids[sl] != 0xffffffffu) { s += partial[sl * p.H + h]; }
  }
  if (p.mode == 1u) { s = out[idx] + s; }
  if (p.mode == 2u) { s = residual[idx] + s; }
  out[idx] = s;
}
