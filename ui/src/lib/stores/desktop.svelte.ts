// The shell's own settings (tray, start at login, updates, notification preferences) and the
// update it announced, if any.

import * as ipc from '$lib/ipc/ipc';
import type { DesktopSettings, ErrorBody } from '$lib/ipc/ipc';
import { t } from '$lib/i18n/index.svelte';
import { notifyError } from './toasts.svelte';

export const DEFAULT_DESKTOP: DesktopSettings = {
  close_to_tray: true,
  start_at_login: false,
  check_updates: true,
  sound: true,
  show_preview: true,
  muted_channels: [],
  quiet_hours: null,
};

class Desktop {
  value = $state.raw<DesktopSettings>(DEFAULT_DESKTOP);
  /** False until the shell answered (an older shell without the command never does). */
  loaded = $state(false);
}

export const desktop = new Desktop();

export async function loadDesktopSettings() {
  try {
    desktop.value = await ipc.getDesktopSettings();
    desktop.loaded = true;
  } catch {
    desktop.loaded = false;
  }
}

/** Applies a change at once and saves it; on failure the previous settings come back. */
export async function updateDesktopSettings(patch: Partial<DesktopSettings>) {
  const before = desktop.value;
  const next = { ...before, ...patch };
  desktop.value = next;
  try {
    desktop.value = await ipc.updateDesktopSettings(next);
  } catch (reason) {
    desktop.value = before;
    notifyError(reason, t('settings.saveFailed'));
  }
}

class Update {
  /** The newer version announced by the shell, or null. */
  version = $state<string | null>(null);
  installing = $state(false);
  error = $state.raw<ErrorBody | null>(null);
  dismissed = $state(false);
}

export const update = new Update();

export function updateAvailable(version: string) {
  if (update.version !== version) update.dismissed = false;
  update.version = version;
  update.error = null;
}

/** Installs and restarts; the window goes away on success, so only failure comes back. */
export async function installUpdate() {
  if (update.installing) return;
  update.installing = true;
  update.error = null;
  try {
    await ipc.installUpdate();
  } catch (reason) {
    const error = ipc.toIpcError(reason);
    update.error = { code: error.code, message: error.detail };
  } finally {
    update.installing = false;
  }
}
