// Encoding one kernel launch: bind buffers 0..n-1 of group 0 in order and dispatch.
import type { Gpu } from './context.ts';
import type { PipelineSpec } from './pipelines.ts';

export type Binding = GPUBuffer | GPUBufferBinding;

/** Fold a 1-D workgroup count into (x, y) within maxComputeWorkgroupsPerDimension; kernels use wg_linear(). */
export function grid1d(gpu: Gpu, workgroups: number): [number, number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [Math.max(1, workgroups), 1, 1];
  const y = Math.ceil(workgroups / max);
  return [Math.ceil(workgroups / y), y, 1];
}

export function bindGroup(gpu: Gpu, pipeline: GPUComputePipeline, bindings: readonly Binding[], label?: string): GPUBindGroup {
  return gpu.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((b, i) => ({ binding: i, resource: 'size' in b && 'mapState' in b ? { buffer: b as GPUBuffer } : (b as GPUBufferBinding) })),
  });
}

/** Record one dispatch into an open compute pass. */
export function dispatch(
  gpu: Gpu,
  pass: GPUComputePassEncoder,
  spec: PipelineSpec,
  bindings: readonly Binding[],
  groups: readonly [number, number?, number?],
): void {
  const pipeline = gpu.pipelines.get(spec);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(gpu, pipeline, bindings, spec.shader));
  pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
}

/** Convenience for tests and one-off work: encode a single pass with `record`, submit, wait. */
export async function runPass(gpu: Gpu, record: (pass: GPUComputePassEncoder) => void): Promise<void> {
  gpu.assertAlive();
  const enc = gpu.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  record(pass);
  pass.end();
  gpu.device.queue.submit([enc.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
}
