// Argmax per row of logits [rows, n] -> u32 [rows]; ties go to the lowest index (torch.argmax).
// NaN logits are not given special treatment. One workgroup per row with a tree reduction (GPUs), or
// BLOCKED (CPU emulators, src/kernels/variants.ts): one invocation per row scanning it, no barriers;
// V4 (n a multiple of 4): four interleaved running maxima, merged ties -> lowest index.

struct Params { rows: u32, n: u32, _p0: u32, _p1: u32 }

#if V4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
#endif
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;

#if BLOCKED
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= p.rows) { return; }
#if V4
  let n4 = p.n / 4u;
  let base = row * n4;
  var bv = x[base];
  var bi = vec4<u32>(0u, 1u, 2u, 3u);
  for (var i = 1u; i < n4; i++) {
    let v = x[base + i];
    let take = v > bv;
    bv = select(bv, v, take);
    bi = select(bi, vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u), take);
  }
  var best = bv.x;
  var idx = bi.x;
  for (var c = 1u; c < 4u; c++) {
    if (bv[c] > best || (bv[c] == best && bi[c] < idx)) { best = bv[c]; idx = bi[c]; }
  }
  out[row] = idx;
#else
  let base = row * p.n;
  var idx = 0u;
  var best = x[base];
  for (var i = 1u; i < p.n; i++) {
    let v = x[base + i];
    if (v > best) { best = v; idx = i; }
  }
  out[row] = idx;
#endif
}
#else
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
#endif
