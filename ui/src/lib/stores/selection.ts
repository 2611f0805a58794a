// The sidebar selection (a view, a channel, an account, a tag or a saved view, with the filter
// it shows) survives a restart, like the open conversation and the drafts: kept in
// localStorage, read once at start.

import type { ConversationFilter } from '$lib/ipc/ipc';

const KEY = 'sportello.sidebar';

export type Selection = { key: string; filter: ConversationFilter };

/** What the previous session showed, or null (first start, storage off, unreadable value). */
export function savedSidebarSelection(): Selection | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Selection> | null;
    const filter = parsed?.filter;
    if (
      typeof parsed?.key !== 'string' ||
      !filter ||
      !Array.isArray(filter.statuses) ||
      typeof filter.unread !== 'boolean' ||
      typeof filter.waiting !== 'boolean'
    ) {
      return null;
    }
    return { key: parsed.key, filter };
  } catch {
    return null;
  }
}

export function rememberSidebarSelection(selection: Selection) {
  try {
    localStorage.setItem(KEY, JSON.stringify(selection));
  } catch {
    // Storage disabled: only the restore at next start is lost.
  }
}

/** The account the selection is about (`account:2`), if it is an account's filter. */
export function selectedAccount(key: string): number | null {
  const match = /^account:(\d+)$/.exec(key);
  return match ? Number(match[1]) : null;
}
