// The one door to the Rust side: every command and event the window uses, typed.
// Nothing else in the UI imports @tauri-apps/* (see STYLE.md point 10), so tests can
// replace the whole backend by mocking Tauri's IPC and nothing else.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

import type { Account } from './bindings/Account';
import type { AppInfo } from './bindings/AppInfo';
import type { Change } from './bindings/Change';
import type { ChatDetails } from './bindings/ChatDetails';
import type { ConversationDetail } from './bindings/ConversationDetail';
import type { Contact } from './bindings/Contact';
import type { ContactDetail } from './bindings/ContactDetail';
import type { ContactSuggestion } from './bindings/ContactSuggestion';
import type { MergeRecord } from './bindings/MergeRecord';
import type { Tag } from './bindings/Tag';
import type { CannedReply } from './bindings/CannedReply';
import type { CannedReplyInput } from './bindings/CannedReplyInput';
import type { CareReport } from './bindings/CareReport';
import type { CareSettings } from './bindings/CareSettings';
import type { SavedView } from './bindings/SavedView';
import type { ConversationFilter } from './bindings/ConversationFilter';
import type { ConversationPage } from './bindings/ConversationPage';
import type { ConversationStatus } from './bindings/ConversationStatus';
import type { ConversationSummary } from './bindings/ConversationSummary';
import type { ProviderPreset } from './bindings/ProviderPreset';
import type { RenderedTemplate } from './bindings/RenderedTemplate';
import type { ViewCounts } from './bindings/ViewCounts';
import type { DesktopSettings } from './bindings/DesktopSettings';
import type { EmailAccountInput } from './bindings/EmailAccountInput';
import type { Error as ErrorBody } from './bindings/Error';
import type { ErrorCode } from './bindings/ErrorCode';
import type { LocalFile } from './bindings/LocalFile';
import type { Message } from './bindings/Message';
import type { MetaInput } from './bindings/MetaInput';
import type { OAuthAccountInput } from './bindings/OAuthAccountInput';
import type { OAuthClientInput } from './bindings/OAuthClientInput';
import type { OAuthClientSettings } from './bindings/OAuthClientSettings';
import type { ReplyTemplate } from './bindings/ReplyTemplate';
import type { ReplyWindow } from './bindings/ReplyWindow';
import type { SearchHit } from './bindings/SearchHit';
import type { Settings } from './bindings/Settings';
import type { TelegramInput } from './bindings/TelegramInput';
import type { Template } from './bindings/Template';
import type { TwilioInput } from './bindings/TwilioInput';
import type { WebhookInfo } from './bindings/WebhookInfo';
import type { WhatsAppInput } from './bindings/WhatsAppInput';

export type * from './types';

const ERROR_CODES: readonly ErrorCode[] = [
  'auth_failed',
  'rate_limited',
  'sign_in_again',
  'outside_window',
  'file_too_large',
  'attachment_not_supported',
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
// Gmail/Microsoft sign-in in the system browser (OAuth2): each resolves when the browser
// comes back, and rejects when the sign-in is refused, cancelled or times out.
export const emailOAuthSignIn = (input: OAuthAccountInput) =>
  call<Account>('email_oauth_sign_in', { input });
export const emailSignInAgain = (accountId: number) =>
  call<null>('email_sign_in_again', { accountId });
export const cancelEmailSignIn = () => call<null>('cancel_email_sign_in');
// Chat channels: `test_*` checks the credentials without saving and resolves with what they
// serve (number, Page or bot name); `add_*` tests again, saves and starts syncing.
export const testWhatsAppAccount = (input: WhatsAppInput) =>
  call<string>('test_whatsapp_account', { input });
export const addWhatsAppAccount = (input: WhatsAppInput) =>
  call<Account>('add_whatsapp_account', { input });
export const testTwilioAccount = (input: TwilioInput) =>
  call<string>('test_twilio_account', { input });
export const addTwilioAccount = (input: TwilioInput) =>
  call<Account>('add_twilio_account', { input });
export const testMetaAccounts = (input: MetaInput) => call<string>('test_meta_accounts', { input });
/** Messenger, plus Instagram when an Instagram id is given. */
export const addMetaAccounts = (input: MetaInput) =>
  call<Account[]>('add_meta_accounts', { input });
export const testTelegramAccount = (input: TelegramInput) =>
  call<string>('test_telegram_account', { input });
export const addTelegramAccount = (input: TelegramInput) =>
  call<Account>('add_telegram_account', { input });
/** The local webhook receiver, for the WhatsApp / Messenger set-up help. */
export const webhookInfo = () => call<WebhookInfo>('webhook_info');

export const removeAccount = (accountId: number) => call<null>('remove_account', { accountId });
/** Sync now; `null` syncs every account. */
export const refresh = (accountId: number | null) => call<null>('refresh', { accountId });

export const listConversations = (offset: number, limit: number) =>
  call<ConversationPage>('list_conversations', { offset, limit });
export const getConversation = (conversationId: number) =>
  call<ConversationDetail>('get_conversation', { conversationId });
/** The list restricted to a view (or any filter); same paging as `listConversations`. */
export const listConversationsFiltered = (
  offset: number,
  limit: number,
  filter: ConversationFilter,
) => call<ConversationPage>('list_conversations_filtered', { offset, limit, filter });
export const viewCounts = () => call<ViewCounts>('view_counts');
/** `snoozedUntil` (ms) only with `snoozed`. */
export const setStatus = (
  conversationId: number,
  status: ConversationStatus,
  snoozedUntil: number | null = null,
) => call<ConversationSummary>('set_status', { conversationId, status, snoozedUntil });
export const setPinned = (conversationId: number, pinned: boolean) =>
  call<null>('set_pinned', { conversationId, pinned });
/** An internal note: stays here, never sent. */
export const addNote = (conversationId: number, text: string) =>
  call<Message>('add_note', { conversationId, text });
/** The filters the user named, in sidebar order (their counts are in `viewCounts().saved`). */
export const listSavedViews = () => call<SavedView[]>('list_saved_views');
/** Creates (`id` null) or renames/changes a saved view. */
export const saveView = (id: number | null, name: string, filter: ConversationFilter) =>
  call<SavedView>('save_view', { id, name, filter });
export const deleteView = (id: number) => call<null>('delete_view', { id });
/** Shop name, time zone, business hours, holidays, response-time target, auto-replies. */
export const getCareSettings = () => call<CareSettings>('get_care_settings');
export const updateCareSettings = (settings: CareSettings) =>
  call<CareSettings>('update_care_settings', { settings });
/** Response times of the conversations begun in `[from, to)` (ms). */
export const careReport = (from: number, to: number) =>
  call<CareReport>('care_report', { from, to });
/** Writes the report as CSV to `path`; resolves with the path written. */
export const exportReportCsv = (from: number, to: number, path: string) =>
  call<string>('export_report_csv', { from, to, path });

/**
 * The system's save dialog (tauri-plugin-dialog). Resolves with the chosen path, or null when
 * cancelled.
 */
export const pickSavePath = (title: string, defaultPath: string, filterName: string) =>
  call<string | null>('plugin:dialog|save', {
    options: { title, defaultPath, filters: [{ name: filterName, extensions: ['csv'] }] },
  });
/** Closes an email conversation and moves its mail to the archive folder. */
export const archiveConversation = (conversationId: number) =>
  call<number>('archive_conversation', { conversationId });
// Contacts: one customer across channels.
/** The contact panel of a conversation; `null` when the conversation has no contact. */
export const conversationContact = (conversationId: number) =>
  call<ContactDetail | null>('conversation_contact', { conversationId });
/** Contacts that are likely the same person: for one contact, or everyone (`null`). */
export const contactSuggestions = (contactId: number | null) =>
  call<ContactSuggestion[]>('contact_suggestions', { contactId });
/** "Not the same person": the pair is no longer suggested. */
export const dismissSuggestion = (contactId: number, otherId: number) =>
  call<null>('dismiss_suggestion', { contactId, otherId });
/** `mergedId`'s identities, conversations and tags move to `survivorId`; `undoMerge` puts them back. */
export const mergeContacts = (survivorId: number, mergedId: number) =>
  call<MergeRecord>('merge_contacts', { survivorId, mergedId });
export const undoMerge = (mergeId: number) => call<MergeRecord>('undo_merge', { mergeId });
/** Contacts whose name or identity contains `text` (at most 20), for a merge by hand. */
export const findContacts = (text: string) => call<Contact[]>('find_contacts', { text });
export const renameContact = (contactId: number, name: string) =>
  call<null>('rename_contact', { contactId, name });
export const setContactNotes = (contactId: number, notes: string) =>
  call<null>('set_contact_notes', { contactId, notes });

// Tags: coloured labels on conversations and contacts.
export const listTags = () => call<Tag[]>('list_tags');
/** `color` is `#rrggbb`; an existing tag with the same name is returned as it is. */
export const createTag = (name: string, color: string) => call<Tag>('create_tag', { name, color });
/** Renames and/or recolours. */
export const updateTag = (id: number, name: string, color: string) =>
  call<Tag>('update_tag', { id, name, color });
export const deleteTag = (id: number) => call<null>('delete_tag', { id });
export const tagConversation = (conversationId: number, tagId: number, on: boolean) =>
  call<null>('tag_conversation', { conversationId, tagId, on });
export const tagContact = (contactId: number, tagId: number, on: boolean) =>
  call<null>('tag_contact', { contactId, tagId, on });

export const listCannedReplies = () => call<CannedReply[]>('list_canned_replies');
export const saveCannedReply = (id: number | null, input: CannedReplyInput) =>
  call<CannedReply>('save_canned_reply', { id, input });
export const deleteCannedReply = (id: number) => call<null>('delete_canned_reply', { id });
export const renderCannedReply = (
  id: number,
  conversationId: number | null,
  language: string | null = null,
) => call<RenderedTemplate>('render_canned_reply', { id, conversationId, language });
export const emailPresets = () => call<ProviderPreset[]>('email_presets');
export const emailPresetForAddress = (address: string) =>
  call<ProviderPreset | null>('email_preset_for_address', { address });
export const markRead = (conversationId: number) => call<null>('mark_read', { conversationId });
/** What a reply carries besides its text (chat channels). */
export type ReplyExtras = { template?: ReplyTemplate | null; files?: string[] };

/** Resolves with the message already stored as `queued`; later states arrive as changes. */
export const sendReply = (
  conversationId: number,
  text: string,
  quote: boolean,
  extras: ReplyExtras = {},
) =>
  call<Message>('send_reply', {
    conversationId,
    text,
    quote,
    template: extras.template ?? null,
    files: extras.files?.length ? extras.files : null,
  });
/** The rule for replying now: free, until a time, templates only, closed. */
export const replyWindow = (conversationId: number) =>
  call<ReplyWindow>('reply_window', { conversationId });
export const whatsappTemplates = (accountId: number) =>
  call<Template[]>('whatsapp_templates', { accountId });
/** Reactions, locations, shared contacts, story replies, templates of a chat thread. */
export const messageDetails = (conversationId: number) =>
  call<ChatDetails[]>('message_details', { conversationId });

/**
 * The system's file picker (tauri-plugin-dialog; the window may only open it). Resolves with
 * the chosen paths, or an empty list when cancelled.
 */
export async function pickFiles(title: string): Promise<string[]> {
  const picked = await call<string[] | string | null>('plugin:dialog|open', {
    options: { title, multiple: true, directory: false },
  });
  if (picked === null) return [];
  return Array.isArray(picked) ? picked : [picked];
}
export const retryMessage = (messageId: number) => call<null>('retry_message', { messageId });
/** Forwards an email with its files; resolves with the forward, stored as `queued`. */
export const forwardMessage = (messageId: number, to: string, text: string) =>
  call<Message>('forward_message', { messageId, to, text });
/** Names and sizes of files picked or dropped (for the composer's chips and size limit). */
export const describeFiles = (paths: string[]) => call<LocalFile[]>('describe_files', { paths });
/** Files dropped on the window (the webview's native drag and drop gives their paths). */
export function onFileDrop(handler: (paths: string[]) => void): Promise<UnlistenFn> {
  return listen<{ paths: string[] }>('tauri://drag-drop', (event) =>
    handler(event.payload.paths ?? []),
  );
}
export const search = (query: string) => call<SearchHit[]>('search', { query });

export const openAttachment = (attachmentId: number) =>
  call<null>('open_attachment', { attachmentId });
/** Saves into Downloads and resolves with the path written. */
export const saveAttachment = (attachmentId: number) =>
  call<string>('save_attachment', { attachmentId });
/** Opens a web link (a map, an Instagram story) in the browser. */
export const openLink = (url: string) => call<null>('open_link', { url });
export const messageSource = (messageId: number) => call<string>('message_source', { messageId });

export const getSettings = () => call<Settings>('get_settings');
export const updateSettings = (settings: Settings) =>
  call<Settings>('update_settings', { settings });
export const appInfo = () => call<AppInfo>('app_info');

/** The shop's own Google and Microsoft sign-in clients (the secret never comes back). */
export const getOAuthClients = () => call<OAuthClientSettings[]>('get_oauth_clients');
/** Saves one provider's client; `client_secret` absent keeps it, empty removes it. */
export const setOAuthClient = (input: OAuthClientInput) =>
  call<OAuthClientSettings>('set_oauth_client', { input });

/** Tray, start at login, updates, notification preferences (the shell's own settings). */
export const getDesktopSettings = () => call<DesktopSettings>('get_desktop_settings');
export const updateDesktopSettings = (settings: DesktopSettings) =>
  call<DesktopSettings>('update_desktop_settings', { settings });
/** The conversation the window shows (`null` for none): its new messages do not notify. */
export const setViewing = (conversationId: number | null) =>
  call<null>('set_viewing', { conversationId });
/** The page's start-up marks (ms after `timeOrigin`), logged by the app. */
export const reportStartup = (timeOrigin: number, marks: [string, number][]) =>
  call<null>('report_startup', { timeOrigin, marks });
/** Downloads the announced version, verifies its signature, installs it and restarts. */
export const installUpdate = () => call<null>('install_update');
/** The end of the app's log files, for support. */
export const readLogs = () => call<string>('read_logs');

export const CHANGES_EVENT = 'sportello://changes';
export const OPEN_CONVERSATION_EVENT = 'sportello://open-conversation';
export const UPDATE_EVENT = 'sportello://update-available';

/** One batched event per store commit (or several): conversations, accounts, new mail. */
export function onChanges(handler: (change: Change) => void): Promise<UnlistenFn> {
  return listen<Change>(CHANGES_EVENT, (event) => handler(event.payload));
}

/** A notification was clicked: the window should show that conversation. */
export function onOpenConversation(handler: (conversationId: number) => void): Promise<UnlistenFn> {
  return listen<number>(OPEN_CONVERSATION_EVENT, (event) => handler(event.payload));
}

/** A newer signed version exists (its version string); `installUpdate` installs it. */
export function onUpdateAvailable(handler: (version: string) => void): Promise<UnlistenFn> {
  return listen<string>(UPDATE_EVENT, (event) => handler(event.payload));
}

/** Search snippets wrap each hit in these private-use characters. */
export const SNIPPET_OPEN = '\uE000';
export const SNIPPET_CLOSE = '\uE001';
