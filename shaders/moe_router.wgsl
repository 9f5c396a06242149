// Router scores g [T, E] from logits [T, E]: softmax over E (mode 0 softmax, 1 topk_softmax) or sigmoid
// (mode 2). One thread per token.

struct Params { T: u32, E: u32, mode: u32, pad: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> g: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = wg_linear(wid, nwg) * WG + lid;
  if (t >= p.T) { return; }
  let o = t * p.E;
  if (p.mode == 2u) {
    for (var e = 0u; e < p.E; e++) { g[o + e] = 1.0 / (1.0 + exp(-logits[o + e])); }
    return;
  }
  var m = logits[o];
  for (var e = 1u; e < p.E; e++) { m = max(m, logits[o + e]); }
  var s = 0.0;
  for (var e = 0u; e < p.E; e++) { s += exp(logits[o + e] - m); }
  let inv = 1.0 / s;
  for (var e = 0u; e < p.E; e++) { g[o + e] = exp(logits[o + e] - m) * inv; }
}
