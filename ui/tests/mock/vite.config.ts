// Builds the fake backend into one classic script that Playwright injects before the app.
// Run with `vite build --config tests/mock/vite.config.ts` (then the app's config is not read).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../.mock', import.meta.url)),
    emptyOutDir: true,
    minify: false,
    target: 'es2022',
    lib: {
      entry: fileURLToPath(new URL('./inject.ts', import.meta.url)),
      formats: ['iife'],
      name: 'SportelloMock',
      fileName: () => 'mock.js',
    },
  },
});
