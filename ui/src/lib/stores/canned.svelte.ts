// Canned replies (loaded once, reloaded after an edit) and the approved WhatsApp templates of
// each account (fetched from Meta, so kept for a few minutes): what the composer's "/" picker
// and the template picker choose from.

import * as ipc from '$lib/ipc/ipc';
import type { CannedReply, CannedReplyInput, Template } from '$lib/ipc/ipc';

class Canned {
  list = $state.raw<CannedReply[] | null>(null);
  failed = $state(false);
}

export const canned = new Canned();

let loading: Promise<void> | null = null;

/** Loads the canned replies unless they are already here (or `force`). */
export function loadCanned(force = false): Promise<void> {
  if (!force && (canned.list !== null || loading)) return loading ?? Promise.resolve();
  loading = ipc.listCannedReplies().then(
    (list) => {
      canned.list = list;
      canned.failed = false;
      loading = null;
    },
    () => {
      canned.failed = true;
      loading = null;
    },
  );
  return loading;
}

export async function saveCanned(id: number | null, input: CannedReplyInput): Promise<CannedReply> {
  const saved = await ipc.saveCannedReply(id, input);
  await loadCanned(true);
  return saved;
}

export async function deleteCanned(id: number): Promise<void> {
  await ipc.deleteCannedReply(id);
  canned.list = (canned.list ?? []).filter((c) => c.id !== id);
}

const TEMPLATES_FOR_MS = 5 * 60_000;
// A cache, not state: callers await the promise.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const templates = new Map<number, { at: number; list: Promise<Template[]> }>();

/** The account's approved WhatsApp templates (shared by both pickers, kept five minutes). */
export function approvedTemplates(accountId: number): Promise<Template[]> {
  const cached = templates.get(accountId);
  if (cached && Date.now() - cached.at < TEMPLATES_FOR_MS) return cached.list;
  const list = ipc
    .whatsappTemplates(accountId)
    .then((all) => all.filter((x) => x.status.toUpperCase() === 'APPROVED'));
  templates.set(accountId, { at: Date.now(), list });
  // A failure is not kept: the next picker asks again.
  list.catch(() => templates.delete(accountId));
  return list;
}
