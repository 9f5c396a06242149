#!/usr/bin/env bash
# Consumer test: webmoe as a dependency of someone else's app. Packs the package, installs the
# tarball into a fresh Node folder and a fresh Vite app (default config; nothing else installed
# there but vite and typescript), typechecks README's snippets with skipLibCheck: false, builds the
# app, runs README's Node snippet directly and its browser snippets in Chromium (Playwright).
# Installs use the npm cache first (--prefer-offline); nothing but the npm registry is reached.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/webmoe-consumer.XXXXXX)
[ -n "${WEBMOE_CONSUMER_KEEP:-}" ] && echo "consumer-test: keeping $WORK" || trap 'rm -rf "$WORK"' EXIT
t0=$SECONDS
step() { echo "consumer-test [$((SECONDS - t0)) s] $*"; }
NPM_FLAGS=(--prefer-offline --no-audit --no-fund --loglevel=error)
VITE_VERSION=$(node -p "require('./node_modules/vite/package.json').version")
TS_VERSION=$(node -p "require('./node_modules/typescript/package.json').version")

step "npm pack (builds dist/)"
npm pack --silent --pack-destination "$WORK" >/dev/null
TARBALL=$(ls "$WORK"/webmoe-*.tgz)
node tests/consumer/snippets.mjs README.md "$WORK/snippets"

step "Node folder: npm install <tarball> alone"
mkdir "$WORK/node-app"
cd "$WORK/node-app"
echo '{ "name": "node-app", "private": true, "type": "module" }' > package.json
npm install "$TARBALL" "${NPM_FLAGS[@]}"
cp "$WORK/snippets/node.mjs" .
step "Node: README's snippet"
timeout 600 node node.mjs > out.txt
cat out.txt
[ -s out.txt ] || { echo "consumer-test: the Node snippet printed nothing" >&2; exit 1; }
step "Node: the CLI (npx webmoe)"
npx --no-install webmoe generate --prompt "The whale" --max-tokens 8 --json | tail -1 | grep -q '"ids"'

step "Vite app: npm install <tarball> vite typescript"
cp -r "$ROOT/tests/consumer/vite-app" "$WORK/vite-app"
cd "$WORK/vite-app"
echo '{ "name": "vite-app", "private": true, "type": "module" }' > package.json
npm install "$TARBALL" "vite@$VITE_VERSION" "typescript@$TS_VERSION" "${NPM_FLAGS[@]}"
cp "$WORK/snippets/browser-worker.ts" "$WORK/snippets/browser-main.ts" src/
step "Vite app: tsc (skipLibCheck: false) and vite build"
npx --no-install tsc -p .
npx --no-install vite build --logLevel warn
ls dist/assets

step "Vite app in Chromium: README's browser snippets"
cd "$ROOT"
WEBMOE_CONSUMER_APP="$WORK/vite-app" npx playwright test -c tests/consumer/playwright.config.ts
step "done"
