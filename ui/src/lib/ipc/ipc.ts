// The one door to the Rust side: every command and event the window uses, typed.
// Nothing else in the UI imports @tauri-apps/* (see STYLE.md point 10), so tests can
// replace the whole backend by mocking Tauri's IPC and nothing else.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

import type { Account } from './bindings/Account';
import type { AppInfo } from './bindings/AppInfo';
import type { Change } from './bindings/Change';
import type { ConversationDetail } from './bindings/ConversationDetail';
import type { ConversationPage } from './bindings/ConversationPage';
import type { EmailAccountInput } from './bindings/EmailAccountInput';
import type { Error as ErrorBody } from './bindings/Error';
import type { ErrorCode } from './bindings/ErrorCode';
import type { Message } from './bindings/Message';
import type { SearchHit } from './bindings/SearchHit';
import type { Settings } from './bindings/Settings';

export type * from './types';

const ERROR_CODES: readonly ErrorCode[] = [
  'auth_failed',
  'rate_limited',
  'sign_in_again',
  'outside_window',
  'network',
  'tls',
  'protocol',
  'rejected',
  'not_found',
  'invalid_input',
  'keyring',
  'database_too_new',
  'storage',
  'internal',
];

/** A rejected command, always with a stable code; `detail` is English text for a second line. */
export class IpcError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  constructor(code: ErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'IpcError';
    this.code = code;
    this.detail = detail;
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && (ERROR_CODES as readonly string[]).includes(v.code);
}

/** Turns whatever a command rejected with into an IpcError (unknown shapes become `internal`). */
export function toIpcError(reason: unknown): IpcError {
  if (reason instanceof IpcError) return reason;
  if (isErrorBody(reason)) return new IpcError(reason.code, String(reason.message ?? ''));
  if (reason instanceof Error) return new IpcError('internal', reason.message);
  return new IpcError('internal', String(reason));
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toIpcError(reason);
  }
}

// Argument names are camelCase: Tauri maps them to the Rust snake_case parameters.

export const listAccounts = () => call<Account[]>('list_accounts');
export const testEmailAccount = (input: EmailAccountInput) =>
  call<null>('test_email_account', { input });
export const addEmailAccount = (input: EmailAccountInput) =>
  call<Account>('add_email_account', { input });
export const removeAccount = (accountId: number) => call<null>('remove_account', { accountId });
/** Sync now; `null` syncs every account. */
export const refresh = (accountId: number | null) => call<null>('refresh', { accountId });

export const listConversations = (offset: number, limit: number) =>
  call<ConversationPage>('list_conversations', { offset, limit });
export const getConversation = (conversationId: number) =>
  call<ConversationDetail>('get_conversation', { conversationId });
export const markRead = (conversationId: number) => call<null>('mark_read', { conversationId });
/** Resolves with the message already stored as `queued`; later states arrive as changes. */
export const sendReply = (conversationId: number, text: string, quote: boolean) =>
  call<Message>('send_reply', { conversationId, text, quote });
export const retryMessage = (messageId: number) => call<null>('retry_message', { messageId });
export const search = (query: string) => call<SearchHit[]>('search', { query });

export const openAttachment = (attachmentId: number) =>
  call<null>('open_attachment', { attachmentId });
/** Saves into Downloads and resolves with the path written. */
export const saveAttachment = (attachmentId: number) =>
  call<string>('save_attachment', { attachmentId });
export const messageSource = (messageId: number) => call<string>('message_source', { messageId });

export const getSettings = () => call<Settings>('get_settings');
export const updateSettings = (settings: Settings) =>
  call<Settings>('update_settings', { settings });
export const appInfo = () => call<AppInfo>('app_info');

export const CHANGES_EVENT = 'sportello://changes';
export const OPEN_CONVERSATION_EVENT = 'sportello://open-conversation';

/** One batched event per store commit (or several): conversations, accounts, new mail. */
export function onChanges(handler: (change: Change) => void): Promise<UnlistenFn> {
  return listen<Change>(CHANGES_EVENT, (event) => handler(event.payload));
}

/** A notification was clicked: the window should show that conversation. */
export function onOpenConversation(handler: (conversationId: number) => void): Promise<UnlistenFn> {
  return listen<number>(OPEN_CONVERSATION_EVENT, (event) => handler(event.payload));
}

/** Search snippets wrap each hit in these private-use characters. */
export const SNIPPET_OPEN = '\uE000';
export const SNIPPET_CLOSE = '\uE001';
