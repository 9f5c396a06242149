/**
 * `webmoe` command line (Node, WebGPU through Dawn):
 *   webmoe logits   --model DIR --ids 5,17,42
 *   webmoe generate [--model DIR] (--prompt TEXT | --ids 1,2,3) --max-tokens N [--temperature T] [--top-p P] [--seed S] [--json]
 *   webmoe eval     [--model DIR] --text-file F [--batch B] [--json]
 * Any failure prints ONE line `error: ...` on stderr and exits 1.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openCheckpoint, type Checkpoint } from '../format/checkpoint.ts';
import { filesFromNodeDir, fromNodeFile } from '../format/source-node.ts';
import { decodeCalibration, loadCalibration, type Calibration } from '../routing/calibration.ts';
import { encodePrompt, loadTokenizer, promptBos, stopTokenIds, type LoadedTokenizer } from '../format/tokenizer.ts';
import { resolveSpec } from '../models/index.ts';
import type { MoeModelSpec } from '../models/spec.ts';
import { createNodeGpu } from '../gpu/node.ts';
import { MoeModel, type LoadOptions } from '../runtime/model.ts';
import { argmaxRef } from '../reference/argmax.ts';
import { engineFromCheckpoint } from '../api/load.ts';
import type { LocalEngine } from '../api/engine.ts';
import type { GenerateStream } from '../api/types.ts';
import { WEIGHT_FORMATS, type WeightFormat } from '../quant/pack.ts';
import type { Policy } from '../routing/types.ts';
import { parsePolicyString, PolicyParseError } from '../routing/parse.ts';
import { evalChunks, nllOfTargets } from './eval.ts';
import { defaultModelDir } from '../default-model.ts';
import { checkMaxTokens, checkSeed, checkTemperature, checkTopP } from '../api/validate.ts';

/** The embedded default model, next to the package (src/cli or dist/cli -> ../../models). */

export const USAGE = `usage:
  webmoe logits   --model DIR --ids 5,17,42
  webmoe generate [--model DIR] (--prompt TEXT | --ids 1,2,3) --max-tokens N [--temperature T] [--top-p P] [--seed S] [--json]
  webmoe eval     [--model DIR] --text-file F [--batch B] [--json]          (--mode prefill, the default: the training protocol)
  webmoe eval     --mode decode --batch B --policy P --text-file F [--context C] [--steps N] [--segments S]
                  [--compare baseline] [--backend webgpu|reference] [--json]   (lockstep decode, see README)
  webmoe eval     --mode mixed --batch B --policy P --text-file F [--context C] [--steps N] [--prompt TOKENS]
                  [--chunk TOKENS] [--arrivals A] [--after M] [--groups G] [--backend webgpu|reference] [--json]
                  (decode tokens and prompt chunks in the same steps: the baseline and P under each scope)
  webmoe calibrate [--model DIR] --text-file TRAINING_TEXT [--out FILE] [--tokens N] [--batch B] [--context C]
                  [--steps N] [--segments S] [--backend reference|webgpu] [--alloc-levels 1,2,3] [--mass-levels 0.95,0.9]
common: --weight-format f32|f16|int8|int4 (default f32)
        --policy baseline | reduced_topk:K | xshare:FRACTION | sere | alloc:K | alloc_t:K | mass:COVERAGE | auto[:RISE]
                 or kind:key=value,... or JSON (expert routing, default baseline; see README)`;

export class UsageError extends Error {}

function parseIds(s: string | undefined, what = '--ids'): number[] {
  if (s === undefined) throw new UsageError(`${what} is required`);
  const ids = s.split(',').map((x) => x.trim()).filter((x) => x !== '').map(Number);
  if (ids.length === 0 || ids.some((v) => !Number.isSafeInteger(v) || v < 0)) throw new UsageError(`${what} must be a comma-separated list of non-negative integers`);
  return ids;
}

export function num(s: string | undefined, dflt: number, what: string, min = -Infinity): number {
  if (s === undefined) return dflt;
  const v = Number(s);
  if (!Number.isFinite(v) || v < min) throw new UsageError(`${what} must be a number >= ${min}`);
  return v;
}

/** --policy: see src/routing/parse.ts (kind[:value][,key=value...] or JSON). */
export function parsePolicy(s: string | undefined): Policy {
  if (s === undefined) return { kind: 'baseline' };
  try {
    return parsePolicyString(s);
  } catch (e) {
    if (e instanceof PolicyParseError) throw new UsageError(`--${e.message}`);
    throw e;
  }
}

/** Check the checkpoint completely (headers, config, every tensor's shape) before touching the GPU. */
export async function openModel(dir: string): Promise<{ ckpt: Checkpoint; spec: MoeModelSpec }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`model folder ${dir} does not exist`);
  const ckpt = await openCheckpoint(filesFromNodeDir(dir));
  try {
    return { ckpt, spec: await resolveSpec(ckpt) };
  } catch (e) {
    await ckpt.close();
    throw e;
  }
}

/** Token ids must be in the vocabulary (checked before the GPU starts, like everything about the input). */
function checkIds(spec: MoeModelSpec, ids: number[]): void {
  const bad = ids.find((i) => i >= spec.vocabSize);
  if (bad !== undefined) throw new UsageError(`token id ${bad} is out of range for this model (vocab_size ${spec.vocabSize})`);
}

const nodeGpu = () => createNodeGpu({ onNotice: (line) => process.stderr.write(line.replace(/\s*\n\s*/g, ' ') + '\n') });

/** The calibration for `dir`: --calibration FILE, else DIR/calibration.safetensors when present, else null. */
export async function cliCalibration(dir: string, spec: MoeModelSpec, file: string | undefined): Promise<Calibration | null> {
  const expect = { layers: spec.layers, E: spec.numExperts };
  if (file === undefined) return loadCalibration(filesFromNodeDir(dir), expect);
  if (!existsSync(file)) throw new UsageError(`calibration file ${file} does not exist`);
  const src = await fromNodeFile(path.resolve(file));
  try {
    return await decodeCalibration(src, expect);
  } finally {
    await src.close?.();
  }
}

export async function loadModel(dir: string, opts: LoadOptions, ids: number[] = [], calibrationFile?: string): Promise<MoeModel> {
  const { ckpt, spec } = await openModel(dir);
  try {
    checkIds(spec, ids);
    const calibration = opts.calibration !== undefined ? opts.calibration : await cliCalibration(dir, spec, calibrationFile);
    return await MoeModel.fromCheckpoint(ckpt, spec, await nodeGpu(), { ...opts, calibration });
  } finally {
    await ckpt.close();
  }
}

export async function tryTokenizer(dir: string, required: boolean): Promise<LoadedTokenizer | null> {
  try {
    return await loadTokenizer(filesFromNodeDir(dir));
  } catch (e) {
    if (required) throw e;
    return null;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  const { values: o } = parseArgs({
    args: rest,
    strict: true,
    options: {
      model: { type: 'string' },
      ids: { type: 'string' },
      prompt: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
      'text-file': { type: 'string' },
      batch: { type: 'string' },
      'weight-format': { type: 'string' },
      policy: { type: 'string' },
      calibration: { type: 'string' },
      mode: { type: 'string' },
      context: { type: 'string' },
      steps: { type: 'string' },
      segments: { type: 'string' },
      compare: { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
      tokens: { type: 'string' },
      'alloc-levels': { type: 'string' },
      'mass-levels': { type: 'string' },
      chunk: { type: 'string' },
      arrivals: { type: 'string' },
      after: { type: 'string' },
      groups: { type: 'string' },
    },
  });
  const dir = o.model !== undefined ? path.resolve(o.model) : defaultModelDir();
  const wf = (o['weight-format'] ?? 'f32') as WeightFormat;
  if (!WEIGHT_FORMATS.includes(wf)) throw new UsageError(`--weight-format must be ${WEIGHT_FORMATS.join(', ')}`);
  const policy = parsePolicy(o.policy);

  if (cmd === 'logits') {
    const ids = parseIds(o.ids);
    const model = await loadModel(dir, { weightFormat: wf, policy, maxSeqs: 1, maxContext: ids.length, maxBatchTokens: ids.length }, ids);
    const id = model.createSequence();
    const r = await model.forward({ seqs: [{ id, tokens: ids }], logits: 'all' });
    const V = model.spec.vocabSize;
    const all = r.logits![0];
    const out = { last_logits: Array.from(all.subarray((ids.length - 1) * V)), argmax: ids.map((_, t) => argmaxRef(all, V, t)) };
    process.stdout.write(JSON.stringify(out) + '\n');
    model.destroy();
    return 0;
  }

  if (cmd === 'generate') {
    if ((o.prompt === undefined) === (o.ids === undefined)) throw new UsageError('give exactly one of --prompt TEXT or --ids 1,2,3');
    // the library's own parameter rules (src/api/validate.ts), under the flags' names
    const maxTokens = checkMaxTokens(num(o['max-tokens'], 32, '--max-tokens', 1), '--max-tokens')!;
    const temperature = checkTemperature(num(o.temperature, 0, '--temperature', 0), '--temperature')!;
    const topP = checkTopP(num(o['top-p'], 1, '--top-p', 0), '--top-p')!;
    const seed = o.seed === undefined ? undefined : checkSeed(num(o.seed, 0, '--seed'), '--seed');
    const tok = await tryTokenizer(dir, o.prompt !== undefined);
    const { ckpt, spec } = await openModel(dir);
    let engine: LocalEngine;
    let stream: GenerateStream;
    try {
      // the library's rules: text prompts start with promptBos (webmoe-mini: <|endoftext|>, as in training)
      const prompt = o.prompt !== undefined ? encodePrompt(tok!, o.prompt, promptBos(tok, spec.bosTokenId)) : parseIds(o.ids);
      if (prompt.length === 0) throw new UsageError('the prompt encodes to no tokens');
      checkIds(spec, prompt);
      const maxContext = Math.min(prompt.length + 1 + maxTokens, 4096);
      const calibration = await cliCalibration(dir, spec, o.calibration);
      engine = await engineFromCheckpoint(ckpt, spec, tok, await nodeGpu(), { weightFormat: wf, policy, maxSequences: 1, maxContext, calibration });
      stream = engine.generate({ ids: prompt }, { maxTokens, temperature, topP, seed });
    } finally {
      await ckpt.close();
    }
    for await (const c of stream) process.stdout.write(tok ? c.text : c.token >= 0 ? `${c.token} ` : '');
    const { tokens } = await stream.result;
    process.stdout.write('\n');
    if (o.json) process.stdout.write(JSON.stringify({ ids: tokens }) + '\n');
    await engine.dispose();
    return 0;
  }

  if (cmd === 'eval' && o.mode === 'mixed') return (await import('./eval-mixed.ts')).evalMixedCommand(o, dir, wf, policy);
  if (cmd === 'eval' && (o.mode ?? 'prefill') === 'decode') return (await import('./eval-decode.ts')).evalDecodeCommand(o, dir, wf, policy);
  if (cmd === 'calibrate') return (await import('./calibrate.ts')).calibrateCommand(o, dir, wf);
  if (cmd === 'eval') {
    if (o.mode !== undefined && o.mode !== 'prefill') throw new UsageError(`--mode must be prefill (default: the training protocol), decode or mixed`);
    if (!o['text-file']) throw new UsageError('--text-file is required');
    const batch = num(o.batch, 4, '--batch', 1);
    const text = readFileSync(o['text-file'], 'utf8');
    const tok = await tryTokenizer(dir, true);
    const { spec } = await openModel(dir).then(async (m) => (await m.ckpt.close(), m));
    // documents start after the prompts' bos (tools/train/evaluate.py); without one, after the first stop id
    const bos = promptBos(tok, spec.bosTokenId) ?? stopTokenIds(tok, spec.eosTokenIds)[0];
    if (bos === undefined) throw new UsageError('no bos token: config.json has no bos_token_id or eos_token_id and the tokenizer none either');
    const chunks = evalChunks(tok!.encode(text, { addSpecialTokens: false }), 128, bos);
    if (chunks.length === 0) throw new UsageError(`${o['text-file']}: no tokens to evaluate`);
    const model = await loadModel(dir, { weightFormat: wf, policy, maxSeqs: batch, maxContext: 129, maxBatchTokens: batch * 128 }, [], o.calibration);
    let nll = 0;
    let count = 0;
    const t0 = performance.now();
    for (let i = 0; i < chunks.length; i += batch) {
      const group = chunks.slice(i, i + batch);
      const seqs = group.map((c) => ({ id: model.createSequence(), tokens: c.input }));
      const r = await model.forward({ seqs, logits: 'all' });
      seqs.forEach((s) => model.freeSequence(s.id));
      group.forEach((c, j) => {
        nll += nllOfTargets(r.logits![j], model.spec.vocabSize, c.targets);
        count += c.targets.length;
      });
    }
    const ppl = Math.exp(nll / count);
    const secs = (performance.now() - t0) / 1000;
    if (o.json) process.stdout.write(JSON.stringify({ ppl, nll: nll / count, tokens: count, chunks: chunks.length, seconds: secs }) + '\n');
    else process.stdout.write(`perplexity ${ppl.toFixed(4)} over ${count} tokens (${chunks.length} chunks of <= 128, ${secs.toFixed(1)} s)\n`);
    model.destroy();
    return 0;
  }
  throw new UsageError(`unknown command '${cmd}'\n${USAGE}`);
}

/** Run and exit: one `error: ...` line and exit code 1 on any failure (2 for usage errors). */
export async function run(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`error: ${msg.split('\n')[0].replace(/^webmoe: /, '')}\n`);
    code = e instanceof UsageError || (e as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : 1;
  }
  // Dawn keeps the event loop alive; exit explicitly once output is flushed.
  process.stdout.write('', () => process.exit(code));
}
