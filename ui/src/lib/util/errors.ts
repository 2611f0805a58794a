import { toIpcError } from '$lib/ipc/ipc';
import { t } from '$lib/i18n/index.svelte';

/** What to show for a failed command: a translated sentence chosen by code, plus the detail. */
export type ErrorView = { text: string; detail: string };

export function describeError(reason: unknown): ErrorView {
  const error = toIpcError(reason);
  return { text: t(`error.${error.code}`), detail: error.detail };
}
