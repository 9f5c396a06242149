// Node: WebGPU through Dawn (npm `webgpu`). Without a hardware Vulkan driver, fall back to a software
// one we can find on disk (Chromium's SwiftShader, or a lavapipe the user points at).
import { existsSync } from 'node:fs';
import { createGpu, type CreateGpuOptions, type Gpu } from './context.ts';
import { GpuUnavailableError } from './errors.ts';
import { installFsShaderLoader } from './wgsl-fs.ts';

const SOFTWARE_ICDS = [
  process.env.WEBMOE_SOFTWARE_ICD,
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
].filter((p): p is string => !!p);

export interface NodeGpuOptions extends CreateGpuOptions {
  /** Called with one line when a software adapter is used because no hardware one was found. */
  onNotice?: (line: string) => void;
}

let dawn: typeof import('webgpu') | null = null;
// dawn.node destroys its instance when the JS object from create() is garbage-collected, even while
// devices made from it (or its pending event polls) live on; the next poll then locks freed memory
// and the process aborts (futex / pthread_mutex asserts). So one instance per process, kept forever.
let instance: GPU | null = null;
const keepAlive: GPU[] = [];

async function loadDawn(): Promise<typeof import('webgpu')> {
  if (!dawn) {
    try {
      dawn = await import('webgpu');
    } catch (e) {
      throw new GpuUnavailableError(`webmoe: cannot load the 'webgpu' (Dawn) package: ${(e as Error).message}`);
    }
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

export async function createNodeGpu(opts: NodeGpuOptions = {}): Promise<Gpu> {
  installFsShaderLoader();
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  // Mesa's implicit device-select layer crashes dawn.node at process exit (futex/mutex asserts in
  // forked test workers); it only reorders devices, so keep it out unless the user asked for it.
  process.env.NODEVICE_SELECT ??= '1';
  const { create } = await loadDawn();
  // A user-chosen ICD (VK_ICD_FILENAMES) is respected; otherwise try the system's drivers first.
  // The Vulkan loader reads VK_ICD_FILENAMES when an instance is created, so setting it between
  // two create() calls switches drivers.
  if (!instance) {
    // On Linux without GPU device nodes, skip probing the system drivers: there is nothing to find,
    // and the probe makes Dawn print warnings about CPU drivers it rejects.
    const noGpuNodes = process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0');
    const first = create([]);
    instance = first;
    if (!process.env.VK_ICD_FILENAMES && (noGpuNodes || !(await first.requestAdapter()))) {
      const icd = SOFTWARE_ICDS.find((p) => existsSync(p));
      if (icd) {
        process.env.VK_ICD_FILENAMES = icd;
        opts.onNotice?.(`webmoe: no hardware GPU adapter found; using the software Vulkan driver ${icd}`);
        instance = create([]);
        keepAlive.push(first);
      }
    }
  }
  return createGpu(instance, opts);
}
