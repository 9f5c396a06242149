// Adapter + device acquisition, capabilities, and the per-device caches every kernel uses.
import { GpuDeviceLostError, GpuUnavailableError } from './errors.ts';
import { PipelineCache } from './pipelines.ts';
import { createUniform } from './buffers.ts';

export interface GpuFeatures {
  /** WGSL `enable f16;` is available (native half precision). */
  f16: boolean;
  /** GPU timestamps in compute passes. */
  timestamp: boolean;
}

export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface CreateGpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Pretend these optional features are absent (tests exercise the fallback paths this way). */
  disable?: Partial<Record<keyof GpuFeatures, boolean>>;
}

const NO_FLOATS: ReadonlySet<number> = new Set();
const UNIFORM_CACHE_CAP = 8192;

const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;

export class Gpu {
  readonly pipelines: PipelineCache;
  /** Resolves when the device is lost (destroyed, driver reset, ...). */
  readonly lost: Promise<GPUDeviceLostInfo>;
  private lostInfo: GPUDeviceLostInfo | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GpuAdapterSummary,
    readonly features: GpuFeatures,
  ) {
    this.pipelines = new PipelineCache(this);
    this.lost = device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
  }

  private readonly uniforms = new Map<string, GPUBuffer>();

  /**
   * A uniform buffer holding these 32-bit words (indices in `floats` are f32, the rest u32), shared by
   * every dispatch with the same parameters: kernels are re-encoded every step with the same shapes,
   * so a content-keyed cache means a steady-state step allocates nothing.
   */
  uniform(words: readonly number[], floats: ReadonlySet<number> = NO_FLOATS): GPUBuffer {
    const key = words.map((w, i) => (floats.has(i) ? `f${w}` : String(w >>> 0))).join(',');
    let b = this.uniforms.get(key);
    if (!b) {
      // Dropped entries are not destroyed: a command buffer being encoded may still reference them.
      if (this.uniforms.size >= UNIFORM_CACHE_CAP) this.uniforms.clear();
      b = createUniform(this.device, words, floats);
      this.uniforms.set(key, b);
    }
    return b;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get isLost(): boolean {
    return this.lostInfo !== null;
  }

  /** Throws a clear error if the device has been lost: call before queueing work. */
  assertAlive(): void {
    if (this.lostInfo) {
      throw this.lostError()!;
    }
  }

  /** The error to report for work on this device once it is lost (null while it is alive). */
  lostError(): GpuDeviceLostError | null {
    return this.lostInfo ? new GpuDeviceLostError(String(this.lostInfo.reason ?? ''), this.lostInfo.message ?? '') : null;
  }

  describe(): string {
    const a = this.adapter;
    const f = Object.entries(this.features)
      .filter(([, v]) => v)
      .map(([k]) => k);
    return `${a.vendor || 'unknown'} ${a.architecture || ''} ${a.device || a.description || ''}`.replace(/\s+/g, ' ').trim() +
      `${a.isFallbackAdapter ? ' (software)' : ''} [${f.join(', ') || 'no optional features'}]`;
  }

  private readonly singletons = new Map<string, GPUBuffer>();

  /** A small buffer shared by every kernel on this device under `key` (made once; freed by releaseCaches). */
  shared(key: string, make: () => GPUBuffer): GPUBuffer {
    let b = this.singletons.get(key);
    if (!b) this.singletons.set(key, (b = make()));
    return b;
  }

  /**
   * Destroy every cached buffer (uniforms, shared singletons): called when an engine is
   * disposed so a shared device is left with nothing of it. Safe between steps: encoding never spans an
   * await, and later users of this Gpu simply make new ones.
   */
  releaseCaches(): void {
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    for (const b of this.singletons.values()) b.destroy();
    this.singletons.clear();
  }

  destroy(): void {
    this.releaseCaches();
    this.device.destroy();
  }
}

/** Wrap a device the app already owns (shared with its renderer); webmoe never destroys it. */
export function gpuFromDevice(device: GPUDevice): Gpu {
  if (!device || typeof (device as GPUDevice).createBuffer !== 'function' || !(device as GPUDevice).queue) {
    throw new TypeError('webmoe: `device` must be a GPUDevice (from adapter.requestDevice())');
  }
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo ?? ({} as GPUAdapterInfo);
  const summary: GpuAdapterSummary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
  return new Gpu(device, summary, {
    f16: device.features.has('shader-f16'),
    timestamp: device.features.has('timestamp-query'),
  });
}

/** Request an adapter and a device with the adapter's real limits and the optional features it has. */
export async function createGpu(gpu: GPU | undefined, opts: CreateGpuOptions = {}): Promise<Gpu> {
  if (!gpu) throw new GpuUnavailableError('webmoe: WebGPU is not available here (navigator.gpu is undefined)');
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new GpuUnavailableError(
      'webmoe: no WebGPU adapter (in Chromium try --enable-unsafe-webgpu; in Node install a Vulkan driver or Chromium\'s SwiftShader)',
    );
  }
  const want = {
    f16: adapter.features.has('shader-f16') && !opts.disable?.f16,
    timestamp: adapter.features.has('timestamp-query') && !opts.disable?.timestamp,
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if (want.f16) requiredFeatures.push('shader-f16');
  if (want.timestamp) requiredFeatures.push('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const summary: GpuAdapterSummary = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
      (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
  return new Gpu(device, summary, {
    f16: device.features.has('shader-f16'),
    timestamp: device.features.has('timestamp-query'),
  });
}
