// `webmoe eval --mode mixed`: decode tokens and prompt chunks in the same steps (src/eval/mixed.ts), the
// baseline and the policy under each scope ('all', 'decode', 'decode_union') on the same tokens.
import type { WeightFormat } from '../quant/pack.ts';
import type { Policy } from '../routing/types.ts';
import { expertBytes } from '../eval/decode.ts';
import { evalMixed, planMixed, scopeVariants, type MixedEvalResult } from '../eval/mixed.ts';
import { openStepModel, readEvalTokens, type CliValues } from './eval-decode.ts';
import { UsageError, num } from './main.ts';

function summary(r: MixedEvalResult): string {
  const f = (v: number, d = 4) => v.toFixed(d);
  const lines = [`mixed steps: ${r.groups} groups, batch ${r.batch} decode tokens + ${r.arrivals} x ${r.chunk} prompt tokens per step ` +
    `(${r.decode_tokens} decode tokens, ${r.arrival_tokens} later tokens of the prefilled sequences), ${r.seconds.toFixed(1)} s`,
  `baseline: decode ppl ${f(r.baseline.decode_ppl)}, prefilled sequences' later ppl ${f(r.baseline.arrival_ppl)}, distinct experts per layer per step ${f(r.baseline.distinct_experts, 2)}`];
  for (const x of r.runs) {
    lines.push(`${JSON.stringify(x.policy)}: decode ppl x${f(x.decode_ppl_ratio)} (NLL ${f(x.decode_nll_diff)} +- ${f(x.decode_nll_diff_se)}), ` +
      `later ppl x${f(x.arrival_ppl_ratio)} (NLL ${f(x.arrival_nll_diff)} +- ${f(x.arrival_nll_diff_se)}), distinct ${f(x.distinct_experts, 2)} (x${f(x.distinct_ratio, 3)})`);
  }
  return lines.join('\n');
}

export async function evalMixedCommand(o: CliValues, dir: string, wf: WeightFormat, policy: Policy): Promise<number> {
  if (policy.kind === 'baseline') throw new UsageError('--mode mixed compares a policy with the baseline: give --policy (e.g. mass:0.9,reroute=refill)');
  const opt = (k: string, d: number, min: number) => num(o[k] as string | undefined, d, `--${k}`, min);
  const batch = opt('batch', 16, 1);
  const mo = {
    batch, context: opt('context', 32, 2), steps: opt('steps', 32, 1), prompt: opt('prompt', 64, 1), chunk: opt('chunk', 32, 1),
    arrivals: opt('arrivals', 1, 1), after: opt('after', 16, 1), groups: o.groups !== undefined ? opt('groups', 1, 1) : undefined,
  };
  const backend = (o.backend as string | undefined) ?? 'webgpu';
  const { ids, bos, spec } = await readEvalTokens(dir, o['text-file'] as string | undefined);
  let plan;
  try {
    plan = planMixed(ids, { ...mo, bos, expertBytes: 0 }, Number.MAX_SAFE_INTEGER);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { model, destroy } = await openStepModel(dir, backend, wf, {
    seqs: batch + plan.perGroup, context: Math.max(mo.context + mo.steps, mo.prompt + mo.after), batchTokens: Math.max(plan.rows, batch * mo.context),
    calibration: o.calibration as string | undefined,
  });
  try {
    const r = await evalMixed(model, ids, { ...mo, bos, expertBytes: expertBytes(spec, wf) }, scopeVariants(policy));
    const out = { ...r, backend, model: dir, text: o['text-file'] };
    process.stdout.write((o.json ? JSON.stringify(out) : summary(r)) + '\n');
  } finally {
    destroy();
  }
  return 0;
}
