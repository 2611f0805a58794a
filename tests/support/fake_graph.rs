//! Meta's Graph API as documented, for WhatsApp Cloud (phone number, media, messages,
//! templates) and Messenger/Instagram (Page conversations, messages, send): payload examples
//! from the docs, bearer tokens, paging links, and the documented errors (130429 throughput,
//! 131047 re-engagement, code 4 application rate limit, 190 expired token, expired media URLs).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha2::Digest;

use super::fake_http::{FakeServer, Request, Response};

pub const TOKEN: &str = "EAAG-test-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const WABA_ID: &str = "102290129340398";
pub const PAGE_ID: &str = "1234567890";
pub const IG_ID: &str = "17841400000000000";
/// Sending to this number answers 130429 (throughput exceeded).
pub const BUSY_NUMBER: &str = "393330000429";
/// Sending to this number answers 131047 (more than 24 hours since the customer wrote).
pub const STALE_NUMBER: &str = "393330131047";
pub const MEDIA_BYTES: &[u8] = b"\xff\xd8\xff\xe0 fake jpeg bytes";

#[derive(Default)]
pub struct GraphState {
    pub sent: AtomicU32,
    pub media_urls: AtomicU32,
    /// Answer the next N conversation-list calls with error code 4.
    pub rate_limit_next: AtomicU32,
    pub conversations: Mutex<Vec<Value>>,
    pub messages: Mutex<Vec<(String, Vec<Value>)>>,
    /// Files received by WhatsApp's `/media` and Instagram's `/message_attachments`, with the
    /// id handed back.
    pub uploads: Mutex<Vec<Upload>>,
    /// Every message accepted by `/{page-id}/messages`, multipart fields read back as JSON
    /// (the file under `filedata` as an [`Upload`]'s fields).
    pub page_sends: Mutex<Vec<Value>>,
    /// Graph errors `(status, code, subcode, message)` to answer to the next API calls,
    /// first in first out (an expired token, a revoked permission...).
    pub fail_next: Mutex<Vec<GraphError>>,
    /// `(n, error)`: the n-th API call from now (1 = the next) answers this Graph error.
    pub fail_nth: Mutex<Option<(u32, GraphError)>>,
}

/// A Graph error answer: `(HTTP status, code, error_subcode, message)`.
pub type GraphError = (u16, i64, i64, String);

/// A file as the fake received it in a multipart body.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    /// The multipart field it came in.
    pub field: String,
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
    /// The other (text) fields of the same body.
    pub fields: Vec<(String, String)>,
}

/// Reads the file part `field` of a multipart request; `Err` is the Graph error to answer
/// (a missing file, a part without a name or type: what Graph refuses too).
fn read_upload(r: &Request, field: &str, id: String) -> Result<Upload, Response> {
    let parts = r.multipart();
    if parts.is_empty() {
        return Err(error(
            400,
            100,
            "(#100) The request must be multipart/form-data",
            None,
        ));
    }
    let Some(file) = parts.iter().find(|p| p.name == field) else {
        return Err(error(
            400,
            100,
            &format!("(#100) The parameter {field} is required"),
            None,
        ));
    };
    let (Some(filename), Some(content_type)) = (file.filename.clone(), file.content_type.clone())
    else {
        return Err(error(
            400,
            100,
            "(#100) The file needs a file name and a type",
            None,
        ));
    };
    Ok(Upload {
        id,
        field: field.into(),
        filename,
        content_type,
        data: file.data.clone(),
        fields: parts
            .iter()
            .filter(|p| p.filename.is_none())
            .map(|p| {
                (
                    p.name.clone(),
                    String::from_utf8_lossy(&p.data).into_owned(),
                )
            })
            .collect(),
    })
}

fn field<'a>(u: &'a Upload, name: &str) -> Option<&'a str> {
    u.fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A Send API body: JSON, or multipart whose text fields hold JSON strings (`recipient`,
/// `message`) and plain values (`messaging_type`, `tag`).
fn page_send(s: &GraphState, r: &Request) -> Result<Value, Response> {
    if !r.multipart().is_empty() {
        let n = s.uploads.lock().unwrap().len() + 1;
        let upload = read_upload(r, "filedata", format!("inline{n}"))?;
        let mut body = json!({});
        for (k, v) in &upload.fields {
            body[k] = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
        }
        if body["message"]["attachment"]["type"].as_str().is_none() {
            return Err(error(
                400,
                100,
                "(#100) message.attachment.type is required",
                None,
            ));
        }
        body["filedata"] = json!({"filename": upload.filename, "content_type": upload.content_type,
            "size": upload.data.len()});
        s.uploads.lock().unwrap().push(upload);
        return Ok(body);
    }
    let body = r.json();
    if let Some(id) = body["message"]["attachment"]["payload"]["attachment_id"].as_str()
        && !s.uploads.lock().unwrap().iter().any(|u| u.id == id)
    {
        return Err(error(400, 100, "(#100) Invalid attachment_id", None));
    }
    Ok(body)
}

pub struct FakeGraph {
    pub server: FakeServer,
    pub state: Arc<GraphState>,
}

fn error(status: u16, code: i64, message: &str, details: Option<&str>) -> Response {
    let mut e =
        json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"});
    if let Some(d) = details {
        e["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
    }
    Response::json(status, json!({"error": e}))
}

impl FakeGraph {
    pub fn start() -> FakeGraph {
        let state = Arc::new(GraphState::default());
        let s = state.clone();
        let port = Arc::new(AtomicU32::new(0));
        let p = port.clone();
        let server = FakeServer::start(Arc::new(move |r: &Request| {
            handle(&s, p.load(Ordering::SeqCst), r)
        }));
        port.store(server.port as u32, Ordering::SeqCst);
        FakeGraph { server, state }
    }

    pub fn base(&self) -> String {
        self.server.base()
    }
}

fn handle(s: &GraphState, port: u32, r: &Request) -> Response {
    let path = r.path().to_string();
    // Media downloads are authorised by the same bearer token (WhatsApp) or by a signed URL.
    if let Some(rest) = path.strip_prefix("/media-file/") {
        let fresh = r.query("v").as_deref() == Some("2");
        return if rest == "MEDIA_OK"
            && fresh
            && r.header("authorization") == Some(&format!("Bearer {TOKEN}"))
        {
            Response::bytes("image/jpeg", MEDIA_BYTES)
        } else {
            // The first link handed out has expired (they last five minutes).
            Response::status(404)
        };
    }
    if path.starts_with("/cdn/") {
        return Response::bytes("image/png", b"\x89PNG story image");
    }
    if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return error(
            401,
            190,
            "Error validating access token: Session has expired",
            None,
        );
    }
    let nth = {
        let mut slot = s.fail_nth.lock().unwrap();
        match slot.as_mut() {
            Some((n, _)) if *n > 1 => {
                *n -= 1;
                None
            }
            Some(_) => slot.take().map(|(_, e)| e),
            None => None,
        }
    };
    let queued = nth.or_else(|| {
        let mut fail = s.fail_next.lock().unwrap();
        (!fail.is_empty()).then(|| fail.remove(0))
    });
    if let Some((status, code, subcode, message)) = queued {
        let mut e = json!({"message": message, "type": "OAuthException", "code": code,
            "fbtrace_id": "AbCdEf"});
        if subcode != 0 {
            e["error_subcode"] = json!(subcode);
        }
        return Response::json(status, json!({"error": e}));
    }
    let base = format!("http://127.0.0.1:{port}");
    match (r.method.as_str(), path.as_str()) {
        ("POST", p) if p == format!("/{PHONE_NUMBER_ID}/media") => {
            // WhatsApp's media upload: messaging_product, type (the file's MIME type), file.
            let n = s.uploads.lock().unwrap().len() + 1;
            let upload = match read_upload(r, "file", format!("UPLOADED{n}")) {
                Ok(u) => u,
                Err(e) => return e,
            };
            if field(&upload, "messaging_product") != Some("whatsapp") {
                return error(
                    400,
                    100,
                    "(#100) The parameter messaging_product is required.",
                    None,
                );
            }
            if field(&upload, "type") != Some(upload.content_type.as_str()) {
                return error(
                    400,
                    131053,
                    "(#131053) Media upload error",
                    Some("The type field does not match the file's type."),
                );
            }
            let id = upload.id.clone();
            s.uploads.lock().unwrap().push(upload);
            Response::json(200, json!({"id": id}))
        }
        ("POST", p) if p == format!("/{PAGE_ID}/message_attachments") => {
            // Instagram's Attachment Upload API: platform, message, filedata.
            let n = s.uploads.lock().unwrap().len() + 1;
            let upload = match read_upload(r, "filedata", format!("ATT{n}")) {
                Ok(u) => u,
                Err(e) => return e,
            };
            let message: Value = field(&upload, "message")
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            if message["attachment"]["type"].as_str().is_none() {
                return error(400, 100, "(#100) message.attachment.type is required", None);
            }
            let id = upload.id.clone();
            s.uploads.lock().unwrap().push(upload);
            Response::json(200, json!({"attachment_id": id}))
        }
        ("GET", p) if p == format!("/{PHONE_NUMBER_ID}") => Response::json(
            200,
            json!({
            "verified_name": "Bottega Rossi", "display_phone_number": "+39 02 1234 5678", "id": PHONE_NUMBER_ID}),
        ),
        ("GET", "/MEDIA_OK") => {
            let n = s.media_urls.fetch_add(1, Ordering::SeqCst) + 1;
            Response::json(
                200,
                json!({
                "messaging_product": "whatsapp",
                "url": format!("{base}/media-file/MEDIA_OK?v={n}"),
                "mime_type": "image/jpeg",
                "sha256": hex::encode(sha2::Sha256::digest(MEDIA_BYTES)),
                "file_size": MEDIA_BYTES.len(),
                "id": "MEDIA_OK"}),
            )
        }
        ("GET", "/MEDIA_GONE") => error(400, 100, "(#100) Invalid parameter", None),
        ("POST", p) if p == format!("/{PHONE_NUMBER_ID}/messages") => {
            let body = r.json();
            let to = body["to"].as_str().unwrap_or("").to_string();
            if to == BUSY_NUMBER {
                return error(
                    400,
                    130429,
                    "(#130429) Rate limit hit",
                    Some("Cloud API message throughput has been reached."),
                );
            }
            if to == STALE_NUMBER {
                return error(
                    400,
                    131047,
                    "(#131047) Re-engagement message",
                    Some(
                        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                    ),
                );
            }
            let kind = body["type"].as_str().unwrap_or("");
            if matches!(kind, "image" | "video" | "audio" | "document")
                && let Some(id) = body[kind]["id"].as_str()
                && !s.uploads.lock().unwrap().iter().any(|u| u.id == id)
            {
                return error(400, 100, "(#100) Invalid parameter", None);
            }
            let n = s.sent.fetch_add(1, Ordering::SeqCst) + 1;
            Response::json(
                200,
                json!({"messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": format!("wamid.SENT{n}")}]}),
            )
        }
        ("GET", p) if p == format!("/{WABA_ID}/message_templates") => {
            if r.query("after").is_none() {
                Response::json(
                    200,
                    json!({"data": [
                    {"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY", "id": "1",
                     "components": [{"type": "HEADER", "format": "TEXT", "text": "Hello World"}, {"type": "BODY", "text": "Welcome and congratulations!!"}]}],
                    "paging": {"cursors": {"before": "A", "after": "B"}, "next": format!("{base}/{WABA_ID}/message_templates?limit=1&after=B")}}),
                )
            } else {
                Response::json(
                    200,
                    json!({"data": [
                    {"name": "ordine_spedito", "language": "it", "status": "APPROVED", "category": "UTILITY", "id": "2",
                     "components": [{"type": "BODY", "text": "Ciao {{1}}, il tuo ordine {{2}} è partito."}]}],
                    "paging": {"cursors": {"before": "B", "after": "C"}}}),
                )
            }
        }
        ("GET", p) if p == format!("/{PAGE_ID}") || p == format!("/{IG_ID}") => {
            Response::json(200, json!({"id": PAGE_ID, "name": "Bottega Rossi"}))
        }
        ("GET", p) if p == format!("/{PAGE_ID}/conversations") => {
            if s.rate_limit_next.load(Ordering::SeqCst) > 0 {
                s.rate_limit_next.fetch_sub(1, Ordering::SeqCst);
                return error(403, 4, "(#4) Application request limit reached", None);
            }
            Response::json(
                200,
                json!({"data": s.conversations.lock().unwrap().clone()}),
            )
        }
        ("POST", p) if p == format!("/{PAGE_ID}/messages") => {
            let body = match page_send(s, r) {
                Ok(b) => b,
                Err(e) => return e,
            };
            // Outside the standard window only a tagged human reply is allowed.
            if body["messaging_type"] == "MESSAGE_TAG" && body["tag"] != "HUMAN_AGENT" {
                return error(400, 100, "(#100) Tag is not valid", None);
            }
            let n = s.sent.fetch_add(1, Ordering::SeqCst) + 1;
            s.page_sends.lock().unwrap().push(body.clone());
            Response::json(
                200,
                json!({"recipient_id": body["recipient"]["id"], "message_id": format!("m_sent{n}")}),
            )
        }
        ("GET", p) => {
            let id = p.trim_start_matches('/');
            let found = s
                .messages
                .lock()
                .unwrap()
                .iter()
                .find(|(c, _)| c == id)
                .map(|(_, m)| m.clone());
            match found {
                Some(messages) => {
                    Response::json(200, json!({"messages": {"data": messages}, "id": id}))
                }
                None => error(404, 100, "Unsupported get request.", None),
            }
        }
        _ => error(400, 100, "Unsupported request", None),
    }
}
