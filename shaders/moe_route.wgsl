// Routing policies in ONE workgroup (no CPU read-back): per-token top-k (baseline, reduced top-k),
// XShare batch reduction, Alloc-T, and the mass policy (a set S from the baseline top-k's gating mass, then
// refill / drop / re-route to the most similar expert in S). The mass code is compiled only with the MASS
// define (binding 8 exists only then): software GPUs compile a large kernel slowly, baseline steps need
// none of it. Writes ids/weights [T, kMax] (0xFFFFFFFF / 0 in unused slots) and the
// number of distinct experts used into counters[counterIndex]. Semantics: src/routing/ (the reference).
// Selection order: key desc, ties -> lower expert index; key = g (+ bias[e] when hasBias).
// Token scope (src/routing/scope.ts): with scope != 0 only rows t with scratch[maskOff + t] != 0 are under
// the policy (decode rows); the others (prompt chunks) get the baseline top-k and are left out of every
// batch statistic; scope 2 also keeps their baseline experts in the batch set (chosen).

struct Params {
  T: u32, E: u32, kMax: u32, kSel: u32,
  policy: u32,     // 0 per-token top-kSel, 1 xshare, 2 alloc_t, 3 mass
  mode: u32,       // 0 softmax, 1 topk_softmax, 2 sigmoid
  norm: u32, hasBias: u32,
  scale: f32, budget: u32, fraction: f32, tau: f32,   // budget 0xFFFFFFFF = none; fraction/tau <= 0 = none
  kAvg: f32, counterIndex: u32,
  reroute: u32,    // mass: 0 refill (top-k inside S), 1 drop (keep baseline experts in S), 2 similar
  scope: u32,      // 0 every row under the policy, 1 masked rows only, 2 masked + union
  maskOff: u32,    // word offset of the [T] row mask in scratch (scope != 0)
  nPol: u32,       // rows under the policy (T when scope 0): Alloc-T's total
  pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;   // [2T], row mask at maskOff
@group(0) @binding(6) var<storage, read_write> counters: array<u32>;
@group(0) @binding(7) var<uniform> p: Params;
#if MASS
@group(0) @binding(8) var<storage, read> sim: array<f32>;   // [E, E] mass reroute 'similar' (row = expert replaced)
#endif

const NONE: u32 = 0xffffffffu;
const MAXE: u32 = 256u;
override WG: u32 = 256u;

var<workgroup> colsum: array<f32, MAXE>;
var<workgroup> warm: array<atomic<u32>, MAXE>;
var<workgroup> used: array<atomic<u32>, MAXE>;
var<workgroup> chosen: array<u32, MAXE>;
var<workgroup> extra: array<atomic<u32>, MAXE>;   // baseline experts of rows outside the policy (scope 2)
var<workgroup> shared_b: u32;
var<workgroup> shared_nwarm: u32;
var<workgroup> shared_total: f32;

fn key(t: u32, e: u32) -> f32 {
  var s = g[t * p.E + e];
  if (p.hasBias != 0u) { s += bias[e]; }
  return s;
}

// Row t is under the policy.
fn in_pol(t: u32) -> bool {
  return p.scope == 0u || scratch[p.maskOff + t] != 0u;
}

// (ka, a) strictly before (kb, b) in the selection order.
fn before(ka: f32, a: u32, kb: f32, b: u32) -> bool {
  return ka > kb || (ka == kb && a < b);
}

// Token t's top-kk experts (restricted to chosen[] when masked) into ids[t, 0..n); returns n.
fn topk_token(t: u32, kk: u32, masked: bool) -> u32 {
  var lastK = 0.0;
  var lastI = 0u;
  var n = 0u;
  for (var j = 0u; j < kk; j++) {
    var best = NONE;
    var bk = 0.0;
    for (var e = 0u; e < p.E; e++) {
      if (masked && chosen[e] == 0u) { continue; }
      let s = key(t, e);
      if (s != s) { continue; }
      if (j > 0u && !before(lastK, lastI, s, e)) { continue; }
      if (best == NONE || before(s, e, bk, best)) { best = e; bk = s; }
    }
    if (best == NONE) { break; }
    ids[t * p.kMax + j] = best;
    lastK = bk;
    lastI = best;
    n++;
  }
  return n;
}

// Weights of token t's first n slots by the architecture's rule; sentinels after; marks used experts.
fn finish_token(t: u32, n: u32) {
  let o = t * p.kMax;
  var s = 0.0;
  if (p.mode == 1u) {
    var m = -3.0e38;
    for (var j = 0u; j < n; j++) { m = max(m, logits[t * p.E + ids[o + j]]); }
    for (var j = 0u; j < n; j++) {
      let w = exp(logits[t * p.E + ids[o + j]] - m);
      weights[o + j] = w;
      s += w;
    }
  } else {
    for (var j = 0u; j < n; j++) {
      let w = g[t * p.E + ids[o + j]];
      weights[o + j] = w;
      s += w;
    }
  }
  var f = p.scale;
  if ((p.mode == 1u || p.norm != 0u) && s > 0.0) { f = p.scale / s; }
  for (var j = 0u; j < p.kMax; j++) {
    if (j < n) {
      weights[o + j] = weights[o + j] * f;
      atomicStore(&used[ids[o + j]], 1u);
    } else {
      ids[o + j] = NONE;
      weights[o + j] = 0.0;
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var e = lid; e < MAXE; e += WG) {
    colsum[e] = 0.0;
    atomicStore(&warm[e], 0u);
    atomicStore(&used[e], 0u);
    chosen[e] = 0u;
    atomicStore(&extra[e], 0u);
  }
  workgroupBarrier();

  let batchSet = p.policy == 1u || p.policy == 3u;
  if (batchSet) {
    // The warm-up set and the baseline union (candidate pool, in used[]); the baseline ids stay in ids
    // with their count in scratch[t] (the mass policy reads them back).
    for (var t = lid; t < p.T; t += WG) {
      let n = topk_token(t, p.kSel, false);
      scratch[t] = n;
      if (!in_pol(t)) {
        for (var j = 0u; j < n; j++) { atomicStore(&extra[ids[t * p.kMax + j]], 1u); }
        continue;
      }
      if (n > 0u) { atomicStore(&warm[ids[t * p.kMax]], 1u); }
      for (var j = 0u; j < n; j++) { atomicStore(&used[ids[t * p.kMax + j]], 1u); }
    }
  }
  storageBarrier();
  workgroupBarrier();
  if (batchSet) {
    // Column sums in token order, f32: xshare over all scores, mass over each token's baseline top-k only.
    for (var e = lid; e < p.E; e += WG) {
      var s = 0.0;
      for (var t = 0u; t < p.T; t++) {
        if (!in_pol(t)) { continue; }
#if MASS
        if (p.policy == 3u) {
          var inTop = false;
          for (var j = 0u; j < scratch[t]; j++) { if (ids[t * p.kMax + j] == e) { inTop = true; } }
          if (!inTop) { continue; }
        }
#endif
        s += g[t * p.E + e];
      }
      colsum[e] = s;
    }
  }
  workgroupBarrier();
  if (batchSet) {
    if (lid == 0u) {
      var d0 = 0u;
      var nw = 0u;
      var total = 0.0;
      for (var e = 0u; e < p.E; e++) {
        d0 += atomicLoad(&used[e]);
        nw += atomicLoad(&warm[e]);
        total += colsum[e];
      }
      var b = max(p.budget, 1u);
      if (p.fraction > 0.0) { b = min(b, max(1u, u32(ceil(p.fraction * f32(d0) - 1e-6)))); }
      shared_b = b;
      shared_nwarm = nw;
      shared_total = total;
    }
  }
  workgroupBarrier();
  if (batchSet) {
    // Rank of every pool expert in the order (warm first, column sum desc, lower index); S = rank < B.
    for (var e = lid; e < p.E; e += WG) {
      let inPool = atomicLoad(&used[e]) != 0u;
      let we = atomicLoad(&warm[e]);
      var rank = 0u;
      var massBefore = 0.0;
      for (var f = 0u; f < p.E; f++) {
        if (f == e || atomicLoad(&used[f]) == 0u) { continue; }
        let wf = atomicLoad(&warm[f]);
        if (wf > we || (wf == we && before(colsum[f], f, colsum[e], e))) {
          rank++;
          massBefore += colsum[f];
        }
      }
      var ok = inPool && rank < shared_b;
      if (p.tau > 0.0 && rank >= shared_nwarm && massBefore >= p.tau * shared_total) { ok = false; }
      if (p.scope == 2u && atomicLoad(&extra[e]) != 0u) { ok = true; }
      chosen[e] = select(0u, 1u, ok);
    }
  }
  workgroupBarrier();
  for (var e = lid; e < MAXE; e += WG) { atomicStore(&used[e], 0u); }
  workgroupBarrier();

  if (p.policy == 0u) {
    for (var t = lid; t < p.T; t += WG) { finish_token(t, topk_token(t, select(p.kMax, p.kSel, in_pol(t)), false)); }
  } else if (p.policy == 1u || (p.policy == 3u && p.reroute == 0u)) {
    for (var t = lid; t < p.T; t += WG) { finish_token(t, topk_token(t, p.kSel, in_pol(t))); }
#if MASS
  } else if (p.policy == 3u && p.reroute == 1u) {
    // drop: the token's baseline experts that are in S, in order; none left -> top-k inside S.
    for (var t = lid; t < p.T; t += WG) {
      if (!in_pol(t)) { finish_token(t, scratch[t]); continue; }
      let o = t * p.kMax;
      var n = 0u;
      for (var j = 0u; j < scratch[t]; j++) {
        let e = ids[o + j];
        if (chosen[e] != 0u) { ids[o + n] = e; n++; }
      }
      if (n == 0u) { n = topk_token(t, p.kSel, true); }
      finish_token(t, n);
    }
  } else if (p.policy == 3u) {
    // similar: baseline weights, then each slot outside S takes its most similar expert in S (ties -> lower
    // index); weights unchanged, duplicates add up (SERE's rule).
    for (var t = lid; t < p.T; t += WG) {
      let o = t * p.kMax;
      finish_token(t, scratch[t]);
      if (!in_pol(t)) { continue; }
      for (var j = 0u; j < scratch[t]; j++) {
        let e = ids[o + j];
        if (chosen[e] != 0u) { continue; }
        var best = NONE;
        var bs = 0.0;
        for (var f = 0u; f < p.E; f++) {
          if (chosen[f] == 0u) { continue; }
          let sv = sim[e * p.E + f];
          if (best == NONE || sv > bs) { best = f; bs = sv; }
        }
        ids[o + j] = best;
      }
    }
    workgroupBarrier();
    // used[] marks from finish_token include the replaced experts: recount from ids
    for (var e = lid; e < MAXE; e += WG) { atomicStore(&used[e], 0u); }
    storageBarrier();
    workgroupBarrier();
    for (var i = lid; i < p.T * p.kMax; i += WG) {
      let e = ids[i];
      if (e != NONE) { atomicStore(&used[e], 1u); }
    }
#endif
  } else {
    for (var t = lid; t < p.T; t += WG) { scratch[t] = topk_token(t, p.kMax, false); }
  }
  storageBarrier();
  workgroupBarrier();
  if (p.policy == 2u) {
    // Alloc-T: slot 0 always kept; candidate (t, j>=1) kept when its rank among all such candidates
    // (key desc, token asc, slot asc) is < M = round(kAvg*T) - T. Kept candidates form a prefix per token.
    let M = u32(max(0.0, floor(p.kAvg * f32(p.nPol) + 0.5) - f32(p.nPol)));
    for (var t = lid; t < p.T; t += WG) {
      let nt = scratch[t];
      var n = min(1u, nt);
      if (!in_pol(t)) { n = nt; }
      for (var j = 1u; j < nt && in_pol(t); j++) {
        let s = key(t, ids[t * p.kMax + j]);
        var rank = 0u;
        for (var u = 0u; u < p.T; u++) {
          if (!in_pol(u)) { continue; }
          let nu = scratch[u];
          for (var i = 1u; i < nu; i++) {
            let su = key(u, ids[u * p.kMax + i]);
            if (su > s || (su == s && (u < t || (u == t && i < j)))) { rank++; }
          }
        }
        if (rank >= M) { break; }
        n++;
      }
      scratch[p.T + t] = n;
    }
  }
  storageBarrier();
  workgroupBarrier();
  if (p.policy == 2u) {
    for (var t = lid; t < p.T; t += WG) { finish_token(t, scratch[p.T + t]); }
  }
  workgroupBarrier();
  if (lid == 0u) {
    var d = 0u;
    for (var e = 0u; e < p.E; e++) { d += atomicLoad(&used[e]); }
    counters[p.counterIndex] = d;
  }
}
