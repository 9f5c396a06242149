// The calibration a model's calibrated policies need (SERE similarity, Alloc-L and mass sensitivity), its
// file format (calibration.safetensors next to the model) and Alloc-L's dynamic program.
import { FormatError } from '../format/errors.ts';
import { readSafetensorsHeader, readTensorF32 } from '../format/safetensors.ts';
import type { ByteSource } from '../format/bytes.ts';
import { writeSafetensors } from '../format/safetensors-writer.ts';
import type { CheckpointFiles } from '../format/checkpoint.ts';
import type { Reroute, SimilarityKind } from './types.ts';

export const CALIBRATION_FILE = 'calibration.safetensors';
export const SIMILARITY_KINDS: readonly SimilarityKind[] = ['cka', 'cosine', 'frobenius'];

/** Loss increase per layer at a list of settings of one knob ("only layer l changed, others baseline"). */
export interface Sensitivity {
  /** The knob's values (k for Alloc-L, coverage for the mass policy). */
  levels: number[];
  /** [layer][level] mean NLL increase in nats per token (0 rows for dense layers). */
  dloss: number[][];
  /** [layer][level] mean distinct experts per step at that layer (mass sensitivity only). */
  distinct?: number[][];
  /** [layer] baseline mean distinct experts per step (mass sensitivity only). */
  baseDistinct?: number[];
  /** Batch size the distinct counts were measured at. */
  batch?: number;
  /** mass sensitivity only: the reroute the runs used (auto's default reroute). */
  reroute?: Reroute;
}

/**
 * auto's correction for what the per-layer sensitivities miss (layers do not add up, and a sum of small
 * noisy rises under- or over-states the whole): for each target rise, the loss budget (nats) the per-layer
 * dynamic program should be given so that the COMBINED policy's measured rise on the calibration text
 * stays within the target. Measured by `webmoe calibrate`.
 */
export interface AutoTable {
  /** Target perplexity rises, increasing (0.01 = +1%). */
  targets: number[];
  /** The per-layer program's loss budget (nats per token) to use for each target. */
  budgets: number[];
  /** The combined rise measured on the calibration text with that budget. */
  measured: number[];
}

export interface Calibration {
  /** Routed experts per layer. */
  E: number;
  /** All layers (dense ones have no similarity). */
  layers: number;
  /** Per kind, per layer: [E, E] f32 (row = expert replaced), or null for a dense layer. */
  similarity: Partial<Record<SimilarityKind, (Float32Array | null)[]>>;
  defaultSimilarity: SimilarityKind;
  /** Alloc-L: loss increase with only layer l at k experts per token. */
  alloc?: Sensitivity;
  /** mass policy: loss increase and distinct experts with only layer l at each coverage. */
  mass?: Sensitivity;
  /** auto: per-target loss budgets checked on the combined policy (absent in older files: budget = log(1 + target)). */
  auto?: AutoTable;
  /** Free-form description: text file, settings, model, date. */
  meta: Record<string, string>;
}

export const HOW_TO_CALIBRATE = 'run `webmoe calibrate --model DIR --text-file TRAINING_TEXT` (writes DIR/calibration.safetensors), or pass calibration to the loader';

/** A policy needs calibration that is not there: say which and how to make it. */
export class CalibrationMissingError extends Error {
  constructor(what: string) {
    super(`webmoe: policy needs ${what} from the model's calibration file, which is not loaded: ${HOW_TO_CALIBRATE}`);
  }
}

type F32Tensor = { dtype: 'F32'; shape: number[]; data: Uint8Array };
const f32 = (shape: number[], v: ArrayLike<number>): F32Tensor => ({ dtype: 'F32', shape, data: new Uint8Array(Float32Array.from(v).buffer) });

function sensitivityTensors(name: string, s: Sensitivity | undefined, out: Record<string, F32Tensor>) {
  if (!s) return;
  const L = s.dloss.length;
  const n = s.levels.length;
  out[`${name}.levels`] = f32([n], s.levels);
  out[`${name}.dloss`] = f32([L, n], s.dloss.flat());
  if (s.distinct) out[`${name}.distinct`] = f32([L, n], s.distinct.flat());
  if (s.baseDistinct) out[`${name}.base_distinct`] = f32([L], s.baseDistinct);
}

/** Serialise: similarity.<kind> [L, E, E] (zeros for dense layers), <alloc|mass>.{levels,dloss,distinct,base_distinct}. */
export function encodeCalibration(c: Calibration): Uint8Array<ArrayBuffer> {
  const t: Record<string, F32Tensor> = {};
  for (const kind of SIMILARITY_KINDS) {
    const per = c.similarity[kind];
    if (!per) continue;
    const data = new Float32Array(c.layers * c.E * c.E);
    per.forEach((m, l) => m && data.set(m, l * c.E * c.E));
    t[`similarity.${kind}`] = f32([c.layers, c.E, c.E], data);
  }
  sensitivityTensors('alloc', c.alloc, t);
  sensitivityTensors('mass', c.mass, t);
  if (c.auto) {
    const n = c.auto.targets.length;
    t['auto.targets'] = f32([n], c.auto.targets);
    t['auto.budgets'] = f32([n], c.auto.budgets);
    t['auto.measured'] = f32([n], c.auto.measured);
  }
  const meta: Record<string, string> = { ...c.meta, default_similarity: c.defaultSimilarity, moe_layers: JSON.stringify(c.similarity[c.defaultSimilarity]?.map((m) => m !== null) ?? []) };
  if (c.mass?.batch !== undefined) meta.mass_batch = String(c.mass.batch);
  if (c.mass?.reroute !== undefined) meta.mass_reroute = c.mass.reroute;
  return writeSafetensors(t, meta);
}

const MAX_CAL_BYTES = 256 * 1024 * 1024;

/**
 * Read a calibration file written by encodeCalibration, checked against the model (layers, E): a file for
 * another model is rejected with the mismatch named.
 */
export async function decodeCalibration(src: ByteSource, expect: { layers: number; E: number }): Promise<Calibration> {
  const h = await readSafetensorsHeader(src);
  const bad = (detail: string, tensor?: string) => new FormatError('CONFIG', src.name, `calibration: ${detail}`, tensor);
  const get = async (name: string, shape: number[] | null): Promise<Float32Array | null> => {
    const info = h.tensors.get(name);
    if (!info) return null;
    if (info.dtype !== 'F32') throw bad(`dtype ${info.dtype}, expected F32`, name);
    if (shape && (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))) {
      throw bad(`shape [${info.shape}], expected [${shape}] for this model (${expect.layers} layers, ${expect.E} experts); re-run webmoe calibrate for it`, name);
    }
    if (!shape && (info.shape.length !== 1 || info.shape[0] > 64)) throw bad(`shape [${info.shape}], expected [n <= 64]`, name);
    return readTensorF32(src, info, { maxElements: MAX_CAL_BYTES / 4 });
  };
  const { layers: L, E } = expect;
  const meta = { ...(h.metadata ?? {}) };
  let moe: boolean[] = [];
  try {
    moe = JSON.parse(meta.moe_layers ?? '[]');
  } catch {
    throw bad('metadata moe_layers is not JSON');
  }
  const similarity: Calibration['similarity'] = {};
  for (const kind of SIMILARITY_KINDS) {
    const d = await get(`similarity.${kind}`, [L, E, E]);
    if (d) similarity[kind] = Array.from({ length: L }, (_, l) => (moe[l] === false ? null : d.slice(l * E * E, (l + 1) * E * E)));
  }
  const sens = async (name: string): Promise<Sensitivity | undefined> => {
    const levels = await get(`${name}.levels`, null);
    if (!levels) return undefined;
    const n = levels.length;
    const rows = (d: Float32Array | null) => (d ? Array.from({ length: L }, (_, l) => Array.from(d.subarray(l * n, (l + 1) * n))) : undefined);
    const dloss = rows(await get(`${name}.dloss`, [L, n]));
    if (!dloss) throw bad(`${name}.levels without ${name}.dloss`);
    const bd = await get(`${name}.base_distinct`, [L]);
    const reroute = meta[`${name}_reroute`] as Reroute | undefined;
    if (reroute !== undefined && !['similar', 'refill', 'drop'].includes(reroute)) throw bad(`metadata ${name}_reroute '${reroute}' is not similar, refill or drop`);
    return { levels: Array.from(levels), dloss, distinct: rows(await get(`${name}.distinct`, [L, n])), baseDistinct: bd ? Array.from(bd) : undefined, batch: meta[`${name}_batch`] ? Number(meta[`${name}_batch`]) : undefined, ...(reroute ? { reroute } : {}) };
  };
  const autoTable = async (): Promise<AutoTable | undefined> => {
    const targets = await get('auto.targets', null);
    if (!targets) return undefined;
    const n = targets.length;
    const budgets = await get('auto.budgets', [n]);
    const measured = await get('auto.measured', [n]);
    if (!budgets || !measured) throw bad('auto.targets without auto.budgets and auto.measured');
    for (let i = 0; i < n; i++) {
      if (!(targets[i] > 0) || (i > 0 && !(targets[i] > targets[i - 1]))) throw bad('auto.targets must be positive and increasing', 'auto.targets');
      if (!(budgets[i] >= 0) || !Number.isFinite(budgets[i])) throw bad(`auto.budgets[${i}] = ${budgets[i]}: expected a finite number >= 0`, 'auto.budgets');
    }
    return { targets: Array.from(targets), budgets: Array.from(budgets), measured: Array.from(measured) };
  };
  const def = (meta.default_similarity ?? 'cka') as SimilarityKind;
  if (!SIMILARITY_KINDS.includes(def)) throw bad(`metadata default_similarity '${def}' is not one of ${SIMILARITY_KINDS.join(', ')}`);
  return { E, layers: L, similarity, defaultSimilarity: def, alloc: await sens('alloc'), mass: await sens('mass'), auto: await autoTable(), meta };
}

/**
 * Alloc-L's dynamic program: choose one level index per layer in `layers` minimising sum_l cost[l][i_l]
 * subject to sum_l levels[i_l] <= total (levels are integers, e.g. experts per token), maximising the used
 * budget on ties. Returns the chosen level per layer (in the order of `layers`). O(L * total * levels).
 */
export function allocateBudget(levels: number[], cost: number[][], total: number): number[] {
  const L = cost.length;
  const INF = Number.POSITIVE_INFINITY;
  // best[l][b]: min cost of layers [0, l) using exactly b
  const best: number[][] = [Array.from({ length: total + 1 }, (_, b) => (b === 0 ? 0 : INF))];
  const pick: number[][] = [];
  for (let l = 0; l < L; l++) {
    const row = new Array<number>(total + 1).fill(INF);
    const pr = new Array<number>(total + 1).fill(-1);
    for (let b = 0; b <= total; b++) {
      if (best[l][b] === INF) continue;
      levels.forEach((v, i) => {
        const nb = b + v;
        if (nb > total) return;
        const c = best[l][b] + cost[l][i];
        if (c < row[nb] - 1e-15) {
          row[nb] = c;
          pr[nb] = i;
        }
      });
    }
    best.push(row);
    pick.push(pr);
  }
  let bb = -1;
  for (let b = total; b >= 0; b--) if (best[L][b] < INF && (bb < 0 || best[L][b] < best[L][bb] - 1e-15)) bb = b;
  if (bb < 0) throw new Error(`webmoe: no per-layer allocation fits a total budget of ${total} (smallest level ${Math.min(...levels)} x ${L} layers)`);
  const out = new Array<number>(L);
  for (let l = L - 1; l >= 0; l--) {
    const i = pick[l][bb];
    out[l] = i;
    bb -= levels[i];
  }
  return out;
}

/**
 * The model folder's calibration.safetensors, or null when the folder has none (browser: a 404; Node: no
 * file). Any other problem (a corrupt file, one for another model) throws.
 */
export async function loadCalibration(files: CheckpointFiles, expect: { layers: number; E: number }): Promise<Calibration | null> {
  let src: ByteSource;
  try {
    src = await files.open(CALIBRATION_FILE);
  } catch (e) {
    if ((e as { code?: string }).code === 'NOT_FOUND') return null;
    throw e;
  }
  try {
    return await decodeCalibration(src, expect);
  } finally {
    await src.close?.();
  }
}
