// `webmoe eval --mode decode`: lockstep teacher-forced decode evaluation (src/eval/decode.ts) on WebGPU
// (default) or the plain-TS reference model (--backend reference, same routing references, much faster
// than a software GPU).
import { readFileSync } from 'node:fs';
import { openCheckpoint } from '../format/checkpoint.ts';
import { filesFromNodeDir } from '../format/source-node.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import type { WeightFormat } from '../quant/pack.ts';
import { loadReferenceWeights } from '../reference/model.ts';
import { ReferenceStepModel } from '../reference/step.ts';
import type { Policy } from '../routing/types.ts';
import { evalDecode, expertBytes, type DecodeEvalResult, type StepModel } from '../eval/decode.ts';
import { UsageError, cliCalibration, loadModel, num, openModel, parsePolicy, tryTokenizer } from './main.ts';

export type CliValues = Record<string, string | boolean | undefined>;

export interface DecodeSetup {
  model: StepModel;
  spec: MoeModelSpec;
  ids: number[];
  bos: number;
  destroy(): void;
}

/** Tokens of --text-file and the bos of the training protocol (config.json's bos_token_id first). */
export async function readEvalTokens(dir: string, file: string | undefined): Promise<{ ids: number[]; bos: number; spec: MoeModelSpec }> {
  if (!file) throw new UsageError('--text-file is required');
  const text = readFileSync(file, 'utf8');
  const tok = await tryTokenizer(dir, true);
  const { spec } = await openModel(dir).then(async (m) => (await m.ckpt.close(), m));
  const bos = spec.bosTokenId ?? tok!.bosTokenId ?? tok!.tokenToId('<|endoftext|>') ?? tok!.eosTokenIds[0];
  if (bos === undefined) throw new UsageError('no bos token: config.json has no bos_token_id and the tokenizer none either');
  return { ids: tok!.encode(text, { addSpecialTokens: false }), bos, spec };
}

/** A step model for decode evaluation: WebGPU MoeModel or the TS reference. */
export async function openStepModel(dir: string, backend: string, wf: WeightFormat, o: { seqs: number; context: number; batchTokens: number; calibration?: string; policy?: Policy }): Promise<{ model: StepModel; destroy(): void }> {
  if (backend === 'webgpu') {
    const m = await loadModel(dir, { weightFormat: wf, maxSeqs: o.seqs, maxContext: o.context, maxBatchTokens: o.batchTokens, policy: o.policy }, [], o.calibration);
    return { model: m, destroy: () => m.destroy() };
  }
  if (backend !== 'reference') throw new UsageError(`--backend must be webgpu or reference, got '${backend}'`);
  if (wf !== 'f32') throw new UsageError('--backend reference runs in f32 only');
  const ckpt = await openCheckpoint(filesFromNodeDir(dir));
  try {
    const spec = await resolveSpec(ckpt);
    const W = await loadReferenceWeights(ckpt, spec);
    const m = new ReferenceStepModel(spec, W, { maxSeqs: o.seqs, maxContext: o.context, calibration: await cliCalibration(dir, spec, o.calibration), policy: o.policy });
    return { model: m, destroy: () => undefined };
  } finally {
    await ckpt.close();
  }
}

function summary(r: DecodeEvalResult): string {
  const f = (v: number | undefined, d = 4) => (v === undefined ? '-' : v.toFixed(d));
  let s = `decode-mode perplexity ${f(r.ppl)} over ${r.tokens} tokens (batch ${r.batch}, ${r.segments} segments, context ${r.context}, ${r.steps} steps), ` +
    `distinct experts per layer per step ${f(r.distinct_experts, 2)}, mass kept ${f(r.mass_kept, 3)}, ${r.seconds.toFixed(1)} s`;
  if (r.baseline) {
    s += `\nbaseline perplexity ${f(r.baseline.ppl)}, distinct ${f(r.baseline.distinct_experts, 2)}; ppl ratio ${f(r.ppl_ratio)}, distinct ratio ${f(r.distinct_ratio)}, ` +
      `greedy agreement ${f(r.agreement, 3)} (first divergence at ${f(r.first_divergence, 1)} on average)`;
  }
  return s;
}

export async function evalDecodeCommand(o: CliValues, dir: string, wf: WeightFormat, policy: Policy): Promise<number> {
  const batch = num(o.batch as string | undefined, 16, '--batch', 1);
  const context = num(o.context as string | undefined, 32, '--context', 2);
  const steps = num(o.steps as string | undefined, 64, '--steps', 1);
  const segments = o.segments !== undefined ? num(o.segments as string, 0, '--segments', 1) : undefined;
  const compare = o.compare !== undefined ? parsePolicy(o.compare as string) : undefined;
  const backend = (o.backend as string | undefined) ?? 'webgpu';
  const { ids, bos, spec } = await readEvalTokens(dir, o['text-file'] as string | undefined);
  const { model, destroy } = await openStepModel(dir, backend, wf, {
    seqs: batch, context: context + steps, batchTokens: Math.max(batch, Math.min(4096, batch * context)), calibration: o.calibration as string | undefined, policy,
  });
  try {
    const r = await evalDecode(model, ids, { batch, context, steps, segments, policy, compare, bos, expertBytes: expertBytes(spec, wf) });
    const out = { ...r, backend, model: dir, text: o['text-file'] };
    process.stdout.write((o.json ? JSON.stringify(out) : summary(r)) + '\n');
  } finally {
    destroy();
  }
  return 0;
}
