//! Domain types shared by every channel, the store, the CLI and (through ts-rs) the UI.
//!
//! Times are milliseconds since the Unix epoch. Ids are the store's row ids.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Error;

/// The family of API an account talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ChannelKind {
    Email,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Messenger => "messenger",
            ChannelKind::Instagram => "instagram",
            ChannelKind::Telegram => "telegram",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => ChannelKind::Email,
            "whatsapp" => ChannelKind::Whatsapp,
            "messenger" => ChannelKind::Messenger,
            "instagram" => ChannelKind::Instagram,
            "telegram" => ChannelKind::Telegram,
            _ => return None,
        })
    }
}

/// What a worker is doing for an account right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SyncState {
    /// Up to date, waiting for the next poll.
    Idle,
    Syncing,
    /// The server cannot be reached; working on the local copy.
    Offline,
    /// The credentials were refused: the user must fix them; no retries until then.
    NeedsAttention,
    /// Local-only account (imported mail): never syncs.
    Local,
}

/// Progress of a long sync, for the first sync of a big mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SyncProgress {
    pub done: u32,
    pub total: u32,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct AccountStatus {
    pub state: SyncState,
    #[ts(type = "number | null")]
    pub last_sync_at: Option<i64>,
    pub last_error: Option<Error>,
    pub progress: Option<SyncProgress>,
}

/// A connected inbox. `settings` is channel-specific and never holds a secret.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Account {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: ChannelKind,
    pub name: String,
    /// The shop's own address on this channel (email address, phone number, page id...).
    pub address: String,
    #[ts(type = "Record<string, unknown>")]
    pub settings: serde_json::Value,
    pub enabled: bool,
    #[ts(type = "number")]
    pub created_at: i64,
    pub status: AccountStatus,
}

/// How a customer can be reached. One contact has many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum IdentityKind {
    Email,
    Phone,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Whatsapp => "whatsapp",
            IdentityKind::Messenger => "messenger",
            IdentityKind::Instagram => "instagram",
            IdentityKind::Telegram => "telegram",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "email" => IdentityKind::Email,
            "phone" => IdentityKind::Phone,
            "whatsapp" => IdentityKind::Whatsapp,
            "messenger" => IdentityKind::Messenger,
            "instagram" => IdentityKind::Instagram,
            "telegram" => IdentityKind::Telegram,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Identity {
    pub kind: IdentityKind,
    /// Normalised: lower-case email address, E.164 phone number, platform id.
    pub value: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Contact {
    #[ts(type = "number")]
    pub id: i64,
    pub display_name: String,
    pub identities: Vec<Identity>,
    #[ts(type = "number")]
    pub first_seen_at: i64,
    #[ts(type = "number | null")]
    pub last_contact_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Closed,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Snoozed => "snoozed",
            ConversationStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => ConversationStatus::Open,
            "pending" => ConversationStatus::Pending,
            "snoozed" => ConversationStatus::Snoozed,
            "closed" => ConversationStatus::Closed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Direction {
    /// From the customer to the shop.
    Inbound,
    /// From the shop to the customer.
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "outbound" {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }
}

/// Where one of our messages is on its way to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Delivery {
    /// An inbound message, or one of ours read back from the server.
    Received,
    /// Written to the outbox, waiting to be sent (or to be retried).
    Queued,
    Sending,
    Sent,
    Delivered,
    Read,
    /// Gave up, or refused: the user can retry.
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Received => "received",
            Delivery::Queued => "queued",
            Delivery::Sending => "sending",
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Delivery::Queued,
            "sending" => Delivery::Sending,
            "sent" => Delivery::Sent,
            "delivered" => Delivery::Delivered,
            "read" => Delivery::Read,
            "failed" => Delivery::Failed,
            _ => Delivery::Received,
        }
    }
}

/// One row of the unified conversation list.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConversationSummary {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub account_id: i64,
    pub account_name: String,
    pub channel: ChannelKind,
    #[ts(type = "number | null")]
    pub contact_id: Option<i64>,
    pub contact_name: String,
    /// The customer's address or handle on this channel.
    pub contact_handle: String,
    pub subject: String,
    pub status: ConversationStatus,
    pub unread_count: u32,
    pub message_count: u32,
    #[ts(type = "number")]
    pub last_message_at: i64,
    pub last_preview: String,
    pub last_direction: Direction,
    /// Since when the customer waits for our answer (their oldest unanswered message).
    #[ts(type = "number | null")]
    pub waiting_since: Option<i64>,
    /// When the customer last wrote: chat platforms' reply windows (WhatsApp 24 h, Messenger
    /// 24 h / 7 days) run from here.
    #[ts(optional, type = "number")]
    pub last_inbound_at: Option<i64>,
    /// Pinned conversations stay at the top of every list.
    #[ts(as = "Option<bool>", optional)]
    pub pinned: bool,
    /// Tags on the conversation (ids; `list_tags` gives names and colours).
    // Serde writes the ids as JSON numbers: `i32` tells ts-rs so (`i64` would say bigint).
    #[ts(as = "Option<Vec<i32>>", optional)]
    pub tag_ids: Vec<i64>,
    /// When a snoozed conversation reopens by itself.
    #[ts(optional, type = "number")]
    pub snoozed_until: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Attachment {
    #[ts(type = "number")]
    pub id: i64,
    pub filename: String,
    pub mime_type: String,
    #[ts(type = "number")]
    pub size: i64,
    /// Set when the content is stored locally.
    pub content_hash: Option<String>,
    /// For inline parts referenced as `cid:` from the HTML body.
    pub content_id: Option<String>,
    pub inline: bool,
    /// The file is still on the provider's server, waiting to be downloaded (chat media).
    #[ts(optional)]
    pub pending: Option<bool>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Message {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub conversation_id: i64,
    #[ts(type = "number")]
    pub account_id: i64,
    pub direction: Direction,
    pub external_id: String,
    pub sender_name: String,
    pub sender_handle: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// Plain text (decoded; derived from the HTML when only HTML was sent).
    pub text: String,
    /// Sanitised HTML (no scripts, no event handlers); remote images still referenced.
    pub html: Option<String>,
    /// Whether the HTML references remote content (images), blocked until allowed.
    pub has_remote_content: bool,
    #[ts(type = "number")]
    pub sent_at: i64,
    pub delivery: Delivery,
    pub delivery_error: Option<Error>,
    pub is_read: bool,
    /// Set when the message could not be parsed: the raw source is kept and shown.
    pub parse_error: Option<String>,
    pub has_raw: bool,
    pub attachments: Vec<Attachment>,
    /// A customer message or our reply, an internal note (never sent), or an automatic reply.
    #[ts(as = "Option<MessageKind>", optional)]
    pub kind: MessageKind,
    /// The line of `text` (split on `\n`, 0-based) from which it is a quote of earlier
    /// messages or a signature, folded behind a toggle (see `sportello_core::quotes`).
    #[ts(optional)]
    pub fold_line: Option<u32>,
    /// The HTML holds a quote or signature the view can fold.
    #[ts(as = "Option<bool>", optional)]
    pub html_folds: bool,
}

/// What a message in a thread is, for the UI to show notes and automatic replies differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MessageKind {
    #[default]
    Normal,
    /// An internal note: visible to the shop only, never sent.
    Note,
    /// Sent by Sportello by itself (out-of-hours acknowledgement).
    AutoReply,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Normal => "normal",
            MessageKind::Note => "note",
            MessageKind::AutoReply => "auto_reply",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "note" => MessageKind::Note,
            "auto_reply" => MessageKind::AutoReply,
            _ => MessageKind::Normal,
        }
    }
}

/// A conversation with everything the thread view shows.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConversationDetail {
    pub conversation: ConversationSummary,
    pub messages: Vec<Message>,
    pub contact: Option<Contact>,
}

/// One search hit.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SearchHit {
    #[ts(type = "number")]
    pub message_id: i64,
    #[ts(type = "number")]
    pub conversation_id: i64,
    pub channel: ChannelKind,
    pub contact_name: String,
    pub subject: String,
    /// The matching text with the hits wrapped in `[` `]`... markers (see `snippet_open`).
    pub snippet: String,
    #[ts(type = "number")]
    pub sent_at: i64,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[ts(export)]
pub struct Stats {
    pub accounts: u64,
    pub conversations: u64,
    pub messages: u64,
    pub contacts: u64,
    pub unread_conversations: u64,
    pub outbox_pending: u64,
    pub outbox_failed: u64,
}

/// A message delivered by a channel, before it is stored.
#[derive(Debug, Clone, Default)]
pub struct IncomingMessage {
    /// The channel's id for the message (email: Message-ID, or a hash of the source when absent).
    /// Storing the same id twice for one account gives one row.
    pub external_id: String,
    pub direction: Option<Direction>,
    /// Keys that tie this message to a thread (email: its Message-ID, In-Reply-To, References;
    /// chat channels: the chat id). Any key already known joins that conversation.
    pub thread_keys: Vec<String>,
    /// Used when no thread key is known (email: counterpart + normalised subject).
    pub fallback_thread_key: Option<String>,
    /// The customer this message is with.
    pub counterpart: Option<Identity>,
    pub sender_name: String,
    pub sender_handle: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub has_remote_content: bool,
    pub sent_at: i64,
    pub is_read: bool,
    pub raw: Option<Vec<u8>>,
    pub parse_error: Option<String>,
    pub attachments: Vec<IncomingAttachment>,
    /// Where the message lives on the server (IMAP folder + UID), for later flag changes.
    pub location: Option<RemoteLocation>,
    /// Channel-specific facts kept with the message (JSON object).
    pub meta: serde_json::Value,
    /// Files announced by the message but still on the provider's server (chat media): stored
    /// as pending attachments and downloaded later ([`crate::Store::pending_attachments`]).
    pub remote_attachments: Vec<RemoteAttachment>,
}

/// A file of a chat message that is fetched after the message is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteAttachment {
    pub filename: String,
    pub mime_type: String,
    /// What the channel needs to download it (a media id, a file id, a URL).
    pub remote_ref: String,
}

/// A pending attachment, as handed back to its channel for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAttachment {
    pub id: i64,
    pub message_id: i64,
    pub filename: String,
    pub mime_type: String,
    pub remote_ref: String,
}

#[derive(Debug, Clone, Default)]
pub struct IncomingAttachment {
    pub filename: String,
    pub mime_type: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub data: Vec<u8>,
    /// The MIME part of the message's source holding this file (mail): a sync stores where
    /// the file is, not a copy, and the file is extracted from the kept source when first
    /// needed ([`crate::Store::attachment_file`]).
    pub source_part: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteLocation {
    pub folder: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// The sync position in one folder (or feed) of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursor {
    pub folder: String,
    pub uidvalidity: u32,
    /// The highest UID stored; the next sync asks for `last_uid+1:*`.
    pub last_uid: u32,
    pub highest_modseq: u64,
    /// Channel-specific position (e.g. a Telegram update offset), as JSON.
    pub extra: serde_json::Value,
}
