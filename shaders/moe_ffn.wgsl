// Grouped gated expert FFN: one workgroup per (active expert, tile of <= TILE of its tokens), launched
// with dispatchWorkgroupsIndirect from moe_lists' meta, so inactive experts cost nothing.
//   h = silu(x Wg[e]^T) * (x Wu[e]^T)  [I];  y = h Wd[e]^T  [H];  partial[slot] = weight * y
// gateUp: [E, 2I, kPadH] rows (gate rows then up rows per expert), down: [E, H, kPadI] rows; rows padded
// like src/quant/pack.ts (f32 or f16 pairs in u32 words, W_F16). hbuf: [T*kMax, I] scratch,
// partial: [T*kMax, H] written only for used slots (moe_combine skips the others).

struct Params { H: u32, I: u32, kMax: u32, kPadH: u32, kPadI: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
#if W_F16
@group(0) @binding(1) var<storage, read> gate_up: array<u32>;
@group(0) @binding(2) var<storage, read> down: array<u32>;
#else
@group(0) @binding(1) var<storage, read> gate_up: array<f32>;
@group(0) @binding(2) var<storage, read> down: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> list: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read> tiles: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> hbuf: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

const TILE: u32 = 8u;
override WG: u32 = 64u;
var<workgroup> slot: array<u32, TILE>;
var<workgroup> wt: array<f32, TILE>;

// Two consecutive elements starting at even flat index i (the second is 0 past the row's padding).
#if W_F16
fn gu2(i: u32) -> vec2<f32> { return unpack2x16float(gate_up[i >> 1u]); }
fn dn2(i: u32) -> vec2<f32> { return unpack2x16float(down[i >> 1u]); }
#else
fn gu2(i: u32) -> vec2<f32> { return vec2<f32>(gate_up[i], gate_up[i + 1u]); }
fn dn2(i: u32) -> vec2<f32> { return vec2<f32>(down[i], down[i + 1u]); }
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tl = tiles[wid.x];
  let e = tl.x;
  let cnt = tl.z;
  if (lid < cnt) {
    let it = list[tl.y + lid];
    slot[lid] = it.x;
    wt[lid] = bitcast<f32>(it.y);
  }
  workgroupBarrier();
  // Gate/up: one thread per intermediate row, all the tile's tokens at once (each weight read once).
  // kPadH is even (a multiple of 8), so pairs never straddle rows; odd H reads one padding zero.
  for (var i = lid; i < p.I; i += WG) {
    var ag: array<f32, TILE>;
    var au: array<f32, TILE>;
    let rg = (e * 2u * p.I + i) * p.kPadH;
    let ru = (e * 2u * p.I + p.I + i) * p.kPadH;
    for (var h = 0u; h < p.H; h += 2u) {
      let wg = gu2(rg + h);
      let wu = gu2(ru + h);
      let two = h + 1u < p.H;
      for (var n = 0u; n < cnt; n++) {
        let xo = (slot[n] / p.kMax) * p.H + h;
        var xv = vec2<f32>(x[xo], 0.0);
        if (two) { xv.y = x[xo + 1u]; }
        ag[n] += dot(wg, xv);
        au[n] += dot(wu, xv);
      }
    }
    for (var n = 0u; n < cnt; n++) {
      let a = ag[n];
      hbuf[slot[n] * p.I + i] = a / (1.0 + exp(-a)) * au[n];
    }
  }
  storageBarrier();
  workgroupBarrier();
  // Down: one thread per output channel.
  for (var o = lid; o < p.H; o += WG) {
    var acc: array<f32, TILE>;
    let rd = (e * p.H + o) * p.kPadI;
    for (var i = 0u; i < p.I; i += 2u) {
      let wd = dn2(rd + i);
      let two = i + 1u < p.I;
      for (var n = 0u; n < cnt; n++) {
        let ho = slot[n] * p.I + i;
        var hv = vec2<f32>(hbuf[ho], 0.0);
        if (two) { hv.y = hbuf[ho + 1u]; }
        acc[n] += dot(wd, hv);
      }
    }
    for (var n = 0u; n < cnt; n++) { partial[slot[n] * p.H + o] = wt[n] * acc[n]; }
  }
}
