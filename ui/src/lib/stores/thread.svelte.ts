// The open conversation: its detail, the replies on their way out, and read state.

import * as ipc from '$lib/ipc/ipc';
import type {
  ChatDetails,
  ConversationDetail,
  ErrorBody,
  Message,
  ReplyExtras,
  ReplyWindow,
} from '$lib/ipc/ipc';
import { patchRow } from './conversations.svelte';
import { notifyError } from './toasts.svelte';

/** A reply not yet acknowledged by the backend (send_reply still running, or it failed). */
export type LocalReply = {
  localId: number;
  conversationId: number;
  text: string;
  quote: boolean;
  sentAt: number;
  state: 'sending' | 'failed';
  error: ErrorBody | null;
  extras: ReplyExtras;
};

class Thread {
  selectedId = $state<number | null>(null);
  detail = $state.raw<ConversationDetail | null>(null);
  failed = $state(false);
  local = $state<LocalReply[]>([]);
  /** The reply rule of a chat conversation (null for email, or until known). */
  window = $state.raw<ReplyWindow | null>(null);
  /** Reactions, locations, contacts, story replies, templates, by message id. */
  details = $state.raw<Record<number, ChatDetails>>({});
  /** A message to bring into view once the thread shows it (a search hit), then cleared. */
  focusMessageId = $state<number | null>(null);
}

export const thread = new Thread();

let request = 0;
let nextLocalId = -1;

/** The open conversation survives a restart (the shell keeps size and position; we keep this). */
const SELECTED_KEY = 'sportello.selected';

/** The id saved by the previous session, or null. */
export function savedSelection(): number | null {
  try {
    const id = Number(localStorage.getItem(SELECTED_KEY));
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  } catch {
    return null;
  }
}

let viewingSent: number | null | undefined;

/** Tells the shell (no notification for what is on screen) and remembers it for next start. */
function selectionChanged(id: number | null) {
  try {
    if (id === null) localStorage.removeItem(SELECTED_KEY);
    else localStorage.setItem(SELECTED_KEY, String(id));
  } catch {
    // Storage disabled: only the restore at next start is lost.
  }
  if (viewingSent === id) return;
  viewingSent = id;
  ipc.setViewing(id).catch(() => {
    // An older shell without the command: notifications just do not know what is open.
    viewingSent = undefined;
  });
}

function markReadIfNeeded(detail: ConversationDetail) {
  const unread =
    detail.conversation.unread_count > 0 ||
    detail.messages.some((m) => m.direction === 'inbound' && !m.is_read);
  if (!unread) return;
  patchRow(detail.conversation.id, { unread_count: 0 });
  ipc.markRead(detail.conversation.id).catch((reason) => notifyError(reason));
}

async function load(id: number) {
  const mine = ++request;
  try {
    const detail = await ipc.getConversation(id);
    if (mine !== request || thread.selectedId !== id) return;
    const chat = detail.conversation.channel !== 'email';
    // Chat threads also need their reply rule and message details; neither blocks the view.
    const [window, details] = chat
      ? await Promise.all([
          ipc.replyWindow(id).catch(() => null),
          ipc.messageDetails(id).catch(() => []),
        ])
      : [null, []];
    if (mine !== request || thread.selectedId !== id) return;
    thread.detail = detail;
    thread.window = window;
    thread.details = Object.fromEntries(details.map((d) => [d.message_id, d]));
    thread.failed = false;
    markReadIfNeeded(detail);
  } catch (reason) {
    if (mine !== request || thread.selectedId !== id) return;
    if (restoring === id && ipc.toIpcError(reason).code === 'not_found') {
      // The conversation remembered from last time is gone: start with none open.
      closeConversation();
      return;
    }
    thread.failed = true;
  } finally {
    if (restoring === id && mine === request) restoring = null;
  }
}

/** The remembered conversation being reopened at start (forgotten quietly if it is gone). */
let restoring: number | null = null;

/** At start: reopen the conversation of the last session, if it still exists. */
export function restoreSelection() {
  const id = savedSelection();
  if (id === null || thread.selectedId !== null) return;
  restoring = id;
  openConversation(id);
}

export function openConversation(id: number, focusMessage: number | null = null) {
  thread.focusMessageId = focusMessage;
  if (thread.selectedId === id) return;
  if (restoring !== id) restoring = null;
  thread.selectedId = id;
  selectionChanged(id);
  thread.failed = false;
  // Keep the previous thread until the new one arrives only if it is the same one.
  if (thread.detail?.conversation.id !== id) {
    thread.detail = null;
    thread.window = null;
    thread.details = {};
  }
  void load(id);
}

export function closeConversation() {
  request++;
  restoring = null;
  thread.selectedId = null;
  selectionChanged(null);
  thread.detail = null;
  thread.window = null;
  thread.details = {};
}

/** A change touched the open conversation: fetch it again, without clearing the view. */
export function reloadConversation() {
  if (thread.selectedId !== null) void load(thread.selectedId);
}

function addMessage(message: Message) {
  const detail = thread.detail;
  if (!detail || detail.conversation.id !== message.conversation_id) return;
  if (detail.messages.some((m) => m.id === message.id)) return;
  thread.detail = { ...detail, messages: [...detail.messages, message] };
}

async function deliver(reply: LocalReply) {
  try {
    const message = await ipc.sendReply(
      reply.conversationId,
      reply.text,
      reply.quote,
      reply.extras,
    );
    thread.local = thread.local.filter((r) => r.localId !== reply.localId);
    addMessage(message);
  } catch (reason) {
    const error = ipc.toIpcError(reason);
    thread.local = thread.local.map((r) =>
      r.localId === reply.localId
        ? { ...r, state: 'failed', error: { code: error.code, message: error.detail } }
        : r,
    );
  }
}

/**
 * Saves an internal note (never sent) and shows it in the thread; rejects when the store
 * refused it, so the composer keeps the text.
 */
export async function addNote(conversationId: number, text: string): Promise<void> {
  const message = await ipc.addNote(conversationId, text);
  addMessage(message);
}

/** Shows the reply at once as "sending", then hands it to the backend's outbox. */
export function sendReply(
  conversationId: number,
  text: string,
  quote: boolean,
  extras: ReplyExtras = {},
) {
  const reply: LocalReply = {
    localId: nextLocalId--,
    conversationId,
    text,
    quote,
    sentAt: Date.now(),
    state: 'sending',
    error: null,
    extras,
  };
  thread.local = [...thread.local, reply];
  void deliver(reply);
}

/** Retry a reply that never reached the outbox. */
export function retryLocal(localId: number) {
  const reply = thread.local.find((r) => r.localId === localId);
  if (!reply) return;
  const again: LocalReply = { ...reply, state: 'sending', error: null, sentAt: Date.now() };
  thread.local = thread.local.map((r) => (r.localId === localId ? again : r));
  void deliver(again);
}

/** Retry a stored message the outbox gave up on; its new state arrives as a change. */
export async function retryMessage(messageId: number) {
  const detail = thread.detail;
  if (detail) {
    thread.detail = {
      ...detail,
      messages: detail.messages.map((m) =>
        m.id === messageId ? { ...m, delivery: 'queued', delivery_error: null } : m,
      ),
    };
  }
  try {
    await ipc.retryMessage(messageId);
  } catch (reason) {
    notifyError(reason);
    reloadConversation();
  }
}

/** Replies still on their way for the open conversation. */
export function localRepliesFor(conversationId: number): LocalReply[] {
  const stored = thread.detail?.messages ?? [];
  return thread.local.filter(
    (r) =>
      r.conversationId === conversationId &&
      // A change can bring the stored copy before send_reply answers: show it only once.
      !(
        r.state === 'sending' &&
        stored.some(
          (m) => m.direction === 'outbound' && m.text === r.text && m.sent_at >= r.sentAt - 60_000,
        )
      ),
  );
}
