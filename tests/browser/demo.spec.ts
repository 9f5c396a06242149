import { test, expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';

// The demo page end to end on the default model in Chromium (SwiftShader): its engine runs in a
// Worker, 8 prompts decode in shared steps, greedy tokens equal the Node engine's, the heat map paints,
// and a policy switch mid-run takes effect at a later step without reloading the model.

interface Step {
  step: number;
  batchTokens: number;
  decodeTokens: number;
  distinctExperts: number[];
  meanDistinct: number;
  baselineDistinct?: number[];
  policy: string;
}
interface Demo {
  ready: boolean;
  error?: string;
  loads: number;
  run: number;
  done: boolean;
  results: { prompt: string; text: string; tokens?: number[]; tokenCount: number; finishReason: string | null; tokensPerSecond: number | null; error?: string }[];
  steps: Step[];
  lastStep?: Step;
  maxBatchTokens: number;
  loadSources: string[];
}

const demo = (page: Page) => page.evaluate(() => (window as unknown as { __demo: Demo }).__demo);
const MAX_TOKENS = 12;

async function open(page: Page, query: string): Promise<void> {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('[page]', m.text());
  });
  await page.goto(`/demo/index.html?${query}`);
  await page.waitForFunction(() => {
    const d = (window as unknown as { __demo?: Demo }).__demo;
    return d && (d.ready || d.error);
  }, null, { timeout: 120_000 });
}

/** Painted heat-map pixels read back from the canvas: violet (#6d28d9, an expert read) or amber (#f59e0b, skipped by the policy). */
async function paintedPixels(page: Page, testid: string, colour: 'violet' | 'amber' = 'violet'): Promise<number> {
  return page.locator(`[data-testid=${testid}]`).evaluate((c, colour) => {
    const canvas = c as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 0 && (colour === 'violet' ? b - g > 40 : r > 200 && g > 110 && g < 190 && b < 80)) n++;
    }
    return n;
  }, colour);
}

test('demo: 8 prompts in shared batched steps, greedy equal to Node, heat map, policy switch without reload', async ({ page }, info) => {
  test.setTimeout(420_000);
  await open(page, `maxTokens=${MAX_TOKENS}&temperature=0&maxSeqs=8`);
  const ready = await demo(page);
  expect(ready.error).toBeUndefined();
  expect(ready.loadSources).toContain('network'); // a fresh browser profile: nothing cached yet
  await expect(page.getByTestId('status')).toContainText('ready');
  // starts with 4 panes; add and remove
  await expect(page.getByTestId('pane')).toHaveCount(4);
  await page.getByTestId('add-pane').click();
  await expect(page.getByTestId('pane')).toHaveCount(5);
  await page.getByTestId('pane').nth(4).getByTestId('pane-remove').click();
  await expect(page.getByTestId('pane')).toHaveCount(4);
  await page.screenshot({ path: info.outputPath('demo-ready.png'), fullPage: true });

  // Run 8 prompts: 8 panes, varied prompts, decoded together to the end.
  await page.getByTestId('run-8').click();
  await expect(page.getByTestId('pane')).toHaveCount(8);
  await page.waitForFunction(() => {
    const d = (window as unknown as { __demo: Demo }).__demo;
    return d.run === 1 && d.done;
  }, null, { timeout: 240_000 });
  const run1 = await demo(page);
  expect(run1.results).toHaveLength(8);
  const prompts = run1.results.map((r) => r!.prompt);
  expect(new Set(prompts).size).toBe(8);
  for (const r of run1.results) {
    expect(r.error).toBeUndefined();
    expect(r.finishReason).toMatch(/^(length|stop)$/);
    expect(r.tokenCount).toBeGreaterThan(0);
  }
  // batch above 1: decode steps carried several prompts' tokens
  expect(Math.max(...run1.steps.map((s) => s.decodeTokens))).toBeGreaterThanOrEqual(4);
  await expect(page.getByTestId('pane-stats').first()).toContainText('tok/s');
  await expect(page.getByTestId('pane-stats').first()).toContainText(/finish: (length|stop)/);
  expect(await paintedPixels(page, 'heatmap-policy')).toBeGreaterThan(50);
  expect(await paintedPixels(page, 'heatmap-baseline')).toBeGreaterThan(50);
  // baseline policy: the baseline routing of each step is the step's own routing
  for (const s of run1.steps) expect(s.baselineDistinct).toEqual(s.distinctExperts);
  await expect(page.getByTestId('savings')).toContainText('expert weights read');
  await page.screenshot({ path: info.outputPath('demo-run8.png'), fullPage: true });

  // greedy outputs equal the Node engine's for the same prompts
  const out = execFileSync('bash', ['scripts/with-gpu.sh', 'npx', 'tsx', 'tests/browser/node-greedy.ts', String(MAX_TOKENS), JSON.stringify(prompts)], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  const nodeIds = JSON.parse(out.trim().split('\n').at(-1)!) as number[][];
  for (let i = 0; i < 8; i++) expect(run1.results[i].tokens, `prompt ${i}: ${prompts[i]}`).toEqual(nodeIds[i]);

  // Switch the policy mid-run: reduced top-k with k = 1 from a later step on, same model, same page.
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  await page.locator('#maxTokens').fill('16');
  await page.getByTestId('run-8').click();
  // per-pane stop: once the last pane streams, stop it; it ends with finish reason 'abort', the others go on
  const last = page.getByTestId('pane').nth(7);
  await expect(last.getByTestId('pane-stats')).toContainText(/\d+ tokens…/, { timeout: 240_000 });
  await last.getByTestId('pane-stop').click();
  const run1Last = run1.steps.at(-1)!.step;
  // switch once this run has had a few all-decode baseline steps
  await page.waitForFunction((after) => {
    const d = (window as unknown as { __demo: Demo }).__demo;
    return d.run === 2 && d.steps.filter((s) => s.step > after && s.policy === 'baseline' && s.decodeTokens >= 4 && s.batchTokens === s.decodeTokens).length >= 2;
  }, run1Last, { timeout: 240_000 });
  const switchedAt = (await demo(page)).lastStep!.step;
  await page.getByTestId('policy').selectOption('reduced_topk');
  await page.getByTestId('budget').evaluate((e) => {
    const knob = e as HTMLInputElement;
    knob.value = '1';
    knob.dispatchEvent(new Event('change'));
  });
  await page.waitForFunction(() => {
    const d = (window as unknown as { __demo: Demo }).__demo;
    return d.run === 2 && d.done;
  }, null, { timeout: 240_000 });
  const run2 = await demo(page);
  expect(run2.loads).toBe(1);
  expect(run2.results[7].finishReason).toBe('abort');
  expect(run2.results[7].tokenCount).toBeLessThan(16);
  expect(run2.results[0].finishReason).toMatch(/^(length|stop)$/);
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
  const decode = (s: Step) => s.decodeTokens >= 2 && s.batchTokens === s.decodeTokens;
  const runSteps = run2.steps.filter((s) => s.step > run1Last);
  const before = runSteps.filter((s) => s.policy === 'baseline' && decode(s));
  const after = runSteps.filter((s) => s.policy === 'reduced_topk 1' && decode(s) && s.step > switchedAt);
  expect(before.length).toBeGreaterThan(0);
  expect(after.length).toBeGreaterThan(0);
  // with one expert per token a layer reads at most one expert per token; top-4 read more
  for (const s of after) for (const d of s.distinctExperts) expect(d).toBeLessThanOrEqual(s.batchTokens);
  const meanOf = (xs: Step[]) => xs.reduce((a, s) => a + s.meanDistinct / s.batchTokens, 0) / xs.length;
  expect(meanOf(after)).toBeLessThan(meanOf(before));
  expect(Math.max(...before.map((s) => Math.max(...s.distinctExperts) / s.batchTokens))).toBeGreaterThan(1);
  // beside it, the baseline routing of the same steps: more experts, and the heat map marks the skipped ones
  for (const s of after) s.baselineDistinct!.forEach((b, l) => expect(b).toBeGreaterThanOrEqual(s.distinctExperts[l]));
  expect(after.some((s) => s.baselineDistinct!.some((b, l) => b > s.distinctExperts[l]))).toBe(true);
  expect(await paintedPixels(page, 'heatmap-baseline', 'amber')).toBeGreaterThan(20);
  await page.screenshot({ path: info.outputPath('demo-policy-switch.png'), fullPage: true });
});

test('demo: chat mode streams a reply through the chat template', async ({ page }) => {
  await open(page, 'maxTokens=6&temperature=0&maxSeqs=2');
  await page.locator('label:has([data-testid=chat-mode])').click();
  const pane = page.getByTestId('pane').first();
  await expect(pane.getByTestId('pane-prompt')).toHaveValue('Tell me about the white whale.');
  await pane.getByRole('button', { name: 'Run' }).click();
  await expect(pane.getByTestId('pane-stats')).toContainText(/finish: (length|stop)/, { timeout: 120_000 });
  await expect(pane.getByTestId('pane-output')).toContainText('Tell me about the white whale.');
  expect((await pane.locator('.turn.assistant').textContent())!.trim().length).toBeGreaterThan(0);
  // The quality-targeted preset runs on the calibration shipped with the default model
  // (models/webmoe-mini/calibration.safetensors, one of the package's model assets).
  await page.getByTestId('policy').selectOption('auto');
  await expect(page.getByTestId('status')).toContainText(/policy: auto/);
});

test('demo: clear messages when WebGPU is missing or the model does not fit', async ({ page, context }) => {
  const noGpu = await context.newPage();
  await noGpu.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
  await open(noGpu, '');
  await expect(noGpu.locator('#advice')).toContainText('does not offer WebGPU');
  await expect(noGpu.locator('#advice')).toContainText('Chrome');
  // a KV cache for 100000 parallel prompts is over any device's buffer limit
  await open(page, 'maxSeqs=100000');
  await expect(page.locator('#advice')).toContainText('does not fit this device');
  await expect(page.locator('#advice')).toContainText('int8');
  await expect(page.getByTestId('status')).toContainText('could not load');
});

test('demo: loads another model from a picked folder, with a progress bar; the default again from the cache', async ({ page }) => {
  await open(page, 'maxTokens=4&temperature=0&maxSeqs=1');
  const first = await demo(page);
  expect(first.loads).toBe(1);
  await page.locator('#modelDir').setInputFiles('models/webmoe-mini');
  await expect(page.locator('#progress')).toBeVisible();
  await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.loads === 2, null, { timeout: 120_000 });
  await expect(page.getByTestId('status')).toContainText('webmoe-mini ready');
  await expect(page.locator('#progress')).toBeHidden();
  expect((await demo(page)).loadSources).toEqual(['local']);
  const pane = page.getByTestId('pane').first();
  await pane.getByRole('button', { name: 'Run' }).click();
  await expect(pane.getByTestId('pane-stats')).toContainText(/4 tokens .* finish: length/, { timeout: 120_000 });
  // the default model again: its files now come from the model cache, not the network
  await page.locator('#loadDefault').click();
  await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.loads === 3, null, { timeout: 120_000 });
  expect((await demo(page)).loadSources).toEqual(['cache']);
});
