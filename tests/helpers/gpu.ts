// One real WebGPU device per test file (Dawn in Node). Without an adapter the GPU tests FAIL; set
// WEBMOE_SKIP_GPU=1 outside CI to skip them deliberately instead.
import { afterAll, beforeAll } from 'vitest';
import { createNodeGpu } from '../../src/gpu/node.ts';
import type { Gpu } from '../../src/gpu/context.ts';

let shared: Promise<Gpu> | null = null;

export const skipGpu = process.env.WEBMOE_SKIP_GPU === '1' && process.env.CI !== 'true';

export function getTestGpu(): Promise<Gpu> {
  shared ??= createNodeGpu();
  return shared;
}

/** Use in a describe block: returns a getter for the device, created once and destroyed after the file. */
export function useGpu(): () => Gpu {
  let gpu: Gpu | null = null;
  beforeAll(async () => {
    gpu = await getTestGpu();
  }, 60_000);
  afterAll(async () => {
    // Destroying the device lets the worker process exit.
    if (gpu) await gpu.device.queue.onSubmittedWorkDone();
    gpu?.destroy();
    shared = null;
    await new Promise((r) => setTimeout(r, 200));
  });
  return () => {
    if (!gpu) throw new Error('GPU not initialised');
    return gpu;
  };
}
