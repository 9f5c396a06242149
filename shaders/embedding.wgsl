// Embedding gather: out[t, :] = table[ids[t], :] * scale. One thread per output element.
// Out-of-range ids (>= vocab) write zeros. F16_TABLE: the table holds packed f16 pairs in u32
// (element e of the flattened [vocab, dim] table is half (e & 1) of word e >> 1; any dim works).

struct Params { tokens: u32, dim: u32, vocab: u32, scale: f32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
#if F16_TABLE
@group(0) @binding(1) var<storage, read> table: array<u32>;
#else
@group(0) @binding(1) var<storage, read> table: array<f32>;
#endif
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.tokens * p.dim) { return; }
  let t = e / p.dim;
  let i = e - t * p.dim;
  let id = ids[t];
  var v = 0.0;
  if (id < p.vocab) {
#if F16_TABLE
    let src = id * p.dim + i;
    let pair = unpack2x16float(table[src >> 1u]);
    v = select(pair.x, pair.y, (src & 1u) == 1u);
#else
    v = table[id * p.dim + i];
#endif
  }
  out[e] = v * p.scale;
}
