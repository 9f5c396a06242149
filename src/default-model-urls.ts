// The embedded default model (models/webmoe-mini) as package assets: each `new URL(..., import.meta.url)`
// is a literal that app bundlers (Vite, webpack 5, Parcel) follow and emit as a file of the app.
// This file sits directly in src/ so the relative paths are the same from the sources and from dist/.
export const DEFAULT_MODEL_NAME = 'webmoe-mini';

export function defaultModelUrls(): Record<string, string> {
  return {
    'config.json': new URL('../models/webmoe-mini/config.json', import.meta.url).href,
    'generation_config.json': new URL('../models/webmoe-mini/generation_config.json', import.meta.url).href,
    'tokenizer.json': new URL('../models/webmoe-mini/tokenizer.json', import.meta.url).href,
    'tokenizer_config.json': new URL('../models/webmoe-mini/tokenizer_config.json', import.meta.url).href,
    'model.safetensors': new URL('../models/webmoe-mini/model.safetensors', import.meta.url).href,
    'calibration.safetensors': new URL('../models/webmoe-mini/calibration.safetensors', import.meta.url).href,
  };
}
