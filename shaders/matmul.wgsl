// Y[T,N] = X[T,K] . W[N,K]^T (+ bias[N]) (+ Y when accumulating). W rows are output channels (HF
// nn.Linear [out, in] layout), each padded to kpad elements (a multiple of 8; see src/quant/pack.ts).
// Weights are read in blocks of 8 consecutive k (never straddling a row or a quantization group) and
// dequantized to f32; accumulation is in f32.
// Defines: one of FMT_F32 / FMT_F16 / FMT_I8 / FMT_I4; SCALES (int formats); XV4 (K and x_off multiples
// of 4: activations read as vec4); BLOCKED selects the register-blocked kernel (no workgroup memory, no
// barriers; TT = 1, 4 or 8 token rows x 4 channels per invocation), else PREFILL the tiled kernel, else the
// decode kernel with TB token rows per pass, NR channels x KS K-lanes per workgroup. SPLIT: the output
// channels go to up to three buffers (fused projections). Which one is fastest
// depends on the adapter (src/kernels/variants.ts).

struct Params {
  t: u32, n: u32, k: u32, kpad: u32,
  x_off: u32, out_off: u32, flags: u32, group: u32,
  tiles_n: u32, split1: u32, split2: u32, pad2: u32,
}

#if XV4
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
#endif
#if FMT_F32
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
#endif
#if FMT_F16
#if F16
@group(0) @binding(1) var<storage, read> w: array<vec4<f16>>;
#else
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
#endif
#endif
#if FMT_I8
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
#endif
#if FMT_I4
@group(0) @binding(1) var<storage, read> w: array<u32>;
#endif
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#if SCALES
@group(0) @binding(5) var<storage, read> scales: array<f32>;
#endif
#if SPLIT
// Fused projections (q|k|v, gate|up): channels [0, split1) go to y, [split1, split2) to y1, the rest to
// y2, each a dense [T, width] matrix of its own.
@group(0) @binding(6) var<storage, read_write> y1: array<f32>;
@group(0) @binding(7) var<storage, read_write> y2: array<f32>;
#endif

const FLAG_BIAS: u32 = 1u;
const FLAG_ACCUMULATE: u32 = 2u;

struct Blk { a: vec4<f32>, b: vec4<f32> }

// Weights k = 8*kb .. 8*kb+7 of row n, dequantized.
fn load_w(n: u32, kb: u32) -> Blk {
  let i = n * (p.kpad / 8u) + kb;
#if FMT_F32
  return Blk(w[2u * i], w[2u * i + 1u]);
#endif
#if FMT_F16
#if F16
  return Blk(vec4<f32>(w[2u * i]), vec4<f32>(w[2u * i + 1u]));
#else
  let v = w[i];
  return Blk(vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)),
             vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w)));
#endif
#endif
#if FMT_I8
  let v = w[i];
  let s = scales[n * (p.kpad / p.group) + (kb * 8u) / p.group];
  let sh = vec4<u32>(24u, 16u, 8u, 0u);
  let lo = (vec4<i32>(bitcast<i32>(v.x)) << sh) >> vec4<u32>(24u);
  let hi = (vec4<i32>(bitcast<i32>(v.y)) << sh) >> vec4<u32>(24u);
  return Blk(vec4<f32>(lo) * s, vec4<f32>(hi) * s);
#endif
#if FMT_I4
  let v = vec4<u32>(w[i]);
  let s = scales[n * (p.kpad / p.group) + (kb * 8u) / p.group];
  let lo = vec4<i32>((v >> vec4<u32>(0u, 4u, 8u, 12u)) & vec4<u32>(15u)) - vec4<i32>(8);
  let hi = vec4<i32>((v >> vec4<u32>(16u, 20u, 24u, 28u)) & vec4<u32>(15u)) - vec4<i32>(8);
  return Blk(vec4<f32>(lo) * s, vec4<f32>(hi) * s);
#endif
}

// Activations k0 .. k0+7 of token row `row`, zero past K.
fn load_x(row: u32, k0: u32) -> Blk {
#if XV4
  // K and x_off are multiples of 4, k0 of 8: past K the whole second half is padding.
  let b4 = (p.x_off + row * p.k + k0) / 4u;
  return Blk(x[b4], select(vec4<f32>(0.0), x[b4 + 1u], k0 + 8u <= p.k));
#else
  let b = p.x_off + row * p.k + k0;
  if (k0 + 8u <= p.k) {
    return Blk(vec4<f32>(x[b], x[b + 1u], x[b + 2u], x[b + 3u]),
               vec4<f32>(x[b + 4u], x[b + 5u], x[b + 6u], x[b + 7u]));
  }
  var v: array<f32, 8>;
  for (var j = 0u; j < 8u; j++) {
    v[j] = select(0.0, x[b + j], k0 + j < p.k);
  }
  return Blk(vec4<f32>(v[0], v[1], v[2], v[3]), vec4<f32>(v[4], v[5], v[6], v[7]));
#endif
}

fn store(row: u32, n: u32, v: f32) {
  var r = v;
  if ((p.flags & FLAG_BIAS) != 0u) { r += bias[n]; }
#if SPLIT
  // no accumulate / out_off with split outputs (checked in src/kernels/matmul.ts)
  if (n < p.split1) {
    y[row * p.split1 + n] = r;
  } else if (n < p.split2) {
    y1[row * (p.split2 - p.split1) + n - p.split1] = r;
  } else {
    y2[row * (p.n - p.split2) + n - p.split2] = r;
  }
#else
  let idx = p.out_off + row * p.n + n;
  if ((p.flags & FLAG_ACCUMULATE) != 0u) { r += y[idx]; }
  y[idx] = r;
#endif
}

#if BLOCKED
// Register-blocked: invocation i owns channels 4c..4c+3 (c = i % ceil(N/4)) of token rows TT*r.. (r = i /
// ceil(N/4)) and walks the whole K with every partial sum in registers. No workgroup memory and no
// barriers: CPU emulators (SwiftShader, lavapipe) run these far faster than the lane-split kernels.
// Channels and rows past the end are clamped for loading and skipped when storing.
const WGB: u32 = 64u;

@compute @workgroup_size(WGB)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WGB + lid;
  let tn = (p.n + 3u) / 4u;
  let n0 = (i % tn) * 4u;
  let t0 = (i / tn) * ${TT}u;
  if (t0 >= p.t) { return; }
  let nl = p.n - 1u;
  let na = n0; let nb = min(n0 + 1u, nl); let nc = min(n0 + 2u, nl); let nd = min(n0 + 3u, nl);
  let kblocks = (p.k + 7u) / 8u;
#if TT8
  let tl = p.t - 1u;
  let r0 = min(t0 + 0u, tl); let r1 = min(t0 + 1u, tl); let r2 = min(t0 + 2u, tl); let r3 = min(t0 + 3u, tl); let r4 = min(t0 + 4u, tl); let r5 = min(t0 + 5u, tl); let r6 = min(t0 + 6u, tl); let r7 = min(t0 + 7u, tl);
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0); var a4 = vec4<f32>(0.0); var a5 = vec4<f32>(0.0); var a6 = vec4<f32>(0.0); var a7 = vec4<f32>(0.0);
  for (var kb = 0u; kb < kblocks; kb++) {
    let w0 = load_w(na, kb); let w1 = load_w(nb, kb); let w2 = load_w(nc, kb); let w3 = load_w(nd, kb);
    a0 += dot8x4(load_x(r0, kb * 8u), w0, w1, w2, w3);
    a1 += dot8x4(load_x(r1, kb * 8u), w0, w1, w2, w3);
    a2 += dot8x4(load_x(r2, kb * 8u), w0, w1, w2, w3);
    a3 += dot8x4(load_x(r3, kb * 8u), w0, w1, w2, w3);
    a4 += dot8x4(load_x(r4, kb * 8u), w0, w1, w2, w3);
    a5 += dot8x4(load_x(r5, kb * 8u), w0, w1, w2, w3);
    a6 += dot8x4(load_x(r6, kb * 8u), w0, w1, w2, w3);
    a7 += dot8x4(load_x(r7, kb * 8u), w0, w1, w2, w3);
  }
  store_row4(t0, n0, a0);
  if (t0 + 1u < p.t) { store_row4(t0 + 1u, n0, a1); }
  if (t0 + 2u < p.t) { store_row4(t0 + 2u, n0, a2); }
  if (t0 + 3u < p.t) { store_row4(t0 + 3u, n0, a3); }
  if (t0 + 4u < p.t) { store_row4(t0 + 4u, n0, a4); }
  if (t0 + 5u < p.t) { store_row4(t0 + 5u, n0, a5); }
  if (t0 + 6u < p.t) { store_row4(t0 + 6u, n0, a6); }
  if (t0 + 7u < p.t) { store_row4(t0 + 7u, n0, a7); }
#endif
#if TT4
  let tl = p.t - 1u;
  let r0 = min(t0 + 0u, tl); let r1 = min(t0 + 1u, tl); let r2 = min(t0 + 2u, tl); let r3 = min(t0 + 3u, tl);
  var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
  for (var kb = 0u; kb < kblocks; kb++) {
    let w0 = load_w(na, kb); let w1 = load_w(nb, kb); let w2 = load_w(nc, kb); let w3 = load_w(nd, kb);
    a0 += dot8x4(load_x(r0, kb * 8u), w0, w1, w2, w3);
    a1 += dot8x4(load_x(r1, kb * 8u), w0, w1, w2, w3);
    a2 += dot8x4(load_x(r2, kb * 8u), w0, w1, w2, w3);
    a3 += dot8x4(load_x(r3, kb * 8u), w0, w1, w2, w3);
  }
  store_row4(t0, n0, a0);
  if (t0 + 1u < p.t) { store_row4(t0 + 1u, n0, a1); }
  if (t0 + 2u < p.t) { store_row4(t0 + 2u, n0, a2); }
  if (t0 + 3u < p.t) { store_row4(t0 + 3u, n0, a3); }
#endif
#if TT1
  let r0 = t0;
  var a0 = vec4<f32>(0.0);
  for (var kb = 0u; kb < kblocks; kb++) {
    let w0 = load_w(na, kb); let w1 = load_w(nb, kb); let w2 = load_w(nc, kb); let w3 = load_w(nd, kb);
    a0 += dot8x4(load_x(r0, kb * 8u), w0, w1, w2, w3);
  }
  store_row4(t0, n0, a0);
#endif
}

// Block x (8 k of one row) against the same 8 k of four channels.
fn dot8x4(x: Blk, w0: Blk, w1: Blk, w2: Blk, w3: Blk) -> vec4<f32> {
  return vec4<f32>(dot(x.a, w0.a) + dot(x.b, w0.b), dot(x.a, w1.a) + dot(x.b, w1.b),
                   dot(x.a, w2.a) + dot(x.b, w2.b), dot(x.a, w3.a) + dot(x.b, w3.b));
}

// Channels n0..n0+3 of row `row` (those below N).
fn store_row4(row: u32, n0: u32, v: vec4<f32>) {
  store(row, n0, v.x);
  if (n0 + 1u < p.n) { store(row, n0 + 1u, v.y); }
  if (n0 + 2u < p.n) { store(row, n0 + 2u, v.z); }
  if (n0 + 3u < p.n) { store(row, n0 + 3u, v.w); }
}
#else
#if PREFILL
// Tiled: a workgroup computes a BT x BN tile of Y; 64 threads, 4x4 outputs each; K in steps of BK=16.
const BT: u32 = 32u;
const BN: u32 = 32u;
const BK: u32 = 16u;
var<workgroup> xs: array<f32, 512>; // [BK][BT]
var<workgroup> ws: array<f32, 512>; // [BK][BN]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let lin = wg_linear(wid, nwg);
  let t0 = (lin / p.tiles_n) * BT;
  let n0 = (lin % p.tiles_n) * BN;
  if (t0 >= p.t) { return; }
  let tx = lid % 8u;
  let ty = lid / 8u;
  // Loader role: row lr of both tiles, half lh (8 of the 16 k) of the step.
  let lr = lid / 2u;
  let lh = lid % 2u;
  let xrow = min(t0 + lr, p.t - 1u);
  let wrow = min(n0 + lr, p.n - 1u);
  let kblocks = (p.k + 7u) / 8u;
  var acc: array<vec4<f32>, 4>;
  for (var kb0 = 0u; kb0 < kblocks; kb0 += 2u) {
    let kb = kb0 + lh;
    var xv = Blk(vec4<f32>(0.0), vec4<f32>(0.0));
    var wv = Blk(vec4<f32>(0.0), vec4<f32>(0.0));
    if (kb < kblocks) {
      xv = load_x(xrow, kb * 8u);
      wv = load_w(wrow, kb);
    }
    let o = lh * 8u;
    xs[(o + 0u) * BT + lr] = xv.a.x; xs[(o + 1u) * BT + lr] = xv.a.y;
    xs[(o + 2u) * BT + lr] = xv.a.z; xs[(o + 3u) * BT + lr] = xv.a.w;
    xs[(o + 4u) * BT + lr] = xv.b.x; xs[(o + 5u) * BT + lr] = xv.b.y;
    xs[(o + 6u) * BT + lr] = xv.b.z; xs[(o + 7u) * BT + lr] = xv.b.w;
    ws[(o + 0u) * BN + lr] = wv.a.x; ws[(o + 1u) * BN + lr] = wv.a.y;
    ws[(o + 2u) * BN + lr] = wv.a.z; ws[(o + 3u) * BN + lr] = wv.a.w;
    ws[(o + 4u) * BN + lr] = wv.b.x; ws[(o + 5u) * BN + lr] = wv.b.y;
    ws[(o + 6u) * BN + lr] = wv.b.z; ws[(o + 7u) * BN + lr] = wv.b.w;
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let xa = kk * BT + ty * 4u;
      let wa = kk * BN + tx * 4u;
      let a = vec4<f32>(xs[xa], xs[xa + 1u], xs[xa + 2u], xs[xa + 3u]);
      let b = vec4<f32>(ws[wa], ws[wa + 1u], ws[wa + 2u], ws[wa + 3u]);
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let row = t0 + ty * 4u + i;
    if (row < p.t) {
      for (var c = 0u; c < 4u; c++) {
        let n = n0 + tx * 4u + c;
        if (n < p.n) { store(row, n, acc[i][c]); }
      }
    }
  }
}
#else
// Decode (small T): a workgroup owns NR output channels; KS threads per channel split K, each keeping TB
// token accumulators, so every weight is read once per TB tokens; partial sums meet in workgroup memory.
const TB: u32 = ${TB}u;
const NR: u32 = ${NR}u;
const KS: u32 = ${KS}u;
const WGS: u32 = NR * KS;
var<workgroup> red: array<f32, TB * WGS>;

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let nb = wg_linear(wid, nwg) * NR;
  if (nb >= p.n) { return; }
  let lane = lid % KS;
  let nc = min(nb + lid / KS, p.n - 1u);
  let kblocks = (p.k + 7u) / 8u;
  for (var t0 = 0u; t0 < p.t; t0 += TB) {
    var acc: array<f32, TB>;
    for (var j = 0u; j < TB; j++) { acc[j] = 0.0; } // explicit: some compilers hoist the declaration
    for (var kb = lane; kb < kblocks; kb += KS) {
      let wv = load_w(nc, kb);
      for (var j = 0u; j < TB; j++) {
        if (t0 + j >= p.t) { break; }
        let xv = load_x(t0 + j, kb * 8u);
        acc[j] += dot(xv.a, wv.a) + dot(xv.b, wv.b);
      }
    }
    for (var j = 0u; j < TB; j++) {
      red[j * WGS + lid] = acc[j];
    }
    workgroupBarrier();
    for (var q = lid; q < TB * NR; q += WGS) {
      let j = q / NR;
      let r = q % NR;
      if (nb + r < p.n && t0 + j < p.t) {
        var s = 0.0;
        let base = j * WGS + r * KS;
        for (var l = 0u; l < KS; l++) { s += red[base + l]; }
        store(t0 + j, nb + r, s);
      }
    }
    workgroupBarrier();
  }
}
#endif
#endif
