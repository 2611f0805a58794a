// Hangs the UI state off the backend's one change stream: each batch refreshes only what it
// names (account list, visible rows, the open conversation).

import * as ipc from '$lib/ipc/ipc';
import type { Change } from '$lib/ipc/ipc';
import { tn } from '$lib/i18n/index.svelte';
import { accounts, loadAccounts } from './accounts.svelte';
import { refreshList } from './conversations.svelte';
import { closeConversation, openConversation, reloadConversation, thread } from './thread.svelte';
import { notify } from './toasts.svelte';

function accountIds(): string {
  return accounts.list.map((account) => account.id).join(',');
}

export function applyChange(change: Change) {
  if (change.conversations.length > 0) void refreshList();
  if (change.accounts.length > 0) {
    // Status changes (sync progress) come often: the list only needs a refetch when an
    // account came or went, since removing one removes its conversations too.
    const before = accountIds();
    void loadAccounts().then(() => {
      if (accountIds() === before) return;
      if (change.conversations.length === 0) void refreshList();
      // The open conversation went away with its account.
      const open = thread.detail?.conversation.account_id;
      if (open !== undefined && !accounts.list.some((account) => account.id === open)) {
        closeConversation();
      }
    });
  }
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
  ]);
  return () => unlisten.forEach((stop) => stop());
}
