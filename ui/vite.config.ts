import { defineConfig, type Plugin } from 'vite';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/** `vite --mode mock`: the app in a plain browser, on the fake backend of the UI tests. */
function mockBackend(): Plugin {
  return {
    name: 'sportello-mock-backend',
    apply: 'serve',
    transformIndexHtml: (html) =>
      html.replace(
        '<script type="module" src="/src/main.ts"></script>',
        '<script type="module" src="/tests/mock/dev.ts"></script>\n    $&',
      ),
  };
}

// Tauri expects a fixed port and must not have its own output hidden by Vite's clear-screen.
export default defineConfig(({ mode }) => ({
  plugins: [svelte(), ...(mode === 'mock' ? [mockBackend()] : [])],
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
}));
