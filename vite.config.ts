// One Vite config for the library build (dist/) and the dev server that hosts the demo and the
// browser tests. Node-only modules (node:*, webgpu) and the dependencies stay external in the build.
import { defineConfig, type Plugin } from 'vite';
import { resolve } from 'node:path';

/**
 * The library's `new URL('...', import.meta.url)` references (the engine Worker, the default model's
 * files) must reach dist/ as written, for the APP's bundler to follow: Vite's library mode would
 * otherwise inline them (a 31 MB base64 model) or bundle the worker itself. They are hidden from
 * Vite's asset and worker plugins on the way in and restored on the way out; `./worker.ts` becomes
 * `./worker.js`. The files that hold them sit directly in src/, and every chunk is written to dist/,
 * so the relative paths stay right.
 */
function keepAssetUrls(): Plugin {
  const MARK = '__webmoe_import_meta_url__';
  return {
    name: 'webmoe-keep-asset-urls',
    enforce: 'pre',
    apply: 'build',
    transform(code, id) {
      if (!/[/\\]src[/\\](worker-url|default-model-urls)\.ts$/.test(id)) return null;
      return { code: code.replace(/import\.meta\.url/g, MARK), map: null };
    },
    renderChunk(code) {
      if (!code.includes(MARK)) return null;
      return { code: code.replace(new RegExp(MARK, 'g'), 'import.meta.url').replace(/(["'])\.\/worker\.ts\1/g, '$1./worker.js$1'), map: null };
    },
  };
}

export default defineConfig({
  root: '.',
  // The demo imports the package by name, as an app would; in this checkout that is the source entry.
  resolve: { alias: [{ find: /^webmoe$/, replacement: resolve(import.meta.dirname, 'src/index.ts') }] },
  server: { port: 5173, strictPort: false },
  worker: { format: 'es' },
  plugins: [keepAssetUrls()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    lib: {
      entry: {
        index: resolve(import.meta.dirname, 'src/index.ts'),
        node: resolve(import.meta.dirname, 'src/node.ts'),
        worker: resolve(import.meta.dirname, 'src/worker.ts'),
        format: resolve(import.meta.dirname, 'src/format.ts'),
        cli: resolve(import.meta.dirname, 'src/cli/main.ts'),
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: (id) => id.startsWith('node:') || id === 'webgpu' || id.startsWith('@huggingface/') || id === 'comlink',
      output: { entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
    },
  },
});
