// Which token rows of one step a policy covers (PolicyScope in types.ts): the one rule the WebGPU runtime
// and the reference model both use to build the per-token mask their routing kernels read.
import { policyScopeOf } from './resolve.ts';
import type { Policy } from './types.ts';

/** One item of a step as far as scope is concerned; `prefill: true` marks a prompt chunk. */
export interface ScopedItem {
  tokens: readonly number[];
  prefill?: boolean;
}

/**
 * The rows under the policy when only some are: policy[t] = 1 for a decode row, 0 for a prompt-chunk row
 * (rows in item order, as the step flattens them); count = rows under the policy; union = the prompt
 * rows' baseline experts count as kept for the others ('decode_union').
 */
export interface TokenScope {
  policy: Uint8Array;
  count: number;
  union: boolean;
}

/**
 * The step's token scope, or null when the policy covers every row: scope 'all', a baseline policy, or no
 * prompt chunk in the step (then 'decode' and 'decode_union' route exactly as 'all').
 */
export function tokenScope(items: readonly ScopedItem[], policy: Policy): TokenScope | null {
  const scope = policyScopeOf(policy);
  if (scope === 'all' || policy.kind === 'baseline' || !items.some((q) => q.prefill)) return null;
  const T = items.reduce((a, q) => a + q.tokens.length, 0);
  const mask = new Uint8Array(T);
  let t = 0;
  let count = 0;
  for (const q of items) {
    if (!q.prefill) {
      mask.fill(1, t, t + q.tokens.length);
      count += q.tokens.length;
    }
    t += q.tokens.length;
  }
  return { policy: mask, count, union: scope === 'decode_union' };
}
