// The GPU runtime seen through the scheduler's BatchModel interface. Greedy rows use the GPU argmax;
// sampled rows read back their last logits and sample on the CPU with the scheduler's random number.
import type { MoeModel, GpuPolicy } from '../runtime/model.ts';
import { sampleToken } from '../runtime/sampling.ts';
import type { BatchModel, StepItem, StepResult } from '../scheduler/types.ts';
import type { Policy } from './policy.ts';

export class MoeBatchModel implements BatchModel {
  policy: GpuPolicy | undefined;

  constructor(readonly model: MoeModel, readonly eosTokenIds: readonly number[], policy?: GpuPolicy) {
    this.policy = policy;
  }

  get maxContext(): number {
    return this.model.maxContext;
  }

  get vocabSize(): number {
    return this.model.spec.vocabSize;
  }

  get maxSequences(): number {
    return this.model.maxSeqs;
  }

  newSequence(): number {
    return this.model.createSequence();
  }

  freeSequence(seq: number): void {
    this.model.freeSequence(seq);
  }

  /**
   * When a step fails because the device went away, WebGPU rejects the read-back with a bare
   * AbortError, and device.lost may settle a moment later: wait briefly for it, so the error says why.
   */
  private async lostError(): Promise<Error | null> {
    const gpu = this.model.gpu;
    if (!gpu.isLost) await Promise.race([gpu.lost, new Promise((r) => setTimeout(r, 50))]);
    return gpu.lostError();
  }

  /** Throws (and keeps the current policy) when the model cannot run `policy`, e.g. a calibrated one without calibration. */
  setPolicy(policy: GpuPolicy): void {
    this.model.resolve(policy);
    this.policy = policy;
  }

  async step(items: StepItem[]): Promise<StepResult> {
    const sampled = items.some((it) => it.sampling.temperature > 0);
    // read once: a switch while this step runs applies to the next one
    const policy = this.policy ?? this.model.policy;
    let r;
    try {
      r = await this.model.forward({
        seqs: items.map((it) => ({ id: it.seq, tokens: it.tokens, prefill: it.prefill })),
        logits: sampled ? 'last' : 'none',
        policy,
      });
    } catch (e) {
      throw (await this.lostError()) ?? e;
    }
    return {
      next: items.map((it, i) => {
        const { temperature, topP, u } = it.sampling;
        return temperature > 0 ? sampleToken(r.logits![i], temperature, topP, () => u ?? Math.random()) : r.next[i];
      }),
      distinctExperts: r.distinctExperts,
      policy: policy as Policy,
      routing: r.routing.map((l) => ({ experts: l.experts, baselineExperts: l.baselineExperts, massKept: l.massKept })),
    };
  }
}
