// Node: where the embedded default model lives (models/webmoe-mini next to src/ or dist/).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_NAME } from './default-model-urls.ts';

export { DEFAULT_MODEL_NAME };

export function defaultModelDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = join(dir, 'models', DEFAULT_MODEL_NAME);
    if (existsSync(join(cand, 'config.json'))) return cand;
    dir = dirname(dir);
  }
  throw new Error(`webmoe: the default model (models/${DEFAULT_MODEL_NAME}) is not in this installation`);
}
