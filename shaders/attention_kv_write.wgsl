// KV cache write: copy the k and v rows of T new tokens into their slots
// slot = seq_start[seq_ids[t]] + positions[t] of k_cache / v_cache [max_slots, n_kv_heads, head_dim].
// Rows of k at t * k_stride + k_off (v likewise), kv_row = n_kv_heads * head_dim values each.
// Slots >= max_slots are skipped. One thread per element.

struct Params { tokens: u32, kv_row: u32, max_slots: u32, k_stride: u32,
                k_off: u32, v_stride: u32, v_off: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> k: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read> seq_ids: array<u32>;
@group(0) @binding(5) var<storage, read> positions: array<u32>;
@group(0) @binding(6) var<storage, read> seq_start: array<u32>;
@group(0) @binding(7) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = wg_linear(wid, nwg) * WG + lid;
  if (e >= p.tokens * p.kv_row) { return; }
  let t = e / p.kv_row;
  let r = e - t * p.kv_row;
  let slot = seq_start[seq_ids[t]] + positions[t];
  if (slot >= p.max_slots) { return; }
  k_cache[slot * p.kv_row + r] = k[t * p.k_stride + p.k_off + r];
  v_cache[slot * p.kv_row + r] = v[t * p.v_stride + p.v_off + r];
}
