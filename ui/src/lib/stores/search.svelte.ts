// Full-text search over every message. Typing runs it after a short pause; the last
// answer wins, earlier ones still in flight are dropped.

import * as ipc from '$lib/ipc/ipc';
import type { SearchHit } from '$lib/ipc/ipc';

class Search {
  query = $state('');
  hits = $state.raw<SearchHit[]>([]);
  /** The query the hits belong to (the box may already hold a newer one). */
  answered = $state('');
  failed = $state(false);
  get active() {
    return this.query.trim().length > 0;
  }
}

export const search = new Search();

let timer: ReturnType<typeof setTimeout> | undefined;
let request = 0;

export function setQuery(query: string) {
  search.query = query;
  clearTimeout(timer);
  if (!query.trim()) {
    request++;
    search.hits = [];
    search.answered = '';
    return;
  }
  timer = setTimeout(() => void run(query.trim()), 150);
}

async function run(query: string) {
  const mine = ++request;
  try {
    const hits = await ipc.search(query);
    if (mine !== request) return;
    search.hits = hits;
    search.answered = query;
    search.failed = false;
  } catch {
    if (mine === request) {
      search.failed = true;
      search.answered = query;
    }
  }
}

export function clearSearch() {
  setQuery('');
}
