// `npm run bench -- --browser`: the same plans in Debian's Chromium (SwiftShader WebGPU, or the real
// GPU where Chromium has one). Starts Vite's dev server on WEBMOE_TEST_PORT (default 5198), opens
// bench/browser/index.html with Playwright's Chromium driver and the browser at CHROMIUM_PATH
// (default /usr/bin/chromium), streams the page's log, returns its report.
import { relative } from 'node:path';
import { createServer } from 'vite';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from '../../tests/browser/chromium.ts';
import type { BenchConfig, BenchReport, ModelPlan } from '../lib/harness.ts';
import type { PageConfig } from './page.ts';

export async function runInBrowser(cfg: BenchConfig, dirs: string[], root: string): Promise<BenchReport> {
  const port = Number(process.env.WEBMOE_TEST_PORT ?? 5198);
  const pageCfg: PageConfig = {
    ...cfg,
    models: cfg.models.map((p: ModelPlan, i) => {
      const { files: _files, ...src } = p.src;
      return { ...p, src: { ...src, url: `/${relative(root, dirs[i]).split('\\').join('/')}/` } };
    }),
  };
  const server = await createServer({ root, configFile: `${root}/vite.config.ts`, server: { port, strictPort: true, host: '127.0.0.1' }, logLevel: 'warn' });
  await server.listen();
  // developer features: full-precision timestamp queries (Chromium quantises them to 100 µs otherwise)
  const browser = await chromium.launch(chromiumLaunchOptions(['--enable-webgpu-developer-features']));
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(m.type() === 'log' ? m.text() : `[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/bench/browser/index.html`);
    await page.waitForFunction(() => 'runWebmoeBench' in window, null, { timeout: 120_000 });
    page.setDefaultTimeout(0);
    return await page.evaluate((c) => (window as unknown as { runWebmoeBench: (c: unknown) => Promise<BenchReport> }).runWebmoeBench(c), pageCfg as unknown);
  } finally {
    await browser.close();
    await server.close();
  }
}
