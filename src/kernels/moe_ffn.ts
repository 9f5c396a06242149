// MoE expert path on the GPU: per-expert token lists (shaders/moe_lists.wgsl), the grouped gated expert
// FFN over (active expert, token tile) pairs with an indirect dispatch (shaders/moe_ffn.wgsl), the
// deterministic combine (shaders/moe_combine.wgsl), and encodeMoeLayer chaining router -> policy -> lists
// -> FFN -> combine with every scratch buffer preallocated in a MoeWorkspace.
import type { Gpu } from '../gpu/context.ts';
import { STORAGE, Usage, createStorage } from '../gpu/buffers.ts';
import { dispatch, grid1d } from '../gpu/dispatch.ts';
import { paddedCols, weightFormatDefines, type WeightFormat } from '../quant/pack.ts';
import type { RouterMode } from '../routing/types.ts';
import { kernelStyle } from './variants.ts';
import { MOE_MAX_EXPERTS, MOE_MAX_K, encodeMoeRoute, encodeMoeScores, type GpuPolicy, type GpuTokenScope } from './moe_router.ts';
import type { TokenScope } from '../routing/scope.ts';

/** Tokens per FFN workgroup (TILE in shaders/moe_ffn.wgsl). */
export const MOE_TILE = 8;
/** Rows (intermediate or output channels) per FFN workgroup of the lanes variant (R in shaders/moe_ffn.wgsl). */
export const MOE_ROWS = 8;
/** Invocations per workgroup of the blocked variant (WGB), 4 rows each. */
const MOE_BLOCKED_WG = 16;

/** Rows per FFN workgroup on this device (the x extent of the indirect grids that moe_lists writes). */
export function moeRowsPerWorkgroup(gpu: Gpu): number {
  return kernelStyle(gpu) === 'blocked' ? 4 * MOE_BLOCKED_WG : MOE_ROWS;
}
/** Word offset of the active-expert list inside the meta buffer. */
export const MOE_META_ACTIVE = 8;

export interface MoeWorkspaceSpec {
  maxTokens: number;
  E: number;
  /** num_experts_per_tok (slots per token, <= 8). */
  k: number;
  H: number;
  I: number;
}

/**
 * Every buffer one MoE layer needs, sized for maxTokens (reused by all layers and steps):
 * - scores     f32 [T, E]        router scores
 * - ids        u32 [T, k]        expert per (token, slot), 0xFFFFFFFF unused
 * - weights    f32 [T, k]        gate weight per (token, slot), 0 unused
 * - routeScratch u32 [3T]        policy scratch [0, 2T), the step's row mask of a token scope at
 *                                word maskOffset = 2T (written by writeRouteMask, read by every layer)
 * - ecount     u32 [2E]          counts [0, E), exclusive offsets [E, 2E)
 * - list       vec2<u32> [T*k]   (slot = t*k + j, bitcast f32 weight), grouped by expert, token order
 * - tiles      vec4<u32> [maxTiles] (expert, list start, count <= MOE_TILE, 0) per FFN workgroup
 * - meta       u32 [8 + E]       [0..3) indirect args of the gate/up dispatch (ceil(I/8), tiles, 1),
 *                                [3] active experts, [4] list length, [5..8) indirect args of the down
 *                                dispatch (ceil(H/8), tiles, 1), [8, 8 + active) active experts ascending;
 *                                usage STORAGE | INDIRECT
 * - work       f32 [T*k, H] weighted expert output per (token, slot) ("partial", read by the combine),
 *                then f32 [T*k, I] gated intermediates from word T*k*H (maxTokens-based offset: ws.hOff)
 * - counters   u32 [1]           default target of the distinct-experts counter
 */
export interface MoeWorkspace {
  spec: MoeWorkspaceSpec;
  maxTiles: number;
  scores: GPUBuffer;
  ids: GPUBuffer;
  weights: GPUBuffer;
  routeScratch: GPUBuffer;
  /** Word offset of the row mask inside routeScratch (2 * maxTokens). */
  maskOffset: number;
  ecount: GPUBuffer;
  list: GPUBuffer;
  tiles: GPUBuffer;
  meta: GPUBuffer;
  work: GPUBuffer;
  /** Word offset of the intermediates inside work (maxTokens * k * H). */
  hOff: number;
  counters: GPUBuffer;
  destroy(): void;
}

export function moeMaxTiles(maxTokens: number, E: number, k: number): number {
  return Math.ceil((maxTokens * k) / MOE_TILE) + Math.min(E, maxTokens * k);
}

export function createMoeWorkspace(gpu: Gpu, s: MoeWorkspaceSpec): MoeWorkspace {
  if (s.E > MOE_MAX_EXPERTS || s.k > MOE_MAX_K) throw new Error(`webmoe: MoE supports E <= ${MOE_MAX_EXPERTS}, k <= ${MOE_MAX_K}`);
  const d = gpu.device;
  const T = s.maxTokens;
  const maxTiles = moeMaxTiles(T, s.E, s.k);
  const b = (bytes: number, label: string, usage = STORAGE) => createStorage(d, Math.max(16, bytes), `moe.${label}`, usage);
  const ws: Omit<MoeWorkspace, 'destroy'> = {
    spec: { ...s },
    maxTiles,
    scores: b(T * s.E * 4, 'scores'),
    ids: b(T * s.k * 4, 'ids'),
    weights: b(T * s.k * 4, 'weights'),
    routeScratch: b(3 * T * 4, 'routeScratch'),
    maskOffset: 2 * T,
    ecount: b(2 * s.E * 4, 'ecount'),
    list: b(T * s.k * 8, 'list'),
    tiles: b(maxTiles * 16, 'tiles'),
    meta: b((MOE_META_ACTIVE + s.E) * 4, 'meta', STORAGE | Usage.INDIRECT),
    work: b(T * s.k * (s.H + s.I) * 4, 'work'),
    hOff: T * s.k * s.H,
    counters: b(4, 'counters'),
  };
  return {
    ...ws,
    destroy() {
      for (const v of Object.values(ws)) if (v && typeof v === 'object' && 'destroy' in v) (v as GPUBuffer).destroy();
    },
  };
}

/** Queue a step's row mask (src/routing/scope.ts) into the workspace; the step's layers then take the result. */
export function writeRouteMask(gpu: Gpu, ws: MoeWorkspace, scope: TokenScope): GpuTokenScope {
  const T = scope.policy.length;
  if (T > ws.spec.maxTokens) throw new Error(`webmoe: MoE workspace holds ${ws.spec.maxTokens} tokens, got a row mask of ${T}`);
  gpu.device.queue.writeBuffer(ws.routeScratch, ws.maskOffset * 4, Uint32Array.from(scope.policy));
  return { maskOffset: ws.maskOffset, count: scope.count, union: scope.union };
}

export interface MoeListsArgs {
  ids: GPUBuffer;
  weights: GPUBuffer;
  ecount: GPUBuffer;
  list: GPUBuffer;
  tiles: GPUBuffer;
  meta: GPUBuffer;
  T: number;
  E: number;
  kMax: number;
  /** Hidden and intermediate sizes (they size the FFN's indirect grids). */
  H: number;
  I: number;
}

/** Encode the per-expert lists, active experts, tile table and indirect args (one workgroup). */
export function encodeMoeLists(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeListsArgs): void {
  const rows = moeRowsPerWorkgroup(gpu);
  const params = gpu.uniform([a.T, a.E, a.kMax, MOE_TILE, Math.ceil(a.I / rows), Math.ceil(a.H / rows), 0, 0]);
  dispatch(gpu, pass, { shader: 'moe_lists', constants: { WG: 256 } },
    [a.ids, a.weights, a.ecount, a.list, a.tiles, a.meta, params], [1, 1, 1]);
}

export interface MoeFfnArgs {
  /** [T, H] f32 activations (the normed hidden state). */
  x: GPUBuffer;
  /**
   * [E*2I rows, kPadH] gate rows then up rows per expert, H columns padded to kPadH = paddedCols(format, H,
   * group) exactly as src/quant/pack.ts produces them: padRowsF32, packF16Rows, quantizeInt8/Int4(...).q.
   */
  gateUp: GPUBuffer;
  /** [E*H rows, kPadI], I columns padded likewise. */
  down: GPUBuffer;
  format: WeightFormat;
  /** int8/int4: per-group f32 scales [rows, kPad/group] of gateUp and down; group (default 32, multiple of 8). */
  gateUpScales?: GPUBuffer;
  downScales?: GPUBuffer;
  group?: number;
  list: GPUBuffer;
  tiles: GPUBuffer;
  /** Indirect args at offset 0 (from encodeMoeLists). */
  meta: GPUBuffer;
  /** f32 [T*kMax, H] out (only used slots are written), then [T*kMax, I] intermediates from word hOff. */
  work: GPUBuffer;
  hOff: number;
  H: number;
  I: number;
  kMax: number;
  /** The bound buffers hold experts [eBase, eEnd) (expert e at local index e - eBase); default all. */
  eBase?: number;
  eEnd?: number;
}

/** Experts [eBase, eEnd) of a layer in one set of buffers (a layer too large for one binding has several). */
export interface MoeExpertChunk {
  eBase: number;
  eEnd: number;
  /** [(eEnd - eBase) * 2I rows, kPadH], gate rows then up rows per expert. */
  gateUp: GPUBuffer;
  /** [(eEnd - eBase) * H rows, kPadI]. */
  down: GPUBuffer;
  gateUpScales?: GPUBuffer;
  downScales?: GPUBuffer;
}

/**
 * Encode the grouped expert FFN: two indirect dispatches over all active experts (gate/up, then down),
 * one workgroup per (8-row chunk, tile of <= 8 tokens of one active expert).
 */
export function encodeMoeFfn(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeFfnArgs): void {
  const f = a.format;
  const quant = f === 'int8' || f === 'int4';
  const group = a.group ?? 32;
  const blocked = kernelStyle(gpu) === 'blocked';
  const defines = {
    ...weightFormatDefines(f),
    BLOCKED: blocked, V4: blocked && a.H % 4 === 0 && a.I % 4 === 0,
    F16_PAIRS: blocked && f === 'f16', W_WORDS: f !== 'f32' && !(blocked && f === 'f16'),
  };
  const constants: Record<string, number> = blocked ? { WGB: MOE_BLOCKED_WG } : {};
  if (quant && (!a.gateUpScales || !a.downScales)) throw new Error(`webmoe: ${f} expert weights need gateUpScales and downScales`);
  const params = gpu.uniform([a.H, a.I, a.kMax, paddedCols(f, a.H, group), paddedCols(f, a.I, group), group, a.hOff, a.eBase ?? 0, a.eEnd ?? 0xffffffff, 0, 0, 0]);
  // Explicit binding numbers: each entry point's 'auto' layout holds only the bindings it uses.
  const stages: [string, [number, GPUBuffer][], number][] = [
    ['ffn_gate_up', [[0, params], [1, a.x], [2, a.gateUp], [4, a.list], [5, a.tiles], [6, a.work], ...(quant ? [[7, a.gateUpScales!] as [number, GPUBuffer]] : [])], 0],
    ['ffn_down', [[0, params], [3, a.down], [4, a.list], [5, a.tiles], [6, a.work], ...(quant ? [[8, a.downScales!] as [number, GPUBuffer]] : [])], 20],
  ];
  for (const [entry, binds, offset] of stages) {
    const pipeline = gpu.pipelines.get({ shader: 'moe_ffn', entry, defines, constants });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, gpu.device.createBindGroup({
      label: `moe_ffn:${entry}`,
      layout: pipeline.getBindGroupLayout(0),
      entries: binds.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
    }));
    pass.dispatchWorkgroupsIndirect(a.meta, offset);
  }
}

export interface MoeCombineArgs {
  ids: GPUBuffer;
  /** f32 [T*kMax, H] per-slot outputs (ws.work). */
  partial: GPUBuffer;
  /** [T, H] f32 out. */
  out: GPUBuffer;
  /** out = residual + sum (a different buffer than out). */
  residual?: GPUBuffer;
  /** out += sum in place (e.g. out is the residual stream). Ignored when residual is given. */
  accumulate?: boolean;
  T: number;
  H: number;
  kMax: number;
}

/** Encode the deterministic combine: sum of the used slots in slot order, optionally onto a residual. */
export function encodeMoeCombine(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeCombineArgs): void {
  const mode = a.residual ? 2 : a.accumulate ? 1 : 0;
  const params = gpu.uniform([a.T, a.H, a.kMax, mode]);
  dispatch(gpu, pass, { shader: 'moe_combine', constants: { WG: 64 } },
    [a.ids, a.partial, a.residual ?? a.partial, a.out, params], grid1d(gpu, Math.ceil((a.T * a.H) / 64)));
}

export interface MoeLayerArgs {
  ws: MoeWorkspace;
  /** [T, E] f32 router logits. */
  logits: GPUBuffer;
  /** [T, H] f32 expert input. */
  x: GPUBuffer;
  /** [T, H] f32 output (see residual / accumulate). */
  out: GPUBuffer;
  residual?: GPUBuffer;
  accumulate?: boolean;
  /** All experts in one set of buffers (gateUp, down, scales), or `chunks` when they are split. */
  gateUp?: GPUBuffer;
  down?: GPUBuffer;
  gateUpScales?: GPUBuffer;
  downScales?: GPUBuffer;
  /** Expert buffers covering [0, E) in ascending ranges: the FFN runs once per chunk. */
  chunks?: MoeExpertChunk[];
  format: WeightFormat;
  group?: number;
  T: number;
  mode: RouterMode;
  normTopk?: boolean;
  scale?: number;
  expertBias?: GPUBuffer;
  policy: GpuPolicy;
  /** The step's rows outside the policy (writeRouteMask); default none. */
  scope?: GpuTokenScope | null;
  /** Where the distinct-experts count goes (default ws.counters[0]); e.g. one word per layer. */
  counters?: GPUBuffer;
  counterIndex?: number;
}

/** One MoE layer: scores -> routing policy -> expert lists -> grouped FFN (per expert chunk) -> combine. */
export function encodeMoeLayer(gpu: Gpu, pass: GPUComputePassEncoder, a: MoeLayerArgs): void {
  const { ws, T } = a;
  const { E, k, H, I } = ws.spec;
  if (T > ws.spec.maxTokens) throw new Error(`webmoe: MoE workspace holds ${ws.spec.maxTokens} tokens, got ${T}`);
  encodeMoeScores(gpu, pass, { logits: a.logits, scores: ws.scores, T, E, mode: a.mode });
  encodeMoeRoute(gpu, pass, {
    logits: a.logits, scores: ws.scores, expertBias: a.expertBias, ids: ws.ids, weights: ws.weights, scratch: ws.routeScratch,
    counters: a.counters ?? ws.counters, counterIndex: a.counters ? (a.counterIndex ?? 0) : 0,
    T, E, kMax: k, mode: a.mode, normTopk: a.normTopk, scale: a.scale, policy: a.policy, scope: a.scope,
  });
  encodeMoeLists(gpu, pass, { ids: ws.ids, weights: ws.weights, ecount: ws.ecount, list: ws.list, tiles: ws.tiles, meta: ws.meta, T, E, kMax: k, H, I });
  const chunks = a.chunks ?? [{ eBase: 0, eEnd: E, gateUp: a.gateUp!, down: a.down!, gateUpScales: a.gateUpScales, downScales: a.downScales }];
  if (chunks.some((c) => !c.gateUp || !c.down) || chunks[0].eBase !== 0 || chunks[chunks.length - 1].eEnd !== E ||
      chunks.some((c, i) => i > 0 && c.eBase !== chunks[i - 1].eEnd)) {
    throw new Error(`webmoe: MoE layer expert buffers must cover experts [0, ${E}) in ascending chunks`);
  }
  for (const c of chunks) {
    encodeMoeFfn(gpu, pass, {
      x: a.x, gateUp: c.gateUp, down: c.down, format: a.format, gateUpScales: c.gateUpScales, downScales: c.downScales, group: a.group,
      list: ws.list, tiles: ws.tiles, meta: ws.meta, work: ws.work, hOff: ws.hOff, H, I, kMax: k,
      eBase: chunks.length > 1 ? c.eBase : undefined, eEnd: chunks.length > 1 ? c.eEnd : undefined,
    });
  }
  encodeMoeCombine(gpu, pass, { ids: ws.ids, partial: ws.work, out: a.out, residual: a.residual, accumulate: a.accumulate, T, H, kMax: k });
}
