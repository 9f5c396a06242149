// Rotary position embedding in place on q [T, n_heads, head_dim] and k [T, n_kv_heads, head_dim]
// (row t of q starts at t*q_stride, of k at t*k_stride), HF rotate_half convention: the pair
// (i, i + rot_dim/2) for i < rot_dim/2 rotates by angle pos*inv_freq[i]; dims >= rot_dim are left
// unchanged. inv_freq (rot_dim/2 f32) and attn_scaling come from the CPU (src/kernels/rope.ts).
// One thread per (token, head, pair).

struct Params { tokens: u32, n_heads: u32, n_kv_heads: u32, head_dim: u32,
                rot_dim: u32, q_stride: u32, k_stride: u32, attn_scaling: f32 }

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 64u;

// (sin x, cos x) to about 1 ulp for |x| up to ~1e5: Cody-Waite reduction by pi/2 (three-part constant,
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
  let half = p.rot_dim / 2u;
  let heads = p.n_heads + p.n_kv_heads;
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.tokens * heads * half) { return; }
  let i = e % half;
  let th = e / half;
  let h = th % heads;
  let t = th / heads;
  // The f32 angle torch computes; sin/cos by our own range reduction + polynomials (GPU builtins may
  // have only ~2^-11 absolute accuracy, e.g. SwiftShader, and degrade for large angles).
  let sc = sincos(f32(positions[t]) * inv_freq[i]);
  let c = sc.y * p.attn_scaling;
  let s = sc.x * p.attn_scaling;
  if (h < p.n_heads) {
    let b = t * p.q_stride + h * p.head_dim + i;
    let x1 = q[b];
    let x2 = q[b + half];
    q[b] = x1 * c - x2 * s;
    q[b + half] = x2 * c + x1 * s;
  } else {
    let b = t * p.k_stride + (h - p.n_heads) * p.head_dim + i;
    let x1 = k[b];
    let x2 = k[b + half];
    k[b] = x1 * c - x2 * s;
    k[b + half] = x2 * c + x1 * s;
  }
}
