#!/usr/bin/env bash
# The whole test suite: typecheck, vitest (unit + real WebGPU in Node), Playwright (real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
bash scripts/with-gpu.sh npx vitest run
npx playwright test
# the benchmark harness end to end on its smallest plan (times are not checked: benchmarks are not tests)
bash scripts/with-gpu.sh npx tsx bench/run.ts --quick > bench-quick.log 2>&1 || { tail -n 40 bench-quick.log; exit 1; }
tail -n 1 bench-quick.log
# webmoe as a dependency: pack, install into a fresh Node folder and Vite app, run README's snippets.
bash scripts/consumer-test.sh
