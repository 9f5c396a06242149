// Temperature + top-k + top-p sampling per row of logits [rows, n] -> u32 [rows], with the exact
// semantics of src/reference/sampling.ts: order the vocabulary by (logit desc, index asc); weights
// w = exp((x - max) / temperature); keep the shortest prefix whose mass reaches top_p * sum(w) or whose
// length reaches top_k (at least one token); pick the first kept token whose cumulative mass exceeds
// u * kept_mass. temperature <= 0 means greedy (top_k = 1).
// No sort: a prefix of that order is a position (v, imax) = { i : key_i > v or (key_i == v and i <= imax) }
// (key = order-preserving u32 of the logit), and each predicate we need is monotone in the position, so
// the last kept token and the sampled token are found by bitwise binary search (32 steps over the key,
// then ceil(log2 n) over the index), each step one workgroup reduction of (count, mass) over the row.
// Per-row parameters: rp[row] = (temperature, top_p, top_k (0 = off), u in [0, 1)).

struct Params { rows: u32, n: u32, nbits: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rp: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 256u;
var<workgroup> red_c: array<u32, WG>;
var<workgroup> red_m: array<f32, WG>;

fn okey(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// (count, mass) of the prefix position (v, imax) over row `base`; called by the whole workgroup.
fn stats(lid: u32, base: u32, mx: f32, inv_temp: f32, v: u32, imax: u32) -> vec2<f32> {
  var c = 0u;
  var m = 0.0;
  for (var i = lid; i < p.n; i += WG) {
    let xv = x[base + i];
    let key = okey(xv);
    if (key > v || (key == v && i <= imax)) {
      c += 1u;
      m += exp((xv - mx) * inv_temp);
    }
  }
  red_c[lid] = c;
  red_m[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red_c[lid] += red_c[lid + s];
      red_m[lid] += red_m[lid + s];
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(f32(red_c[0]), red_m[0]);
  workgroupBarrier();
  return r;
}

// Position (v, imax) clamped to be no later than (kv, ki) in the order.
fn clamp_pos(v: u32, imax: u32, kv: u32, ki: u32) -> vec2<u32> {
  if (v < kv || (v == kv && imax > ki)) { return vec2<u32>(kv, ki); }
  return vec2<u32>(v, imax);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.n;
  let prm = rp[row];
  let greedy = !(prm.x > 0.0);
  let inv_temp = select(1.0 / prm.x, 0.0, greedy);
  let top_k = select(u32(max(prm.z, 0.0)), 1u, greedy);
  let u = prm.w;

  // row max
  var mx = x[base];
  for (var i = lid; i < p.n; i += WG) { mx = max(mx, x[base + i]); }
  red_m[lid] = mx;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red_m[lid] = max(red_m[lid], red_m[lid + s]); }
    workgroupBarrier();
  }
  mx = red_m[0];
  workgroupBarrier();

  let last = p.n - 1u;
  let z = stats(lid, base, mx, inv_temp, 0u, last).y;
  let mass_goal = min(prm.y, 1.0) * z;

  // 1. last kept position (kv, ki): the first position where count >= 1 and (mass >= mass_goal or count >= top_k)
  var kv = 0u;
  for (var b = 31i; b >= 0i; b--) {
    let cand = kv | (1u << u32(b));
    let st = stats(lid, base, mx, inv_temp, cand, last);
    let ok = st.x >= 1.0 && (st.y >= mass_goal || (top_k > 0u && st.x >= f32(top_k)));
    kv = select(kv, cand, ok);
  }
  var ki = 0u;
  for (var b = i32(p.nbits) - 1i; b >= 0i; b--) {
    let cand = ki + (1u << u32(b));
    let st = stats(lid, base, mx, inv_temp, kv, min(cand, p.n) - 1u);
    let ok = st.x >= 1.0 && (st.y >= mass_goal || (top_k > 0u && st.x >= f32(top_k)));
    ki = select(ki, cand, cand <= p.n && !ok);
  }
  let kept = stats(lid, base, mx, inv_temp, kv, ki).y;
  let t2 = u * kept;

  // 2. sampled position: the first position (within the kept prefix) whose mass exceeds u * kept
  var sv = 0u;
  for (var b = 31i; b >= 0i; b--) {
    let cand = sv | (1u << u32(b));
    let q = clamp_pos(cand, last, kv, ki);
    let st = stats(lid, base, mx, inv_temp, q.x, q.y);
    sv = select(sv, cand, st.y > t2);
  }
  var si = 0u;
  for (var b = i32(p.nbits) - 1i; b >= 0i; b--) {
    let cand = si + (1u << u32(b));
    let q = clamp_pos(sv, min(cand, p.n) - 1u, kv, ki);
    let st = stats(lid, base, mx, inv_temp, q.x, q.y);
    si = select(si, cand, cand <= p.n && !(st.y > t2));
  }
  // Rounding safety: u * kept >= kept cannot select past the kept prefix.
  let fin = clamp_pos(sv, min(si, last), kv, ki);
  if (lid == 0u) { out[row] = fin.y; }
}
