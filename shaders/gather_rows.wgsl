// out[r, :] = x[rows[r], :] — picks the rows that get logits (each sequence's last token).

struct Params { R: u32, dim: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.R * p.dim) { return; }
  out[e] = x[rows[e / p.dim] * p.dim + e % p.dim];
}
