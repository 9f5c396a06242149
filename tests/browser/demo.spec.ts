import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';

// The demo page loads the embedded model over HTTP (Range requests) into a module Worker and streams
// three prompts in shared batched steps; greedy tokens must equal what the Node engine (CLI) produces.
test('demo streams several prompts at once and matches Node greedy decoding', async ({ page }) => {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page]', m.text());
  });
  await page.goto('/demo/index.html?maxTokens=8&temperature=0');
  await page.waitForFunction(() => (window as unknown as { __demo?: { ready?: boolean; error?: string } }).__demo, null, { timeout: 120_000 });
  const ready = await page.evaluate(() => (window as unknown as { __demo: { ready?: boolean; error?: string } }).__demo);
  expect(ready.error).toBeUndefined();
  await expect(page.locator('#status')).toContainText('webmoe-tiny');
  await page.click('#go');
  const handle = await page.waitForFunction(() => (window as unknown as { __demo?: { done?: boolean } }).__demo?.done && (window as unknown as { __demo: unknown }).__demo, null, {
    timeout: 150_000,
  });
  const res = (await handle.jsonValue()) as { results: { tokens: number[]; text: string; error?: string }[] };
  expect(res.results).toHaveLength(3);
  const prompts = await page.locator('.card input').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
  const metrics = await page.locator('#metrics').textContent();
  expect(metrics).toMatch(/tokens in the batch/);
  for (let i = 0; i < 3; i++) {
    expect(res.results[i].error).toBeUndefined();
    expect(res.results[i].tokens.length).toBeGreaterThan(0);
    const out = execFileSync('node', ['bin/webmoe.js', 'generate', '--prompt', prompts[i], '--max-tokens', '8', '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const last = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(res.results[i].tokens, `prompt ${i}: ${prompts[i]}`).toEqual(last.ids);
  }
});
