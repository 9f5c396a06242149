// Causal grouped-query attention over a slot-addressed KV cache, for any mix of prefill and decode
// tokens. Token t (sequence seq_ids[t], position positions[t]) attends to its sequence's cache slots
// seq_start[seq] + j for j in [first, pos] (first = 0, or pos + 1 - window with a sliding window), with
// query head h reading kv head h / (n_heads / n_kv_heads).
// One workgroup per (token, head): keys are processed in tiles of WG with an online softmax (running
// max m, running sum l, output accumulators rescaled by exp(m_old - m_new)), so any logit magnitude is
// safe. Thread lid owns output dims lid, lid + WG, ... (head_dim <= 4 * WG).
// Layouts: q/out row t at t * q_stride + q_off / t * out_stride, head h at + h * head_dim;
// caches [max_slots, n_kv_heads, head_dim].

struct Params { tokens: u32, n_heads: u32, n_kv_heads: u32, head_dim: u32,
                scale: f32, window: u32, q_stride: u32, q_off: u32,
                out_stride: u32, _p0: u32, _p1: u32, _p2: u32 }

#if BLOCKED
@group(0) @binding(0) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#endif
@group(0) @binding(4) var<storage, read> seq_ids: array<u32>;
@group(0) @binding(5) var<storage, read> positions: array<u32>;
@group(0) @binding(6) var<storage, read> seq_start: array<u32>;
@group(0) @binding(7) var<uniform> p: Params;

override WG: u32 = 64u;
const MAX_D: u32 = 256u;
const NEG: f32 = -3.4e38;

// Query head h's kv head, and the cache slots token t attends to: (first slot, count) with the
// sliding window applied.
fn kv_head(h: u32) -> u32 { return h / (p.n_heads / p.n_kv_heads); }
fn kv_range(t: u32) -> vec2<u32> {
  let pos = positions[t];
  var first = 0u;
  if (p.window > 0u && pos + 1u > p.window) { first = pos + 1u - p.window; }
  return vec2<u32>(seq_start[seq_ids[t]] + first, pos + 1u - first);
}

#if BLOCKED
// Blocked variant (CPU emulators, src/kernels/variants.ts): one invocation per (token, head) walks its
// keys one at a time with the online softmax, the output row in registers; no workgroup memory or
// barriers. Needs head_dim, q_stride, q_off and out_stride multiples of 4 (everything read as vec4).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wg_linear(wid, nwg) * WG + lid;
  let t = g / p.n_heads;
  let h = g - t * p.n_heads;
  if (t >= p.tokens) { return; }
  let hd4 = p.head_dim / 4u;
  let kr = kv_range(t);
  let count = kr.y;
  let kv_row4 = p.n_kv_heads * hd4;
  let kv_base4 = kr.x * kv_row4 + kv_head(h) * hd4;
  let qb4 = (t * p.q_stride + p.q_off + h * p.head_dim) / 4u;
  var acc: array<vec4<f32>, MAX_D / 4u>;
  for (var d = 0u; d < hd4; d++) { acc[d] = vec4<f32>(0.0); }
  var m = NEG;
  var l = 0.0;
  for (var j = 0u; j < count; j++) {
    let kb = kv_base4 + j * kv_row4;
    var s4 = vec4<f32>(0.0);
    for (var d = 0u; d < hd4; d++) { s4 += (q[qb4 + d] * p.scale) * k_cache[kb + d]; }
    let sc = s4.x + s4.y + s4.z + s4.w;
    let mn = max(m, sc);
    let corr = exp(m - mn);
    let pj = exp(sc - mn);
    l = l * corr + pj;
    for (var d = 0u; d < hd4; d++) { acc[d] = acc[d] * corr + pj * v_cache[kb + d]; }
    m = mn;
  }
  let ob4 = (t * p.out_stride + h * p.head_dim) / 4u;
  let inv = 1.0 / l;
  for (var d = 0u; d < hd4; d++) { out[ob4 + d] = acc[d] * inv; }
}
#else
var<workgroup> qs: array<f32, MAX_D>;
var<workgroup> ps: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wg_linear(wid, nwg);
  let t = g / p.n_heads;
  let h = g - t * p.n_heads;
  if (t >= p.tokens) { return; }
  let hd = p.head_dim;
  let kr = kv_range(t);
  let count = kr.y;
  let kv_row = p.n_kv_heads * hd;
  let kv_base = kr.x * kv_row + kv_head(h) * hd;

  let qb = t * p.q_stride + p.q_off + h * hd;
  for (var d = lid; d < hd; d += WG) { qs[d] = q[qb + d] * p.scale; }
  workgroupBarrier();

  var m = NEG;
  var l = 0.0;
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var j0 = 0u; j0 < count; j0 += WG) {
    let j = j0 + lid;
    let n = min(WG, count - j0);
    var sc = NEG;
    if (j < count) {
      let kb = kv_base + j * kv_row;
      var dot = 0.0;
      for (var d = 0u; d < hd; d++) { dot += qs[d] * k_cache[kb + d]; }
      sc = dot;
    }
    ps[lid] = sc;
    workgroupBarrier();
    var tm = m;
    for (var i = 0u; i < n; i++) { tm = max(tm, ps[i]); }
    workgroupBarrier();
    ps[lid] = select(0.0, exp(sc - tm), j < count);
    workgroupBarrier();
    let corr = exp(m - tm);
    for (var c = 0u; c < 4u; c++) { acc[c] *= corr; }
    var tsum = 0.0;
    for (var i = 0u; i < n; i++) {
      let pi = ps[i];
      tsum += pi;
      let vb = kv_base + (j0 + i) * kv_row;
      for (var c = 0u; c < 4u; c++) {
        let d = lid + c * WG;
        if (d < hd) { acc[c] += pi * v_cache[vb + d]; }
      }
    }
    l = l * corr + tsum;
    m = tm;
    workgroupBarrier();
  }
  let ob = t * p.out_stride + h * hd;
  let inv = 1.0 / l;
  for (var c = 0u; c < 4u; c++) {
    let d = lid + c * WG;
    if (d < hd) { out[ob + d] = acc[c] * inv; }
  }
}
#endif
