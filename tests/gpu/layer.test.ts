import { describe, it, expect } from 'vitest';
import { preprocess } from '../../src/gpu/wgsl.ts';
import { createGpu } from '../../src/gpu/context.ts';
import { GpuUnavailableError } from '../../src/gpu/errors.ts';
import { createNodeGpu } from '../../src/gpu/node.ts';
import { readBuffer, createStorage } from '../../src/gpu/buffers.ts';
import { GpuTimer } from '../../src/gpu/timer.ts';
import { runPass } from '../../src/gpu/dispatch.ts';
import { encodeRmsNorm } from '../../src/kernels/rmsnorm.ts';

describe('wgsl preprocess', () => {
  it('selects #if/#else branches and substitutes ${NAME}', () => {
    const src = 'a\n#if F16\nhalf ${T}\n#else\nfull ${T}\n#endif\nz';
    expect(preprocess(src, { F16: true, T: 'f16' })).toBe('a\nhalf f16\nz');
    expect(preprocess(src, { F16: false, T: 'f32' })).toBe('a\nfull f32\nz');
    expect(preprocess('#if !X\nno\n#endif', {})).toBe('no');
  });
  it('rejects malformed input', () => {
    expect(() => preprocess('#if A\nx', {})).toThrow(/unterminated/);
    expect(() => preprocess('#endif', {})).toThrow(/without #if/);
    expect(() => preprocess('${MISSING}', {})).toThrow(/undefined/);
  });
});

describe('device acquisition', () => {
  it('fails clearly without WebGPU or without an adapter', async () => {
    await expect(createGpu(undefined)).rejects.toBeInstanceOf(GpuUnavailableError);
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    await expect(createGpu(fake)).rejects.toThrow(/no WebGPU adapter/);
  });

  it('requests real limits, reports features, caches pipelines, reports device loss', async () => {
    const gpu = await createNodeGpu({ disable: { timestamp: true } });
    expect(gpu.features.timestamp).toBe(false); // disabled on request: the fallback path is exercised
    expect(GpuTimer.create(gpu)).toBeNull();
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    const spec = { shader: 'rmsnorm', constants: { WG: 64 } };
    const p1 = gpu.pipelines.get(spec);
    expect(gpu.pipelines.get({ ...spec })).toBe(p1);
    expect(gpu.pipelines.get({ shader: 'rmsnorm', constants: { WG: 32 } })).not.toBe(p1);
    expect(gpu.describe()).toMatch(/\[/);
    gpu.device.destroy();
    const info = await gpu.lost;
    expect(info.reason).toBe('destroyed');
    expect(() => gpu.assertAlive()).toThrow(/GPU device was lost \(reason: destroyed/);
  });

  it('times passes with timestamp queries where available', async () => {
    const gpu = await createNodeGpu();
    const timer = GpuTimer.create(gpu);
    if (gpu.features.timestamp) {
      expect(timer).not.toBeNull();
      const x = createStorage(gpu.device, new Float32Array(64).fill(1));
      const w = createStorage(gpu.device, new Float32Array(64).fill(1));
      const y = createStorage(gpu.device, 256);
      const enc = gpu.device.createCommandEncoder();
      const pass = enc.beginComputePass({ timestampWrites: timer!.pass() });
      encodeRmsNorm(gpu, pass, { x, weight: w, out: y, rows: 1, dim: 64, eps: 1e-6 });
      pass.end();
      gpu.device.queue.submit([enc.finish()]);
      const [ms] = await timer!.read();
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(Array.from(new Float32Array(await readBuffer(gpu.device, y, 16)))).toEqual([1, 1, 1, 1].map((v) => expect.closeTo(v, 5)));
    }
    await runPass(gpu, () => {});
    gpu.destroy();
  });
});
