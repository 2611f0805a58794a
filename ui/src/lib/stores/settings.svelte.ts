import * as ipc from '$lib/ipc/ipc';
import type { AppInfo, ErrorBody, Settings } from '$lib/ipc/ipc';
import { applyLocaleSetting, setSystemLocale, t } from '$lib/i18n/index.svelte';
import { notifyError } from './toasts.svelte';

class SettingsState {
  value = $state.raw<Settings>({
    locale: 'auto',
    notifications: true,
    remote_content_senders: [],
    webhook_port: 8787,
    prefer_plain_text: false,
  });
  info = $state.raw<AppInfo | null>(null);
}

export const settings = new SettingsState();

/**
 * Why the data could not be opened (e.g. a newer Sportello's database), as app_info reports
 * it; then no other command works and the window explains instead of showing the inbox.
 */
export function startupError(): ErrorBody | null {
  const info = settings.info as (AppInfo & { startup_error?: ErrorBody | null }) | null;
  return info?.startup_error ?? null;
}

export async function loadSettings() {
  const [info, value] = await Promise.all([
    ipc.appInfo().catch(() => null),
    ipc.getSettings().catch(() => null),
  ]);
  settings.info = info;
  setSystemLocale(info?.os_locale);
  if (value) settings.value = value;
  applyLocaleSetting(settings.value.locale);
}

/** Applies a change at once and saves it; on failure the previous settings come back. */
export async function updateSettings(patch: Partial<Settings>) {
  const before = settings.value;
  const next = { ...before, ...patch };
  settings.value = next;
  applyLocaleSetting(next.locale);
  try {
    settings.value = await ipc.updateSettings(next);
    applyLocaleSetting(settings.value.locale);
  } catch (reason) {
    settings.value = before;
    applyLocaleSetting(before.locale);
    notifyError(reason, t('settings.saveFailed'));
  }
}

export function senderKey(handle: string): string {
  return handle.trim().toLowerCase();
}

export function remoteAllowedFor(handle: string): boolean {
  return settings.value.remote_content_senders.includes(senderKey(handle));
}
