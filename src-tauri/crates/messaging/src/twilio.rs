//! WhatsApp (or SMS) through Twilio, which — unlike Meta's Cloud API — can be polled: the
//! Messages list is read with a day-granular `DateSent>=` filter (so the last day is re-read
//! each pass and deduplicated by message SID), following `next_page_uri`. Replies go through
//! the Messages API; free text outside WhatsApp's 24 hours fails with error 63016, shown as
//! the window rule; templates go by `ContentSid`. A Twilio account is a WhatsApp-kind account
//! with `provider: "twilio"` in its settings.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use sportello_core::channel::{
    Channel, FolderReport, OutboxItem, SendReceipt, SyncContext, SyncReport,
};
use sportello_core::model::{
    Account, ChannelKind, Delivery, Direction, Identity, IdentityKind, IncomingMessage,
    PendingAttachment, RemoteAttachment,
};
use sportello_core::store::IngestOptions;
use sportello_core::{Error, ErrorCode, Result, Store, now_ms};
use ts_rs::TS;

use crate::http::{Api, Family};
use crate::media::{Fetched, MediaSource, download_pending};
use crate::{TOKEN, time};
use sportello_core::phone;

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
const CURSOR: &str = "messages";
const PAGE_SIZE: u32 = 200;
/// How far back the first sync reads.
const FIRST_SYNC_DAYS: i64 = 3;
const MAX_PAGES: u32 = 100;

#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct TwilioInput {
    pub name: String,
    pub account_sid: String,
    /// The sender, `whatsapp:+39...` (or a plain number for SMS).
    pub from: String,
    pub auth_token: String,
    #[serde(default)]
    pub api_base: Option<String>,
}

pub fn is_twilio(account: &Account) -> bool {
    account.kind == ChannelKind::Whatsapp && crate::setting(account, "provider") == Some("twilio")
}

/// Checks the credentials against the API without saving anything.
pub async fn test_settings(input: &TwilioInput) -> Result<()> {
    let sid = crate::require(&input.account_sid, "the account SID")?;
    let token = crate::require(&input.auth_token, "the auth token")?;
    let from = crate::require(&input.from, "the sender number")?;
    phone::normalize_phone(&from)
        .ok_or_else(|| Error::invalid(format!("{from} is not a phone number")))?;
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    let api = Api::new(&base, Family::Twilio);
    api.json(
        api.get(&format!("/2010-04-01/Accounts/{sid}.json"))
            .basic_auth(&sid, Some(&token)),
    )
    .await?;
    Ok(())
}

pub async fn add_account(store: &Store, input: &TwilioInput, test: bool) -> Result<Account> {
    let sid = crate::require(&input.account_sid, "the account SID")?;
    let token = crate::require(&input.auth_token, "the auth token")?;
    let from = crate::require(&input.from, "the sender number")?;
    let whatsapp = from.starts_with("whatsapp:");
    let number = phone::normalize_phone(&from)
        .ok_or_else(|| Error::invalid(format!("{from} is not a phone number")))?;
    let from = if whatsapp {
        format!("whatsapp:{number}")
    } else {
        number.clone()
    };
    let base = crate::check_api_base(input.api_base.as_deref(), DEFAULT_API_BASE)?;
    if test {
        let api = Api::new(&base, Family::Twilio);
        api.json(
            api.get(&format!("/2010-04-01/Accounts/{sid}.json"))
                .basic_auth(&sid, Some(&token)),
        )
        .await?;
    }
    crate::save_account(
        store,
        ChannelKind::Whatsapp,
        &input.name,
        &number,
        &json!({"provider": "twilio", "account_sid": sid, "from": from, "api_base": base}),
        &[(TOKEN, &token)],
    )
}

pub struct TwilioChannel {
    store: Store,
    account_id: i64,
    sid: String,
    from: String,
    token: String,
    api: Api,
}

impl std::fmt::Debug for TwilioChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioChannel")
            .field("account", &self.account_id)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl TwilioChannel {
    pub fn open(store: &Store, account: &Account) -> Result<TwilioChannel> {
        let token = crate::secret(store, account.id, TOKEN)?;
        TwilioChannel::new(store, account, token)
    }

    pub fn new(store: &Store, account: &Account, token: String) -> Result<TwilioChannel> {
        Ok(TwilioChannel {
            store: store.clone(),
            account_id: account.id,
            sid: crate::required_setting(account, "account_sid")?.to_string(),
            from: crate::required_setting(account, "from")?.to_string(),
            token,
            api: Api::new(
                crate::setting(account, "api_base").unwrap_or(DEFAULT_API_BASE),
                Family::Twilio,
            ),
        })
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.api
            .json(self.api.get(path).basic_auth(&self.sid, Some(&self.token)))
            .await
    }

    /// Every message of the list matching `filter` (`To` or `From` our number) since `day`.
    async fn list(&self, filter: &str, day: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let first = format!(
            "/2010-04-01/Accounts/{}/Messages.json?{filter}={}&DateSent%3E={day}&PageSize={PAGE_SIZE}",
            self.sid,
            urlencode(&self.from),
        );
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let page = self.get(&url).await?;
            out.extend(page["messages"].as_array().cloned().unwrap_or_default());
            next = page["next_page_uri"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(String::from);
            if pages >= MAX_PAGES {
                tracing::warn!(account = self.account_id, "stopped after {MAX_PAGES} pages");
                break;
            }
        }
        Ok(out)
    }

    fn incoming(&self, m: &Value, media: Vec<RemoteAttachment>) -> Option<IncomingMessage> {
        let sid = m["sid"].as_str()?;
        let inbound = m["direction"].as_str() == Some("inbound");
        let customer = if inbound {
            m["from"].as_str()?
        } else {
            m["to"].as_str()?
        };
        let number = phone::from_international(customer);
        let sent_at = m["date_sent"]
            .as_str()
            .or(m["date_created"].as_str())
            .and_then(time::parse_rfc2822)
            .unwrap_or_else(now_ms);
        Some(IncomingMessage {
            external_id: sid.to_string(),
            direction: Some(if inbound {
                Direction::Inbound
            } else {
                Direction::Outbound
            }),
            thread_keys: vec![format!("wa:{number}")],
            counterpart: Some(Identity {
                kind: IdentityKind::Whatsapp,
                value: number.clone(),
                display_name: String::new(),
            }),
            sender_name: String::new(),
            sender_handle: if inbound {
                number
            } else {
                phone::from_international(&self.from)
            },
            recipients: vec![m["to"].as_str().unwrap_or("").to_string()],
            text: m["body"].as_str().unwrap_or("").to_string(),
            sent_at,
            raw: serde_json::to_vec(m).ok(),
            meta: json!({"twilio_status": m["status"]}),
            remote_attachments: media,
            ..Default::default()
        })
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The delivery state of one of our messages as Twilio reports it.
pub fn delivery_of(m: &Value) -> Option<(Delivery, Option<Error>)> {
    let status = m["status"].as_str()?;
    let delivery = match status {
        "sent" => Delivery::Sent,
        "delivered" => Delivery::Delivered,
        "read" => Delivery::Read,
        "failed" | "undelivered" => Delivery::Failed,
        _ => return None,
    };
    let error = (delivery == Delivery::Failed).then(|| {
        let code = m["error_code"].as_i64().unwrap_or(0);
        let message = m["error_message"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| match code {
                63016 => "outside the 24-hour window: only a template can be sent until the customer writes again".into(),
                _ => "Twilio could not deliver the message".into(),
            });
        Error::new(
            crate::http::twilio_code(code, reqwest::StatusCode::BAD_REQUEST),
            format!("{message} [Twilio error {code}]"),
        )
    });
    Some((delivery, error))
}

#[async_trait]
impl Channel for TwilioChannel {
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        let mut cursor = crate::cursor(&ctx.store, ctx.account.id, CURSOR)?;
        let since_ms = cursor.extra["since_ms"]
            .as_i64()
            .unwrap_or_else(|| now_ms() - FIRST_SYNC_DAYS * 86_400_000);
        // Day granularity: re-read the whole last day; the SID dedupes.
        let day = time::day_of(since_ms);
        let mut all = self.list("To", &day).await?;
        all.extend(self.list("From", &day).await?);
        let mut messages = Vec::new();
        let mut newest = since_ms;
        let mut statuses = Vec::new();
        for m in &all {
            let mut media = Vec::new();
            let num_media: u32 = match &m["num_media"] {
                Value::String(s) => s.parse().unwrap_or(0),
                v => v.as_u64().unwrap_or(0) as u32,
            };
            if num_media > 0
                && let Some(list) = m["subresource_uris"]["media"].as_str()
            {
                let list = self.get(list).await?;
                for item in list["media_list"].as_array().into_iter().flatten() {
                    let mime = item["content_type"]
                        .as_str()
                        .unwrap_or("application/octet-stream");
                    if let Some(uri) = item["uri"].as_str() {
                        media.push(RemoteAttachment {
                            filename: crate::default_file_name("media", mime),
                            mime_type: mime.into(),
                            remote_ref: uri.trim_end_matches(".json").to_string(),
                        });
                    }
                }
            }
            if let Some(msg) = self.incoming(m, media) {
                newest = newest.max(msg.sent_at);
                if msg.direction == Some(Direction::Outbound)
                    && let Some(s) = delivery_of(m)
                {
                    statuses.push((msg.external_id.clone(), s));
                }
                messages.push(msg);
            }
        }
        cursor.extra = json!({"since_ms": newest});
        let fetched = messages.len() as u32;
        let report = ctx.store.ingest(
            ctx.account.id,
            messages,
            Some(&cursor),
            IngestOptions::default(),
        )?;
        for (id, (delivery, error)) in statuses {
            ctx.store
                .set_delivery(ctx.account.id, &id, delivery, error.as_ref())?;
        }
        download_pending(&ctx.store, ctx.account.id, self).await?;
        let mut out = SyncReport {
            duplicates: report.duplicates,
            ..Default::default()
        };
        out.add(FolderReport {
            folder: CURSOR.into(),
            fetched,
            stored: report.stored,
            resynced: false,
        });
        Ok(out)
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let customer = item
            .message
            .to
            .first()
            .ok_or_else(|| Error::invalid("the reply has no recipient"))?;
        let to = if self.from.starts_with("whatsapp:") {
            format!("whatsapp:{customer}")
        } else {
            customer.clone()
        };
        let meta = self.store.message_meta(item.message_id)?;
        let mut form: Vec<(&str, String)> = vec![("From", self.from.clone()), ("To", to)];
        if let Some(t) = meta.get("template").filter(|t| !t.is_null()) {
            let sid = t["content_sid"]
                .as_str()
                .ok_or_else(|| Error::invalid("a Twilio template needs its ContentSid (HX...)"))?;
            form.push(("ContentSid", sid.to_string()));
            if let Some(vars) = t.get("variables").filter(|v| v.is_object()) {
                form.push(("ContentVariables", vars.to_string()));
            }
        } else {
            if self.from.starts_with("whatsapp:") {
                crate::whatsapp::check_window(&self.store, item)?;
            }
            // Twilio takes files only as public `MediaUrl`s: a file from this computer is
            // refused (`attachment_not_supported`) before asking the API.
            crate::limits::check_item(account, item)?;
            form.push(("Body", item.message.text.clone()));
        }
        let answer = self
            .api
            .json(
                self.api
                    .post(&format!("/2010-04-01/Accounts/{}/Messages.json", self.sid))
                    .basic_auth(&self.sid, Some(&self.token))
                    .form(&form),
            )
            .await?;
        let sid = answer["sid"].as_str().ok_or_else(|| {
            Error::new(
                ErrorCode::Protocol,
                "Twilio accepted the message without a SID",
            )
        })?;
        Ok(SendReceipt {
            external_id: Some(sid.to_string()),
        })
    }

    async fn test(&self) -> Result<()> {
        self.get(&format!("/2010-04-01/Accounts/{}.json", self.sid))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl MediaSource for TwilioChannel {
    async fn fetch(&self, pending: &PendingAttachment) -> Result<Option<Fetched>> {
        let response = self
            .api
            .get(&pending.remote_ref)
            .basic_auth(&self.sid, Some(&self.token))
            .send()
            .await
            .map_err(crate::http::transport_error)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = response.bytes().await.unwrap_or_default();
            return Err(crate::http::classify(Family::Twilio, status, &body).0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_63016_is_the_window_rule() {
        let m = json!({"sid":"SM1","status":"undelivered","error_code":63016,"error_message":null});
        let (d, e) = delivery_of(&m).unwrap();
        assert_eq!(d, Delivery::Failed);
        assert_eq!(e.unwrap().code, ErrorCode::OutsideWindow);
    }

    #[test]
    fn from_is_url_encoded() {
        assert_eq!(
            urlencode("whatsapp:+14155238886"),
            "whatsapp%3A%2B14155238886"
        );
    }
}
