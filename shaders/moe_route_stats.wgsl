// Routing statistics of one MoE layer (one workgroup, reads only): the policy's expert set from its final
// ids, the baseline top-k's expert set on the same scores, and the gating mass kept. Out, at word offset
// p.out of `stats` (ROUTE_STATS_WORDS = 20 words):
//   [0, 8) policy set bitmask, [8, 16) baseline set bitmask, [16] policy distinct, [17] baseline distinct,
//   [18] f32 mass kept = sum_t sum_{e in token t's distinct experts} g[t,e],
//   [19] f32 baseline mass = sum_t sum_{e in token t's baseline top-k} g[t,e]  (partial sums per thread,
//   added in thread order: deterministic).
// Selection order of the baseline: key desc, ties -> lower index (as in moe_route.wgsl); key = g (+ bias).

struct Params { T: u32, E: u32, kMax: u32, hasBias: u32, out: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> stats: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

const NONE: u32 = 0xffffffffu;
override WG: u32 = 256u;
var<workgroup> pmask: array<atomic<u32>, 8>;
var<workgroup> bmask: array<atomic<u32>, 8>;
var<workgroup> num: array<f32, 256>;
var<workgroup> den: array<f32, 256>;

fn key(t: u32, e: u32) -> f32 {
  var s = g[t * p.E + e];
  if (p.hasBias != 0u) { s += bias[e]; }
  return s;
}

fn before(ka: f32, a: u32, kb: f32, b: u32) -> bool {
  return ka > kb || (ka == kb && a < b);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid < 8u) {
    atomicStore(&pmask[lid], 0u);
    atomicStore(&bmask[lid], 0u);
  }
  workgroupBarrier();
  var sn = 0.0;
  var sd = 0.0;
  for (var t = lid; t < p.T; t += WG) {
    // baseline top-k of token t
    var lastK = 0.0;
    var lastI = 0u;
    for (var j = 0u; j < p.kMax; j++) {
      var best = NONE;
      var bk = 0.0;
      for (var e = 0u; e < p.E; e++) {
        let s = key(t, e);
        if (s != s) { continue; }
        if (j > 0u && !before(lastK, lastI, s, e)) { continue; }
        if (best == NONE || before(s, e, bk, best)) { best = e; bk = s; }
      }
      if (best == NONE) { break; }
      atomicOr(&bmask[best >> 5u], 1u << (best & 31u));
      sd += g[t * p.E + best];
      lastK = bk;
      lastI = best;
    }
    // the policy's distinct experts of token t
    let o = t * p.kMax;
    for (var j = 0u; j < p.kMax; j++) {
      let e = ids[o + j];
      if (e == NONE) { continue; }
      var dup = false;
      for (var i = 0u; i < j; i++) { if (ids[o + i] == e) { dup = true; } }
      if (dup) { continue; }
      atomicOr(&pmask[e >> 5u], 1u << (e & 31u));
      sn += g[t * p.E + e];
    }
  }
  num[lid] = sn;
  den[lid] = sd;
  workgroupBarrier();
  if (lid == 0u) {
    var pn = 0u;
    var bn = 0u;
    for (var w = 0u; w < 8u; w++) {
      let a = atomicLoad(&pmask[w]);
      let b = atomicLoad(&bmask[w]);
      stats[p.out + w] = a;
      stats[p.out + 8u + w] = b;
      pn += countOneBits(a);
      bn += countOneBits(b);
    }
    var tn = 0.0;
    var td = 0.0;
    for (var i = 0u; i < WG; i++) {
      tn += num[i];
      td += den[i];
    }
    stats[p.out + 16u] = pn;
    stats[p.out + 17u] = bn;
    stats[p.out + 18u] = bitcast<u32>(tn);
    stats[p.out + 19u] = bitcast<u32>(td);
  }
}
