import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from '../browser/chromium.ts';

// The consumer test's browser half: the Vite app that scripts/consumer-test.sh built from the packed
// tarball, served by `vite preview` (an SPA server: unknown paths answer index.html).
const port = Number(process.env.WEBMOE_CONSUMER_PORT ?? 5198);
const app = process.env.WEBMOE_CONSUMER_APP;
if (!app) throw new Error('WEBMOE_CONSUMER_APP (the built Vite app) is not set: run scripts/consumer-test.sh');

export default defineConfig({
  testDir: '.',
  testMatch: 'consumer.spec.ts',
  timeout: 300_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: chromiumLaunchOptions(),
  },
  webServer: {
    command: `npx vite preview --port ${port} --strictPort --host 127.0.0.1`,
    cwd: app,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
