// `webmoe calibrate --model DIR --text-file TRAINING_TEXT [--out FILE]`: writes calibration.safetensors
// (src/routing/calibration.ts) next to the model unless --out says otherwise. Similarity on WebGPU; the
// sensitivity decode runs on --backend reference (default: the plain-TS model, same routing references,
// far faster than a software GPU) or webgpu.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openCheckpoint } from '../format/checkpoint.ts';
import { filesFromNodeDir } from '../format/source-node.ts';
import { resolveSpec } from '../models/index.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { loadReferenceWeights } from '../reference/model.ts';
import { ReferenceStepModel } from '../reference/step.ts';
import { CALIBRATION_FILE } from '../routing/calibration.ts';
import { encodeCalibration } from '../routing/calibration-writer.ts';
import { calibrate } from '../eval/calibrate.ts';
import { UsageError, loadModel, num } from './main.ts';
import { readEvalTokens, type CliValues } from './eval-decode.ts';

const levels = (s: string | undefined, what: string): number[] | undefined => {
  if (s === undefined) return undefined;
  const v = s.split(',').map(Number);
  if (!v.length || v.some((x) => !Number.isFinite(x) || x <= 0)) throw new UsageError(`${what} must be a comma-separated list of positive numbers`);
  return v;
};

export async function calibrateCommand(o: CliValues, dir: string, wf: WeightFormat, extra: Record<string, string | undefined> = {}): Promise<number> {
  const t0 = performance.now();
  const textFile = o['text-file'] as string | undefined;
  const { ids, bos, spec } = await readEvalTokens(dir, textFile);
  const batch = num(o.batch as string | undefined, 16, '--batch', 1);
  const context = num(o.context as string | undefined, 16, '--context', 2);
  const steps = num(o.steps as string | undefined, 32, '--steps', 1);
  const segments = num(o.segments as string | undefined, 32, '--segments', 1);
  const tokens = num(o.tokens as string | undefined, 256, '--tokens', 8);
  const backend = (o.backend as string | undefined) ?? 'reference';
  if (backend !== 'reference' && backend !== 'webgpu') throw new UsageError(`--backend must be reference or webgpu, got '${backend}'`);
  const out = path.resolve((o.out as string | undefined) ?? path.join(dir, CALIBRATION_FILE));
  const gpuModel = await loadModel(dir, { weightFormat: wf, maxSeqs: batch, maxContext: context + steps, maxBatchTokens: Math.max(batch, batch * context) }, [], undefined);
  const ckpt = await openCheckpoint(filesFromNodeDir(dir));
  let W;
  try {
    W = await loadReferenceWeights(ckpt, await resolveSpec(ckpt));
  } finally {
    await ckpt.close();
  }
  try {
    const hidden = new ReferenceStepModel(spec, W, { maxSeqs: 1, maxContext: 128 });
    const measure = backend === 'webgpu' ? gpuModel : new ReferenceStepModel(spec, W, { maxSeqs: batch, maxContext: context + steps });
    const cal = await calibrate({ spec, gpu: gpuModel.gpu, weights: gpuModel.weights, weightFormat: wf, hidden, measure }, ids, {
      tokens, batch, context, steps, segments, bos,
      allocLevels: levels(extra['alloc-levels'] ?? (o['alloc-levels'] as string | undefined), '--alloc-levels'),
      massLevels: levels(extra['mass-levels'] ?? (o['mass-levels'] as string | undefined), '--mass-levels'),
      log: (line) => process.stderr.write(line + '\n'),
    });
    cal.meta = {
      ...cal.meta, text: path.basename(textFile!), model: path.basename(dir), date: new Date().toISOString(), backend,
      command: `webmoe calibrate --model ${path.basename(dir)} --text-file ${path.basename(textFile!)} --tokens ${tokens} --batch ${batch} --context ${context} --steps ${steps} --segments ${segments}` +
        (o['alloc-levels'] ? ` --alloc-levels ${o['alloc-levels']}` : '') + (o['mass-levels'] ? ` --mass-levels ${o['mass-levels']}` : ''),
    };
    writeFileSync(out, encodeCalibration(cal));
    const secs = (performance.now() - t0) / 1000;
    process.stdout.write(`${o.json ? JSON.stringify({ out, default_similarity: cal.defaultSimilarity, seconds: secs }) : `wrote ${out} (default similarity ${cal.defaultSimilarity}, ${secs.toFixed(1)} s)`}\n`);
  } finally {
    gpuModel.destroy();
  }
  return 0;
}
