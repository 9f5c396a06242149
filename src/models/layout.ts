// Small helpers about checkpoint layouts and attention-window options shared by several architectures.
import { FormatError } from '../format/errors.ts';
import { CONFIG_FILE, type ConfigReader } from './common.ts';

/** Hub checkpoints store one tensor per expert; transformers 5 may save the fused in-memory layout. */
export function expertLayout(names: ReadonlySet<string>, moePrefix: string): 'per_expert' | 'fused_gate_up' {
  for (const n of names) if (n.endsWith(`.${moePrefix}.experts.gate_up_proj`)) return 'fused_gate_up';
  return 'per_expert';
}

/** Qwen-style use_sliding_window: we implement full causal attention only. */
export function noSlidingWindow(c: ConfigReader): void {
  if (c.bool('use_sliding_window', false)) {
    throw new FormatError('UNSUPPORTED', CONFIG_FILE, "use_sliding_window: true is not supported (full causal attention only)");
  }
}

/** Mixtral's sliding_window (applies to every layer when set). */
export function slidingWindow(c: ConfigReader): number | null {
  const w = c.optInt('sliding_window');
  return w !== null && w > 0 ? w : null;
}
