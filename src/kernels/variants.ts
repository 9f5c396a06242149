// Which family of kernel variants a device runs. CPU emulators (SwiftShader, lavapipe/llvmpipe) run a
// workgroup's invocations one SIMD group after another, so workgroup barriers and shared-memory
// reductions cost far more than they save there: register-blocked kernels without barriers win by
// several times. Real GPUs prefer the opposite (lanes splitting K, reductions in workgroup memory).
// The default follows the adapter; `measureKernelStyle` times both on the device and picks the faster;
// tests and benchmarks force either with setKernelStyle.
import type { Gpu } from '../gpu/context.ts';

export type KernelStyle = 'blocked' | 'lanes';

const chosen = new WeakMap<Gpu, KernelStyle>();

/** True for software adapters that emulate a GPU on the CPU. */
export function isCpuAdapter(gpu: Gpu): boolean {
  const a = gpu.adapter;
  const text = `${a.vendor} ${a.architecture} ${a.device} ${a.description}`.toLowerCase();
  return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
}

/** The kernel family used on this device: set explicitly (setKernelStyle), else from the adapter. */
export function kernelStyle(gpu: Gpu): KernelStyle {
  return chosen.get(gpu) ?? (isCpuAdapter(gpu) ? 'blocked' : 'lanes');
}

export function setKernelStyle(gpu: Gpu, style: KernelStyle | 'auto'): void {
  if (style === 'auto') chosen.delete(gpu);
  else chosen.set(gpu, style);
}
