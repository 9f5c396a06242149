import { describe, it, expect, afterAll } from 'vitest';
import { createEngine, createNodeGpu } from '../../src/node.ts';
import type { Gpu } from '../../src/gpu/context.ts';

// createEngine({ device }): the app's own GPUDevice (shared with its renderer) carries the engine,
// and survives the engine's dispose.
describe('createEngine({ device }) on a device the app owns (WebGPU in Node)', () => {
  let gpu: Gpu;
  afterAll(() => gpu?.destroy());

  it('decodes on it, and the device outlives dispose', async () => {
    gpu = await createNodeGpu();
    const device = gpu.device;
    const engine = await createEngine({ device, maxSequences: 2, maxContext: 64 });
    expect(engine.info.maxSequences).toBe(2);
    const out = await engine.generate('The whale', { maxTokens: 3, ignoreEos: true }).result;
    expect(out.tokens).toHaveLength(3);
    await engine.dispose();
    // Still usable: a buffer round trip on the same device.
    const b = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    await b.mapAsync(GPUMapMode.READ);
    expect(new Uint32Array(b.getMappedRange())).toHaveLength(4);
    b.unmap();
    b.destroy();
    await expect(createEngine({ device: {} as GPUDevice })).rejects.toThrow(/`device` must be a GPUDevice/);
  }, 240_000);
});
