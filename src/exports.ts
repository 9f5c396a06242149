// What both entry points export (src/index.ts for browsers and Workers, src/node.ts for Node): the
// platform-neutral API. Nothing here reaches a platform's GPU or shader loader, so Node can import the
// sources without Vite (gpu/wgsl-bundled.ts uses import.meta.glob) and the browser bundle gets no node:*.
export { Engine } from './api/engine.ts';
export type { GenerateOptions, GenerateChunk, GenerateOutput, GenerateStream, ChatCompletionRequest, ChatCompletionChunk, ChatCompletion, DisposeOptions } from './api/engine.ts';
export { ParameterError, EngineDisposedError } from './api/errors.ts';
export type { EngineOptions } from './api/load.ts';
export { loadEngine, createEngineWith } from './api/load.ts';
export { createGpu, Gpu } from './gpu/context.ts';
export { GpuUnavailableError, GpuDeviceLostError } from './gpu/errors.ts';
export * from './format/index.ts';
export { MoeModel } from './runtime/model.ts';
export type { GpuPolicy } from './runtime/model.ts';
export { route } from './routing/policies.ts';
export type { PolicyConfig, RouterConfig, RouteResult } from './routing/types.ts';
export { Scheduler } from './scheduler/scheduler.ts';
export type { StepMetrics, FinishReason } from './scheduler/scheduler.ts';
