// The routing policies every benchmark compares, in one list. Adding a policy = adding one line here
// (a name and how to build its GpuPolicy for a model); the first entry is the baseline every ratio
// divides by. `make` returns null when the policy does not apply to the model (e.g. k = 1).
import type { Policy as GpuPolicy } from '../../src/routing/types.ts';
import type { MoeModelSpec } from '../../src/models/spec.ts';

export interface BenchPolicy {
  name: string;
  /** `calibrated`: the model folder shipped calibration.safetensors (SERE's similarity, auto's sensitivity). */
  make: (spec: MoeModelSpec, calibrated: boolean) => GpuPolicy | null;
}

export const POLICIES: BenchPolicy[] = [
  { name: 'baseline', make: () => ({ kind: 'baseline' }) },
  { name: 'topk/2', make: (s) => (s.topK > 1 ? { kind: 'reduced_topk', k: Math.max(1, s.topK >> 1) } : null) },
  { name: 'xshare75%', make: () => ({ kind: 'xshare', fraction: 0.75 }) },
  { name: 'xshare50%', make: () => ({ kind: 'xshare', fraction: 0.5 }) },
  { name: 'xshare25%', make: () => ({ kind: 'xshare', fraction: 0.25 }) },
  { name: 'allocT k/2', make: (s) => (s.topK > 1 ? { kind: 'alloc_t', k: s.topK / 2 } : null) },
  // webmoe's mass policy; 'refill' needs no calibrated similarity
  { name: 'mass90%', make: () => ({ kind: 'mass', coverage: 0.9, reroute: 'refill' }) },
  // the calibrated ones run only on models that ship a calibration file (the default model does)
  { name: 'sere', make: (_s, c) => (c ? { kind: 'sere', selectTopK: 2, threshold: 0.1 } : null) },
  { name: 'auto1%', make: (_s, c) => (c ? { kind: 'auto', maxPerplexityRise: 0.01 } : null) },
];

export const BASELINE = POLICIES[0].name;

/** The baseline plus the policies named ('all': every one) that apply to this model, baseline first. */
export function policiesFor(spec: MoeModelSpec, names: readonly string[] | 'all', calibrated = false): { name: string; policy: GpuPolicy }[] {
  const all = names === 'all';
  const unknown = all ? [] : names.filter((n) => !POLICIES.some((p) => p.name === n));
  if (unknown.length) throw new Error(`bench: unknown policy ${unknown.join(', ')} (known: ${POLICIES.map((p) => p.name).join(', ')})`);
  const out: { name: string; policy: GpuPolicy }[] = [];
  for (const p of POLICIES) {
    if (p.name !== BASELINE && !all && !names.includes(p.name)) continue;
    const policy = p.make(spec, calibrated);
    if (policy) out.push({ name: p.name, policy });
  }
  return out;
}
