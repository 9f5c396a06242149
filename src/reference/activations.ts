/** silu(g) = g * sigmoid(g). */
export function silu(g: number): number {
  return g / (1 + Math.exp(-g));
}

/** out[t, i] = silu(gate[t*gs + go + i]) * up[t*us + uo + i]. */
export function siluMulRef(
  gate: Float32Array, up: Float32Array, tokens: number, inter: number,
  gateStride = inter, gateOffset = 0, upStride = inter, upOffset = 0,
): Float32Array {
  const out = new Float32Array(tokens * inter);
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < inter; i++) out[t * inter + i] = silu(gate[t * gateStride + gateOffset + i]) * up[t * upStride + upOffset + i];
  }
  return out;
}

/** x + scale * y. */
export function addRef(x: Float32Array, y: Float32Array, scale = 1): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + scale * y[i];
  return out;
}
