//! Sportello's chat channels: WhatsApp Business (Meta's Cloud API, which delivers only by
//! webhook, and Twilio, which can be polled), Messenger and Instagram Direct (Graph API,
//! polled), and Telegram bots (long polling).
//!
//! Owns each provider's payloads, its error answers and rate limits, its reply-window rule,
//! the webhook receiver (signature checks, store-then-200); phone numbers are normalised by
//! `sportello_core::phone`.
//! It holds no state of its own: messages, cursors, pending media and outbox items live in
//! sportello-core's store, tokens only in the OS keyring through `sportello_core::secrets`.
//! No token ever appears in a log line or an error. No GUI code.

pub mod display;
pub mod http;
pub mod limits;
mod media;
pub mod meta;
pub mod telegram;
mod time;
pub mod twilio;
pub mod webhook;
pub mod whatsapp;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sportello_core::channel::Channel;
use sportello_core::model::{Account, ChannelKind, SyncCursor};
use sportello_core::outbox::OutgoingFile;
use sportello_core::{Error, Result, Store, secrets};
use ts_rs::TS;

pub use meta::{MetaChannel, MetaInput};
pub use telegram::{TelegramChannel, TelegramInput};
pub use twilio::{TwilioChannel, TwilioInput};
pub use whatsapp::{Template, WhatsAppChannel, WhatsAppInput};

/// Keyring names of the secrets these channels keep (all removed with the account).
pub const ACCESS_TOKEN: &str = "access_token";
pub const APP_SECRET: &str = "app_secret";
pub const VERIFY_TOKEN: &str = "verify_token";
pub const TOKEN: &str = "token";

/// Opens the channel of a chat account (reads its token from the keyring).
pub fn open(store: &Store, account: &Account) -> Result<Option<Arc<dyn Channel>>> {
    let channel: Arc<dyn Channel> = match account.kind {
        ChannelKind::Whatsapp if twilio::is_twilio(account) => {
            Arc::new(TwilioChannel::open(store, account)?)
        }
        ChannelKind::Whatsapp => Arc::new(WhatsAppChannel::open(store, account)?),
        ChannelKind::Messenger | ChannelKind::Instagram => {
            Arc::new(MetaChannel::open(store, account)?)
        }
        ChannelKind::Telegram => Arc::new(TelegramChannel::open(store, account)?),
        ChannelKind::Email => {
            return Err(Error::invalid(format!(
                "account {} is an email account",
                account.id
            )));
        }
    };
    Ok(Some(channel))
}

pub(crate) fn secret(store: &Store, account_id: i64, key: &str) -> Result<String> {
    secrets::get(store.installation_id(), account_id, key)
}

pub(crate) fn setting<'a>(account: &'a Account, key: &str) -> Option<&'a str> {
    account
        .settings
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

pub(crate) fn required_setting<'a>(account: &'a Account, key: &str) -> Result<&'a str> {
    setting(account, key).ok_or_else(|| {
        Error::invalid(format!(
            "account {} has no {key} in its settings; add it again",
            account.id
        ))
    })
}

pub(crate) fn require(value: &str, what: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(format!("{what} is required")));
    }
    Ok(v.to_string())
}

/// An `--api-base` must be a URL; plain HTTP only to this computer (tests, local proxies).
pub(crate) fn check_api_base(base: Option<&str>, default: &str) -> Result<String> {
    let base = base
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(default);
    let ok = base.starts_with("https://")
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| base.starts_with(p));
    if !ok {
        return Err(Error::invalid(format!(
            "the API address {base} must start with https:// (plain http only for this computer)"
        )));
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// Stores an account and its secrets; if the keyring refuses, the account is removed again.
pub(crate) fn save_account(
    store: &Store,
    kind: ChannelKind,
    name: &str,
    address: &str,
    settings: &serde_json::Value,
    secrets_to_save: &[(&str, &str)],
) -> Result<Account> {
    let account = store.add_account(kind, name.trim(), address, settings)?;
    for (key, value) in secrets_to_save {
        if value.is_empty() {
            continue;
        }
        if let Err(e) = secrets::set(store.installation_id(), account.id, key, value) {
            let keys: Vec<&str> = secrets_to_save.iter().map(|(key, _)| *key).collect();
            store.remove_half_added_account(account.id, &keys);
            return Err(e);
        }
    }
    Ok(account)
}

const HOUR_MS: i64 = 3_600_000;
/// WhatsApp's customer service window and Messenger's standard messaging window.
pub const WINDOW_MS: i64 = 24 * HOUR_MS;
/// Messenger's `HUMAN_AGENT` tag: a person may answer up to 7 days after the customer wrote.
pub const HUMAN_AGENT_MS: i64 = 7 * 24 * HOUR_MS;

/// Which reply a conversation allows right now; the composer shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[ts(export)]
pub enum ReplyWindow {
    /// No window on this channel (email, Telegram).
    Always,
    /// Free text until `closes_at` (24 hours after the customer's last message).
    Open {
        #[ts(type = "number")]
        closes_at: i64,
    },
    /// Messenger/Instagram after 24 hours: a person may still answer (`HUMAN_AGENT` tag)
    /// until `closes_at`.
    HumanAgent {
        #[ts(type = "number")]
        closes_at: i64,
    },
    /// WhatsApp outside the 24 hours: only an approved template may be sent.
    TemplatesOnly,
    /// Messenger/Instagram outside every window: the customer must write first.
    Closed,
}

/// The reply rule of a conversation of `account` whose customer last wrote at
/// `last_inbound_at`.
pub fn reply_window(account: &Account, last_inbound_at: Option<i64>, now: i64) -> ReplyWindow {
    match account.kind {
        ChannelKind::Email | ChannelKind::Telegram => ReplyWindow::Always,
        ChannelKind::Whatsapp => match last_inbound_at {
            Some(t) if now < t + WINDOW_MS => ReplyWindow::Open {
                closes_at: t + WINDOW_MS,
            },
            _ => ReplyWindow::TemplatesOnly,
        },
        ChannelKind::Messenger | ChannelKind::Instagram => {
            let human_agent = account
                .settings
                .get("human_agent")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            match last_inbound_at {
                Some(t) if now < t + WINDOW_MS => ReplyWindow::Open {
                    closes_at: t + WINDOW_MS,
                },
                Some(t) if human_agent && now < t + HUMAN_AGENT_MS => ReplyWindow::HumanAgent {
                    closes_at: t + HUMAN_AGENT_MS,
                },
                _ => ReplyWindow::Closed,
            }
        }
    }
}

/// The reply window of a stored conversation.
pub fn conversation_window(store: &Store, conversation_id: i64) -> Result<ReplyWindow> {
    let summary = store.conversation_summary(conversation_id)?;
    let account = store.account(summary.account_id)?;
    Ok(reply_window(
        &account,
        summary.last_inbound_at,
        sportello_core::now_ms(),
    ))
}

/// The largest file any chat channel takes (WhatsApp documents); each channel's own limits
/// are in [`limits`].
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

/// Reads a file the user picked to send with a chat reply.
pub fn outgoing_file(path: &std::path::Path) -> Result<OutgoingFile> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(Error::new(
            sportello_core::ErrorCode::FileTooLarge,
            format!(
                "{} is larger than 100 MB, the most a chat channel accepts",
                path.display()
            ),
        ));
    }
    let data = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    Ok(OutgoingFile {
        filename: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into()),
        mime_type: mime_for_name(&path.to_string_lossy()).into(),
        data,
    })
}

/// Checks the files of a reply against what the conversation's channel accepts, before the
/// reply is queued (`file_too_large`, `attachment_not_supported`): nothing is queued then.
/// The same model as every outgoing reply: [`OutgoingFile`]s in
/// [`sportello_core::outbox::ReplyExtras::files`], stored as the message's attachments.
pub fn check_reply_files(
    store: &Store,
    conversation_id: i64,
    files: &[OutgoingFile],
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let account = store.account(store.conversation_summary(conversation_id)?.account_id)?;
    limits::check_files(
        &account,
        files.iter().map(|f| {
            (
                f.filename.as_str(),
                f.mime_type.as_str(),
                f.data.len() as u64,
            )
        }),
    )
}

/// The parts of a multi-part chat reply (each file, then the text) the provider already
/// accepted, kept in the message's meta (`sent_parts`): a retry after a failure half-way sends
/// only the rest, so the customer never gets a file twice.
pub(crate) struct SentParts {
    store: Store,
    message_id: i64,
    ids: Vec<serde_json::Value>,
}

impl SentParts {
    pub(crate) fn load(store: &Store, message_id: i64) -> Result<SentParts> {
        let meta = store.message_meta(message_id)?;
        Ok(SentParts {
            store: store.clone(),
            message_id,
            ids: meta["sent_parts"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// The provider's id for part `i`, when it was already sent.
    pub(crate) fn get(&self, i: usize) -> Option<String> {
        self.ids.get(i).and_then(|v| v.as_str()).map(String::from)
    }

    pub(crate) fn record(&mut self, i: usize, id: &str) -> Result<()> {
        if self.ids.len() <= i {
            self.ids.resize(i + 1, serde_json::Value::Null);
        }
        self.ids[i] = serde_json::Value::String(id.to_string());
        self.store.set_message_meta(
            self.message_id,
            "sent_parts",
            &serde_json::Value::Array(self.ids.clone()),
        )
    }
}

/// A file as a multipart part: its name (quotes and line breaks replaced, UTF-8 kept as is,
/// as browsers send it — RFC 7578 §4.2), its type and its bytes.
pub(crate) fn file_part(
    filename: &str,
    mime_type: &str,
    data: Vec<u8>,
) -> Result<reqwest::multipart::Part> {
    let name: String = filename
        .chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect();
    reqwest::multipart::Part::bytes(data)
        .file_name(name)
        .mime_str(mime_type)
        .map_err(|e| Error::invalid(format!("bad file type {mime_type}: {e}")))
}

/// A multipart form that sends file names unescaped (see [`file_part`]).
pub(crate) fn form() -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().percent_encode_noop()
}

/// The type of a file by its extension (what the APIs need to know to show it).
pub fn mime_for_name(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("mp4") => "video/mp4",
        Some("3gp") => "video/3gpp",
        Some("ogg" | "opus") => "audio/ogg",
        Some("mp3") => "audio/mpeg",
        Some("m4a" | "aac") => "audio/aac",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xls") => "application/vnd.ms-excel",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

/// A file name for media that came without one.
pub(crate) fn default_file_name(kind: &str, mime_type: &str) -> String {
    let ext = match mime_type.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    format!("{kind}.{ext}")
}

/// A polling channel's one sync cursor, or a fresh one on its first pass.
pub(crate) fn cursor(store: &Store, account_id: i64, name: &str) -> Result<SyncCursor> {
    Ok(store
        .cursor(account_id, name)?
        .unwrap_or_else(|| SyncCursor {
            folder: name.into(),
            ..Default::default()
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_core::model::{AccountStatus, SyncState};

    /// An account as the store hands it out, for this crate's unit tests.
    pub(crate) fn account(kind: ChannelKind, settings: serde_json::Value) -> Account {
        Account {
            id: 1,
            kind,
            name: "Bottega".into(),
            address: String::new(),
            settings,
            enabled: true,
            created_at: 0,
            status: AccountStatus {
                state: SyncState::Idle,
                last_sync_at: None,
                last_error: None,
                progress: None,
            },
        }
    }

    #[test]
    fn whatsapp_window_is_24_hours_then_templates() {
        let a = account(ChannelKind::Whatsapp, serde_json::json!({}));
        let t = 1_000_000_000_000;
        assert_eq!(
            reply_window(&a, Some(t), t + HOUR_MS),
            ReplyWindow::Open {
                closes_at: t + WINDOW_MS
            }
        );
        assert_eq!(
            reply_window(&a, Some(t), t + WINDOW_MS),
            ReplyWindow::TemplatesOnly
        );
        assert_eq!(reply_window(&a, None, t), ReplyWindow::TemplatesOnly);
    }

    #[test]
    fn messenger_human_agent_extends_to_7_days_only_when_enabled() {
        let t = 1_000_000_000_000;
        let plain = account(ChannelKind::Messenger, serde_json::json!({}));
        assert_eq!(
            reply_window(&plain, Some(t), t + 2 * WINDOW_MS),
            ReplyWindow::Closed
        );
        let agent = account(
            ChannelKind::Instagram,
            serde_json::json!({"human_agent": true}),
        );
        assert_eq!(
            reply_window(&agent, Some(t), t + 2 * WINDOW_MS),
            ReplyWindow::HumanAgent {
                closes_at: t + HUMAN_AGENT_MS
            }
        );
        assert_eq!(
            reply_window(&agent, Some(t), t + HUMAN_AGENT_MS),
            ReplyWindow::Closed
        );
    }

    #[test]
    fn telegram_has_no_window() {
        let a = account(ChannelKind::Telegram, serde_json::json!({}));
        assert_eq!(reply_window(&a, None, 0), ReplyWindow::Always);
    }
}
