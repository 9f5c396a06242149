// The policy control: a kind and one budget knob, turned into the engine's serialisable policy, and
// the short label a step's policy gets in the page's state and stats.
import type { Policy } from 'webmoe';

export interface PolicyKind {
  value: string;
  label: string;
  /** Knob label, range and default; absent for policies without a budget. */
  knob?: { label: string; min: number; max: (topK: number) => number; step: number; initial: (topK: number) => number; format: (v: number) => string };
  make(v: number): Policy;
  /** The knob value if `p` is this kind of policy, else null. */
  read(p: Policy): number | null;
}

const pct = (v: number) => `${Math.round(v * 100)}%`;

export const POLICY_KINDS: PolicyKind[] = [
  { value: 'baseline', label: 'baseline top-k (exact)', make: () => ({ kind: 'baseline' }), read: (p) => (p.kind === 'baseline' ? 0 : null) },
  {
    value: 'xshare',
    label: "XShare: share of the batch's experts",
    knob: { label: 'keep', min: 0.1, max: () => 1, step: 0.05, initial: () => 0.6, format: pct },
    make: (v) => ({ kind: 'xshare', fraction: v }),
    read: (p) => (p.kind === 'xshare' && typeof p.fraction === 'number' ? p.fraction : null),
  },
  {
    value: 'xshare_coverage',
    label: 'XShare: gating-mass coverage',
    knob: { label: 'mass', min: 0.5, max: () => 1, step: 0.01, initial: () => 0.9, format: pct },
    make: (v) => ({ kind: 'xshare', coverage: v }),
    read: (p) => (p.kind === 'xshare' && typeof p.coverage === 'number' ? p.coverage : null),
  },
  {
    value: 'alloc_t',
    label: 'Alloc-T: expert slots per token',
    knob: { label: 'k', min: 1, max: (k) => k, step: 0.25, initial: (k) => Math.max(1, k / 2), format: (v) => v.toFixed(2) },
    make: (v) => ({ kind: 'alloc_t', k: v }),
    read: (p) => (p.kind === 'alloc_t' ? p.k : null),
  },
  {
    value: 'reduced_topk',
    label: 'reduced top-k',
    knob: { label: 'k', min: 1, max: (k) => k, step: 1, initial: (k) => Math.max(1, Math.floor(k / 2)), format: (v) => String(v) },
    make: (v) => ({ kind: 'reduced_topk', k: Math.round(v) }),
    read: (p) => (p.kind === 'reduced_topk' && typeof p.k === 'number' ? p.k : null),
  },
];

export function policyLabel(kind: PolicyKind, v: number): string {
  return kind.knob ? `${kind.value} ${kind.knob.format(v)}` : kind.value;
}

/** Label of a policy a step reports (its kind's label, or its JSON for kinds the control does not offer). */
export function describePolicy(p: Policy | undefined): string {
  if (!p) return 'baseline';
  for (const k of POLICY_KINDS) {
    const v = k.read(p);
    if (v !== null) return policyLabel(k, v);
  }
  return JSON.stringify(p);
}
