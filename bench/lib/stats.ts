// Order statistics for benchmark samples: medians and spreads, never means of noisy timings.

/** Linear-interpolated quantile q in [0, 1] of v (NaN for an empty list). */
export function quantile(v: readonly number[], q: number): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function median(v: readonly number[]): number {
  return quantile(v, 0.5);
}

export interface Summary {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  n: number;
}

/** Median, quartiles and range of a sample. */
export function summarize(v: readonly number[]): Summary {
  return { median: median(v), p25: quantile(v, 0.25), p75: quantile(v, 0.75), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** (p75 - p25) / median: the relative spread printed next to a median. */
export function relSpread(s: Summary): number {
  return (s.p75 - s.p25) / s.median;
}

/**
 * Run `reps` rounds over `cases`, one sample of each case per round, the order rotated every round, so
 * slow drifts of a shared machine (other jobs, thermal) hit every case alike. Returns samples per case.
 */
export async function interleaved<C, S>(cases: readonly C[], reps: number, sample: (c: C, rep: number) => Promise<S>): Promise<S[][]> {
  const out: S[][] = cases.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < cases.length; i++) {
      const j = (i + r) % cases.length;
      out[j].push(await sample(cases[j], r));
    }
  }
  return out;
}
