import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Tauri expects a fixed port and must not have its own output hidden by Vite's clear-screen.
export default defineConfig({
  plugins: [svelte()],
  resolve: { alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) } },
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    watch: { ignored: ['**/src-tauri/**'] },
  },
  preview: { port: 4173, strictPort: false },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK and WebView2 of supported systems all handle es2022.
    target: 'es2022',
  },
});
