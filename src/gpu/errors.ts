/** Thrown when no WebGPU adapter can be had, or the device is lost. */
export class GpuUnavailableError extends Error {
  override name = 'GpuUnavailableError';
}
