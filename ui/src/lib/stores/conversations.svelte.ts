// The unified list as a sparse cache of pages. Only the pages around the visible rows are
// fetched and kept; a change refetches just those pages, so 100,000 conversations cost
// the same as 100.

import { SvelteMap } from 'svelte/reactivity';
import * as ipc from '$lib/ipc/ipc';
import type { ConversationSummary } from '$lib/ipc/ipc';
import { rememberSidebarSelection, savedSidebarSelection } from './selection';
export type { View } from '$lib/ipc/ipc';

export const PAGE_SIZE = 100;
/** Pages kept around the visible ones before the far ones are dropped. */
const KEEP_PAGES = 6;

/** The filter of one of the fixed views. */
export function viewFilter(view: ipc.View): ipc.ConversationFilter {
  return { view, statuses: [], unread: false, waiting: false };
}

/** The fixed view a sidebar selection shows, or null for a channel, account, tag, saved view. */
function viewOf(key: string, filter: ipc.ConversationFilter): ipc.View | null {
  return key.startsWith('view:') ? (filter.view ?? null) : null;
}

/** What the sidebar showed when the app was last closed: shown again at start. */
const restored = savedSidebarSelection() ?? { key: 'view:inbox', filter: viewFilter('inbox') };

class ConversationList {
  total = $state(0);
  /** False until the first page answered: shows skeleton rows, not "no conversations". */
  loaded = $state(false);
  failed = $state(false);
  readonly pages = new SvelteMap<number, ConversationSummary[]>();
  /** The sidebar view the list shows (`null` while a channel, account, tag or saved view does). */
  view = $state<ipc.View | null>(viewOf(restored.key, restored.filter));
  /** What the sidebar selected: `view:inbox`, `channel:email`, `account:2`, `saved:3`, `tag:1`. */
  key = $state(restored.key);
  /** The filter the list is fetched with. */
  filter = $state.raw<ipc.ConversationFilter>(restored.filter);
  counts = $state<ipc.ViewCounts | null>(null);
}

export const list = new ConversationList();

/** Bumped by every refresh: answers from an older generation are stale and dropped. */
let generation = 0;
// Bookkeeping, not state: nothing renders from it.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const inFlight = new Map<number, Promise<void>>();
let visible = { first: 0, last: 0 };

function pageOf(index: number): number {
  return Math.floor(index / PAGE_SIZE);
}

/** Rows either side of the visible ones that the virtual list also renders (its overscan). */
const MARGIN = 10;

function visiblePages(): number[] {
  const pages: number[] = [];
  const first = Math.max(0, visible.first - MARGIN);
  const last = Math.max(visible.first, visible.last - 1) + MARGIN;
  const end = list.total > 0 ? Math.min(pageOf(last), pageOf(list.total - 1)) : pageOf(first);
  for (let p = pageOf(first); p <= end; p++) pages.push(p);
  return pages;
}

async function fetchPage(page: number): Promise<void> {
  const mine = generation;
  try {
    const answer = await ipc.listConversationsFiltered(page * PAGE_SIZE, PAGE_SIZE, list.filter);
    if (mine !== generation) return;
    list.total = answer.total;
    list.pages.set(page, answer.items);
    list.loaded = true;
    list.failed = false;
  } catch {
    if (mine === generation) list.failed = true;
  }
}

function ensurePage(page: number): Promise<void> {
  if (list.pages.has(page)) return Promise.resolve();
  const key = page + generation * 1e9;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = fetchPage(page).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

function evictFarPages() {
  const pages = visiblePages();
  const lo = pages[0] - KEEP_PAGES;
  const hi = pages[pages.length - 1] + KEEP_PAGES;
  for (const page of [...list.pages.keys()]) {
    if (page < lo || page > hi) list.pages.delete(page);
  }
}

/** The virtual list tells which rows it shows (`last` exclusive); their pages get fetched. */
export function setVisibleRange(first: number, last: number) {
  visible = { first, last };
  if (!list.loaded) return;
  for (const page of visiblePages()) void ensurePage(page);
  evictFarPages();
}

/** The row at `index`, or undefined while its page is on its way. */
export function rowAt(index: number): ConversationSummary | undefined {
  return list.pages.get(pageOf(index))?.[index % PAGE_SIZE];
}

/** Where a conversation sits among the cached rows, or -1 when not cached. */
export function indexOfConversation(id: number): number {
  for (const [page, items] of list.pages) {
    const i = items.findIndex((item) => item.id === id);
    if (i >= 0) return page * PAGE_SIZE + i;
  }
  return -1;
}

/** First load. */
export async function loadList() {
  generation++;
  await fetchPage(0);
  list.loaded = true;
}

let refreshing: Promise<void> | null = null;
let refreshAgain = false;

/**
 * Something changed: rows may have moved (newest activity first), so refetch the visible
 * pages and forget the others (they are fetched again when scrolled to). Rows stay on
 * screen until the new ones arrive: no flicker.
 */
export function refreshList(): Promise<void> {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      generation++;
      const pages = visiblePages();
      await Promise.all(pages.map((page) => fetchPage(page)));
      for (const page of [...list.pages.keys()]) {
        if (!pages.includes(page)) list.pages.delete(page);
      }
    } while (refreshAgain);
    refreshing = null;
  })();
  return refreshing;
}

/** Optimistic edit of a cached row (e.g. read at once when opened). */
export function patchRow(id: number, patch: Partial<ConversationSummary>) {
  for (const [page, items] of list.pages) {
    const i = items.findIndex((item) => item.id === id);
    if (i >= 0) {
      const next = items.slice();
      next[i] = { ...items[i], ...patch };
      list.pages.set(page, next);
      return;
    }
  }
}

/** The numbers beside the sidebar views; kept when the call fails. */
export async function loadCounts(): Promise<void> {
  try {
    list.counts = await ipc.viewCounts();
  } catch {
    // The old numbers stay.
  }
}

/** Shows another view: the cache starts over. */
export function selectView(view: ipc.View): Promise<void> {
  return selectFilter(`view:${view}`, viewFilter(view));
}

/**
 * Shows the conversations matching `filter` under a sidebar `key` (`channel:email`,
 * `account:2`, `saved:3`, `tag:1`...): the cache starts over.
 */
export async function selectFilter(key: string, filter: ipc.ConversationFilter): Promise<void> {
  if (list.key === key && JSON.stringify(list.filter) === JSON.stringify(filter)) return;
  list.key = key;
  list.filter = filter;
  list.view = viewOf(key, filter);
  rememberSidebarSelection({ key, filter });
  list.pages.clear();
  list.total = 0;
  list.loaded = false;
  await loadList();
}
