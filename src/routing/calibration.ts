// The calibration a model's calibrated policies need (SERE similarity, Alloc-L and mass sensitivity), its
// file format (calibration.safetensors next to the model) and Alloc-L's dynamic program.
import { FormatError } from '../format/errors.ts';
import { readSafetensorsHeader, readTensorF32 } from '../format/safetensors.ts';
import type { ByteSource } from '../format/bytes.ts';
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
 * auto's checked choices. Per-layer sensitivities ("only layer l changed") are small, noisy and do not add
 * up, so `webmoe calibrate` runs whole candidate policies (the per-layer program's solutions at several
 * loss budgets, and uniform coverages) on calibration segments the sensitivity runs did not use, and keeps
 * for each target rise the candidate with the fewest distinct experts whose measured rise is within it.
 */
export interface AutoTable {
  /** Target perplexity rises, increasing (0.01 = +1%). */
  targets: number[];
  /** [target][layer] the chosen coverages (1 = baseline set; every layer 1 when no candidate passed). */
  coverages: number[][];
  /** The chosen candidate's measured rise on the check segments. */
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
  /** auto: per-target coverages checked on the combined policy (absent: the per-layer program alone). */
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
    const cov = await get('auto.coverages', [n, L]);
    const measured = await get('auto.measured', [n]);
    if (!cov || !measured) throw bad('auto.targets without auto.coverages and auto.measured');
    for (let i = 0; i < n; i++) {
      if (!(targets[i] > 0) || (i > 0 && !(targets[i] > targets[i - 1]))) throw bad('auto.targets must be positive and increasing', 'auto.targets');
    }
    for (let i = 0; i < cov.length; i++) if (!(cov[i] > 0 && cov[i] <= 1)) throw bad(`auto.coverages has ${cov[i]}: expected values in (0, 1]`, 'auto.coverages');
    return { targets: Array.from(targets), coverages: Array.from({ length: n }, (_, i) => Array.from(cov.subarray(i * L, (i + 1) * L))), measured: Array.from(measured) };
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
