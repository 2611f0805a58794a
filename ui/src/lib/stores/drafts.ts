// Half-written replies, per conversation, kept in memory and in localStorage so neither
// switching conversations nor closing the window loses them.

export type Draft = { text: string; quote: boolean };

const KEY = 'sportello.drafts';
const drafts = new Map<number, Draft>(read());
let saveTimer: ReturnType<typeof setTimeout> | undefined;

function read(): [number, Draft][] {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return [];
    const parsed = JSON.parse(raw) as Record<string, Draft>;
    return Object.entries(parsed)
      .filter(([, d]) => d && typeof d.text === 'string')
      .map(([id, d]) => [Number(id), { text: d.text, quote: d.quote !== false }]);
  } catch {
    return [];
  }
}

function persistSoon() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(persistNow, 300);
}

export function persistNow() {
  clearTimeout(saveTimer);
  try {
    localStorage.setItem(KEY, JSON.stringify(Object.fromEntries(drafts)));
  } catch {
    // Storage full or disabled: the drafts still live in memory for this session.
  }
}

export function getDraft(conversationId: number): Draft | undefined {
  return drafts.get(conversationId);
}

export function setDraft(conversationId: number, draft: Draft) {
  if (!draft.text.trim()) drafts.delete(conversationId);
  else drafts.set(conversationId, draft);
  persistSoon();
}

export function clearDraft(conversationId: number) {
  drafts.delete(conversationId);
  persistNow();
}
