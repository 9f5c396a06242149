// Checkpoint layouts shared by several architectures.

/** Hub checkpoints store one tensor per expert; transformers 5 may save the fused in-memory layout. */
export function expertLayout(names: ReadonlySet<string>, moePrefix: string): 'per_expert' | 'fused_gate_up' {
  for (const n of names) if (n.endsWith(`.${moePrefix}.experts.gate_up_proj`)) return 'fused_gate_up';
  return 'per_expert';
}
