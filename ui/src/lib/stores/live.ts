// Hangs the UI state off the backend's one change stream: each batch refreshes only what it
// names (account list, visible rows, the open conversation).

import * as ipc from '$lib/ipc/ipc';
import type { Change } from '$lib/ipc/ipc';
import { tn } from '$lib/i18n/index.svelte';
import { loadAccounts, onAccountsAddedOrRemoved } from './accounts.svelte';
import { list, loadCounts, refreshList, selectView } from './conversations.svelte';
import { selectedAccount } from './selection';
import { closeConversation, openConversation, reloadConversation, thread } from './thread.svelte';
import { notify } from './toasts.svelte';
import { updateAvailable } from './desktop.svelte';

// An account came or went (its conversations with it): the rows moved, and the open
// conversation may be gone. Status changes (sync progress, often) do not get here. Only an
// account that was known and is now removed closes the open conversation: a list that was
// still loading, or a reordered one, never does.
onAccountsAddedOrRemoved((removed) => {
  // The list showed that account alone: back to the inbox (and so at the next start too).
  const shown = selectedAccount(list.key);
  if (shown !== null && removed.includes(shown)) void selectView('inbox');
  else void refreshList();
  void loadCounts();
  const open = thread.detail?.conversation.account_id;
  if (open !== undefined && removed.includes(open)) closeConversation();
});

export function applyChange(change: Change) {
  if (change.conversations.length > 0) {
    void refreshList();
    void loadCounts();
  }
  if (change.accounts.length > 0) void loadAccounts();
  const open = thread.selectedId;
  if (open !== null && change.conversations.includes(open)) reloadConversation();
  for (const summary of change.summaries) {
    if (summary.new_messages > 0) {
      notify(tn('sync.summary', summary.new_messages, { account: summary.account_name }));
    }
  }
}

export async function subscribe(): Promise<() => void> {
  const unlisten = await Promise.all([
    ipc.onChanges(applyChange),
    ipc.onOpenConversation((id) => openConversation(id)),
    ipc.onUpdateAvailable((version) => updateAvailable(version)),
  ]);
  return () => unlisten.forEach((stop) => stop());
}
