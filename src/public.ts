// The public API both entry points share (webmoe and webmoe/node), grouped. Everything not listed
// here is internal; the file-format layer is the `webmoe/format` subpath.

// Engines: one interface, implemented in this thread (LocalEngine) and in a Worker (WorkerEngine, browser entry).
export type { Engine, EngineInfo, ExpertShape, Prompt, GenerateOptions, GenerateChunk, GenerateOutput, GenerateStream, StepMetrics, FinishReason } from './api/types.ts';
export { LocalEngine } from './api/engine.ts';

// Options.
export type { EngineOptions } from './api/load.ts';
export type { Policy } from './api/policy.ts';
export type { WeightFormat } from './quant/pack.ts';
export type { LoadProgress, LoadSource } from './api/types.ts';

// OpenAI chat-completions shape.
export type {
  ChatCompletions,
  ChatCompletionCreateParams,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionRequestOptions,
  ChatCompletionMessageParam,
  ChatContentPart,
  ChatCompletionChunk,
  ChatCompletion,
  ChatFinishReason,
  CompletionUsage,
} from './api/types.ts';

// Errors.
export { FormatError, type FormatErrorCode } from './format/errors.ts';
export { GpuUnavailableError, GpuDeviceLostError } from './gpu/errors.ts';
export { EngineDisposedError, ParameterError } from './api/errors.ts';

// Model files.
export type { CheckpointFiles } from './format/checkpoint.ts';
export { DEFAULT_MODEL_NAME } from './default-model-urls.ts';
