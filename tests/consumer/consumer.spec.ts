import { test, expect } from '@playwright/test';

// README's browser snippets, built by an app's Vite (default config) from the packed tarball:
// the default model must come from the package's assets, the Worker from the package's worker file.
for (const snippet of ['worker', 'main'] as const) {
  test(`README browser snippet (${snippet === 'worker' ? 'Worker engine' : 'main-thread engine'}) streams a chat completion to its end`, async ({ page }) => {
    const modelBytes: number[] = [];
    page.on('response', async (r) => {
      if (/\.safetensors$/.test(new URL(r.url()).pathname)) modelBytes.push(Number(r.headers()['content-length'] ?? 0));
    });
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[page] ${m.text()}`);
    });
    await page.goto(`/?snippet=${snippet}`);
    const h = await page.waitForFunction(() => (window as unknown as { __result?: object }).__result, null, { timeout: 280_000 });
    const r = (await h.jsonValue()) as { done?: boolean; error?: string; text: string; workers: string[]; seconds: number };
    expect(r.error).toBeUndefined();
    expect(r.done).toBe(true);
    expect(r.text.trim().length).toBeGreaterThan(0);
    console.log(`${snippet}: ${r.seconds.toFixed(1)} s, ${r.workers.length} worker(s), text: ${JSON.stringify(r.text.slice(0, 120))}`);
    if (snippet === 'worker') expect(r.workers).toHaveLength(1);
    else expect(r.workers).toHaveLength(0);
    expect(modelBytes.length).toBeGreaterThan(0); // the weights came from the app's own assets
  });
}
