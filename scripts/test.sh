#!/usr/bin/env bash
# The whole test suite: typecheck, vitest (unit + real WebGPU in Node), Playwright (real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
bash scripts/with-gpu.sh npx vitest run
npx playwright test
# webmoe as a dependency: pack, install into a fresh Node folder and Vite app, run README's snippets.
bash scripts/consumer-test.sh
