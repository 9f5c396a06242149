import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './tests/browser/chromium.ts';

// WEBMOE_TEST_PORT lets several checkouts run their browser tests side by side on one machine.
const port = Number(process.env.WEBMOE_TEST_PORT ?? 5199);

export default defineConfig({
  testDir: 'tests/browser',
  testMatch: '**/*.spec.ts',
  timeout: 180_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: chromiumLaunchOptions(),
  },
  webServer: {
    command: `npx vite --port ${port} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${port}/tests/browser/kernels.html`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
