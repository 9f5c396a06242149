// The policy mini-language of the CLI and URLs: `kind[:value][,key=value...]`, or a JSON object.
//   baseline | reduced_topk:2 | reduced_topk:k=4/3/2/2 (per layer, '/'-separated) | xshare:0.7 (fraction)
//   xshare:budget=12 | xshare:coverage=0.9 | sere | sere:select=1,threshold=0,sim=cosine | alloc:2.5
//   alloc:3,tokens=1 | alloc_t:2 | mass:0.9 | mass:coverage=0.9,reroute=refill | auto | auto:0.02
//   '{"kind":"mass","coverage":[0.9,0.95,0.9,0.9]}'
//   any kind: ,scope=all|decode|decode_union (which rows of a mixed step the policy covers)
import type { Policy } from './types.ts';

/** The key a bare value sets, per kind. */
const PRIMARY: Record<string, string> = {
  reduced_topk: 'k', xshare: 'fraction', alloc: 'k', alloc_t: 'k', mass: 'coverage', auto: 'maxPerplexityRise', sere: 'selectTopK',
};
const ALIASES: Record<string, string> = { select: 'selectTopK', sim: 'similarity', rise: 'maxPerplexityRise', min: 'minTokens' };
const STRINGS = new Set(['reroute', 'similarity', 'scope']);
const BOOLS = new Set(['tokens']);

export class PolicyParseError extends Error {}

/** Parse a policy string; the result still goes through resolvePolicy's checks. */
export function parsePolicyString(s: string): Policy {
  const t = s.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t) as Policy;
    } catch (e) {
      throw new PolicyParseError(`policy '${s}': not valid JSON (${(e as Error).message})`);
    }
  }
  const i = t.indexOf(':');
  const kind = i < 0 ? t : t.slice(0, i);
  const rest = i < 0 ? '' : t.slice(i + 1);
  const out: Record<string, unknown> = { kind };
  if (kind === 'auto') out.maxPerplexityRise = 0.01;
  if (!(kind in PRIMARY) && kind !== 'baseline') {
    throw new PolicyParseError(`policy '${s}': unknown kind '${kind}' (baseline, reduced_topk, xshare, sere, alloc, alloc_t, mass, auto)`);
  }
  for (const item of rest.split(',').filter((x) => x !== '')) {
    const eq = item.indexOf('=');
    const rawKey = eq < 0 ? PRIMARY[kind] : item.slice(0, eq);
    if (!rawKey) throw new PolicyParseError(`policy '${s}': '${kind}' takes no value`);
    const key = ALIASES[rawKey] ?? rawKey;
    const val = eq < 0 ? item : item.slice(eq + 1);
    if (STRINGS.has(key)) out[key] = val;
    else if (BOOLS.has(key)) out[key] = val === '1' || val === 'true';
    else {
      const nums = val.split('/').map(Number);
      if (nums.some((v) => !Number.isFinite(v))) throw new PolicyParseError(`policy '${s}': ${key}=${val} is not a number (per-layer values are '/'-separated)`);
      out[key] = nums.length === 1 ? nums[0] : nums;
    }
  }
  return out as Policy;
}
