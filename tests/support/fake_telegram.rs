//! Telegram's Bot API as documented: `getMe`, `getUpdates` (offset confirms, `timeout` long
//! polls), `getFile` + the file download URL, `sendMessage`, and a 429 with `retry_after`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fake_http::{FakeServer, Request, Response};

pub const TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";

#[derive(Default)]
pub struct TelegramState {
    /// Updates not yet confirmed by an offset above their id.
    pub pending: Mutex<Vec<Value>>,
    /// Answer the next N sendMessage calls with 429.
    pub throttle_next: AtomicU32,
    /// Answer the next N getUpdates calls with 429 and `retry_after` 1.
    pub throttle_updates_next: AtomicU32,
    /// The `retry_after` those 429s ask for, in seconds (0 means 1).
    pub updates_retry_after: AtomicU32,
    pub sent: AtomicU32,
    /// Files received by sendPhoto/sendDocument: (method, field, file name, type, bytes,
    /// caption).
    pub files: Mutex<Vec<SentFile>>,
}

#[derive(Debug, Clone)]
pub struct SentFile {
    pub method: String,
    pub chat_id: String,
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub caption: Option<String>,
}

pub struct FakeTelegram {
    pub server: FakeServer,
    pub state: Arc<TelegramState>,
}

fn fail(status: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut v = json!({"ok": false, "error_code": status, "description": description});
    if let Some(s) = retry_after {
        v["parameters"] = json!({"retry_after": s});
    }
    Response::json(status, v)
}

impl FakeTelegram {
    pub fn start() -> FakeTelegram {
        let state = Arc::new(TelegramState::default());
        let s = state.clone();
        let server = FakeServer::start(Arc::new(move |r: &Request| handle(&s, r)));
        FakeTelegram { server, state }
    }

    pub fn push(&self, update: Value) {
        self.state.pending.lock().unwrap().push(update);
    }

    /// The example private text message of the Bot API docs, with our ids.
    pub fn text_update(update_id: i64, message_id: i64, text: &str) -> Value {
        json!({"update_id": update_id, "message": {"message_id": message_id, "date": 1441645532,
            "from": {"id": 1111111, "is_bot": false, "first_name": "Mario", "last_name": "Rossi", "username": "mrossi", "language_code": "it"},
            "chat": {"id": 1111111, "first_name": "Mario", "last_name": "Rossi", "username": "mrossi", "type": "private"},
            "text": text}})
    }
}

fn handle(s: &TelegramState, r: &Request) -> Response {
    let path = r.path();
    if let Some(file) = path.strip_prefix(&format!("/file/bot{TOKEN}/")) {
        return Response::bytes("image/jpeg", format!("photo:{file}").as_bytes());
    }
    let Some(method) = path.strip_prefix(&format!("/bot{TOKEN}/")) else {
        return fail(401, "Unauthorized", None);
    };
    let params = r.json();
    if matches!(method, "sendPhoto" | "sendDocument") {
        // Files are uploaded as multipart/form-data: chat_id, the file under `photo` or
        // `document` with its name and type, an optional caption (at most 1024 characters).
        let field = if method == "sendPhoto" {
            "photo"
        } else {
            "document"
        };
        let Some(chat_id) = r.part_text("chat_id") else {
            return fail(400, "Bad Request: chat_id is empty", None);
        };
        let Some(file) = r.part(field).filter(|p| p.filename.is_some()) else {
            return fail(
                400,
                &format!("Bad Request: there is no {field} in the request"),
                None,
            );
        };
        let Some(content_type) = file.content_type.clone() else {
            return fail(400, "Bad Request: the file has no type", None);
        };
        if method == "sendPhoto" && file.data.len() > 10 * 1024 * 1024 {
            return fail(400, "Bad Request: PHOTO_INVALID_DIMENSIONS", None);
        }
        let caption = r.part_text("caption");
        if caption.as_ref().is_some_and(|c| c.chars().count() > 1024) {
            return fail(400, "Bad Request: message caption is too long", None);
        }
        s.files.lock().unwrap().push(SentFile {
            method: method.into(),
            chat_id: chat_id.clone(),
            filename: file.filename.clone().unwrap_or_default(),
            content_type,
            data: file.data.clone(),
            caption: caption.clone(),
        });
        let n = s.sent.fetch_add(1, Ordering::SeqCst) + 1;
        return Response::json(
            200,
            json!({"ok": true, "result": {"message_id": 9000 + n, "date": 1441645600,
            "chat": {"id": chat_id.parse::<i64>().unwrap_or(0), "type": "private"}, "caption": caption}}),
        );
    }
    match method {
        "getMe" => Response::json(
            200,
            json!({"ok": true, "result": {"id": 123456, "is_bot": true, "first_name": "Bottega", "username": "bottega_bot"}}),
        ),
        "getUpdates" => {
            if s.throttle_updates_next.load(Ordering::SeqCst) > 0 {
                s.throttle_updates_next.fetch_sub(1, Ordering::SeqCst);
                let wait = s.updates_retry_after.load(Ordering::SeqCst).max(1) as u64;
                return fail(
                    429,
                    &format!("Too Many Requests: retry after {wait}"),
                    Some(wait),
                );
            }
            let offset = params["offset"].as_i64().unwrap_or(0);
            let mut pending = s.pending.lock().unwrap();
            // Asking with an offset confirms every update below it.
            pending.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            let limit = params["limit"].as_u64().unwrap_or(100) as usize;
            let result: Vec<Value> = pending.iter().take(limit).cloned().collect();
            Response::json(200, json!({"ok": true, "result": result}))
        }
        "getFile" => {
            let id = params["file_id"].as_str().unwrap_or("");
            if id == "gone" {
                return fail(400, "Bad Request: invalid file_id", None);
            }
            Response::json(
                200,
                json!({"ok": true, "result": {"file_id": id, "file_unique_id": "u", "file_size": 10, "file_path": format!("photos/{id}.jpg")}}),
            )
        }
        "sendMessage" => {
            if s.throttle_next.load(Ordering::SeqCst) > 0 {
                s.throttle_next.fetch_sub(1, Ordering::SeqCst);
                let wait = s.updates_retry_after.load(Ordering::SeqCst).max(1) as u64;
                return fail(
                    429,
                    &format!("Too Many Requests: retry after {wait}"),
                    Some(wait),
                );
            }
            let n = s.sent.fetch_add(1, Ordering::SeqCst) + 1;
            Response::json(
                200,
                json!({"ok": true, "result": {"message_id": 9000 + n, "date": 1441645600,
                "chat": {"id": params["chat_id"], "type": "private"}, "text": params["text"]}}),
            )
        }
        _ => fail(404, "Not Found: method not found", None),
    }
}
