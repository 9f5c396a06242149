// Helpers shared by every kernel; prepended to each shader by the pipeline cache.

// Index of a workgroup in a dispatch that may be folded into 2D (x up to 65535).
fn wg_linear(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}
