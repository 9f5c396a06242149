// The policy control: a kind and one budget knob, turned into the engine's serialisable policy.
import type { Policy } from 'webmoe';

export interface PolicyKind {
  value: string;
  label: string;
  /** Knob label, range and default; absent for policies without a budget. */
  knob?: { label: string; min: number; max: (topK: number) => number; step: number; initial: (topK: number) => number; format: (v: number) => string };
  make(v: number): Policy;
}

export const POLICY_KINDS: PolicyKind[] = [
  { value: 'baseline', label: 'baseline top-k (exact)', make: () => ({ kind: 'baseline' }) },
  {
    value: 'xshare',
    label: 'XShare: share of the batch\'s experts',
    knob: { label: 'keep', min: 0.1, max: () => 1, step: 0.05, initial: () => 0.6, format: (v) => `${Math.round(v * 100)}%` },
    make: (v) => ({ kind: 'xshare', fraction: v }),
  },
  {
    value: 'xshare_coverage',
    label: 'XShare: gating-mass coverage',
    knob: { label: 'mass', min: 0.5, max: () => 1, step: 0.01, initial: () => 0.9, format: (v) => `${Math.round(v * 100)}%` },
    make: (v) => ({ kind: 'xshare', coverage: v }),
  },
  {
    value: 'alloc_t',
    label: 'Alloc-T: expert slots per token',
    knob: { label: 'k', min: 1, max: (k) => k, step: 0.25, initial: (k) => Math.max(1, k / 2), format: (v) => v.toFixed(2) },
    make: (v) => ({ kind: 'alloc_t', k: v }),
  },
  {
    value: 'reduced_topk',
    label: 'reduced top-k',
    knob: { label: 'k', min: 1, max: (k) => k, step: 1, initial: (k) => Math.max(1, Math.floor(k / 2)), format: (v) => String(v) },
    make: (v) => ({ kind: 'reduced_topk', k: Math.round(v) }),
  },
];

export function policyLabel(kind: PolicyKind, v: number): string {
  return kind.knob ? `${kind.value} ${kind.knob.format(v)}` : kind.value;
}
