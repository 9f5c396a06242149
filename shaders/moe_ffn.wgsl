// Grouped gated expert FFN over all active experts in two indirect dispatches (args from moe_lists' info
// buffer, so inactive experts cost nothing): entry ffn_gate_up, workgroup (chunk of R intermediate rows,
// tile of <= TILE tokens of one expert): h = silu(x Wg[e]^T) * (x Wu[e]^T); entry ffn_down, workgroup (chunk
// of R output channels, tile): partial[slot] = weight * (h Wd[e]^T). Each workgroup is R rows x KS lanes;
// lanes split the row's columns (coalesced reads), then a fixed-order reduction (deterministic).
// gateUp: rows [E*2I] (gate rows then up rows per expert) of kPadH columns, down: rows [E*H] of kPadI
// columns, in the row-padded layouts of src/quant/pack.ts: f32, f16 (FMT_F16), int8 (FMT_I8) or int4 (FMT_I4)
// with per-group f32 scales (group a multiple of 8, so 4 aligned elements share one scale).
// work: f32 [T*kMax, H] partial outputs (written only for used slots; moe_combine skips the others),
// then f32 [T*kMax, I] gated intermediates from word hOff.

// Experts [eBase, eEnd) live in the bound weight buffers (expert e at local index e - eBase): a layer
// whose experts exceed one binding runs once per buffer chunk; tiles of other experts exit at once.
struct Params { H: u32, I: u32, kMax: u32, kPadH: u32, kPadI: u32, group: u32, hOff: u32, eBase: u32,
                eEnd: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
#if V4
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
#endif
#if FMT_F32
@group(0) @binding(2) var<storage, read> gate_up: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> down: array<vec4<f32>>;
#endif
#if F16_PAIRS
// blocked f16: four halves (two u32) per load
@group(0) @binding(2) var<storage, read> gate_up: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> down: array<vec2<u32>>;
#endif
#if W_WORDS
@group(0) @binding(2) var<storage, read> gate_up: array<u32>;
@group(0) @binding(3) var<storage, read> down: array<u32>;
#endif
@group(0) @binding(4) var<storage, read> list: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> tiles: array<vec4<u32>>;
#if V4
@group(0) @binding(6) var<storage, read_write> work: array<vec4<f32>>;
#else
@group(0) @binding(6) var<storage, read_write> work: array<f32>;
#endif
#if SCALES
@group(0) @binding(7) var<storage, read> gu_scales: array<f32>;
@group(0) @binding(8) var<storage, read> dn_scales: array<f32>;
#endif


// Elements c..c+3 (c a multiple of 4) of row r of a matrix with row length kp.
#if FMT_F32
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { return gate_up[(r * kp + c) >> 2u]; }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { return down[(r * kp + c) >> 2u]; }
#endif
#if FMT_F16
#if F16_PAIRS
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let v = gate_up[(r * kp + c) >> 2u]; return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let v = down[(r * kp + c) >> 2u]; return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
#else
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = (r * kp + c) >> 1u; return vec4<f32>(unpack2x16float(gate_up[i]), unpack2x16float(gate_up[i + 1u])); }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = (r * kp + c) >> 1u; return vec4<f32>(unpack2x16float(down[i]), unpack2x16float(down[i + 1u])); }
#endif
#endif
#if FMT_I8
fn i8x4(w: u32) -> vec4<f32> {
  let v = bitcast<i32>(w);
  return vec4<f32>(f32((v << 24u) >> 24u), f32((v << 16u) >> 24u), f32((v << 8u) >> 24u), f32(v >> 24u));
}
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { return i8x4(gate_up[(r * kp + c) >> 2u]) * gu_scales[r * (kp / p.group) + c / p.group]; }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { return i8x4(down[(r * kp + c) >> 2u]) * dn_scales[r * (kp / p.group) + c / p.group]; }
#endif
#if FMT_I4
fn i4x4(w: u32, sh: u32) -> vec4<f32> {
  let v = w >> sh;
  return vec4<f32>(f32(i32(v & 15u) - 8), f32(i32((v >> 4u) & 15u) - 8), f32(i32((v >> 8u) & 15u) - 8), f32(i32((v >> 12u) & 15u) - 8));
}
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return i4x4(gate_up[i >> 3u], (i & 7u) * 4u) * gu_scales[r * (kp / p.group) + c / p.group]; }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return i4x4(down[i >> 3u], (i & 7u) * 4u) * dn_scales[r * (kp / p.group) + c / p.group]; }
#endif

#if !BLOCKED
// Lanes variant (GPUs): a workgroup is R rows x KS lanes splitting the columns; partial sums meet in
// workgroup memory in a fixed order.
const TILE: u32 = 8u;
const R: u32 = 8u;
const KS: u32 = 8u;
const WG: u32 = 64u; // R * KS
var<workgroup> red: array<f32, 1024>; // [WG][2 * TILE]
var<workgroup> slot: array<u32, TILE>;
var<workgroup> wt: array<f32, TILE>;
// Four consecutive f32 of src starting at o, zero past `left` valid elements.
fn x4(o: u32, left: u32) -> vec4<f32> {
  var v = vec4<f32>(x[o], 0.0, 0.0, 0.0);
  if (left > 1u) { v.y = x[o + 1u]; }
  if (left > 2u) { v.z = x[o + 2u]; }
  if (left > 3u) { v.w = x[o + 3u]; }
  return v;
}
fn h4(o: u32, left: u32) -> vec4<f32> {
  var v = vec4<f32>(work[o], 0.0, 0.0, 0.0);
  if (left > 1u) { v.y = work[o + 1u]; }
  if (left > 2u) { v.z = work[o + 2u]; }
  if (left > 3u) { v.w = work[o + 3u]; }
  return v;
}

fn load_tile(t: u32, lid: u32) -> vec2<u32> {
  var tl = tiles[t];
  if (tl.x < p.eBase || tl.x >= p.eEnd) { tl.z = 0u; } // another chunk's expert: nothing to do
  tl.x -= p.eBase;
  if (lid < tl.z) {
    let it = list[tl.y + lid];
    slot[lid] = it.x;
    wt[lid] = bitcast<f32>(it.y);
  }
  return tl.xz;
}

@compute @workgroup_size(WG)
fn ffn_gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tl = load_tile(wid.y, lid);
  let e = tl.x;
  let cnt = tl.y;
  workgroupBarrier();
  let r = lid / KS;
  let lane = lid % KS;
  let i = wid.x * R + r;
  var ag: array<f32, TILE>;
  var au: array<f32, TILE>;
  if (i < p.I && cnt > 0u) {
    let rg = e * 2u * p.I + i;
    for (var c = lane * 4u; c < p.H; c += KS * 4u) {
      let wg = gu4(rg, c, p.kPadH);
      let wu = gu4(rg + p.I, c, p.kPadH);
      for (var n = 0u; n < cnt; n++) {
        let xv = x4((slot[n] / p.kMax) * p.H + c, p.H - c);
        ag[n] += dot(wg, xv);
        au[n] += dot(wu, xv);
      }
    }
  }
  for (var n = 0u; n < TILE; n++) {
    red[lid * 2u * TILE + n] = ag[n];
    red[lid * 2u * TILE + TILE + n] = au[n];
  }
  workgroupBarrier();
  if (lane == 0u && i < p.I) {
    for (var n = 0u; n < cnt; n++) {
      var a = 0.0;
      var u = 0.0;
      for (var l = 0u; l < KS; l++) {
        a += red[(lid + l) * 2u * TILE + n];
        u += red[(lid + l) * 2u * TILE + TILE + n];
      }
      work[p.hOff + slot[n] * p.I + i] = a / (1.0 + exp(-a)) * u;
    }
  }
}

@compute @workgroup_size(WG)
fn ffn_down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tl = load_tile(wid.y, lid);
  let e = tl.x;
  let cnt = tl.y;
  workgroupBarrier();
  let r = lid / KS;
  let lane = lid % KS;
  let o = wid.x * R + r;
  var acc: array<f32, TILE>;
  if (o < p.H && cnt > 0u) {
    let rd = e * p.H + o;
    for (var c = lane * 4u; c < p.I; c += KS * 4u) {
      let wd = dn4(rd, c, p.kPadI);
      for (var n = 0u; n < cnt; n++) {
        acc[n] += dot(wd, h4(p.hOff + slot[n] * p.I + c, p.I - c));
      }
    }
  }
  for (var n = 0u; n < TILE; n++) { red[lid * 2u * TILE + n] = acc[n]; }
  workgroupBarrier();
  if (lane == 0u && o < p.H) {
    for (var n = 0u; n < cnt; n++) {
      var s = 0.0;
      for (var l = 0u; l < KS; l++) { s += red[(lid + l) * 2u * TILE + n]; }
      work[slot[n] * p.H + o] = wt[n] * s;
    }
  }
}
#endif

#if BLOCKED
// Blocked variant (CPU emulators, see src/kernels/variants.ts): invocation = 4 rows over the whole
// reduction, tokens of the tile 4 at a time then one at a time, every partial sum in registers; no
// workgroup memory, no barriers. V4 (H and I multiples of 4): activations and work as vec4.
override WGB: u32 = 16u;

// Columns c..c+3 of token row `row` of x, zero past H.
fn xq(row: u32, c: u32) -> vec4<f32> {
#if V4
  return x[(row * p.H + c) >> 2u];
#else
  let o = row * p.H + c;
  let left = p.H - c;
  var v = vec4<f32>(x[o], 0.0, 0.0, 0.0);
  if (left > 1u) { v.y = x[o + 1u]; }
  if (left > 2u) { v.z = x[o + 2u]; }
  if (left > 3u) { v.w = x[o + 3u]; }
  return v;
#endif
}
// Intermediates c..c+3 of slot s, zero past I.
fn hq(s: u32, c: u32) -> vec4<f32> {
#if V4
  return work[(p.hOff + s * p.I + c) >> 2u];
#else
  let o = p.hOff + s * p.I + c;
  let left = p.I - c;
  var v = vec4<f32>(work[o], 0.0, 0.0, 0.0);
  if (left > 1u) { v.y = work[o + 1u]; }
  if (left > 2u) { v.z = work[o + 2u]; }
  if (left > 3u) { v.w = work[o + 3u]; }
  return v;
#endif
}
// work[o + j] = v[j] for j < 4 with j < left.
fn put4(o: u32, left: u32, v: vec4<f32>) {
#if V4
  work[o >> 2u] = v;
#else
  work[o] = v.x;
  if (left > 1u) { work[o + 1u] = v.y; }
  if (left > 2u) { work[o + 2u] = v.z; }
  if (left > 3u) { work[o + 3u] = v.w; }
#endif
}
fn silu4(a: vec4<f32>) -> vec4<f32> { return a / (vec4<f32>(1.0) + exp(-a)); }
fn dot4(v: vec4<f32>, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(dot(v, a), dot(v, b), dot(v, c), dot(v, d));
}

@compute @workgroup_size(WGB)
fn ffn_gate_up(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tl = tiles[wid.y];
  let i0 = (wid.x * WGB + lid) * 4u;
  if (tl.x < p.eBase || tl.x >= p.eEnd || i0 >= p.I) { return; }
  let il = p.I - 1u;
  let g = (tl.x - p.eBase) * 2u * p.I;
  let ga = g + i0; let gb = g + min(i0 + 1u, il); let gc = g + min(i0 + 2u, il); let gd = g + min(i0 + 3u, il);
  let kp = p.kPadH;
  let left = p.I - i0;
  var n = 0u;
  for (; n + 4u <= tl.z; n += 4u) {
    let s0 = list[tl.y + n].x; let s1 = list[tl.y + n + 1u].x; let s2 = list[tl.y + n + 2u].x; let s3 = list[tl.y + n + 3u].x;
    let r0 = s0 / p.kMax; let r1 = s1 / p.kMax; let r2 = s2 / p.kMax; let r3 = s3 / p.kMax;
    var g0 = vec4<f32>(0.0); var g1 = vec4<f32>(0.0); var g2 = vec4<f32>(0.0); var g3 = vec4<f32>(0.0);
    var u0 = vec4<f32>(0.0); var u1 = vec4<f32>(0.0); var u2 = vec4<f32>(0.0); var u3 = vec4<f32>(0.0);
    for (var c = 0u; c < p.H; c += 4u) {
      let wa = gu4(ga, c, kp); let wb = gu4(gb, c, kp); let wc = gu4(gc, c, kp); let wd = gu4(gd, c, kp);
      let x0 = xq(r0, c); let x1 = xq(r1, c); let x2 = xq(r2, c); let x3 = xq(r3, c);
      g0 += dot4(x0, wa, wb, wc, wd); g1 += dot4(x1, wa, wb, wc, wd);
      g2 += dot4(x2, wa, wb, wc, wd); g3 += dot4(x3, wa, wb, wc, wd);
      let va = gu4(ga + p.I, c, kp); let vb = gu4(gb + p.I, c, kp); let vc = gu4(gc + p.I, c, kp); let vd = gu4(gd + p.I, c, kp);
      u0 += dot4(x0, va, vb, vc, vd); u1 += dot4(x1, va, vb, vc, vd);
      u2 += dot4(x2, va, vb, vc, vd); u3 += dot4(x3, va, vb, vc, vd);
    }
    put4(p.hOff + s0 * p.I + i0, left, silu4(g0) * u0);
    put4(p.hOff + s1 * p.I + i0, left, silu4(g1) * u1);
    put4(p.hOff + s2 * p.I + i0, left, silu4(g2) * u2);
    put4(p.hOff + s3 * p.I + i0, left, silu4(g3) * u3);
  }
  for (; n < tl.z; n++) {
    let s0 = list[tl.y + n].x;
    let r0 = s0 / p.kMax;
    var g0 = vec4<f32>(0.0);
    var u0 = vec4<f32>(0.0);
    for (var c = 0u; c < p.H; c += 4u) {
      let x0 = xq(r0, c);
      g0 += dot4(x0, gu4(ga, c, kp), gu4(gb, c, kp), gu4(gc, c, kp), gu4(gd, c, kp));
      u0 += dot4(x0, gu4(ga + p.I, c, kp), gu4(gb + p.I, c, kp), gu4(gc + p.I, c, kp), gu4(gd + p.I, c, kp));
    }
    put4(p.hOff + s0 * p.I + i0, left, silu4(g0) * u0);
  }
}

@compute @workgroup_size(WGB)
fn ffn_down(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tl = tiles[wid.y];
  let o0 = (wid.x * WGB + lid) * 4u;
  if (tl.x < p.eBase || tl.x >= p.eEnd || o0 >= p.H) { return; }
  let ol = p.H - 1u;
  let d = (tl.x - p.eBase) * p.H;
  let da = d + o0; let db = d + min(o0 + 1u, ol); let dc = d + min(o0 + 2u, ol); let dd = d + min(o0 + 3u, ol);
  let kp = p.kPadI;
  let left = p.H - o0;
  var n = 0u;
  for (; n + 4u <= tl.z; n += 4u) {
    let e0 = list[tl.y + n]; let e1 = list[tl.y + n + 1u]; let e2 = list[tl.y + n + 2u]; let e3 = list[tl.y + n + 3u];
    var a0 = vec4<f32>(0.0); var a1 = vec4<f32>(0.0); var a2 = vec4<f32>(0.0); var a3 = vec4<f32>(0.0);
    for (var c = 0u; c < p.I; c += 4u) {
      let wa = dn4(da, c, kp); let wb = dn4(db, c, kp); let wc = dn4(dc, c, kp); let wd = dn4(dd, c, kp);
      a0 += dot4(hq(e0.x, c), wa, wb, wc, wd);
      a1 += dot4(hq(e1.x, c), wa, wb, wc, wd);
      a2 += dot4(hq(e2.x, c), wa, wb, wc, wd);
      a3 += dot4(hq(e3.x, c), wa, wb, wc, wd);
    }
    put4(e0.x * p.H + o0, left, bitcast<f32>(e0.y) * a0);
    put4(e1.x * p.H + o0, left, bitcast<f32>(e1.y) * a1);
    put4(e2.x * p.H + o0, left, bitcast<f32>(e2.y) * a2);
    put4(e3.x * p.H + o0, left, bitcast<f32>(e3.y) * a3);
  }
  for (; n < tl.z; n++) {
    let e0 = list[tl.y + n];
    var a0 = vec4<f32>(0.0);
    for (var c = 0u; c < p.I; c += 4u) {
      a0 += dot4(hq(e0.x, c), dn4(da, c, kp), dn4(db, c, kp), dn4(dc, c, kp), dn4(dd, c, kp));
    }
    put4(e0.x * p.H + o0, left, bitcast<f32>(e0.y) * a0);
  }
}
#endif
