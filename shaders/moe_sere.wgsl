// SERE re-routing in place on baseline ids [T, kMax] (one workgroup): primary set P = experts in any
// token's slots < S; a slot j >= S whose expert e is not in P becomes argmax_{p in P} sim[e, p] (ties ->
// lower index) unless threshold > 0 and that similarity < threshold. Weights are not touched; duplicate
// ids may appear. Rewrites counters[counterIndex] with the new distinct count. Reference: src/routing.
// Token scope (src/routing/scope.ts): with scope != 0 only rows t with mask[maskOff + t] != 0 take part
// (decode rows); the others keep their baseline ids, and with scope 2 their experts join P (read anyway).

struct Params { T: u32, E: u32, kMax: u32, S: u32, threshold: f32, counterIndex: u32, scope: u32, maskOff: u32 }

@group(0) @binding(0) var<storage, read_write> ids: array<u32>;
@group(0) @binding(1) var<storage, read> sim: array<f32>;   // [E, E] row = the expert being replaced
@group(0) @binding(2) var<storage, read_write> counters: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> mask: array<u32>;   // row mask at maskOff (scope != 0)

const NONE: u32 = 0xffffffffu;
override WG: u32 = 256u;
var<workgroup> prim: array<atomic<u32>, 256>;
var<workgroup> used: array<atomic<u32>, 256>;

fn in_pol(t: u32) -> bool {
  return p.scope == 0u || mask[p.maskOff + t] != 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < 256u; e += WG) {
    atomicStore(&prim[e], 0u);
    atomicStore(&used[e], 0u);
  }
  workgroupBarrier();
  let n = p.T * p.kMax;
  for (var i = lid; i < n; i += WG) {
    let id = ids[i];
    if (id == NONE) { continue; }
    if (in_pol(i / p.kMax)) {
      if (i % p.kMax < p.S) { atomicStore(&prim[id], 1u); }
    } else if (p.scope == 2u) {
      atomicStore(&prim[id], 1u);
    }
  }
  workgroupBarrier();
  for (var i = lid; i < n; i += WG) {
    var id = ids[i];
    if (id == NONE) { continue; }
    if (i % p.kMax >= p.S && atomicLoad(&prim[id]) == 0u && in_pol(i / p.kMax)) {
      var best = NONE;
      var bs = 0.0;
      for (var f = 0u; f < p.E; f++) {
        if (atomicLoad(&prim[f]) == 0u) { continue; }
        let s = sim[id * p.E + f];
        if (best == NONE || s > bs) { best = f; bs = s; }
      }
      if (best != NONE && !(p.threshold > 0.0 && bs < p.threshold)) {
        id = best;
        ids[i] = id;
      }
    }
    atomicStore(&used[id], 1u);
  }
  workgroupBarrier();
  if (lid == 0u) {
    var d = 0u;
    for (var e = 0u; e < p.E; e++) { d += atomicLoad(&used[e]); }
    counters[p.counterIndex] = d;
  }
}
