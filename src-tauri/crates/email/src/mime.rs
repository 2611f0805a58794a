//! One raw email (RFC 5322 bytes) into an [`IncomingMessage`]: decoded text and sanitised HTML,
//! attachments, threading keys, direction and counterpart. Never fails: a message that cannot
//! be parsed is still stored, with its source and a `parse_error`.

use std::cell::Cell;
use std::sync::LazyLock;

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};
use sportello_core::model::{
    Direction, Identity, IdentityKind, IncomingAttachment, IncomingMessage,
};
use sportello_core::now_ms;
use sportello_core::threading::{normalize_email, normalize_message_id, normalize_subject};

/// Parses one message as seen by the account whose address is `own_address`.
/// `received_at` (e.g. the IMAP INTERNALDATE, ms) dates messages without a usable Date header.
pub fn parse_message(raw: Vec<u8>, own_address: &str, received_at: Option<i64>) -> IncomingMessage {
    parse_message_for(raw, &[own_address.to_string()], received_at)
}

/// [`parse_message`] for mail that may be from any of several own addresses (imports).
pub fn parse_message_for(
    raw: Vec<u8>,
    own_addresses: &[String],
    received_at: Option<i64>,
) -> IncomingMessage {
    let own: Vec<String> = own_addresses
        .iter()
        .map(|a| normalize_email(a))
        .filter(|a| !a.is_empty())
        .collect();
    let parsed = MessageParser::default().parse(&raw[..]);
    let (mut m, error) = match parsed {
        Some(msg) if has_usable_headers(&msg) => (from_parsed(&msg, &own, received_at), None),
        Some(_) => (
            IncomingMessage::default(),
            Some("the message has no usable headers"),
        ),
        None => (
            IncomingMessage::default(),
            Some("the message could not be parsed"),
        ),
    };
    if let Some(error) = error {
        m = unparseable(&raw, received_at, error);
    }
    m.raw = Some(raw);
    m
}

fn sha256_id(raw: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(raw)))
}

fn unparseable(raw: &[u8], received_at: Option<i64>, error: &str) -> IncomingMessage {
    // Some text for search and the list preview; the source itself is shown as is.
    let text: String = String::from_utf8_lossy(&raw[..raw.len().min(16 * 1024)]).into_owned();
    IncomingMessage {
        external_id: sha256_id(raw),
        direction: Some(Direction::Inbound),
        text,
        sent_at: received_at.unwrap_or_else(now_ms),
        parse_error: Some(error.to_string()),
        meta: serde_json::json!({}),
        ..Default::default()
    }
}

fn has_usable_headers(msg: &mail_parser::Message) -> bool {
    msg.from().is_some()
        || msg.to().is_some()
        || msg.subject().is_some()
        || msg.message_id().is_some()
        || msg.date().is_some()
        || msg.sender().is_some()
}

/// The ids of a header holding one or more Message-IDs (In-Reply-To, References).
fn id_list(value: &HeaderValue) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for item in raw {
        // Some senders put several ids in one token; split on whitespace and brackets.
        for id in item.split(|c: char| c.is_whitespace() || c == ',') {
            let id = normalize_message_id(id);
            if !id.is_empty() && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

struct Person {
    address: String,
    name: String,
}

fn people(address: Option<&Address>) -> Vec<Person> {
    address
        .map(|a| {
            a.iter()
                .filter_map(|addr| {
                    let address = normalize_email(addr.address.as_deref()?);
                    if address.is_empty() {
                        return None;
                    }
                    let name = addr
                        .name
                        .as_deref()
                        .unwrap_or("")
                        .trim()
                        .trim_matches('"')
                        .trim();
                    Some(Person {
                        address,
                        name: name.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn from_parsed(
    msg: &mail_parser::Message,
    own: &[String],
    received_at: Option<i64>,
) -> IncomingMessage {
    let message_id = msg
        .message_id()
        .map(normalize_message_id)
        .filter(|id| !id.is_empty());
    let in_reply_to = id_list(msg.in_reply_to());
    let references = id_list(msg.references());

    let from = people(msg.from())
        .into_iter()
        .next()
        .or_else(|| people(msg.sender()).into_iter().next());
    let to = people(msg.to());
    let cc = people(msg.cc());
    let reply_to = people(msg.reply_to()).into_iter().next();

    let outbound = from.as_ref().is_some_and(|f| own.contains(&f.address));
    let counterpart = if outbound {
        to.iter()
            .chain(cc.iter())
            .find(|p| !own.contains(&p.address))
    } else {
        from.as_ref()
    }
    .map(|p| Identity {
        kind: IdentityKind::Email,
        value: p.address.clone(),
        display_name: p.name.clone(),
    });

    let subject = msg.subject().unwrap_or("").trim().to_string();

    let mut thread_keys: Vec<String> = Vec::new();
    for id in message_id
        .iter()
        .chain(in_reply_to.iter())
        .chain(references.iter())
    {
        if !thread_keys.contains(id) {
            thread_keys.push(id.clone());
        }
    }
    let normalized_subject = normalize_subject(&subject);
    let fallback_thread_key = counterpart
        .as_ref()
        .filter(|_| !normalized_subject.is_empty())
        .map(|c| format!("{}|{}", c.value, normalized_subject));

    let sent_at = msg
        .date()
        .filter(|d| d.is_valid() && d.year >= 1980)
        .map(|d| d.to_timestamp() * 1000)
        // A date far in the future is a broken clock, not a fact.
        .filter(|&t| t <= now_ms() + 2 * 86_400_000)
        .or(received_at)
        .unwrap_or_else(now_ms);

    let (mut text, mut html) = bodies(msg);
    // A truncated multipart (no closing boundary) leaves its text as an "attachment": when
    // there is no body at all, an unnamed text part is the body.
    let mut promoted = None;
    if text.trim().is_empty() && html.is_none() {
        for &id in &msg.attachments {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            let unnamed = part.attachment_name().is_none()
                && !part
                    .content_disposition()
                    .is_some_and(|d| d.is_attachment());
            match &part.body {
                PartType::Text(t) if unnamed => {
                    text = t.replace("\r\n", "\n").trim_end().to_string()
                }
                PartType::Html(h) if unnamed => {
                    text = mail_parser::decoders::html::html_to_text(h)
                        .trim_end()
                        .to_string();
                    html = Some(h.to_string());
                }
                _ => continue,
            }
            promoted = Some(id);
            break;
        }
    }
    let (html, has_remote_content) = match html {
        Some(h) => {
            let (clean, remote) = sanitize_html(&h);
            (Some(clean), remote)
        }
        None => (None, false),
    };

    let header_text = |name: &str| msg.header_raw(name).map(|v| v.trim().to_string());
    let list_id = msg
        .list_id()
        .as_text()
        .map(|s| s.trim().to_string())
        .or_else(|| header_text("List-Id"));
    let meta = serde_json::json!({
        "message_id": message_id,
        "in_reply_to": in_reply_to.first(),
        "references": references,
        "reply_to": reply_to.as_ref().map(|p| p.address.clone()),
        "auto_submitted": header_text("Auto-Submitted"),
        "list_id": list_id,
        // Facts for never auto-replying to machines (RFC 3834, bulk mail, bounces).
        "precedence": header_text("Precedence"),
        "return_path": header_text("Return-Path"),
        "auto_reply_header": header_text("X-Autoreply").is_some()
            || header_text("X-Autorespond").is_some(),
    });

    let external_id = message_id
        .clone()
        .unwrap_or_else(|| sha256_id(msg.raw_message()));
    let (sender_name, sender_handle) = match &from {
        Some(f) => (f.name.clone(), f.address.clone()),
        None => (String::new(), String::new()),
    };

    IncomingMessage {
        external_id,
        direction: Some(if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        }),
        thread_keys,
        fallback_thread_key,
        counterpart,
        sender_name,
        sender_handle,
        recipients: to
            .iter()
            .chain(cc.iter())
            .map(|p| p.address.clone())
            .collect(),
        subject,
        text,
        html,
        has_remote_content,
        sent_at,
        is_read: false,
        raw: None,
        parse_error: None,
        attachments: attachments(msg, promoted),
        location: None,
        meta,
        ..Default::default()
    }
}

/// The plain text (every text body, or the HTML turned into text) and the real HTML, if any.
fn bodies(msg: &mail_parser::Message) -> (String, Option<String>) {
    let mut text = String::new();
    for i in 0..msg.text_body_count() {
        if let Some(t) = msg.body_text(i) {
            if !text.is_empty() && !t.is_empty() {
                text.push('\n');
            }
            text.push_str(t.trim_end_matches(['\r', '\n']));
        }
    }
    let mut html = String::new();
    for part in msg.html_bodies() {
        if let PartType::Html(h) = &part.body {
            html.push_str(h);
        }
    }
    let text = text.replace("\r\n", "\n");
    (text, (!html.trim().is_empty()).then_some(html))
}

fn attachments(msg: &mail_parser::Message, promoted: Option<u32>) -> Vec<IncomingAttachment> {
    msg.attachments
        .iter()
        .filter(|&&id| Some(id) != promoted)
        .filter_map(|&id| msg.parts.get(id as usize).map(|part| (id, part)))
        .map(|(id, part)| {
            let mime_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| match part.body {
                    PartType::Message(_) => "message/rfc822".to_string(),
                    PartType::Text(_) => "text/plain".to_string(),
                    PartType::Html(_) => "text/html".to_string(),
                    _ => "application/octet-stream".to_string(),
                })
                .to_ascii_lowercase();
            let content_id = part
                .content_id()
                .map(normalize_message_id)
                .filter(|id| !id.is_empty());
            let disposition = part.content_disposition();
            let inline = match disposition {
                Some(d) if d.is_attachment() => false,
                Some(d) if d.is_inline() => true,
                _ => content_id.is_some(),
            };
            let filename = part
                .attachment_name()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| default_name(&mime_type));
            IncomingAttachment {
                filename,
                mime_type,
                content_id,
                inline,
                // Extracted again the same way by `sportello_core`'s `extract_part`.
                data: part.contents().to_vec(),
                source_part: Some(id),
            }
        })
        .collect()
}

fn default_name(mime_type: &str) -> String {
    let ext = match mime_type {
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        _ => "bin",
    };
    format!("attachment.{ext}")
}

thread_local! {
    static SAW_REMOTE: Cell<bool> = const { Cell::new(false) };
}

fn is_remote_url(value: &str) -> bool {
    let v = value.trim_start().to_ascii_lowercase();
    v.starts_with("http://") || v.starts_with("https://") || v.starts_with("//")
}

fn style_loads_remote(style: &str) -> bool {
    let lower = style.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        let arg = rest[at + 4..].trim_start().trim_start_matches(['"', '\'']);
        if is_remote_url(arg) {
            return true;
        }
        rest = &rest[at + 4..];
    }
    lower.contains("@import")
}

const QUOTE_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_attr",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-signature",
];

/// The one HTML policy: no scripts, event handlers, forms, frames or embedded objects;
/// inline styles, `cid:` and `data:` images kept; remote images kept but reported, so the
/// UI can block them (CSP) until the user allows them.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags([
        "font", "center", "big", "small", "u", "s", "strike", "span", "div",
    ])
    .add_generic_attributes([
        "style", "align", "valign", "bgcolor", "width", "height", "dir",
    ])
    .add_tag_attributes("font", ["color", "face", "size"])
    .add_tag_attributes(
        "table",
        ["border", "cellpadding", "cellspacing", "background"],
    )
    .add_tag_attributes("td", ["background", "nowrap"])
    .add_tag_attributes("img", ["src", "alt", "width", "height", "border"])
    // The markers of a quote or a signature, kept so the thread view can fold them
    // (sportello_core::quotes::html_folds); every other class and id is dropped.
    .add_tag_attributes("blockquote", ["type"])
    .add_tag_attributes("div", ["id"])
    .add_allowed_classes("div", QUOTE_CLASSES)
    .add_allowed_classes("blockquote", QUOTE_CLASSES)
    .add_allowed_classes("span", QUOTE_CLASSES)
    .url_schemes(["http", "https", "mailto", "tel", "cid", "data"].into())
    .url_relative(ammonia::UrlRelative::Deny)
    .link_rel(Some("noopener noreferrer"))
    .attribute_filter(|element, attribute, value| {
        if attribute == "id" && value != "divRplyFwdMsg" {
            return None;
        }
        if element == "blockquote" && attribute == "type" && !value.eq_ignore_ascii_case("cite") {
            return None;
        }
        let remote = match attribute {
            "src" | "background" | "srcset" | "poster" => is_remote_url(value),
            "style" => style_loads_remote(value),
            _ => false,
        };
        if remote {
            SAW_REMOTE.with(|s| s.set(true));
        }
        Some(value.into())
    });
    b
});

/// Sanitises an email's HTML; returns it and whether it loads remote content.
pub fn sanitize_html(html: &str) -> (String, bool) {
    SAW_REMOTE.with(|s| s.set(false));
    let clean = SANITIZER.clean(html).to_string();
    let remote = SAW_REMOTE.with(|s| s.get());
    (clean, remote)
}

#[cfg(test)]
mod tests;
