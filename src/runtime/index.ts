// Public runtime surface: a model on the GPU with its KV cache, one batched forward step, generation.
export { MoeModel, type LoadOptions, type StepRequest, type StepResult, type StepSequence, type GenerateOptions, type GpuPolicy } from './model.ts';
export { KvCache } from './kv_cache.ts';
export { sampleToken, seededRandom } from './sampling.ts';
export { resolveSpec, specFromConfig, checkTensors, ARCHITECTURES, type MoeModelSpec } from '../models/index.ts';
