// Builds the fake backend into one classic script that Playwright injects before the app.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  configFile: false,
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
