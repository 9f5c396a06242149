// Browser and Web Worker: WebGPU from navigator.gpu, shaders bundled by Vite.
import { createGpu, type CreateGpuOptions, type Gpu } from './context.ts';
import { installBundledShaderLoader } from './wgsl-bundled.ts';

export async function createBrowserGpu(opts: CreateGpuOptions = {}): Promise<Gpu> {
  installBundledShaderLoader();
  return createGpu((globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu, opts);
}
