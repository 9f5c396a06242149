// One Vite config for the library build (dist/) and the dev server that hosts the demo and the
// browser tests. Node-only modules (node:*, webgpu) stay external in the library build.
import { defineConfig } from 'vite';
import { resolve } from 'node:path';

export default defineConfig({
  root: '.',
  // The demo imports the package by name, as an app would; in this checkout that is the source entry.
  resolve: { alias: [{ find: /^webmoe$/, replacement: resolve(import.meta.dirname, 'src/index.ts') }] },
  server: { port: 5173, strictPort: false },
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    lib: {
      entry: {
        index: resolve(import.meta.dirname, 'src/index.ts'),
        node: resolve(import.meta.dirname, 'src/node.ts'),
        cli: resolve(import.meta.dirname, 'src/cli/main.ts'),
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: (id) => id.startsWith('node:') || id === 'webgpu' || id.startsWith('@huggingface/') || id === 'comlink',
    },
  },
});
