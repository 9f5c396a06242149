// Writing calibration.safetensors (the CLI's `webmoe calibrate`). Apart from src/routing/calibration.ts
// so the browser bundle, which only reads calibration files, does not carry the safetensors writer.
import { writeSafetensors } from '../format/safetensors-writer.ts';
import { SIMILARITY_KINDS, type Calibration, type Sensitivity } from './calibration.ts';

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
    t['auto.coverages'] = f32([n, c.layers], c.auto.coverages.flat());
    t['auto.measured'] = f32([n], c.auto.measured);
  }
  const meta: Record<string, string> = { ...c.meta, default_similarity: c.defaultSimilarity, moe_layers: JSON.stringify(c.similarity[c.defaultSimilarity]?.map((m) => m !== null) ?? []) };
  if (c.mass?.batch !== undefined) meta.mass_batch = String(c.mass.batch);
  if (c.mass?.reroute !== undefined) meta.mass_reroute = c.mass.reroute;
  return writeSafetensors(t, meta);
}

