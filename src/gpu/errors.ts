/** Thrown when no WebGPU adapter can be had, or the device is lost. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}

/** The GPU device was lost (destroyed, driver reset, out of memory); `reason` and `detail` come from WebGPU's GPUDeviceLostInfo. */
export class GpuDeviceLostError extends GpuUnavailableError {
  override name = 'GpuDeviceLostError';
  constructor(readonly reason: string, readonly detail: string) {
    super(`webmoe: the GPU device was lost (reason: ${reason || 'unknown'}${detail ? `; ${detail}` : ''}); recreate the engine (engine.recreate()) to continue`);
  }
}
