// The attention block's post-projection step in one dispatch on a fused q|k|v buffer: optional q/k
// RMSNorm (per head or over all heads), optional clamp, rotary position embedding; q is rewritten in
// place, the rotated k and the (clamped) v go straight into the KV cache. RoPE follows HF's rotate_half
// convention: the pair (i, i + rot_dim/2) for i < rot_dim/2 rotates by the f32 angle pos*inv_freq[i]
// (torch's), dims >= rot_dim are only normed and clamped. inv_freq and attn_scaling come from the CPU
// (src/reference/rope.ts ropeTables). Reference: src/reference/rope_kv.ts.

// Layout: row t of qkv holds q (n_heads*head_dim), then k, then v (n_kv_heads*head_dim each),
// row stride `row`. aux holds the q norm weights (from q_norm_off), k norm weights (k_norm_off) and
// inv_freq (freq_off). norm: 0 none, 1 per head (weights [head_dim]), 2 over all heads of q / of k
// (weights [n_heads*head_dim] / [n_kv_heads*head_dim]). clip > 0 clamps q, k, v to [-clip, clip] after
// the norm. One invocation per (token, group): q groups (a head, or all q heads with norm 2), then k
// groups likewise, then one per kv head copying v.
struct Params { tokens: u32, n_heads: u32, n_kv_heads: u32, head_dim: u32,
                rot_dim: u32, row: u32, norm: u32, max_slots: u32,
                eps: f32, attn_scaling: f32, clip: f32, q_norm_off: u32,
                k_norm_off: u32, freq_off: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read> seq_ids: array<u32>;
@group(0) @binding(4) var<storage, read> positions: array<u32>;
@group(0) @binding(5) var<storage, read> seq_start: array<u32>;
@group(0) @binding(6) var<storage, read> aux: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

override WG: u32 = 64u;

fn clip(x: f32) -> f32 {
  if (p.clip > 0.0) { return clamp(x, -p.clip, p.clip); }
  return x;
}

// (sin x, cos x) to about 1 ulp (GPU builtins may have only ~2^-11 absolute accuracy, e.g. SwiftShader,
// and degrade for large angles) for |x| up to ~1e5: Cody-Waite reduction by pi/2 (three-part constant,
// the first two with few significant bits so k * part is exact), then Cephes sinf/cosf polynomials.
fn sincos(x: f32) -> vec2<f32> {
  let k = round(x * 0.63661977236758134);
  let r = ((x - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.54978995489188216e-8;
  let z = r * r;
  let sn = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let cs = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = i32(k) & 3;
  if (q == 0) { return vec2<f32>(sn, cs); }
  if (q == 1) { return vec2<f32>(cs, -sn); }
  if (q == 2) { return vec2<f32>(-sn, -cs); }
  return vec2<f32>(-cs, sn);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let hd = p.head_dim;
  let full = p.norm == 2u;
  let qg = select(p.n_heads, 1u, full);
  let kg = select(p.n_kv_heads, 1u, full);
  let per = qg + kg + p.n_kv_heads;
  let g = wg_linear(wid, nwg) * WG + lid;
  let t = g / per;
  if (t >= p.tokens) { return; }
  let u = g - t * per;
  let kv_row = p.n_kv_heads * hd;
  let slot = seq_start[seq_ids[t]] + positions[t];
  let nq = p.n_heads * hd;
  if (u >= qg + kg) {
    // v of kv head j, clamped, into the cache
    let j = u - qg - kg;
    if (slot >= p.max_slots) { return; }
    let src = t * p.row + nq + kv_row + j * hd;
    for (var d = 0u; d < hd; d++) { v_cache[slot * kv_row + j * hd + d] = clip(qkv[src + d]); }
    return;
  }
  let is_q = u < qg;
  let gi = select(u - qg, u, is_q); // group index among q (or k) groups
  let heads = select(1u, select(p.n_kv_heads, p.n_heads, is_q), full); // heads in this group
  let base = t * p.row + select(nq, 0u, is_q) + gi * hd; // first element of the group
  let n = heads * hd;
  let w_off = select(p.k_norm_off, p.q_norm_off, is_q);
  var inv = 1.0;
  if (p.norm != 0u) {
    var ss = 0.0;
    for (var i = 0u; i < n; i++) { let v = qkv[base + i]; ss += v * v; }
    inv = inverseSqrt(ss / f32(n) + p.eps);
  }
  let half = p.rot_dim / 2u;
  let pos = f32(positions[t]);
  if (!is_q && slot >= p.max_slots) { return; }
  let kc = slot * kv_row + gi * hd; // k: destination in the cache (gi = kv head, or 0 with norm 2)
  for (var h = 0u; h < heads; h++) {
    let b = base + h * hd;
    for (var i = 0u; i < hd; i++) {
      if (i < half) {
        // the pair (i, i + half), normed, clamped, rotated
        var x1 = qkv[b + i];
        var x2 = qkv[b + i + half];
        if (p.norm != 0u) {
          let wi = select(0u, h * hd, full) + i;
          x1 = x1 * inv * aux[w_off + wi];
          x2 = x2 * inv * aux[w_off + wi + half];
        }
        x1 = clip(x1);
        x2 = clip(x2);
        let sc = sincos(pos * aux[p.freq_off + i]);
        let c = sc.y * p.attn_scaling;
        let s = sc.x * p.attn_scaling;
        let r1 = x1 * c - x2 * s;
        let r2 = x2 * c + x1 * s;
        if (is_q) {
          qkv[b + i] = r1;
          qkv[b + i + half] = r2;
        } else {
          k_cache[kc + h * hd + i] = r1;
          k_cache[kc + h * hd + i + half] = r2;
        }
      } else if (i >= p.rot_dim) {
        // past the rotary dims: normed and clamped only
        var x = qkv[b + i];
        if (p.norm != 0u) { x = x * inv * aux[w_off + select(0u, h * hd, full) + i]; }
        x = clip(x);
        if (is_q) { qkv[b + i] = x; } else { k_cache[kc + h * hd + i] = x; }
      }
    }
  }
}
