// Argmax per row of logits [rows, n] -> u32 [rows]; ties go to the lowest index (torch.argmax).
// NaN logits are not given special treatment. One workgroup per row.

struct Params { rows: u32, n: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;
var<workgroup> bv: array<f32, WG>;
var<workgroup> bi: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var best = 0.0; // unused while idx is the sentinel
  var idx = 0xffffffffu;
  for (var i = lid; i < p.n; i += WG) {
    let v = x[base + i];
    if (v > best || idx == 0xffffffffu) { best = v; idx = i; }
  }
  bv[lid] = best;
  bi[lid] = idx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      let ov = bv[lid + s];
      let oi = bi[lid + s];
      let mv = bv[lid];
      let mi = bi[lid];
      if (oi != 0xffffffffu && (mi == 0xffffffffu || ov > mv || (ov == mv && oi < mi))) {
        bv[lid] = ov;
        bi[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out[row] = bi[0]; }
}
