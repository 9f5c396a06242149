// Load failures turned into what the user can do about them.
export interface Advice {
  title: string;
  fix: string;
}

export function webgpuMissing(): Advice | null {
  if ('gpu' in navigator) return null;
  return {
    title: 'This browser does not offer WebGPU.',
    fix: 'Open the page in Chrome or Edge 113+ (desktop or Android), Safari 26+, or Firefox 141+ on Windows. On Linux Chrome needs chrome://flags/#enable-unsafe-webgpu (and Vulkan) turned on. The page must be served over https or from localhost.',
  };
}

export function adviseLoadError(e: unknown): Advice {
  const msg = String((e as Error)?.message ?? e);
  const name = (e as Error)?.name ?? '';
  if (name === 'GpuDeviceLostError' || /limit|budget|too large|out of memory|OutOfMemory|allocation|device lost|device was lost/i.test(msg)) {
    return {
      title: `The model does not fit this device: ${msg}`,
      fix: 'Load it with a smaller weight format (f16 halves it, int8 quarters it, int4 an eighth), run fewer prompts at once, close other GPU-heavy tabs, or use a device with more GPU memory.',
    };
  }
  if (name === 'GpuUnavailableError' || /no WebGPU adapter|navigator\.gpu/.test(msg)) {
    return {
      title: `WebGPU is not usable here: ${msg}`,
      fix: 'Update the browser and its GPU drivers, or enable WebGPU (Chrome on Linux: chrome://flags/#enable-unsafe-webgpu). If the GPU is blocklisted, chrome://gpu says why.',
    };
  }
  if (/NOT_FOUND|HTTP 404|not among the/.test(msg)) {
    return { title: `A model file is missing: ${msg}`, fix: 'The folder or URL needs config.json, tokenizer.json and model.safetensors (or model.safetensors.index.json with its shards).' };
  }
  return { title: `Loading failed: ${msg}`, fix: 'Check that the URL or folder holds a Hugging Face MoE checkpoint of a supported architecture (see README).' };
}
