// The shop's customer-care rules (for the waiting-time colours) and the user's saved views.

import * as ipc from '$lib/ipc/ipc';
import type { CareSettings, ConversationFilter, SavedView } from '$lib/ipc/ipc';
import { t } from '$lib/i18n/index.svelte';
import { list, loadCounts, selectFilter, viewFilter } from './conversations.svelte';
import { notifyError } from './toasts.svelte';

/** A waiting time turns amber from this share of the target on. */
export const SLA_WARN_SHARE = 0.75;

class Care {
  /** Null until loaded; the target then defaults to an hour. */
  settings = $state.raw<CareSettings | null>(null);
  views = $state.raw<SavedView[]>([]);
}

export const care = new Care();

export function slaMs(): number {
  return Math.max(1, care.settings?.sla_minutes ?? 60) * 60_000;
}

export type SlaLevel = 'ok' | 'near' | 'over';

/** How a wait compares with the target: fine, nearing it (≥ 75 %), or past it. */
export function slaLevel(waitedMs: number, targetMs: number = slaMs()): SlaLevel {
  if (waitedMs > targetMs) return 'over';
  if (waitedMs >= targetMs * SLA_WARN_SHARE) return 'near';
  return 'ok';
}

export async function loadCare(): Promise<void> {
  const [settings, views] = await Promise.all([
    ipc.getCareSettings().catch(() => null),
    ipc.listSavedViews().catch(() => null),
  ]);
  if (settings) care.settings = settings;
  if (views) care.views = views;
}

/** Saves the care settings; resolves with whether they were saved (errors are shown). */
export async function saveCareSettings(next: CareSettings): Promise<boolean> {
  try {
    care.settings = await ipc.updateCareSettings(next);
    void loadCounts();
    return true;
  } catch (reason) {
    notifyError(reason, t('care.saveFailed'));
    return false;
  }
}

/** Creates (`id` null) or changes a saved view, then shows it. */
export async function saveView(
  id: number | null,
  name: string,
  filter: ConversationFilter,
): Promise<SavedView | null> {
  try {
    const saved = await ipc.saveView(id, name, filter);
    care.views = await ipc.listSavedViews();
    void loadCounts();
    await selectFilter(`saved:${saved.id}`, saved.filter);
    return saved;
  } catch (reason) {
    notifyError(reason, t('savedViews.saveFailed'));
    return null;
  }
}

export async function deleteView(id: number): Promise<boolean> {
  try {
    await ipc.deleteView(id);
    care.views = care.views.filter((v) => v.id !== id);
    if (list.key === `saved:${id}`) {
      await selectFilter('view:inbox', viewFilter('inbox'));
    }
    void loadCounts();
    return true;
  } catch (reason) {
    notifyError(reason, t('savedViews.deleteFailed'));
    return false;
  }
}
