//! Telegram bots through the Bot API: `getUpdates` long polling with an offset (an update is
//! confirmed by asking past it, and the offset is stored only after the messages, so nothing
//! is lost, and stored idempotently, so nothing twice), text, photos, documents, voice; replies by
//! `sendMessage`, `sendPhoto` and `sendDocument`. A bot can only talk to people who started
//! it. Private chats and the groups the bot is in are shown (see [`incoming`]); an edited
//! message replaces the stored text and is marked edited.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use sportello_core::channel::{
    Channel, FolderReport, OutboxItem, SendReceipt, SyncContext, SyncReport,
};
use sportello_core::model::{
    Account, ChannelKind, Direction, Identity, IdentityKind, IncomingMessage, PendingAttachment,
    RemoteAttachment,
};
use sportello_core::store::IngestOptions;
use sportello_core::{Error, ErrorCode, Result, Store, now_ms};
use ts_rs::TS;

use crate::http::{Api, Family};
use crate::media::{Fetched, MediaSource, download_pending};
use crate::{TOKEN, time};

pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
const CURSOR: &str = "updates";
/// How long one `getUpdates` waits on the server for something new (worker only).
const LONG_POLL_SECS: u64 = 25;
const BATCH: usize = 100;

#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct TelegramInput {
    pub name: String,
    /// The token @BotFather gave.
    pub bot_token: String,
    #[serde(default)]
    pub api_base: Option<String>,
}

/// Checks the bot token against the API without saving anything; returns the bot's @name.
pub async fn test_settings(input: &TelegramInput) -> Result<String> {
    let token = crate::require(&input.bot_token, "the bot token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let me = call(
        &Api::new(&base, Family::Telegram),
        &token,
        "getMe",
        &json!({}),
    )
    .await?;
    Ok(me["username"]
        .as_str()
        .map(|u| format!("@{u}"))
        .unwrap_or_default())
}

pub async fn add_account(store: &Store, input: &TelegramInput, test: bool) -> Result<Account> {
    let token = crate::require(&input.bot_token, "the bot token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let mut address = String::new();
    if test {
        let api = Api::new(&base, Family::Telegram);
        let me = call(&api, &token, "getMe", &json!({})).await?;
        address = me["username"]
            .as_str()
            .map(|u| format!("@{u}"))
            .unwrap_or_default();
    }
    crate::save_account(
        store,
        ChannelKind::Telegram,
        &input.name,
        &address,
        &json!({"api_base": base}),
        &[(TOKEN, &token)],
    )
}

async fn call(api: &Api, token: &str, method: &str, params: &Value) -> Result<Value> {
    let answer = api
        .json(api.post(&format!("/bot{token}/{method}")).json(params))
        .await?;
    Ok(answer["result"].clone())
}

pub struct TelegramChannel {
    store: Store,
    account_id: i64,
    token: String,
    api: Api,
    long_poll: Duration,
}

impl std::fmt::Debug for TelegramChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramChannel")
            .field("account", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl TelegramChannel {
    pub fn open(store: &Store, account: &Account) -> Result<TelegramChannel> {
        let token = crate::secret(store, account.id, TOKEN)?;
        Ok(TelegramChannel::new(store, account, token))
    }

    pub fn new(store: &Store, account: &Account, token: String) -> TelegramChannel {
        let base = crate::setting(account, "api_base").unwrap_or(DEFAULT_API_BASE);
        TelegramChannel {
            store: store.clone(),
            account_id: account.id,
            token,
            api: Api::new(base, Family::Telegram),
            long_poll: Duration::from_secs(LONG_POLL_SECS),
        }
    }

    /// How long a worker's `getUpdates` waits on the server (tests shorten it).
    pub fn with_long_poll(mut self, wait: Duration) -> TelegramChannel {
        self.long_poll = wait;
        self
    }

    async fn call(&self, method: &str, params: &Value) -> Result<Value> {
        call(&self.api, &self.token, method, params).await
    }

    /// `sendPhoto` for pictures up to 10 MB, `sendDocument` for everything else (multipart:
    /// `chat_id`, the file under `photo` or `document`, optional `caption`).
    async fn send_file(
        &self,
        chat_id: &str,
        file: &sportello_core::channel::OutboxFile,
        data: Vec<u8>,
        caption: Option<&str>,
    ) -> Result<Value> {
        let mime = file.mime_type.as_str();
        let (method, field) = match crate::limits::telegram_kind(mime, data.len() as u64) {
            crate::limits::SendAs::Image => ("sendPhoto", "photo"),
            _ => ("sendDocument", "document"),
        };
        let part = crate::file_part(&file.filename, mime, data)?;
        let mut form = crate::form()
            .text("chat_id", chat_id.to_string())
            .part(field.to_string(), part);
        if let Some(c) = caption {
            form = form.text("caption", c.to_string());
        }
        let answer = self
            .api
            .json(
                self.api
                    .post(&format!("/bot{}/{method}", self.token))
                    .multipart(form),
            )
            .await?;
        Ok(answer["result"].clone())
    }
}

/// Service messages of a group (members joining or leaving, a new title...): not customer
/// messages, not stored.
const SERVICE_FIELDS: &[&str] = &[
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "message_auto_delete_timer_changed",
    "forum_topic_created",
    "forum_topic_closed",
    "forum_topic_reopened",
    "video_chat_started",
    "video_chat_ended",
];

/// A message of an update (`message` or `edited_message`) as Sportello stores it.
///
/// Private chats are a conversation with that person. Groups and supergroups where the shop's
/// bot is a member are a conversation with the group (its title as the name), each message
/// carrying its sender's name: a shop's bot in a customers' group should see what they ask
/// there. Channel posts, service messages and every other update kind are skipped.
pub fn incoming(update: &Value) -> Option<IncomingMessage> {
    let m = if update["message"].is_object() {
        &update["message"]
    } else {
        // An edit keeps the original id: it is the same message (stored once, then updated).
        &update["edited_message"]
    };
    let chat_type = m["chat"]["type"].as_str()?;
    let group = matches!(chat_type, "group" | "supergroup");
    if !m.is_object() || !(chat_type == "private" || group) {
        return None;
    }
    if SERVICE_FIELDS.iter().any(|f| !m[*f].is_null()) {
        return None;
    }
    let chat_id = m["chat"]["id"].as_i64()?;
    let message_id = m["message_id"].as_i64()?;
    let from = &m["from"];
    let name = [from["first_name"].as_str(), from["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let handle = from["username"]
        .as_str()
        .map(|u| format!("@{u}"))
        .or_else(|| from["id"].as_i64().map(|id| id.to_string()))
        .unwrap_or_else(|| chat_id.to_string());
    let mut text = m["text"]
        .as_str()
        .or(m["caption"].as_str())
        .unwrap_or("")
        .to_string();
    let mut remote = Vec::new();
    if let Some(sizes) = m["photo"].as_array() {
        // Sizes come smallest first; keep the largest.
        if let Some(id) = sizes
            .iter()
            .max_by_key(|p| p["width"].as_i64().unwrap_or(0) * p["height"].as_i64().unwrap_or(0))
            .and_then(|best| best["file_id"].as_str())
        {
            remote.push(RemoteAttachment {
                filename: "photo.jpg".into(),
                mime_type: "image/jpeg".into(),
                remote_ref: id.into(),
            });
        }
    }
    for kind in [
        "document",
        "voice",
        "audio",
        "video",
        "video_note",
        "sticker",
        "animation",
    ] {
        let f = &m[kind];
        if let Some(id) = f["file_id"].as_str() {
            let mime = f["mime_type"].as_str().unwrap_or(match kind {
                "voice" => "audio/ogg",
                "sticker" => "image/webp",
                "video" | "video_note" | "animation" => "video/mp4",
                _ => "application/octet-stream",
            });
            remote.push(RemoteAttachment {
                filename: f["file_name"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| crate::default_file_name(kind, mime)),
                mime_type: mime.into(),
                remote_ref: id.into(),
            });
        }
    }
    let mut meta = json!({"chat_id": chat_id, "message_id": message_id});
    if group {
        meta["chat_type"] = json!(chat_type);
        meta["chat_title"] = m["chat"]["title"].clone();
    }
    if let Some(l) = m["location"].as_object() {
        let (lat, lon) = (
            l.get("latitude").and_then(Value::as_f64).unwrap_or(0.0),
            l.get("longitude").and_then(Value::as_f64).unwrap_or(0.0),
        );
        text = format!("📍 https://maps.google.com/?q={lat},{lon}");
        meta["location"] = json!({"latitude": lat, "longitude": lon});
    }
    if let Some(c) = m["contact"].as_object() {
        text = format!(
            "👤 {} {}",
            c.get("first_name").and_then(Value::as_str).unwrap_or(""),
            c.get("phone_number").and_then(Value::as_str).unwrap_or("")
        );
        meta["contact"] = m["contact"].clone();
    }
    if let Some(r) = m["reply_to_message"]["message_id"].as_i64() {
        meta["reply_to"] = json!(format!("{chat_id}:{r}"));
    }
    if text.is_empty() && remote.is_empty() {
        text = "[message type not supported]".into();
    }
    Some(IncomingMessage {
        external_id: format!("{chat_id}:{message_id}"),
        direction: Some(Direction::Inbound),
        thread_keys: vec![format!("tg:{chat_id}")],
        counterpart: Some(Identity {
            kind: IdentityKind::Telegram,
            value: chat_id.to_string(),
            // A group is the conversation's counterpart: it goes by its title.
            display_name: if group {
                m["chat"]["title"].as_str().unwrap_or("").to_string()
            } else {
                name.clone()
            },
        }),
        sender_name: name,
        sender_handle: handle,
        text,
        sent_at: time::from_unix(&m["date"]).unwrap_or_else(now_ms),
        raw: serde_json::to_vec(update).ok(),
        meta,
        remote_attachments: remote,
        ..Default::default()
    })
}

#[async_trait]
impl Channel for TelegramChannel {
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        let mut cursor = crate::cursor(&ctx.store, ctx.account.id, CURSOR)?;
        let mut folder = FolderReport {
            folder: CURSOR.into(),
            ..Default::default()
        };
        let mut report = SyncReport::default();
        // Wait on the server only for the first call, and only in a background worker.
        let mut wait = if ctx.long_poll {
            self.long_poll.as_secs()
        } else {
            0
        };
        loop {
            let offset = cursor.extra["offset"].as_i64().unwrap_or(0);
            let mut params = json!({
                "limit": BATCH,
                "timeout": wait,
                "allowed_updates": ["message", "edited_message"],
            });
            if offset > 0 {
                params["offset"] = json!(offset);
            }
            let updates = self.call("getUpdates", &params).await?;
            let updates = updates.as_array().cloned().unwrap_or_default();
            if updates.is_empty() {
                break;
            }
            let last = updates
                .iter()
                .filter_map(|u| u["update_id"].as_i64())
                .max()
                .unwrap_or(offset - 1);
            // Updates of other kinds (callback queries, member changes, polls...) and chats we
            // do not show are skipped; the offset still moves past them.
            let messages: Vec<IncomingMessage> = updates.iter().filter_map(incoming).collect();
            let edits: Vec<(String, String, i64)> = updates
                .iter()
                .filter(|u| u["edited_message"].is_object())
                .filter_map(|u| {
                    let m = incoming(u)?;
                    let at =
                        time::from_unix(&u["edited_message"]["edit_date"]).unwrap_or(m.sent_at);
                    Some((m.external_id, m.text, at))
                })
                .collect();
            folder.fetched += messages.len() as u32;
            cursor.extra = json!({"offset": last + 1});
            // Messages first (an edit of a message never seen is stored as a message), then
            // the edits, then the offset: a crash in between gets the same updates again, and
            // storing and editing are both idempotent.
            let stored =
                ctx.store
                    .ingest(ctx.account.id, messages, None, IngestOptions::default())?;
            for (id, text, at) in &edits {
                ctx.store.edit_message_text(ctx.account.id, id, text, *at)?;
            }
            ctx.store.ingest(
                ctx.account.id,
                Vec::new(),
                Some(&cursor),
                IngestOptions::default(),
            )?;
            folder.stored += stored.stored;
            report.duplicates += stored.duplicates;
            wait = 0;
            if updates.len() < BATCH {
                break;
            }
        }
        report.add(folder);
        download_pending(&ctx.store, ctx.account.id, self).await?;
        Ok(report)
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let chat_id = item
            .message
            .to
            .first()
            .ok_or_else(|| Error::invalid("the reply has no chat"))?
            .clone();
        // Every file is checked before the first upload: a reply is never half sent.
        let files = crate::limits::check_item(account, item)?;
        let text = item.message.text.trim();
        let mut first = None;
        let mut caption_used = false;
        let mut parts = crate::SentParts::load(&self.store, item.message_id)?;
        for (i, a) in files.iter().enumerate() {
            // Captions are limited to 1024 characters; a longer text goes as its own message.
            let caption =
                (!caption_used && !text.is_empty() && text.chars().count() <= 1024).then_some(text);
            caption_used |= caption.is_some();
            if let Some(id) = parts.get(i).and_then(|id| id.parse::<i64>().ok()) {
                // Sent by an earlier attempt that failed later on.
                first.get_or_insert(json!({"message_id": id}));
                continue;
            }
            let data = std::fs::read(&a.path)?;
            let sent = self.send_file(&chat_id, a, data, caption).await?;
            if let Some(id) = sent["message_id"].as_i64() {
                parts.record(i, &id.to_string())?;
            }
            first.get_or_insert(sent);
        }
        if !caption_used && !text.is_empty() {
            let sent = self
                .call("sendMessage", &json!({"chat_id": chat_id, "text": text}))
                .await?;
            first.get_or_insert(sent);
        }
        let id = first
            .and_then(|m| m["message_id"].as_i64())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Protocol,
                    "Telegram accepted the message without an id",
                )
            })?;
        Ok(SendReceipt {
            external_id: Some(format!("{chat_id}:{id}")),
        })
    }

    async fn test(&self) -> Result<()> {
        self.call("getMe", &json!({})).await.map(|_| ())
    }

    /// The sync waits on the server itself (long polling): no pause between passes.
    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

#[async_trait]
impl MediaSource for TelegramChannel {
    async fn fetch(&self, pending: &PendingAttachment) -> Result<Option<Fetched>> {
        let file = match self
            .call("getFile", &json!({"file_id": pending.remote_ref}))
            .await
        {
            Ok(f) => f,
            Err(e) if e.code == ErrorCode::Rejected => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(path) = file["file_path"].as_str() else {
            // Files over 20 MB are not handed out to bots.
            return Ok(None);
        };
        let data = self
            .api
            .send(self.api.get(&format!("/file/bot{}/{path}", self.token)))
            .await?;
        Ok(Some(Fetched {
            data: data.to_vec(),
            mime_type: None,
            filename: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_text_message() {
        let u = json!({"update_id":10000,"message":{"date":1441645532,"chat":{"last_name":"Rossi","id":1111111,"first_name":"Mario","username":"mrossi","type":"private"},"message_id":1365,"from":{"last_name":"Rossi","id":1111111,"first_name":"Mario","username":"mrossi","is_bot":false},"text":"/start"}});
        let m = incoming(&u).unwrap();
        assert_eq!(m.external_id, "1111111:1365");
        assert_eq!(m.sender_name, "Mario Rossi");
        assert_eq!(m.sender_handle, "@mrossi");
        assert_eq!(m.counterpart.unwrap().value, "1111111");
        assert_eq!(m.sent_at, 1_441_645_532_000);
    }

    #[test]
    fn photo_keeps_the_largest_size_and_channel_posts_are_skipped() {
        let u = json!({"update_id":1,"message":{"date":1,"chat":{"id":5,"type":"private"},"message_id":2,"from":{"id":5,"first_name":"A"},
            "caption":"guarda","photo":[{"file_id":"small","width":90,"height":60},{"file_id":"big","width":1280,"height":853}]}});
        let m = incoming(&u).unwrap();
        assert_eq!(m.text, "guarda");
        assert_eq!(m.remote_attachments[0].remote_ref, "big");
        // A group is a conversation with the group; its members are the senders.
        let g = json!({"update_id":2,"message":{"date":1,"chat":{"id":-100,"type":"group","title":"Clienti"},
            "message_id":3,"from":{"id":7,"first_name":"Anna"},"text":"hi"}});
        let m = incoming(&g).unwrap();
        assert_eq!(m.thread_keys, ["tg:-100"]);
        assert_eq!(m.counterpart.unwrap().display_name, "Clienti");
        assert_eq!(
            (m.sender_name.as_str(), m.sender_handle.as_str()),
            ("Anna", "7")
        );
        let c = json!({"update_id":3,"channel_post":{"date":1,"chat":{"id":-200,"type":"channel"},"message_id":4,"text":"hi"}});
        assert!(incoming(&c).is_none());
        let joined = json!({"update_id":4,"message":{"date":1,"chat":{"id":-100,"type":"group","title":"Clienti"},
            "message_id":5,"from":{"id":7,"first_name":"Anna"},"new_chat_members":[{"id":8,"first_name":"Luca"}]}});
        assert!(incoming(&joined).is_none());
    }
}
