// Every keyboard shortcut of the window, in one table: the window's key handler matches
// against it and the cheat sheet (`?`) lists it, so the two can never disagree.
//
// Single keys never fire while the user types in a field; combinations with Ctrl/⌘ (send,
// search, the template picker, the note switch) and those marked `whileTyping` (Esc) do.
// Views register what a shortcut does (`bindShortcuts`) while they are on screen.

import type { MessageKey } from '$lib/i18n/catalogue';
import { hasModifier, isEditable, isMac } from './platform';

export type ShortcutId =
  | 'next'
  | 'previous'
  | 'open'
  | 'search'
  | 'reply'
  | 'note'
  | 'close'
  | 'snooze'
  | 'pending'
  | 'pin'
  | 'tag'
  | 'contact'
  | 'template'
  | 'send'
  | 'toggleNote'
  | 'escape'
  | 'help';

export type ShortcutGroup = 'list' | 'conversation' | 'composer' | 'general';

export type Shortcut = {
  id: ShortcutId;
  group: ShortcutGroup;
  /**
   * Key combinations, each `Mod+Shift+Key` style: `Mod` is ⌘ on macOS and Ctrl elsewhere;
   * the key is `KeyboardEvent.key` (letters in lower case).
   */
  keys: string[];
  /** Also while the focus is in a text field. */
  whileTyping?: boolean;
  /** Handled where it happens (the list, the composer), not by the window: listed only. */
  local?: boolean;
  /** Further keys that work where the focus is (arrows in the list, Enter on a row). */
  localKeys?: string[];
  label: MessageKey;
};

export const SHORTCUTS: readonly Shortcut[] = [
  {
    id: 'next',
    group: 'list',
    keys: ['j'],
    localKeys: ['ArrowDown'],
    label: 'shortcuts.next',
  },
  {
    id: 'previous',
    group: 'list',
    keys: ['k'],
    localKeys: ['ArrowUp'],
    label: 'shortcuts.previous',
  },
  { id: 'open', group: 'list', keys: ['o'], localKeys: ['Enter'], label: 'shortcuts.open' },
  {
    id: 'search',
    group: 'list',
    keys: ['/', 'Mod+k'],
    label: 'shortcuts.search',
  },
  { id: 'reply', group: 'conversation', keys: ['r'], label: 'shortcuts.reply' },
  { id: 'note', group: 'conversation', keys: ['n'], label: 'shortcuts.note' },
  { id: 'close', group: 'conversation', keys: ['e'], label: 'shortcuts.close' },
  { id: 'snooze', group: 'conversation', keys: ['s'], label: 'shortcuts.snooze' },
  { id: 'pending', group: 'conversation', keys: ['p'], label: 'shortcuts.pending' },
  { id: 'pin', group: 'conversation', keys: ['Shift+p'], label: 'shortcuts.pin' },
  { id: 'tag', group: 'conversation', keys: ['t'], label: 'shortcuts.tag' },
  { id: 'contact', group: 'conversation', keys: ['c'], label: 'shortcuts.contact' },
  {
    id: 'template',
    group: 'composer',
    keys: ['Mod+/'],
    whileTyping: true,
    label: 'shortcuts.template',
  },
  {
    id: 'send',
    group: 'composer',
    keys: ['Mod+Enter'],
    whileTyping: true,
    local: true,
    label: 'shortcuts.send',
  },
  {
    id: 'toggleNote',
    group: 'composer',
    keys: ['Mod+Shift+n'],
    whileTyping: true,
    local: true,
    label: 'shortcuts.toggleNote',
  },
  {
    id: 'escape',
    group: 'general',
    keys: ['Escape'],
    whileTyping: true,
    local: true,
    label: 'shortcuts.escape',
  },
  { id: 'help', group: 'general', keys: ['?'], label: 'shortcuts.help' },
];

export const GROUPS: readonly { id: ShortcutGroup; label: MessageKey }[] = [
  { id: 'list', label: 'shortcuts.group.list' },
  { id: 'conversation', label: 'shortcuts.group.conversation' },
  { id: 'composer', label: 'shortcuts.group.composer' },
  { id: 'general', label: 'shortcuts.group.general' },
];

type Combo = { mod: boolean; shift: boolean; key: string };

function parse(combo: string): Combo {
  const parts = combo.split('+');
  // "Mod+/" splits cleanly; a bare "+" key is not used.
  const key = parts.pop() ?? '';
  return { mod: parts.includes('Mod'), shift: parts.includes('Shift'), key };
}

/** Whether `event` is the key combination `combo` (see `Shortcut.keys`). */
export function matchesCombo(event: KeyboardEvent, combo: string): boolean {
  const want = parse(combo);
  if (event.altKey) return false;
  if (hasModifier(event) !== want.mod) return false;
  // The other platform's modifier (Ctrl on macOS, ⌘ elsewhere) is never ours.
  if (isMac ? event.ctrlKey : event.metaKey) return false;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  // Symbols typed with Shift ("?", and "/" on Italian keyboards) carry Shift themselves.
  const symbol = want.key.length === 1 && !/[a-z0-9]/.test(want.key);
  if (!symbol && event.shiftKey !== want.shift) return false;
  return key === want.key;
}

export function shortcut(id: ShortcutId): Shortcut {
  const found = SHORTCUTS.find((s) => s.id === id);
  if (!found) throw new Error(`no shortcut ${id}`);
  return found;
}

/** Whether `event` triggers shortcut `id` (for the components that handle their own). */
export function matches(event: KeyboardEvent, id: ShortcutId): boolean {
  return shortcut(id).keys.some((combo) => matchesCombo(event, combo));
}

/** How a combination reads on this platform: ["Ctrl", "K"] or ["⌘", "K"]. */
export function comboLabel(combo: string, enterLabel: string): string[] {
  const { mod, shift, key } = parse(combo);
  const names: Record<string, string> = {
    ArrowDown: '↓',
    ArrowUp: '↑',
    Escape: 'Esc',
    Enter: enterLabel,
  };
  const out: string[] = [];
  if (mod) out.push(isMac ? '⌘' : 'Ctrl');
  if (shift) out.push(isMac ? '⇧' : 'Shift');
  out.push(names[key] ?? key.toUpperCase());
  return out;
}

type Handler = (event: KeyboardEvent) => boolean | void;

/** The handlers in force, newest first: a dialog or picker on top wins over the view below. */
const layers: Partial<Record<ShortcutId, Handler>>[] = [];

/**
 * Registers what shortcuts do while the caller is on screen; returns the unregister function
 * (return it from an `$effect`). A handler that returns `false` lets the key go on to the
 * layers below and to the page.
 */
export function bindShortcuts(handlers: Partial<Record<ShortcutId, Handler>>): () => void {
  layers.unshift(handlers);
  return () => {
    const at = layers.indexOf(handlers);
    if (at >= 0) layers.splice(at, 1);
  };
}

/** The window's key handler: runs the matching shortcut, if any; true when one ran. */
export function handleShortcut(event: KeyboardEvent): boolean {
  if (event.defaultPrevented || event.isComposing) return false;
  const typing = isEditable(event.target);
  for (const entry of SHORTCUTS) {
    if (entry.local) continue;
    // A combination with Ctrl/⌘ types nothing, so it may fire while typing.
    const usable = entry.keys.filter((c) => !typing || entry.whileTyping || parse(c).mod);
    if (!usable.some((combo) => matchesCombo(event, combo))) continue;
    for (const layer of layers) {
      const run = layer[entry.id];
      if (!run) continue;
      if (run(event) === false) continue;
      event.preventDefault();
      return true;
    }
  }
  return false;
}
