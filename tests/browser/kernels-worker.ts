import { createBrowserGpu } from '../../src/gpu/browser.ts';
import { runChecks } from './checks.ts';

(async () => {
  try {
    const gpu = await createBrowserGpu();
    const r = await runChecks(gpu);
    gpu.destroy();
    postMessage(r);
  } catch (e) {
    postMessage(`error: ${(e as Error).message}`);
  }
})();
