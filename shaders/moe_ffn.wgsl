// Grouped gated expert FFN over all active experts in two indirect dispatches (args from moe_lists' info
// buffer, so inactive experts cost nothing): entry ffn_gate_up, workgroup (chunk of R intermediate rows,
// tile of <= TILE tokens of one expert): h = silu(x Wg[e]^T) * (x Wu[e]^T); entry ffn_down, workgroup (chunk
// of R output channels, tile): partial[slot] = weight * (h Wd[e]^T). Each workgroup is R rows x KS lanes;
// lanes split the row's columns (coalesced reads), then a fixed-order reduction (deterministic).
// gateUp: rows [E*2I] (gate rows then up rows per expert) of kPadH columns, down: rows [E*H] of kPadI
// columns, in the row-padded layouts of src/quant/pack.ts: f32, f16 (W_F16), int8 (W_I8) or int4 (W_I4)
// with per-group f32 scales (group a multiple of 8, so 4 aligned elements share one scale).
// work: f32 [T*kMax, H] partial outputs (written only for used slots; moe_combine skips the others),
// then f32 [T*kMax, I] gated intermediates from word hOff.

struct Params { H: u32, I: u32, kMax: u32, kPadH: u32, kPadI: u32, group: u32, hOff: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
#if W_F32
@group(0) @binding(2) var<storage, read> gate_up: array<f32>;
@group(0) @binding(3) var<storage, read> down: array<f32>;
#else
@group(0) @binding(2) var<storage, read> gate_up: array<u32>;
@group(0) @binding(3) var<storage, read> down: array<u32>;
#endif
@group(0) @binding(4) var<storage, read> list: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> work: array<f32>;
#if W_QUANT
@group(0) @binding(7) var<storage, read> gu_scales: array<f32>;
@group(0) @binding(8) var<storage, read> dn_scales: array<f32>;
#endif

const TILE: u32 = 8u;
const R: u32 = 8u;
const KS: u32 = 8u;
const WG: u32 = 64u; // R * KS
var<workgroup> red: array<f32, 1024>; // [WG][2 * TILE]
var<workgroup> slot: array<u32, TILE>;
var<workgroup> wt: array<f32, TILE>;

// Elements c..c+3 (c a multiple of 4) of row r of a matrix with row length kp.
#if W_F32
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return vec4<f32>(gate_up[i], gate_up[i + 1u], gate_up[i + 2u], gate_up[i + 3u]); }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return vec4<f32>(down[i], down[i + 1u], down[i + 2u], down[i + 3u]); }
#endif
#if W_F16
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = (r * kp + c) >> 1u; return vec4<f32>(unpack2x16float(gate_up[i]), unpack2x16float(gate_up[i + 1u])); }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = (r * kp + c) >> 1u; return vec4<f32>(unpack2x16float(down[i]), unpack2x16float(down[i + 1u])); }
#endif
#if W_I8
fn i8x4(w: u32) -> vec4<f32> {
  let v = bitcast<i32>(w);
  return vec4<f32>(f32((v << 24u) >> 24u), f32((v << 16u) >> 24u), f32((v << 8u) >> 24u), f32(v >> 24u));
}
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { return i8x4(gate_up[(r * kp + c) >> 2u]) * gu_scales[r * (kp / p.group) + c / p.group]; }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { return i8x4(down[(r * kp + c) >> 2u]) * dn_scales[r * (kp / p.group) + c / p.group]; }
#endif
#if W_I4
fn i4x4(w: u32, sh: u32) -> vec4<f32> {
  let v = w >> sh;
  return vec4<f32>(f32(i32(v & 15u) - 8), f32(i32((v >> 4u) & 15u) - 8), f32(i32((v >> 8u) & 15u) - 8), f32(i32((v >> 12u) & 15u) - 8));
}
fn gu4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return i4x4(gate_up[i >> 3u], (i & 7u) * 4u) * gu_scales[r * (kp / p.group) + c / p.group]; }
fn dn4(r: u32, c: u32, kp: u32) -> vec4<f32> { let i = r * kp + c; return i4x4(down[i >> 3u], (i & 7u) * 4u) * dn_scales[r * (kp / p.group) + c / p.group]; }
#endif

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
  let tl = tiles[t];
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
  if (i < p.I) {
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
  if (o < p.H) {
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
