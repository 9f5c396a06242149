// What crosses between the demo page and its engine Worker (comlink; callbacks wrapped in proxies).
import type { GenerateOutput, Policy, StepMetrics } from 'webmoe';

export interface LoadRequest {
  /** Base URL of a Hugging Face model folder (config.json, *.safetensors, tokenizer.json). */
  url?: string;
  /** Or the files of a picked folder, with their paths inside it. */
  files?: { path: string; file: File }[];
  weightFormat?: 'f32' | 'f16' | 'int8' | 'int4';
  maxSequences?: number;
  policy?: Policy;
}

export interface LoadProgressEvent {
  bytesRead: number;
  totalBytes: number;
  tensor: string;
}

export interface ModelInfo {
  name: string;
  adapter: string;
  layers: number;
  experts: number;
  topK: number;
  /** GPU bytes of one expert's gate, up and down matrices in the loaded weight format. */
  expertBytes: number;
  maxSequences: number;
  loadSeconds: number;
}

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface SamplingOptions {
  maxTokens: number;
  temperature: number;
  seed?: number;
}

export interface ChatOutput {
  text: string;
  finishReason: string;
  /** Streamed pieces of text (one per generated token that completed text). */
  tokens: number;
}

export interface DemoWorkerApi {
  load(req: LoadRequest, onProgress?: (p: LoadProgressEvent) => void): Promise<ModelInfo>;
  /** `id` is the caller's, so it can cancel before the result arrives. */
  generate(id: number, prompt: string, opts: SamplingOptions, onChunk: (text: string, token: number) => void): Promise<GenerateOutput>;
  chat(id: number, messages: ChatTurn[], opts: SamplingOptions, onDelta: (text: string) => void): Promise<ChatOutput>;
  cancel(id: number): void;
  /**
   * Routing policy from the next step on; the model stays loaded. Returns the last finished step:
   * the one after it may still run the old policy, all later ones run the new one.
   */
  setPolicy(policy: Policy): number;
  onStep(cb: (m: StepMetrics) => void): void;
}
