// Compute pipelines cached by (shader, entry point, defines, override constants): compiling is slow
// (about a second for barrier-heavy kernels on SwiftShader), so nothing compiles twice.
import { preprocess, wgslSource } from './wgsl.ts';
import type { Gpu } from './context.ts';

export interface PipelineSpec {
  /** File name in shaders/ without `.wgsl`. */
  shader: string;
  entry?: string;
  /** Textual specialisation (see preprocess in wgsl.ts). F16 is set automatically from the device. */
  defines?: Record<string, string | number | boolean>;
  /** WGSL `override` constants. */
  constants?: Record<string, number>;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();

  constructor(private readonly gpu: Gpu) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** Full WGSL text of a shader after specialisation (common.wgsl prepended). */
  code(spec: PipelineSpec): string {
    const defines = { F16: this.gpu.features.f16, ...spec.defines };
    const header: string[] = [];
    if (defines.F16) header.push('enable f16;');
    return `${header.join('\n')}\n${preprocess(wgslSource('common'), defines)}\n${preprocess(wgslSource(spec.shader), defines)}`;
  }

  get(spec: PipelineSpec): GPUComputePipeline {
    const key = JSON.stringify([spec.shader, spec.entry ?? 'main', spec.defines ?? {}, spec.constants ?? {}]);
    let p = this.pipelines.get(key);
    if (p) return p;
    const code = this.code(spec);
    let module = this.modules.get(code);
    if (!module) {
      module = this.gpu.device.createShaderModule({ code, label: spec.shader });
      this.modules.set(code, module);
    }
    p = this.gpu.device.createComputePipeline({
      label: `${spec.shader}:${spec.entry ?? 'main'}`,
      layout: 'auto',
      compute: { module, entryPoint: spec.entry ?? 'main', constants: spec.constants },
    });
    this.pipelines.set(key, p);
    return p;
  }
}
