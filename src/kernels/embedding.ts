// Embedding gather (see shaders/embedding.wgsl).
import type { Gpu } from '../gpu/context.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';

export interface EmbeddingArgs {
  /** Token ids u32 [tokens]. Ids >= vocab produce a row of zeros. */
  ids: GPUBuffer;
  /** Table [vocab, dim]: f32, or (format 'f16') packed f16 pairs in u32 words, flattened row-major. */
  table: GPUBuffer;
  /** Output f32 [tokens, dim]. */
  out: GPUBuffer;
  tokens: number;
  dim: number;
  vocab: number;
  /** Multiplier applied to every element (granite's embedding_multiplier). Default 1. */
  scale?: number;
  format?: 'f32' | 'f16';
}

const WG = 256;

/** out[t, :] = table[ids[t], :] * scale. */
export function encodeEmbedding(gpu: Gpu, pass: GPUComputePassEncoder, a: EmbeddingArgs): void {
  const params = gpu.uniform([a.tokens, a.dim, a.vocab, a.scale ?? 1], new Set([3]));
  dispatch(
    gpu,
    pass,
    { shader: 'embedding', defines: { F16_TABLE: a.format === 'f16' }, constants: { WG } },
    [a.ids, a.table, a.out, params],
    grid1d(gpu, Math.ceil((a.tokens * a.dim) / WG)),
  );
}


