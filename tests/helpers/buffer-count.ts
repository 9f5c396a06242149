// Counts the live GPU buffers of a device: wraps createBuffer and each buffer's destroy. A buffer is
// live from creation until destroy() (or until the device itself is destroyed, which the count ignores
// on purpose: an engine must destroy what it made).
export interface BufferCounter {
  readonly live: number;
  /** Labels of the live buffers (to name a leak). */
  labels(): string[];
  restore(): void;
}

export function countBuffers(device: GPUDevice): BufferCounter {
  const live = new Set<GPUBuffer>();
  const create = device.createBuffer;
  device.createBuffer = function (desc: GPUBufferDescriptor): GPUBuffer {
    const b = create.call(device, desc);
    live.add(b);
    const destroy = b.destroy;
    b.destroy = function () {
      live.delete(b);
      return destroy.call(b);
    };
    return b;
  };
  return {
    get live() {
      return live.size;
    },
    labels: () => [...live].map((b) => b.label),
    restore: () => {
      device.createBuffer = create;
    },
  };
}
