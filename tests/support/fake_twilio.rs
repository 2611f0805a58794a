//! Twilio's Messages API as documented: the Messages list filtered by `To`/`From` and
//! `DateSent>=`, paged by `next_page_uri`; the Media list; sending; HTTP Basic auth with the
//! account SID; and error 63016 (outside the WhatsApp 24-hour window).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::fake_http::{FakeServer, Request, Response};

pub const SID: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const TOKEN: &str = "twilio-auth-token";
pub const FROM: &str = "whatsapp:+14155238886";
/// Sending free text to this number answers 63016.
pub const STALE: &str = "whatsapp:+393330063016";

#[derive(Default)]
pub struct TwilioState {
    pub messages: Mutex<Vec<Value>>,
    pub sent: AtomicU32,
    pub page_size_seen: Mutex<Vec<String>>,
}

pub struct FakeTwilio {
    pub server: FakeServer,
    pub state: Arc<TwilioState>,
}

impl FakeTwilio {
    pub fn start() -> FakeTwilio {
        let state = Arc::new(TwilioState::default());
        let s = state.clone();
        let server = FakeServer::start(Arc::new(move |r: &Request| handle(&s, r)));
        FakeTwilio { server, state }
    }

    /// A message resource as the docs show it.
    pub fn message(
        sid: &str,
        from: &str,
        to: &str,
        body: &str,
        direction: &str,
        status: &str,
        date: &str,
    ) -> Value {
        json!({"account_sid": SID, "api_version": "2010-04-01", "body": body, "date_created": date,
            "date_sent": date, "date_updated": date, "direction": direction, "error_code": null,
            "error_message": null, "from": from, "messaging_service_sid": null, "num_media": "0",
            "num_segments": "1", "price": null, "price_unit": "USD", "sid": sid, "status": status,
            "subresource_uris": {"media": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}/Media.json")},
            "to": to, "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{sid}.json")})
    }
}

fn basic_ok(r: &Request) -> bool {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    r.header("authorization") == Some(expected.as_str())
}

fn handle(s: &TwilioState, r: &Request) -> Response {
    if !basic_ok(r) {
        return Response::json(
            401,
            json!({"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}),
        );
    }
    let path = r.path().to_string();
    let list = format!("/2010-04-01/Accounts/{SID}/Messages.json");
    if r.method == "GET" && path == format!("/2010-04-01/Accounts/{SID}.json") {
        return Response::json(
            200,
            json!({"sid": SID, "friendly_name": "Bottega", "status": "active"}),
        );
    }
    if r.method == "GET" && path == list {
        let to = r.query("To");
        let from = r.query("From");
        let page: usize = r.query("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let size: usize = r
            .query("PageSize")
            .and_then(|p| p.parse().ok())
            .unwrap_or(50)
            .min(2);
        s.page_size_seen
            .lock()
            .unwrap()
            .push(r.query("DateSent>").unwrap_or_default());
        let all: Vec<Value> = s
            .messages
            .lock()
            .unwrap()
            .iter()
            .filter(|m| {
                to.as_deref().is_none_or(|t| m["to"] == t)
                    && from.as_deref().is_none_or(|f| m["from"] == f)
            })
            .cloned()
            .collect();
        let chunk: Vec<Value> = all.iter().skip(page * size).take(size).cloned().collect();
        let more = all.len() > (page + 1) * size;
        let filter = match (&to, &from) {
            (Some(t), _) => format!("To={}", t.replace(':', "%3A").replace('+', "%2B")),
            (_, Some(f)) => format!("From={}", f.replace(':', "%3A").replace('+', "%2B")),
            _ => String::new(),
        };
        // Like Twilio's, the next page's URI keeps the filters.
        let day = r.query("DateSent>").unwrap_or_default();
        let next = more.then(|| {
            format!(
                "{list}?{filter}&DateSent%3E={day}&PageSize={size}&Page={}&PageToken=PA{}",
                page + 1,
                page + 1
            )
        });
        return Response::json(
            200,
            json!({"messages": chunk, "page": page, "page_size": size,
            "first_page_uri": format!("{list}?{filter}&PageSize={size}&Page=0"),
            "next_page_uri": next, "previous_page_uri": null, "uri": r.target}),
        );
    }
    if r.method == "GET" && path.ends_with("/Media.json") {
        let msg = path.split('/').nth(5).unwrap_or("");
        return Response::json(
            200,
            json!({"media_list": [{"sid": "ME1", "content_type": "image/jpeg", "parent_sid": msg,
            "uri": format!("/2010-04-01/Accounts/{SID}/Messages/{msg}/Media/ME1.json")}], "next_page_uri": null}),
        );
    }
    if r.method == "GET" && path.contains("/Media/") {
        return Response::bytes("image/jpeg", b"twilio media bytes");
    }
    if r.method == "POST" && path == list {
        let to = r.form("To").unwrap_or_default();
        if to == STALE && r.form("Body").is_some() {
            return Response::json(
                400,
                json!({"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template.", "more_info": "https://www.twilio.com/docs/errors/63016", "status": 400}),
            );
        }
        let n = s.sent.fetch_add(1, Ordering::SeqCst) + 1;
        return Response::json(
            201,
            json!({"sid": format!("SMsent{n}"), "status": "queued", "to": to, "from": r.form("From"), "body": r.form("Body")}),
        );
    }
    Response::json(
        404,
        json!({"code": 20404, "message": "The requested resource was not found", "status": 404}),
    )
}
