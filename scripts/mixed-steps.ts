/**
 * `npm run mixed-steps`: the measurement behind the policies' default scope (docs/ARCHITECTURE.md, "Mixed
 * steps"). Mixed-step evaluation (src/eval/mixed.ts) of the baseline and each policy under each scope
 * ('all', 'decode', 'decode_union') on the same tokens; writes docs/results/mixed-steps.json and .md.
 *   tsx scripts/mixed-steps.ts [--model DIR] [--text-file HELDOUT] [--backend reference|webgpu] [--groups 6]
 *                              [--small-groups 4] [--out docs/results/mixed-steps]
 * The held-out text is tools/work/heldout.txt (python3 tools/train/corpus.py --fetch writes it).
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultModelDir } from '../src/default-model.ts';
import { openStepModel, readEvalTokens } from '../src/cli/eval-decode.ts';
import { expertBytes } from '../src/eval/decode.ts';
import { evalMixed, planMixed, scopeVariants, type MixedEvalOptions, type MixedEvalResult } from '../src/eval/mixed.ts';
import { parsePolicyString } from '../src/routing/parse.ts';
import { DEFAULT_POLICY_SCOPE } from '../src/routing/resolve.ts';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, 'text-file': { type: 'string' }, backend: { type: 'string' }, groups: { type: 'string' },
    'small-groups': { type: 'string' }, out: { type: 'string' },
  },
});
const dir = path.resolve(a.model ?? defaultModelDir());
const textFile = a['text-file'] ?? 'tools/work/heldout.txt';
const backend = a.backend ?? 'reference';
const out = a.out ?? 'docs/results/mixed-steps';
const POLICIES = ['mass:0.9,reroute=refill', 'xshare:0.7', 'sere'];

/** The scheduler's defaults under load: 16 decode tokens and one 32-token prompt chunk per step; then small chunks. */
const CONFIGS: { name: string; policies: string[]; o: Omit<MixedEvalOptions, 'bos' | 'expertBytes'> }[] = [
  { name: 'chunk 32', policies: POLICIES, o: { batch: 16, context: 32, steps: 32, prompt: 64, chunk: 32, arrivals: 1, after: 16, groups: Number(a.groups ?? 6) } },
  { name: 'chunk 8', policies: POLICIES.slice(0, 1), o: { batch: 16, context: 32, steps: 32, prompt: 32, chunk: 8, arrivals: 1, after: 16, groups: Number(a['small-groups'] ?? 4) } },
];

const { ids, bos, spec } = await readEvalTokens(dir, textFile);
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const results: { name: string; command: string; result: MixedEvalResult }[] = [];
const command = `npx tsx scripts/mixed-steps.ts --backend ${backend} --text-file ${textFile} --groups ${CONFIGS[0].o.groups} --small-groups ${CONFIGS[1].o.groups}`;
for (const c of CONFIGS) {
  const plan = planMixed(ids, { ...c.o, bos, expertBytes: 0 }, Number.MAX_SAFE_INTEGER);
  const { model, destroy } = await openStepModel(dir, backend, 'f32', {
    seqs: c.o.batch + plan.perGroup, context: Math.max(c.o.context! + c.o.steps!, c.o.prompt! + c.o.after!), batchTokens: Math.max(plan.rows, c.o.batch * c.o.context!),
  });
  try {
    const policies = c.policies.flatMap((p) => scopeVariants(parsePolicyString(p)));
    let last = 0;
    const r = await evalMixed(model, ids, { ...c.o, bos, expertBytes: expertBytes(spec, 'f32'), onProgress: (d, t) => {
      if (d - last >= 20 || d === t) { last = d; process.stderr.write(`${c.name}: ${d}/${t}\n`); }
    } }, policies);
    const cli = `node bin/webmoe.js eval --mode mixed --backend ${backend} --text-file ${textFile} --batch ${c.o.batch} --context ${c.o.context} --steps ${c.o.steps} --prompt ${c.o.prompt} --chunk ${c.o.chunk} --arrivals ${c.o.arrivals} --after ${c.o.after} --groups ${c.o.groups} --policy P --json`;
    results.push({ name: c.name, command: cli, result: r });
  } finally {
    destroy();
  }
  write();
}

function write(): void {
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(`${out}.json`, JSON.stringify({ date, commit, model: path.basename(dir), text: textFile, backend, command, default_scope_when_run: DEFAULT_POLICY_SCOPE, configs: results }, null, 1) + '\n');
  const f = (v: number, d = 4) => v.toFixed(d);
  const pct = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(2)}%`;
  const se = (s: number) => `± ${(s * 100).toFixed(2)}%`;
  const md: string[] = [
    '# Mixed steps: which tokens a batch policy covers',
    '',
    `${date}, commit ${commit}, model ${path.basename(dir)} (its shipped calibration), held-out text \`${textFile}\`, backend ${backend} (the WebGPU kernels' reference, f32).`,
    `Command: \`${command}\` (one process; each configuration is also \`webmoe eval --mode mixed\`, below).`,
    '',
    'Each mixed step carries one teacher-forced decode token of each of the batch\'s held-out segments and a prompt chunk of',
    'another segment (the scheduler\'s order: decode tokens first); after its prompt, each prefilled segment decodes',
    `\`after\` teacher-forced tokens with the baseline policy, so its perplexity differs between runs only by the KV cache`,
    'its prompt left. Every run sees the same tokens in the same steps. Perplexity changes are against the baseline run',
    'on the same tokens, with the paired standard error of the mean NLL difference (≈ relative ppl change). Distinct',
    'experts: per MoE layer per mixed step, all rows (what the step reads).',
    '',
  ];
  for (const { name, command: cli, result: r } of results) {
    md.push(`## ${name}: batch ${r.batch} decode tokens + ${r.arrivals} × ${r.chunk} prompt tokens per step`, '',
      `${r.groups} groups, ${r.decode_tokens} decode tokens, ${r.arrival_tokens} later tokens of ${r.groups * (r.arrival_tokens / r.groups / r.after)} prefilled segments (prompt ${r.prompt} tokens), ${r.rows_per_step} rows per step, ${f(r.seconds, 0)} s. \`${cli}\``, '',
      `Baseline: decode ppl ${f(r.baseline.decode_ppl, 3)}, prefilled segments' later ppl ${f(r.baseline.arrival_ppl, 3)}, distinct experts ${f(r.baseline.distinct_experts, 2)} of ${spec.numExperts}.`, '',
      '| policy | scope | decode tokens ppl | prefilled segments\' later ppl | distinct experts / layer / step | vs baseline | mass kept |',
      '| --- | --- | --- | --- | --- | --- | --- |');
    for (const x of r.runs) {
      const { scope, ...p } = x.policy as { scope: string };
      md.push(`| \`${JSON.stringify(p)}\` | ${scope} | ${pct(x.decode_ppl_ratio)} ${se(x.decode_nll_diff_se)} | ${pct(x.arrival_ppl_ratio)} ${se(x.arrival_nll_diff_se)} | ${f(x.distinct_experts, 2)} | ${pct(x.distinct_ratio)} | ${f(x.mass_kept, 3)} |`);
    }
    md.push('');
  }
  writeFileSync(`${out}.md`, md.join('\n'));
}
