/**
 * Plain TypeScript forward pass of a whole MoeModelSpec model, composed from the op references (the same
 * ones every kernel is tested against) and the routing policies' reference: slow, obviously correct, same
 * order of operations as transformers. Tests use it to check the architecture mappings against HF and
 * the GPU runtime on inputs fixtures don't cover.
 */
import type { Checkpoint } from '../format/checkpoint.ts';
import type { FfnRefs, LayerRefs, MoeModelSpec, WeightRef } from '../models/spec.ts';
import { readWeightF32 } from '../models/weights.ts';
import { ReferenceStepModel } from './step.ts';

type Ffn = { gate: Float32Array; up: Float32Array; down: Float32Array };
type Weights<T> = { [K in keyof T]: T[K] extends WeightRef | undefined ? Float32Array : T[K] extends FfnRefs[] | undefined ? Ffn[] : T[K] extends FfnRefs | undefined ? Ffn & { gate1?: Float32Array } : never };
export type RefLayer = Weights<LayerRefs>;

export interface RefWeights {
  embed: Float32Array;
  finalNorm: Float32Array;
  lmHead: Float32Array;
  layers: RefLayer[];
}

/** Read every weight of `spec` from the checkpoint as f32 (fine for test-sized models). */
export async function loadReferenceWeights(ckpt: Checkpoint, spec: MoeModelSpec): Promise<RefWeights> {
  const rd = (r: WeightRef) => readWeightF32(ckpt, r);
  const ffn = async (f: FfnRefs) => ({ gate: await rd(f.gate), up: await rd(f.up), down: await rd(f.down) });
  const layers: RefLayer[] = [];
  for (const r of spec.layerRefs) {
    const l: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      if (v === undefined) continue;
      if (k === 'experts') l[k] = await Promise.all((v as FfnRefs[]).map(ffn));
      else if (k === 'shared') l[k] = { ...(await ffn(v as FfnRefs)), gate1: await rd((v as { gate1: WeightRef }).gate1) };
      else if (k === 'dense') l[k] = await ffn(v as FfnRefs);
      else l[k] = await rd(v as WeightRef);
    }
    layers.push(l as RefLayer);
  }
  const embed = await rd(spec.embed);
  return { embed, finalNorm: await rd(spec.finalNorm), lmHead: spec.tieEmbeddings ? embed : await rd(spec.lmHead), layers };
}

/**
 * Logits [T, vocab] for every position of one sequence starting at position 0: the whole prompt in one
 * baseline step of the reference step model (src/reference/step.ts: op references + routing reference,
 * in the GPU runtime's order).
 */
export function referenceForward(spec: MoeModelSpec, W: RefWeights, tokens: number[]): Float32Array[] {
  const V = spec.vocabSize;
  for (const tok of tokens) if (!(Number.isInteger(tok) && tok >= 0 && tok < V)) throw new Error(`token id ${tok} out of range [0, ${V})`);
  const m = new ReferenceStepModel(spec, W, { maxSeqs: 1, maxContext: Math.max(1, tokens.length) });
  const r = m.step({ seqs: [{ id: m.createSequence(), tokens }], logits: 'all' });
  const all = r.logits![0];
  return Array.from({ length: tokens.length }, (_, t) => all.subarray(t * V, (t + 1) * V));
}
