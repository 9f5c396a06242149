// Runs the kernel checks on the page's own device, then again inside a module Worker.
import { createBrowserGpu } from '../../src/gpu/browser.ts';
import { runChecks, type CheckResult } from './checks.ts';

interface PageResults {
  adapter: string;
  page: CheckResult[];
  worker: CheckResult[] | string;
}

async function inWorker(): Promise<CheckResult[] | string> {
  const w = new Worker(new URL('./kernels-worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve) => {
    w.onmessage = (e: MessageEvent) => resolve(e.data as CheckResult[] | string);
    w.onerror = (e) => resolve(`worker error: ${e.message}`);
  });
}

async function main(): Promise<void> {
  const log = document.getElementById('log')!;
  try {
    const gpu = await createBrowserGpu();
    const page = await runChecks(gpu);
    gpu.destroy();
    const worker = await inWorker();
    const res: PageResults = { adapter: gpu.describe(), page, worker };
    log.textContent = JSON.stringify(res, null, 2);
    (window as unknown as { __results: PageResults }).__results = res;
  } catch (e) {
    log.textContent = `error: ${(e as Error).message}`;
    (window as unknown as { __results: string }).__results = `error: ${(e as Error).message}`;
  }
}
void main();
