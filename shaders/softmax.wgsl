// Row softmax with temperature: out[r, :] = softmax(x[r, :] / temperature). One workgroup per row,
// three sweeps (max, sum of exp, write); stable for any logit magnitude.

struct Params { rows: u32, n: u32, inv_temp: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var m = -3.4e38;
  for (var i = lid; i < p.n; i += WG) { m = max(m, x[base + i] * p.inv_temp); }
  red[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var i = lid; i < p.n; i += WG) { sum += exp(x[base + i] * p.inv_temp - mx); }
  red[lid] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var i = lid; i < p.n; i += WG) { out[base + i] = exp(x[base + i] * p.inv_temp - mx) * inv; }
}
