import * as ipc from '$lib/ipc/ipc';
import type { Account } from '$lib/ipc/ipc';
import { notifyError } from './toasts.svelte';

class Accounts {
  list = $state.raw<Account[]>([]);
  /** False until the first answer: the welcome screen must not flash before it. */
  loaded = $state(false);
}

export const accounts = new Accounts();

let loading: Promise<void> | null = null;
let again = false;
let knownIds: number[] | null = null;
const onSetChange: ((removed: number[]) => void)[] = [];

/**
 * Runs `handler` whenever an account was added or removed (not on status changes), with the
 * ids of the removed ones.
 */
export function onAccountsAddedOrRemoved(handler: (removed: number[]) => void) {
  onSetChange.push(handler);
}

/** Reloads the (short) account list; calls during a load coalesce into one more load. */
export function loadAccounts(): Promise<void> {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    try {
      do {
        again = false;
        accounts.list = await ipc.listAccounts();
        accounts.loaded = true;
        const ids = accounts.list.map((account) => account.id);
        const before = knownIds;
        knownIds = ids;
        if (before === null) continue;
        const removed = before.filter((id) => !ids.includes(id));
        const added = ids.some((id) => !before.includes(id));
        if (removed.length > 0 || added) onSetChange.forEach((handler) => handler(removed));
      } while (again);
    } catch (reason) {
      notifyError(reason);
    } finally {
      loading = null;
    }
  })();
  return loading;
}

export function accountById(id: number): Account | undefined {
  return accounts.list.find((account) => account.id === id);
}
