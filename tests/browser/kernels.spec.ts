import { test, expect } from '@playwright/test';

test('kernels match their references in a page and in a module Worker (real Chromium WebGPU)', async ({ page }) => {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page]', m.text());
  });
  await page.goto('/tests/browser/kernels.html');
  const handle = await page.waitForFunction(() => (window as unknown as { __results?: unknown }).__results, null, {
    timeout: 150_000,
  });
  const res = (await handle.jsonValue()) as
    | string
    | { adapter: string; page: { name: string; ok: boolean; maxErr: number }[]; worker: { name: string; ok: boolean }[] | string };
  expect(typeof res, String(res)).toBe('object');
  if (typeof res === 'string') return;
  console.log(`adapter: ${res.adapter}`);
  expect(res.page.length).toBeGreaterThan(0);
  for (const r of res.page) expect(r.ok, `page: ${r.name} maxErr ${r.maxErr}`).toBe(true);
  expect(typeof res.worker, String(res.worker)).toBe('object');
  if (typeof res.worker === 'string') return;
  expect(res.worker.map((r) => r.name)).toEqual(res.page.map((r) => r.name));
  for (const r of res.worker) expect(r.ok, `worker: ${r.name}`).toBe(true);
});
