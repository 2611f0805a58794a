//! The small surface every channel shares: pull what is new, send one reply, test the
//! connection. Channel-specific powers (email flags, WhatsApp templates) stay in the channel's
//! own crate.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::{Account, SyncProgress};
use crate::{Result, Store};

/// What one sync pass fetched.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub fetched: u32,
    pub stored: u32,
    pub duplicates: u32,
    /// Folders (or feeds) looked at, with what each brought.
    pub folders: Vec<FolderReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FolderReport {
    pub folder: String,
    pub fetched: u32,
    pub stored: u32,
    /// The folder's UIDVALIDITY changed and it was re-read from the start.
    pub resynced: bool,
}

impl SyncReport {
    pub fn add(&mut self, folder: FolderReport) {
        self.fetched += folder.fetched;
        self.stored += folder.stored;
        self.folders.push(folder);
    }
}

/// Everything a sync pass may use.
pub struct SyncContext {
    pub store: Store,
    pub account: Account,
    /// Reports progress of a long first sync (shown in the UI).
    pub progress: Arc<dyn Fn(SyncProgress) + Send + Sync>,
    /// Set for a background worker: a channel that supports it may wait on the server for new
    /// messages (Telegram's long polling) instead of returning at once.
    pub long_poll: bool,
    /// The worker's wake-up (a reply or a read mark was queued): a channel waiting on its
    /// server (IMAP IDLE) stops waiting and returns when it fires.
    pub wake: Option<Arc<tokio::sync::Notify>>,
}

impl SyncContext {
    pub fn new(store: Store, account: Account) -> Self {
        SyncContext {
            store,
            account,
            progress: Arc::new(|_| {}),
            long_poll: false,
            wake: None,
        }
    }
}

/// A reply as handed to the channel for delivery (stored as JSON in the outbox).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OutboundMessage {
    /// The id the message is known by once sent (email: its Message-ID, generated up front so
    /// a copy read back from the Sent folder is recognised as the same message).
    pub external_id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// An HTML alternative to `text`, sent with it as multipart/alternative (an email
    /// forward: the original's sanitised HTML under the forwarded header block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The message this answers (email: its Message-ID).
    pub in_reply_to: Option<String>,
    /// The thread's chain of ids (email: References).
    pub references: Vec<String>,
    /// Sent with no person writing it (the out-of-hours acknowledgement): email marks it
    /// `Auto-Submitted: auto-replied` (RFC 3834 §5) so the other side's robots do not answer.
    #[serde(default)]
    pub automatic: bool,
}

/// One queued reply handed to [`Channel::send`].
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub account_id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    pub attempts: u32,
    pub message: OutboundMessage,
    /// The files sent with it, read from the store's blobs at each attempt (so a retry after
    /// a restart still has them).
    pub files: Vec<OutboxFile>,
}

/// One file of a queued message.
#[derive(Debug, Clone)]
pub struct OutboxFile {
    pub filename: String,
    pub mime_type: String,
    /// Where its bytes are (the store's blob, by SHA-256).
    pub path: std::path::PathBuf,
}

/// What the channel learned while sending.
#[derive(Debug, Clone, Default)]
pub struct SendReceipt {
    /// The platform's id for the sent message, when it differs from the one we chose.
    pub external_id: Option<String>,
}

#[async_trait]
pub trait Channel: Send + Sync {
    /// Pulls everything new since the stored cursors into the store.
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport>;
    /// Delivers one reply. Called at most once per attempt; errors with a transient code are
    /// retried later with backoff, others fail the item.
    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt>;
    /// Checks that the account's servers answer and accept its credentials.
    async fn test(&self) -> Result<()>;
    /// How long a worker waits between passes; `None` for the supervisor's interval. A
    /// channel whose sync waits on the server itself (long polling) answers zero.
    fn poll_interval(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Opens the channel for an account; `Ok(None)` for accounts that never sync (imported mail).
/// The desktop shell and the CLI each build one from the channel crates they link.
pub type OpenChannel =
    Arc<dyn Fn(&Store, &Account) -> Result<Option<Arc<dyn Channel>>> + Send + Sync>;
