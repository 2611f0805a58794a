// Installs the fake backend in place of Tauri's IPC, before the app's own scripts run.
// Loaded by Playwright as an init script (tests) or by `npm run dev:mock` (browser preview).
// Configure it by setting `window.__SPORTELLO_MOCK_CONFIG__` first; drive it from tests
// through `window.__sportelloMock`.

import { emit } from '@tauri-apps/api/event';
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { createBackend, type MockConfig } from './backend';

declare global {
  interface Window {
    __SPORTELLO_MOCK_CONFIG__?: MockConfig;
    __sportelloMock?: ReturnType<typeof createBackend>['controls'];
  }
}

const config = window.__SPORTELLO_MOCK_CONFIG__ ?? {};
const backend = createBackend(config, (event, payload) => void emit(event, payload));

mockWindows('main');
mockIPC((cmd, args) => backend.handle(cmd, args as Record<string, unknown>), {
  shouldMockEvents: true,
});
window.__sportelloMock = backend.controls;
