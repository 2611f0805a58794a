//! WhatsApp Business through Meta's Cloud API.
//!
//! Incoming messages arrive only by webhook ([`crate::webhook`] verifies and hands the payload
//! to [`ingest_webhook`]); a sync pass has nothing to poll and downloads the media the webhook
//! announced (media ids expire after 7 days, download URLs after minutes). Replies go to
//! `POST /{phone-number-id}/messages`: free text inside the 24-hour customer service window,
//! approved templates outside it.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sportello_core::channel::{Channel, OutboxItem, SendReceipt, SyncContext, SyncReport};
use sportello_core::model::{
    Account, ChannelKind, Delivery, Direction, Identity, IdentityKind, IncomingMessage,
    PendingAttachment, RemoteAttachment,
};
use sportello_core::store::IngestOptions;
use sportello_core::{Error, ErrorCode, Result, Store, now_ms};
use ts_rs::TS;

use crate::http::{Api, Family};
use crate::media::{Fetched, MediaSource, download_pending};
use crate::{ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, time};
use sportello_core::phone;

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com/v23.0";

/// What the set-up form (and `account add-whatsapp`) asks for.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct WhatsAppInput {
    pub name: String,
    pub phone_number_id: String,
    /// The WhatsApp Business Account, to list message templates.
    #[serde(default)]
    pub waba_id: Option<String>,
    pub access_token: String,
    /// The Meta app's secret: signs every webhook delivery.
    pub app_secret: String,
    /// The token typed into Meta's webhook settings, echoed back at verification.
    pub verify_token: String,
    #[serde(default)]
    pub api_base: Option<String>,
}

/// Checks the input and the token against the API without saving anything (the set-up
/// form's "test connection"). Returns the number the Phone number ID serves.
pub async fn test_settings(input: &WhatsAppInput) -> Result<String> {
    let phone_number_id = crate::require(&input.phone_number_id, "the phone number id")?;
    let token = crate::require(&input.access_token, "the access token")?;
    crate::require(&input.app_secret, "the app secret")?;
    crate::require(&input.verify_token, "the verify token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let info = number_info(&Api::new(&base, Family::Graph), &phone_number_id, &token).await?;
    Ok(info["display_phone_number"]
        .as_str()
        .unwrap_or(&phone_number_id)
        .to_string())
}

/// Checks the input, optionally tests the token against the API, stores the account (kind
/// WhatsApp, provider "cloud") and its three secrets in the keyring.
pub async fn add_account(store: &Store, input: &WhatsAppInput, test: bool) -> Result<Account> {
    let phone_number_id = crate::require(&input.phone_number_id, "the phone number id")?;
    let token = crate::require(&input.access_token, "the access token")?;
    let app_secret = crate::require(&input.app_secret, "the app secret")?;
    let verify_token = crate::require(&input.verify_token, "the verify token")?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let mut address = phone_number_id.clone();
    if test {
        let api = Api::new(&base, Family::Graph);
        let info = number_info(&api, &phone_number_id, &token).await?;
        if let Some(n) = info["display_phone_number"].as_str() {
            address = phone::normalize_phone(n).unwrap_or_else(|| n.to_string());
        }
    }
    let settings = json!({
        "provider": "cloud",
        "phone_number_id": phone_number_id,
        "waba_id": input.waba_id.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        "api_base": base,
    });
    crate::save_account(
        store,
        ChannelKind::Whatsapp,
        &input.name,
        &address,
        &settings,
        &[
            (ACCESS_TOKEN, &token),
            (APP_SECRET, &app_secret),
            (VERIFY_TOKEN, &verify_token),
        ],
    )
}

async fn number_info(api: &Api, phone_number_id: &str, token: &str) -> Result<Value> {
    api.json(
        api.get(&format!("/{phone_number_id}"))
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(token),
    )
    .await
}

/// A WhatsApp Cloud API account. Implements [`Channel`].
pub struct WhatsAppChannel {
    store: Store,
    account_id: i64,
    phone_number_id: String,
    waba_id: Option<String>,
    token: String,
    api: Api,
}

impl std::fmt::Debug for WhatsAppChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppChannel")
            .field("account", &self.account_id)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

impl WhatsAppChannel {
    /// Reads the access token from the keyring.
    pub fn open(store: &Store, account: &Account) -> Result<WhatsAppChannel> {
        let token = crate::secret(store, account.id, ACCESS_TOKEN)?;
        WhatsAppChannel::new(store, account, token)
    }

    pub fn new(store: &Store, account: &Account, token: String) -> Result<WhatsAppChannel> {
        let phone_number_id = crate::required_setting(account, "phone_number_id")?.to_string();
        let base = crate::setting(account, "api_base").unwrap_or(DEFAULT_API_BASE);
        Ok(WhatsAppChannel {
            store: store.clone(),
            account_id: account.id,
            phone_number_id,
            waba_id: crate::setting(account, "waba_id").map(String::from),
            token,
            api: Api::new(base, Family::Graph),
        })
    }

    /// The account's approved (and pending) message templates, with their body text and the
    /// number of `{{n}}` variables the body takes.
    pub async fn templates(&self) -> Result<Vec<Template>> {
        let waba = self.waba_id.as_deref().ok_or_else(|| {
            Error::invalid("add the WhatsApp Business Account id (--waba-id) to list templates")
        })?;
        let mut out = Vec::new();
        let mut next = Some(format!(
            "/{waba}/message_templates?fields=name,language,status,category,components&limit=100"
        ));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let page = self
                .api
                .json(self.api.get(&url).bearer_auth(&self.token))
                .await?;
            for t in page["data"].as_array().into_iter().flatten() {
                out.push(Template::from_graph(t));
            }
            next = page["paging"]["next"].as_str().map(String::from);
            if pages >= 50 {
                break;
            }
        }
        Ok(out)
    }

    async fn send_payload(&self, payload: Value) -> Result<String> {
        let answer = self
            .api
            .json(
                self.api
                    .post(&format!("/{}/messages", self.phone_number_id))
                    .bearer_auth(&self.token)
                    .json(&payload),
            )
            .await?;
        answer["messages"][0]["id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Protocol,
                    "WhatsApp accepted the message without an id",
                )
            })
    }

    /// Uploads a file (`POST /{phone-number-id}/media`, multipart: `messaging_product`,
    /// `type`, `file`) and returns the media id a message then refers to.
    async fn upload(&self, filename: &str, mime_type: &str, data: Vec<u8>) -> Result<String> {
        let part = crate::file_part(filename, mime_type, data)?;
        let form = crate::form()
            .text("messaging_product", "whatsapp")
            .text("type", mime_type.to_string())
            .part("file", part);
        let answer = self
            .api
            .json(
                self.api
                    .post(&format!("/{}/media", self.phone_number_id))
                    .bearer_auth(&self.token)
                    .multipart(form),
            )
            .await?;
        answer["id"].as_str().map(String::from).ok_or_else(|| {
            Error::new(
                ErrorCode::Protocol,
                "WhatsApp stored the file without an id",
            )
        })
    }
}

/// A message template of the WhatsApp Business Account.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Template {
    pub name: String,
    pub language: String,
    /// APPROVED, PENDING, REJECTED...: only approved ones can be sent.
    pub status: String,
    pub category: String,
    /// The body with its `{{1}}`, `{{2}}`... placeholders.
    pub body: String,
    /// How many body variables must be filled.
    pub variables: u32,
}

impl Template {
    fn from_graph(t: &Value) -> Template {
        let body = t["components"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("body"))
            })
            .and_then(|c| c["text"].as_str())
            .unwrap_or("")
            .to_string();
        let variables = (1..=100u32)
            .take_while(|n| body.contains(&format!("{{{{{n}}}}}")))
            .count() as u32;
        Template {
            name: t["name"].as_str().unwrap_or("").into(),
            language: t["language"].as_str().unwrap_or("").into(),
            status: t["status"].as_str().unwrap_or("").into(),
            category: t["category"].as_str().unwrap_or("").into(),
            body,
            variables,
        }
    }
}

/// The body of a template send: `{"name", "language", "params"}` as queued by the UI/CLI.
fn template_payload(to: &str, template: &Value) -> Result<Value> {
    let name = template["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid("the template has no name"))?;
    let language = template["language"].as_str().unwrap_or("it");
    let params: Vec<Value> = template["params"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| json!({"type": "text", "text": p.as_str().unwrap_or_default()}))
        .collect();
    let mut t = json!({"name": name, "language": {"code": language}});
    if !params.is_empty() {
        t["components"] = json!([{"type": "body", "parameters": params}]);
    }
    Ok(json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": t,
    }))
}

/// WhatsApp's message type for a file.
fn media_kind(mime_type: &str) -> &'static str {
    match crate::limits::whatsapp_kind(mime_type) {
        crate::limits::SendAs::Image => "image",
        crate::limits::SendAs::Video => "video",
        crate::limits::SendAs::Audio => "audio",
        crate::limits::SendAs::File => "document",
    }
}

/// The customer's number as the API wants it (digits, no `+`).
fn recipient(item: &OutboxItem) -> Result<String> {
    let to = item
        .message
        .to
        .first()
        .ok_or_else(|| Error::invalid("the reply has no recipient"))?;
    Ok(to.trim_start_matches('+').to_string())
}

/// Refuses free text outside the 24-hour window before asking the API (which would answer
/// 131047): the UI offers a template instead.
pub(crate) fn check_window(store: &Store, item: &OutboxItem) -> Result<()> {
    let summary = store.conversation_summary(item.conversation_id)?;
    let open = summary
        .last_inbound_at
        .is_some_and(|t| now_ms() < t + crate::WINDOW_MS);
    if open {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::OutsideWindow,
            "more than 24 hours have passed since the customer last wrote: WhatsApp accepts only \
             an approved template until they write again",
        ))
    }
}

#[async_trait]
impl Channel for WhatsAppChannel {
    /// Nothing to poll (the Cloud API has no message list): downloads announced media.
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        let media = download_pending(&ctx.store, ctx.account.id, self).await?;
        let mut report = SyncReport::default();
        // Media files are not messages: reported as a folder of their own.
        report.folders.push(sportello_core::channel::FolderReport {
            folder: "media".into(),
            fetched: media,
            stored: media,
            resynced: false,
        });
        Ok(report)
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let to = recipient(item)?;
        let meta = self.store.message_meta(item.message_id)?;
        if let Some(template) = meta.get("template").filter(|t| !t.is_null()) {
            let id = self.send_payload(template_payload(&to, template)?).await?;
            return Ok(SendReceipt {
                external_id: Some(id),
            });
        }
        check_window(&self.store, item)?;
        // Every file is checked before the first upload: a reply is never half sent.
        let files = crate::limits::check_item(account, item)?;
        let mut first_id = None;
        let mut caption_used = false;
        let mut parts = crate::SentParts::load(&self.store, item.message_id)?;
        for (i, a) in files.iter().enumerate() {
            let kind = media_kind(&a.mime_type);
            let caption = kind != "audio" && !caption_used && !item.message.text.trim().is_empty();
            caption_used |= caption;
            if let Some(id) = parts.get(i) {
                // Sent by an earlier attempt that failed later on.
                first_id.get_or_insert(id);
                continue;
            }
            let data = std::fs::read(&a.path)?;
            let media_id = self.upload(&a.filename, &a.mime_type, data).await?;
            let mut body = json!({"id": media_id});
            if caption {
                body["caption"] = json!(item.message.text);
            }
            if kind == "document" {
                body["filename"] = json!(a.filename);
            }
            let id = self
                .send_payload(json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": to,
                    "type": kind,
                    kind: body,
                }))
                .await?;
            parts.record(i, &id)?;
            first_id.get_or_insert(id);
        }
        if !caption_used && !item.message.text.trim().is_empty() {
            let mut payload = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"preview_url": false, "body": item.message.text},
            });
            if let Some(reply_to) = meta.get("reply_to").and_then(|v| v.as_str()) {
                payload["context"] = json!({"message_id": reply_to});
            }
            let id = self.send_payload(payload).await?;
            first_id.get_or_insert(id);
        }
        Ok(SendReceipt {
            external_id: first_id,
        })
    }

    async fn test(&self) -> Result<()> {
        number_info(&self.api, &self.phone_number_id, &self.token)
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl MediaSource for WhatsAppChannel {
    /// `GET /{media-id}` for a short-lived URL, then the bytes with the same token. An
    /// expired URL is asked for again once; an unknown media id (older than 7 days) is gone.
    async fn fetch(&self, pending: &PendingAttachment) -> Result<Option<Fetched>> {
        for _ in 0..2 {
            let info = match self
                .api
                .json(
                    self.api
                        .get(&format!("/{}", pending.remote_ref))
                        .bearer_auth(&self.token),
                )
                .await
            {
                Ok(v) => v,
                Err(e) if matches!(e.code, ErrorCode::NotFound | ErrorCode::Rejected) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            };
            let Some(url) = info["url"].as_str() else {
                return Ok(None);
            };
            let response = self
                .api
                .get(url)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(crate::http::transport_error)?;
            let status = response.status();
            if matches!(status.as_u16(), 401 | 403 | 404 | 410) {
                // The URL expired (they last minutes): ask for a fresh one.
                continue;
            }
            if !status.is_success() {
                return Err(Error::new(
                    ErrorCode::Network,
                    format!("the media server answered {status}"),
                ));
            }
            let data = response
                .bytes()
                .await
                .map_err(crate::http::transport_error)?
                .to_vec();
            if let Some(expected) = info["sha256"].as_str() {
                use sha2::Digest;
                let got = hex::encode(sha2::Sha256::digest(&data));
                if !got.eq_ignore_ascii_case(expected) {
                    return Err(Error::new(
                        ErrorCode::Network,
                        "the downloaded media does not match its checksum",
                    ));
                }
            }
            return Ok(Some(Fetched {
                data,
                mime_type: info["mime_type"].as_str().map(String::from),
                filename: None,
            }));
        }
        Err(Error::new(
            ErrorCode::Network,
            "the media download link keeps expiring; will try again",
        ))
    }
}

/// What one webhook delivery brought for one phone number.
#[derive(Debug, Default)]
pub struct WebhookBatch {
    pub messages: Vec<IncomingMessage>,
    pub statuses: Vec<StatusUpdate>,
}

#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub external_id: String,
    pub delivery: Delivery,
    pub error: Option<Error>,
}

/// Splits a webhook payload (`object: whatsapp_business_account`) by phone number id.
pub fn parse_webhook(payload: &Value) -> Vec<(String, WebhookBatch)> {
    let mut out: Vec<(String, WebhookBatch)> = Vec::new();
    for entry in payload["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if change["field"].as_str().is_some_and(|f| f != "messages") {
                continue;
            }
            let value = &change["value"];
            let Some(number_id) = value["metadata"]["phone_number_id"].as_str() else {
                continue;
            };
            let mut batch = WebhookBatch::default();
            for m in value["messages"].as_array().into_iter().flatten() {
                if let Some(msg) = incoming(value, m) {
                    batch.messages.push(msg);
                }
            }
            for s in value["statuses"].as_array().into_iter().flatten() {
                if let Some(st) = status(s) {
                    batch.statuses.push(st);
                }
            }
            match out.iter_mut().find(|(id, _)| id == number_id) {
                Some((_, b)) => {
                    b.messages.append(&mut batch.messages);
                    b.statuses.append(&mut batch.statuses);
                }
                None => out.push((number_id.to_string(), batch)),
            }
        }
    }
    out
}

fn status(s: &Value) -> Option<StatusUpdate> {
    let delivery = match s["status"].as_str()? {
        "sent" => Delivery::Sent,
        "delivered" => Delivery::Delivered,
        "read" => Delivery::Read,
        "failed" => Delivery::Failed,
        _ => return None,
    };
    let error = s["errors"].as_array().and_then(|e| e.first()).map(|e| {
        let code = e["code"].as_i64().unwrap_or(0);
        let text = e["error_data"]["details"]
            .as_str()
            .or(e["message"].as_str())
            .or(e["title"].as_str())
            .unwrap_or("WhatsApp could not deliver the message");
        let kind = if code == 131047 {
            ErrorCode::OutsideWindow
        } else if crate::http::graph_rate_limited(code) {
            ErrorCode::RateLimited
        } else {
            ErrorCode::Rejected
        };
        Error::new(kind, format!("{text} [code {code}]"))
    });
    Some(StatusUpdate {
        external_id: s["id"].as_str()?.to_string(),
        delivery,
        error: if delivery == Delivery::Failed {
            error.or_else(|| {
                Some(Error::new(
                    ErrorCode::Rejected,
                    "WhatsApp could not deliver the message",
                ))
            })
        } else {
            None
        },
    })
}

/// One message of a webhook `value` as Sportello stores it.
pub fn incoming(value: &Value, m: &Value) -> Option<IncomingMessage> {
    let id = m["id"].as_str()?;
    let from = m["from"].as_str()?;
    let number = phone::from_international(from);
    let name = value["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["wa_id"].as_str() == Some(from))
        .or_else(|| value["contacts"].get(0))
        .and_then(|c| c["profile"]["name"].as_str())
        .unwrap_or("")
        .to_string();
    let kind = m["type"].as_str().unwrap_or("unknown");
    let mut meta = json!({"wa_type": kind});
    if let Some(ctx) = m["context"]["id"].as_str() {
        meta["reply_to"] = json!(ctx);
    }
    let text;
    let mut remote = Vec::new();
    match kind {
        "text" => text = m["text"]["body"].as_str().unwrap_or("").to_string(),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let media = &m[kind];
            text = media["caption"].as_str().unwrap_or("").to_string();
            let mime = media["mime_type"]
                .as_str()
                .unwrap_or("application/octet-stream");
            let filename = media["filename"]
                .as_str()
                .filter(|f| !f.is_empty())
                .map(String::from)
                .unwrap_or_else(|| {
                    let what = if media["voice"].as_bool() == Some(true) {
                        "voice"
                    } else {
                        kind
                    };
                    crate::default_file_name(what, mime)
                });
            if let Some(media_id) = media["id"].as_str() {
                remote.push(RemoteAttachment {
                    filename,
                    mime_type: mime.to_string(),
                    remote_ref: media_id.to_string(),
                });
            }
        }
        "location" => {
            let l = &m["location"];
            let (lat, lon) = (
                l["latitude"].as_f64().unwrap_or(0.0),
                l["longitude"].as_f64().unwrap_or(0.0),
            );
            let label = [l["name"].as_str(), l["address"].as_str()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
            text = format!(
                "📍 {}{}https://maps.google.com/?q={lat},{lon}",
                label,
                if label.is_empty() { "" } else { " — " }
            );
            meta["location"] = l.clone();
        }
        "contacts" => {
            let cards: Vec<String> = m["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let name = c["name"]["formatted_name"].as_str().unwrap_or("");
                    let phones: Vec<&str> = c["phones"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p["phone"].as_str())
                        .collect();
                    format!("👤 {name} {}", phones.join(", "))
                        .trim()
                        .to_string()
                })
                .collect();
            text = cards.join("\n");
            meta["contacts"] = m["contacts"].clone();
        }
        "reaction" => {
            let r = &m["reaction"];
            let emoji = r["emoji"].as_str().unwrap_or("");
            text = if emoji.is_empty() {
                "(reaction removed)".into()
            } else {
                emoji.to_string()
            };
            meta["reaction"] = json!({"emoji": emoji, "message_id": r["message_id"]});
        }
        "button" => text = m["button"]["text"].as_str().unwrap_or("").to_string(),
        "interactive" => {
            let i = &m["interactive"];
            let reply = if i["button_reply"].is_object() {
                &i["button_reply"]
            } else {
                &i["list_reply"]
            };
            text = reply["title"].as_str().unwrap_or("").to_string();
        }
        "order" => {
            let items = m["order"]["product_items"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0);
            text = format!(
                "🛒 order: {items} product(s) {}",
                m["order"]["text"].as_str().unwrap_or("")
            )
            .trim()
            .to_string();
            meta["order"] = m["order"].clone();
        }
        other => {
            let why = m["errors"][0]["title"].as_str().unwrap_or("not supported");
            text = format!("[{other} message: {why}]");
        }
    }
    let sent_at = time::from_unix(&m["timestamp"]).unwrap_or_else(now_ms);
    Some(IncomingMessage {
        external_id: id.to_string(),
        direction: Some(Direction::Inbound),
        thread_keys: vec![format!("wa:{number}")],
        counterpart: Some(Identity {
            kind: IdentityKind::Whatsapp,
            value: number.clone(),
            display_name: name.clone(),
        }),
        sender_name: name,
        sender_handle: number,
        text,
        sent_at,
        raw: serde_json::to_vec(m).ok(),
        meta,
        remote_attachments: remote,
        ..Default::default()
    })
}

/// Stores what a verified webhook delivery brought for one account. Idempotent: Meta
/// retries, and the same message id is stored once. Returns how many messages were new.
pub fn ingest_webhook(store: &Store, account_id: i64, batch: WebhookBatch) -> Result<u32> {
    let report = store.ingest(account_id, batch.messages, None, IngestOptions::default())?;
    for s in &batch.statuses {
        if !store.set_delivery(account_id, &s.external_id, s.delivery, s.error.as_ref())? {
            tracing::debug!(id = %s.external_id, "status for a message we do not know");
        }
    }
    Ok(report.stored)
}

/// How long the worker waits between passes (media downloads only).
pub const POLL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    /// The text-message example of Meta's webhook reference.
    const TEXT: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]},"field":"messages"}]}]}"#;

    #[test]
    fn text_message_example_parses() {
        let v: Value = serde_json::from_str(TEXT).unwrap();
        let batches = parse_webhook(&v);
        assert_eq!(batches.len(), 1);
        let (number_id, batch) = &batches[0];
        assert_eq!(number_id, "106540352242922");
        let m = &batch.messages[0];
        assert_eq!(m.text, "Does it come in another color?");
        assert_eq!(m.sender_handle, "+16505551234");
        assert_eq!(m.sender_name, "Sheena Nelson");
        assert_eq!(m.sent_at, 1_749_416_383_000);
        assert_eq!(m.counterpart.as_ref().unwrap().kind, IdentityKind::Whatsapp);
    }

    #[test]
    fn image_reaction_location_and_reply_context() {
        let v = json!({"entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"1"},
        "contacts":[{"profile":{"name":"Giulia"},"wa_id":"393471234567"}],
        "messages":[
            {"from":"393471234567","id":"wamid.A","timestamp":"1700000000","type":"image",
             "image":{"caption":"Questa","mime_type":"image/jpeg","sha256":"x","id":"MEDIA1"},
             "context":{"from":"15550783881","id":"wamid.OURS"}},
            {"from":"393471234567","id":"wamid.B","timestamp":"1700000001","type":"reaction",
             "reaction":{"message_id":"wamid.OURS","emoji":"👍"}},
            {"from":"393471234567","id":"wamid.C","timestamp":"1700000002","type":"location",
             "location":{"latitude":45.46,"longitude":9.19,"name":"Negozio","address":"Via Roma 1"}}
        ]}}]}]});
        let (_, batch) = parse_webhook(&v).pop().unwrap();
        assert_eq!(batch.messages[0].remote_attachments[0].remote_ref, "MEDIA1");
        assert_eq!(
            batch.messages[0].remote_attachments[0].filename,
            "image.jpg"
        );
        assert_eq!(batch.messages[0].meta["reply_to"], "wamid.OURS");
        assert_eq!(batch.messages[1].text, "👍");
        assert!(
            batch.messages[2].text.contains("Via Roma 1"),
            "{}",
            batch.messages[2].text
        );
        assert_eq!(batch.messages[0].sender_handle, "+393471234567");
    }

    #[test]
    fn failed_status_carries_the_window_error() {
        let v = json!({"entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"1"},
            "statuses":[{"id":"wamid.X","status":"failed","timestamp":"1700000000","recipient_id":"393471234567",
              "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
                "error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]}]}}]}]});
        let (_, batch) = parse_webhook(&v).pop().unwrap();
        let s = &batch.statuses[0];
        assert_eq!(s.delivery, Delivery::Failed);
        assert_eq!(s.error.as_ref().unwrap().code, ErrorCode::OutsideWindow);
    }

    #[test]
    fn template_payload_has_body_parameters() {
        let p = template_payload(
            "393471234567",
            &json!({"name":"ordine_spedito","language":"it","params":["Giulia","A123"]}),
        )
        .unwrap();
        assert_eq!(p["template"]["name"], "ordine_spedito");
        assert_eq!(p["template"]["language"]["code"], "it");
        assert_eq!(
            p["template"]["components"][0]["parameters"][1]["text"],
            "A123"
        );
    }

    #[test]
    fn template_variables_are_counted() {
        let t = Template::from_graph(
            &json!({"name":"x","language":"it","status":"APPROVED","category":"UTILITY",
            "components":[{"type":"HEADER","format":"TEXT","text":"Ciao"},{"type":"BODY","text":"Ciao {{1}}, il tuo ordine {{2}} è partito."}]}),
        );
        assert_eq!(t.variables, 2);
        assert!(t.body.starts_with("Ciao {{1}}"));
    }
}
