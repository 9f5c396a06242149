// Messages between the page and the engine Worker (comlink RPC). Streams cross as callbacks wrapped
// with Comlink.proxy; everything else is structured-cloneable.
import type { GenerateChunk, GenerateOptions, GenerateOutput, ChatCompletionRequest } from '../api/engine.ts';
import type { StepMetrics, FinishReason } from '../scheduler/scheduler.ts';
import type { GpuPolicy } from '../runtime/model.ts';
import type { WeightFormat } from '../quant/pack.ts';
import type { LoadProgress } from '../format/checkpoint.ts';

export type { LoadProgress } from '../format/checkpoint.ts';

export interface WorkerLoadOptions {
  /** Base URL of a Hugging Face model folder (config.json, *.safetensors, tokenizer.json). */
  modelUrl: string;
  weightFormat?: WeightFormat;
  maxSequences?: number;
  maxContext?: number;
  policy?: GpuPolicy;
}

export interface WorkerApi {
  load(opts: WorkerLoadOptions, onProgress?: (p: LoadProgress) => void): Promise<{ adapter: string; model: string }>;
  /** `requestId` is chosen by the caller so it can cancel before the result arrives. */
  generate(
    requestId: number,
    prompt: string | { ids: number[] },
    opts: Omit<GenerateOptions, 'signal'>,
    onChunk: (c: GenerateChunk) => void,
  ): Promise<GenerateOutput>;
  chat(requestId: number, req: Omit<ChatCompletionRequest, 'signal' | 'stream'>, onDelta: (text: string) => void): Promise<{ text: string; finishReason: FinishReason }>;
  cancel(requestId: number): void;
  onStep(cb: (m: StepMetrics) => void): void;
  dispose(): Promise<void>;
}
