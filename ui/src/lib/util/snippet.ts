import { SNIPPET_CLOSE, SNIPPET_OPEN } from '$lib/ipc/ipc';

export type SnippetPart = { text: string; hit: boolean };

/**
 * Splits a search snippet on its hit markers. The parts are rendered as text (escaped by
 * Svelte), hits inside <mark>: the snippet comes from mail content and is never HTML.
 * An unbalanced marker ends the hit at the end of the string.
 */
export function splitSnippet(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let hit = false;
  let current = '';
  for (const ch of snippet) {
    if (ch === SNIPPET_OPEN || ch === SNIPPET_CLOSE) {
      if (current) parts.push({ text: current, hit });
      current = '';
      hit = ch === SNIPPET_OPEN;
    } else {
      current += ch;
    }
  }
  if (current) parts.push({ text: current, hit });
  return parts;
}
