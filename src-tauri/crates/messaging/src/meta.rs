//! Messenger and Instagram Direct through the Graph API, polled: the Page's conversations
//! (`platform=messenger|instagram`), newest first, and for each one updated since the last
//! pass its messages. Graph gives details for only the 20 most recent messages of a
//! conversation and has no time-based paging, so the worker polls often and keeps everything
//! it saw. Calls are spaced (about 2/s per Page) and rate-limit answers back off.
//!
//! Replies: `RESPONSE` inside 24 hours of the customer's last message; with the app's
//! `HUMAN_AGENT` permission (setting `human_agent`), a person may answer up to 7 days after.
//! Instagram story replies and mentions are stored with the story they refer to.

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
use crate::{ACCESS_TOKEN, APP_SECRET, ReplyWindow, VERIFY_TOKEN, time};

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com/v23.0";
const CURSOR: &str = "conversations";
/// About 2 calls per second per Page.
const MIN_INTERVAL: Duration = Duration::from_millis(500);
const MAX_PAGES: u32 = 20;

#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct MetaInput {
    pub name: String,
    pub page_id: String,
    /// The Instagram professional account linked to the Page: adds an Instagram account.
    #[serde(default)]
    pub instagram_id: Option<String>,
    /// A Page access token with pages_messaging (and instagram_manage_messages).
    pub access_token: String,
    /// The Meta app's secret, to receive webhooks as well as polling.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The token typed into the Meta app's webhook settings for `/webhooks/meta` (its own,
    /// not a WhatsApp account's); needs the app secret.
    #[serde(default)]
    #[ts(optional)]
    pub verify_token: Option<String>,
    /// The app was granted the HUMAN_AGENT tag: replies allowed up to 7 days.
    #[serde(default)]
    pub human_agent: bool,
    #[serde(default)]
    pub api_base: Option<String>,
}

/// Checks the Page token against the API without saving anything; returns the Page's name.
pub async fn test_settings(input: &MetaInput) -> Result<String> {
    let page_id = crate::require(&input.page_id, "the Page id")?;
    let token = crate::require(&input.access_token, "the access token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let api = Api::new(&base, Family::Graph);
    let page = api
        .json(
            api.get(&format!("/{page_id}"))
                .query(&[("fields", "id,name")])
                .bearer_auth(&token),
        )
        .await?;
    Ok(page["name"].as_str().unwrap_or(&page_id).to_string())
}

/// Adds a Messenger account for the Page and, with `instagram_id`, an Instagram account.
pub async fn add_accounts(store: &Store, input: &MetaInput, test: bool) -> Result<Vec<Account>> {
    let page_id = crate::require(&input.page_id, "the Page id")?;
    let token = crate::require(&input.access_token, "the access token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let instagram = input
        .instagram_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut page_name = page_id.clone();
    if test {
        let api = Api::new(&base, Family::Graph);
        let page = api
            .json(
                api.get(&format!("/{page_id}"))
                    .query(&[("fields", "id,name")])
                    .bearer_auth(&token),
            )
            .await?;
        if let Some(n) = page["name"].as_str() {
            page_name = n.to_string();
        }
    }
    let secret = input.app_secret.clone().unwrap_or_default();
    let verify_token = input.verify_token.clone().unwrap_or_default();
    if !verify_token.trim().is_empty() && secret.trim().is_empty() {
        return Err(Error::invalid(
            "the webhook verify token needs the app secret too (it signs every delivery)",
        ));
    }
    let secrets = [
        (ACCESS_TOKEN, token.as_str()),
        (APP_SECRET, secret.trim()),
        (VERIFY_TOKEN, verify_token.trim()),
    ];
    let mut out = Vec::new();
    let messenger = crate::save_account(
        store,
        ChannelKind::Messenger,
        &input.name,
        &page_name,
        &json!({"page_id": page_id, "platform": "messenger", "human_agent": input.human_agent, "api_base": base}),
        &secrets,
    )?;
    out.push(messenger);
    if let Some(ig) = instagram {
        let account = crate::save_account(
            store,
            ChannelKind::Instagram,
            &format!("{} (Instagram)", input.name.trim()),
            ig,
            &json!({"page_id": page_id, "instagram_id": ig, "platform": "instagram", "human_agent": input.human_agent, "api_base": base}),
            &secrets,
        )?;
        out.push(account);
    }
    Ok(out)
}

/// The id Meta uses for the business side of this account's conversations.
pub fn owner_id(account: &Account) -> Option<&str> {
    match account.kind {
        ChannelKind::Instagram => crate::setting(account, "instagram_id"),
        _ => crate::setting(account, "page_id"),
    }
}

pub struct MetaChannel {
    store: Store,
    account: Account,
    page_id: String,
    owner: String,
    platform: &'static str,
    token: String,
    api: Api,
}

impl std::fmt::Debug for MetaChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaChannel")
            .field("account", &self.account.id)
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl MetaChannel {
    pub fn open(store: &Store, account: &Account) -> Result<MetaChannel> {
        let token = crate::secret(store, account.id, ACCESS_TOKEN)?;
        MetaChannel::new(store, account, token)
    }

    pub fn new(store: &Store, account: &Account, token: String) -> Result<MetaChannel> {
        let page_id = crate::required_setting(account, "page_id")?.to_string();
        let owner = owner_id(account)
            .ok_or_else(|| {
                Error::invalid("the Instagram account id is missing; add the account again")
            })?
            .to_string();
        Ok(MetaChannel {
            store: store.clone(),
            account: account.clone(),
            page_id,
            owner,
            platform: if account.kind == ChannelKind::Instagram {
                "instagram"
            } else {
                "messenger"
            },
            token,
            api: Api::new(
                crate::setting(account, "api_base").unwrap_or(DEFAULT_API_BASE),
                Family::Graph,
            )
            .with_min_interval(MIN_INTERVAL),
        })
    }

    /// Spacing between calls (tests shorten it).
    pub fn with_min_interval(mut self, interval: Duration) -> MetaChannel {
        let base = self.api.base().to_string();
        self.api = Api::new(&base, Family::Graph).with_min_interval(interval);
        self
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.api
            .json(self.api.get(path).bearer_auth(&self.token))
            .await
    }
}

/// One message in Graph's shape (`id, message, from, to, created_time, attachments, story`),
/// or a webhook `messaging` event turned into that shape.
pub fn to_incoming(account: &Account, m: Value) -> IncomingMessage {
    let owner = owner_id(account).unwrap_or("");
    let kind = if account.kind == ChannelKind::Instagram {
        IdentityKind::Instagram
    } else {
        IdentityKind::Messenger
    };
    let from_id = m["from"]["id"].as_str().unwrap_or("");
    let outbound = !owner.is_empty() && from_id == owner;
    let customer = if outbound {
        &m["to"]["data"][0]
    } else {
        &m["from"]
    };
    let customer_id = customer["id"].as_str().unwrap_or("").to_string();
    let customer_name = customer["name"]
        .as_str()
        .or(customer["username"].as_str())
        .unwrap_or("")
        .to_string();
    let mut text = m["message"].as_str().unwrap_or("").to_string();
    let mut meta = json!({"platform": kind.as_str()});
    let mut remote = Vec::new();
    for a in m["attachments"]["data"].as_array().into_iter().flatten() {
        let url = a["image_data"]["url"]
            .as_str()
            .or(a["video_data"]["url"].as_str())
            .or(a["file_url"].as_str())
            .or(a["payload"]["url"].as_str());
        let mime = a["mime_type"]
            .as_str()
            .unwrap_or(if a["image_data"].is_object() {
                "image/jpeg"
            } else {
                "application/octet-stream"
            });
        if let Some(url) = url {
            remote.push(RemoteAttachment {
                filename: a["name"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| crate::default_file_name("attachment", mime)),
                mime_type: mime.into(),
                remote_ref: url.into(),
            });
        }
    }
    // Instagram: a reply to the shop's story, or a mention of the shop in a customer's story.
    let story = &m["story"];
    if let Some(link) = story["reply_to"]["link"].as_str() {
        meta["story"] = json!({"kind": "reply", "link": link, "id": story["reply_to"]["id"]});
        text = format!("↩️ replied to your story: {link}\n{text}")
            .trim_end()
            .to_string();
    } else if let Some(link) = story["mention"]["link"].as_str() {
        meta["story"] = json!({"kind": "mention", "link": link, "id": story["mention"]["id"]});
        text = format!("📣 mentioned you in their story: {link}\n{text}")
            .trim_end()
            .to_string();
    }
    if text.is_empty() && remote.is_empty() {
        text = "[message type not supported]".into();
    }
    let sent_at = m["created_time"]
        .as_str()
        .and_then(time::parse_iso8601)
        .or_else(|| m["timestamp"].as_i64())
        .unwrap_or_else(now_ms);
    IncomingMessage {
        external_id: m["id"].as_str().unwrap_or("").to_string(),
        direction: Some(if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        }),
        thread_keys: vec![format!("{}:{customer_id}", kind.as_str())],
        counterpart: Some(Identity {
            kind,
            value: customer_id.clone(),
            display_name: customer_name.clone(),
        }),
        sender_name: if outbound {
            account.name.clone()
        } else {
            customer_name
        },
        sender_handle: if outbound {
            owner.to_string()
        } else {
            customer_id
        },
        text,
        sent_at,
        raw: serde_json::to_vec(&m).ok(),
        meta,
        remote_attachments: remote,
        ..Default::default()
    }
}

/// Splits a Messenger/Instagram webhook payload (`object: page|instagram`) by the business
/// id it is for, turning each `messaging` event into Graph's message shape.
pub fn parse_webhook(payload: &Value) -> Vec<(String, Vec<Value>)> {
    let mut out: Vec<(String, Vec<Value>)> = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        let Some(owner) = entry["id"].as_str() else {
            continue;
        };
        let mut messages = Vec::new();
        for e in entry["messaging"].as_array().into_iter().flatten() {
            let msg = &e["message"];
            let Some(mid) = msg["mid"].as_str() else {
                continue;
            };
            if msg["is_deleted"].as_bool() == Some(true) {
                continue;
            }
            let attachments: Vec<Value> = msg["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"].as_str() != Some("fallback"))
                .map(|a| {
                    let mime = match a["type"].as_str() {
                        Some("image") => "image/jpeg",
                        Some("video") => "video/mp4",
                        Some("audio") => "audio/mpeg",
                        _ => "application/octet-stream",
                    };
                    json!({"mime_type": mime, "payload": {"url": a["payload"]["url"]}})
                })
                .collect();
            let mut story = Value::Null;
            if let Some(url) = msg["reply_to"]["story"]["url"].as_str() {
                story = json!({"reply_to": {"link": url, "id": msg["reply_to"]["story"]["id"]}});
            }
            if let Some(a) = msg["attachments"]
                .as_array()
                .and_then(|a| a.iter().find(|a| a["type"] == "story_mention"))
            {
                story = json!({"mention": {"link": a["payload"]["url"], "id": Value::Null}});
            }
            messages.push(json!({
                "id": mid,
                "message": msg["text"],
                "from": {"id": e["sender"]["id"]},
                "to": {"data": [{"id": e["recipient"]["id"]}]},
                "timestamp": e["timestamp"],
                "attachments": {"data": attachments},
                "story": story,
            }));
        }
        if messages.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(id, _)| id == owner) {
            Some((_, list)) => list.extend(messages),
            None => out.push((owner.to_string(), messages)),
        }
    }
    out
}

#[async_trait]
impl Channel for MetaChannel {
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        let mut cursor = crate::cursor(&ctx.store, ctx.account.id, CURSOR)?;
        let since = cursor.extra["updated_ms"].as_i64().unwrap_or(0);
        let mut newest = since;
        let mut changed = Vec::new();
        let mut next = Some(format!(
            "/{}/conversations?platform={}&fields=id,updated_time&limit=25",
            self.page_id, self.platform
        ));
        let mut pages = 0;
        'pages: while let Some(url) = next.take() {
            pages += 1;
            let page = self.get(&url).await?;
            for c in page["data"].as_array().into_iter().flatten() {
                let updated = c["updated_time"]
                    .as_str()
                    .and_then(time::parse_iso8601)
                    .unwrap_or(0);
                // Newest first: the rest were seen by an earlier pass.
                if updated <= since && since > 0 {
                    break 'pages;
                }
                newest = newest.max(updated);
                if let Some(id) = c["id"].as_str() {
                    changed.push(id.to_string());
                }
            }
            next = page["paging"]["next"].as_str().map(String::from);
            if pages >= MAX_PAGES {
                break;
            }
        }
        let mut messages = Vec::new();
        for id in &changed {
            let conv = self
                .get(&format!(
                    "/{id}?fields=messages{{id,message,from,to,created_time,attachments,story}}"
                ))
                .await?;
            for m in conv["messages"]["data"].as_array().into_iter().flatten() {
                messages.push(to_incoming(&self.account, m.clone()));
            }
        }
        cursor.extra = json!({"updated_ms": newest});
        let fetched = messages.len() as u32;
        let report = ctx.store.ingest(
            ctx.account.id,
            messages,
            Some(&cursor),
            IngestOptions::default(),
        )?;
        download_pending(&ctx.store, ctx.account.id, self).await?;
        let mut out = SyncReport {
            duplicates: report.duplicates,
            ..Default::default()
        };
        out.add(FolderReport {
            folder: self.platform.into(),
            fetched,
            stored: report.stored,
            resynced: false,
        });
        Ok(out)
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let recipient = item
            .message
            .to
            .first()
            .ok_or_else(|| Error::invalid("the reply has no recipient"))?;
        let summary = self.store.conversation_summary(item.conversation_id)?;
        let (messaging_type, tag) = match crate::reply_window(
            account,
            summary.last_inbound_at,
            now_ms(),
        ) {
            ReplyWindow::Open { .. } => ("RESPONSE", None),
            ReplyWindow::HumanAgent { .. } => ("MESSAGE_TAG", Some("HUMAN_AGENT")),
            _ => {
                return Err(Error::new(
                    ErrorCode::OutsideWindow,
                    "the customer last wrote more than 24 hours ago (7 days with the human agent \
                     permission): Meta allows a reply only after they write again",
                ));
            }
        };
        let mut envelope =
            json!({"recipient": {"id": recipient}, "messaging_type": messaging_type});
        if let Some(tag) = tag {
            envelope["tag"] = json!(tag);
        }
        // Every file is checked before the first upload: a reply is never half sent.
        let files = crate::limits::check_item(account, item)?;
        let mut first = None;
        let mut parts = crate::SentParts::load(&self.store, item.message_id)?;
        for (i, a) in files.iter().enumerate() {
            if let Some(id) = parts.get(i) {
                // Sent by an earlier attempt that failed later on.
                first.get_or_insert(id);
                continue;
            }
            let data = std::fs::read(&a.path)?;
            let kind = crate::limits::meta_kind(&a.mime_type).graph_name();
            let part = crate::file_part(&a.filename, &a.mime_type, data)?;
            let answer = if self.platform == "instagram" {
                // Instagram: the Attachment Upload API (`message_attachments`, platform
                // instagram) gives an attachment id, then the message refers to it.
                let form = crate::form()
                    .text("platform", "instagram")
                    .text(
                        "message",
                        json!({"attachment": {"type": kind, "payload": {"is_reusable": true}}})
                            .to_string(),
                    )
                    .part("filedata", part);
                let uploaded = self
                    .api
                    .json(
                        self.api
                            .post(&format!("/{}/message_attachments", self.page_id))
                            .bearer_auth(&self.token)
                            .multipart(form),
                    )
                    .await?;
                let id = uploaded["attachment_id"].as_str().ok_or_else(|| {
                    Error::new(
                        ErrorCode::Protocol,
                        "Instagram stored the file without an attachment id",
                    )
                })?;
                let mut body = envelope.clone();
                body["message"] =
                    json!({"attachment": {"type": kind, "payload": {"attachment_id": id}}});
                self.api
                    .json(
                        self.api
                            .post(&format!("/{}/messages", self.page_id))
                            .bearer_auth(&self.token)
                            .json(&body),
                    )
                    .await?
            } else {
                // Messenger: the Send API takes the file in the same call (multipart: the
                // envelope's fields as JSON strings, the file as `filedata`).
                let mut form = crate::form();
                for (k, v) in envelope.as_object().into_iter().flatten() {
                    form = form.text(
                        k.clone(),
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string()),
                    );
                }
                form = form
                    .text(
                        "message",
                        json!({"attachment": {"type": kind, "payload": {"is_reusable": false}}})
                            .to_string(),
                    )
                    .part("filedata", part);
                self.api
                    .json(
                        self.api
                            .post(&format!("/{}/messages", self.page_id))
                            .bearer_auth(&self.token)
                            .multipart(form),
                    )
                    .await?
            };
            let id = answer["message_id"].as_str().unwrap_or("").to_string();
            parts.record(i, &id)?;
            first.get_or_insert(id);
        }
        if !item.message.text.trim().is_empty() {
            let mut body = envelope;
            body["message"] = json!({"text": item.message.text});
            let answer = self
                .api
                .json(
                    self.api
                        .post(&format!("/{}/messages", self.page_id))
                        .bearer_auth(&self.token)
                        .json(&body),
                )
                .await?;
            first.get_or_insert(answer["message_id"].as_str().unwrap_or("").to_string());
        }
        Ok(SendReceipt {
            external_id: first.filter(|id| !id.is_empty()),
        })
    }

    async fn test(&self) -> Result<()> {
        self.get(&format!("/{}?fields=id,name", self.owner))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl MediaSource for MetaChannel {
    /// Attachment URLs are signed CDN links that expire; an expired one is gone.
    async fn fetch(&self, pending: &PendingAttachment) -> Result<Option<Fetched>> {
        let response = self
            .api
            .get(&pending.remote_ref)
            .send()
            .await
            .map_err(crate::http::transport_error)?;
        let status = response.status();
        if matches!(status.as_u16(), 403 | 404 | 410) {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::new(
                ErrorCode::Network,
                format!("the media server answered {status}"),
            ));
        }
        let mime = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let data = response
            .bytes()
            .await
            .map_err(crate::http::transport_error)?;
        Ok(Some(Fetched {
            data: data.to_vec(),
            mime_type: mime,
            filename: None,
        }))
    }
}
