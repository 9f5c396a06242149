// Per-expert token lists from ids/weights [T, kMax] in ONE workgroup: counts, exclusive offsets, a flat
// list of (slot = t*kMax + j, bitcast weight) grouped by expert in (token, slot) order (deterministic),
// the compacted active-expert list, the (expert, token tile) work table and the indirect dispatch args.
//   ecount: [0, E) counts, [E, 2E) offsets
//   info:   [0..3) indirect args of moe_ffn gate_up (chunksI, tiles, 1), [3] active count, [4] list
//           length, [5..8) indirect args of moe_ffn down (chunksH, tiles, 1), [8, 8 + E) active experts
//   tiles:  vec4(expert, start in list, token count <= TILE, 0) per FFN workgroup

struct Params { T: u32, E: u32, kMax: u32, tile: u32, chunksI: u32, chunksH: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> ecount: array<u32>;
@group(0) @binding(3) var<storage, read_write> list: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> tiles: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> info: array<u32>;
@group(0) @binding(6) var<uniform> p: Params;

const NONE: u32 = 0xffffffffu;
override WG: u32 = 256u;
var<workgroup> cnt: array<u32, 256>;
var<workgroup> off: array<u32, 256>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = p.T * p.kMax;
  for (var e = lid; e < p.E; e += WG) {
    var c = 0u;
    for (var i = 0u; i < n; i++) { if (ids[i] == e) { c++; } }
    cnt[e] = c;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var o = 0u;
    var na = 0u;
    var nt = 0u;
    for (var e = 0u; e < p.E; e++) {
      let c = cnt[e];
      off[e] = o;
      ecount[e] = c;
      ecount[p.E + e] = o;
      if (c > 0u) {
        info[8u + na] = e;
        na++;
        for (var s = 0u; s < c; s += p.tile) {
          tiles[nt] = vec4<u32>(e, o + s, min(p.tile, c - s), 0u);
          nt++;
        }
      }
      o += c;
    }
    info[0] = p.chunksI;
    info[1] = nt;
    info[2] = 1u;
    info[3] = na;
    info[4] = o;
    info[5] = p.chunksH;
    info[6] = nt;
    info[7] = 1u;
  }
  workgroupBarrier();
  for (var e = lid; e < p.E; e += WG) {
    var pos = off[e];
    for (var i = 0u; i < n; i++) {
      if (ids[i] == e) {
        list[pos] = vec2<u32>(i, bitcast<u32>(weights[i]));
        pos++;
      }
    }
  }
}
