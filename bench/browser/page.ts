// The bench in a browser page: bench/browser/driver.ts opens this page in Chromium and calls
// window.runWebmoeBench with the same plans Node runs (models by URL from the dev server, with HTTP
// Range; the same prompt token ids), and gets the report back.
import { createBrowserGpu } from '../../src/gpu/browser.ts';
import { filesFromUrl } from '../../src/format/checkpoint.ts';
import { runBench, type BenchConfig, type BenchReport, type ModelPlan } from '../lib/harness.ts';
import type { WeightFormat } from '../../src/quant/pack.ts';

/** A ModelPlan whose source is a URL (serialisable across page.evaluate). */
export interface PagePlan extends Omit<ModelPlan, 'src'> {
  src: { name: string; note: string; url: string; weightFormat: WeightFormat; prompts?: number[][] };
}

export interface PageConfig extends Omit<BenchConfig, 'models'> {
  models: PagePlan[];
}

const logEl = document.getElementById('log')!;

async function runWebmoeBench(cfg: PageConfig): Promise<BenchReport> {
  logEl.textContent = '';
  const log = (s: string) => {
    console.log(s);
    logEl.textContent += `${s}\n`;
  };
  const gpu = await createBrowserGpu();
  try {
    const models: ModelPlan[] = cfg.models.map((p) => ({
      ...p, src: { ...p.src, files: filesFromUrl(new URL(p.src.url, location.href).href) },
    }));
    const ua = navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'browser';
    return await runBench(gpu, { ...cfg, models }, `chromium page (${ua})`, log);
  } finally {
    await gpu.device.queue.onSubmittedWorkDone();
    gpu.destroy();
  }
}

(window as unknown as { runWebmoeBench: typeof runWebmoeBench }).runWebmoeBench = runWebmoeBench;
logEl.textContent = 'ready';
