//! The HTTP client every chat channel shares: a configurable base URL (so tests and
//! self-hosted proxies can stand in for the provider), a minimum spacing between calls (Graph
//! allows about 2 calls/s per Page), and one place that turns each provider's error answers
//! into Sportello's error codes — rate limits waited out when the wait is short, otherwise
//! reported as `rate_limited` so the worker backs off instead of hammering.

use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use sportello_core::{Error, ErrorCode, Result};

/// Whose error format an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Meta's Graph API (WhatsApp Cloud, Messenger, Instagram): `{"error": {"code", ...}}`.
    Graph,
    /// Twilio's REST API: `{"code", "message", "status"}`.
    Twilio,
    /// Telegram's Bot API: `{"ok": false, "error_code", "description", "parameters"}`.
    Telegram,
}

/// How long a rate-limit wait may be slept through inside one call before giving up and
/// letting the worker back off.
const INLINE_WAIT: Duration = Duration::from_secs(5);
const ATTEMPTS: u32 = 3;

pub struct Api {
    client: reqwest::Client,
    base: String,
    family: Family,
    min_interval: Duration,
    last_call: tokio::sync::Mutex<Option<Instant>>,
    inline_wait: Duration,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The shared connection pool (one per process).
fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(15))
                .timeout(Duration::from_secs(90))
                .user_agent(concat!("Sportello/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("HTTP client")
        })
        .clone()
}

impl Api {
    pub fn new(base: &str, family: Family) -> Api {
        Api {
            client: client(),
            base: base.trim_end_matches('/').to_string(),
            family,
            min_interval: Duration::ZERO,
            last_call: tokio::sync::Mutex::new(None),
            inline_wait: INLINE_WAIT,
        }
    }

    /// Keeps at least `interval` between two calls of this client.
    pub fn with_min_interval(mut self, interval: Duration) -> Api {
        self.min_interval = interval;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `path` under the base URL; a full URL (a provider's "next page" link) is kept.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{path}", self.base)
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    async fn throttle(&self) {
        if self.min_interval.is_zero() {
            return;
        }
        let mut last = self.last_call.lock().await;
        if let Some(at) = *last {
            let next = at + self.min_interval;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        *last = Some(Instant::now());
    }

    /// Sends a request and returns the body of a successful answer. Short rate-limit waits
    /// are slept through (a request that cannot be repeated, such as an upload, is not).
    pub async fn send(&self, request: RequestBuilder) -> Result<bytes::Bytes> {
        let mut request = request;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let retry = request.try_clone();
            self.throttle().await;
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let header_wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response.bytes().await.map_err(transport_error)?;
            if status.is_success() && !telegram_not_ok(self.family, &body) {
                return Ok(body);
            }
            let (error, wait) = classify(self.family, status, &body);
            let wait = wait.or(header_wait);
            if error.code == ErrorCode::RateLimited
                && attempt < ATTEMPTS
                && let Some(next) = retry
            {
                let wait = wait.unwrap_or(Duration::from_secs(1));
                if wait <= self.inline_wait {
                    tracing::info!(?wait, "rate limited; waiting before trying again");
                    tokio::time::sleep(wait).await;
                    request = next;
                    continue;
                }
            }
            // A longer wait is the worker's: it sleeps at least this long before the next pass.
            return Err(match (error.code, wait) {
                (ErrorCode::RateLimited, Some(wait)) => error.with_retry_after(wait),
                _ => error,
            });
        }
    }

    pub async fn json(&self, request: RequestBuilder) -> Result<Value> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::new(
                ErrorCode::Protocol,
                format!("the server sent an answer that is not JSON: {e}"),
            )
        })
    }
}

fn telegram_not_ok(family: Family, body: &[u8]) -> bool {
    family == Family::Telegram
        && serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("ok").and_then(Value::as_bool))
            == Some(false)
}

/// A transport failure, without the URL (a Telegram URL carries the bot token).
pub fn transport_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        Error::new(ErrorCode::Network, "the server did not answer in time")
    } else if e.is_connect() {
        Error::new(
            ErrorCode::Network,
            format!("cannot connect to the server: {e}"),
        )
    } else {
        Error::new(ErrorCode::Network, format!("network error: {e}"))
    }
}

/// Graph error codes that mean "slow down": app (4), user (17), custom (32) and per-call
/// (613) rate limits, Page/Instagram business use-case limits (80001-80009), WhatsApp's
/// throughput (130429), spam (131048) and pair (131056) limits.
pub fn graph_rate_limited(code: i64) -> bool {
    matches!(
        code,
        4 | 17 | 32 | 613 | 80001..=80009 | 130429 | 131048 | 131056
    )
}

/// Turns an error answer into a coded error, with the wait the provider asked for.
pub fn classify(family: Family, status: StatusCode, body: &[u8]) -> (Error, Option<Duration>) {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match family {
        Family::Graph => {
            let err = &json["error"];
            let code = err["code"].as_i64().unwrap_or(0);
            let subcode = err["error_subcode"].as_i64().unwrap_or(0);
            let mut message = err["message"].as_str().unwrap_or("").to_string();
            if let Some(details) = err["error_data"]["details"].as_str()
                && !message.contains(details)
            {
                message = format!("{message} ({details})");
            }
            if message.is_empty() {
                message = format!("the server answered {status}");
            }
            let code_of = if graph_rate_limited(code) {
                ErrorCode::RateLimited
            } else if code == 131047 || (code == 10 && subcode == 2018278) || subcode == 2534022 {
                // Re-engagement: more than 24 hours since the customer wrote; Messenger's
                // "outside of allowed window".
                ErrorCode::OutsideWindow
            } else if matches!(code, 190 | 102 | 10 | 200..=299 | 131005 | 131031) || status == 401
            {
                // Expired or revoked token, missing permission, locked account.
                ErrorCode::AuthFailed
            } else if matches!(code, 1 | 2 | 131000 | 131016) || status.is_server_error() {
                ErrorCode::Network
            } else if code == 100 && status == 404 {
                ErrorCode::NotFound
            } else {
                ErrorCode::Rejected
            };
            let message = if code != 0 {
                format!("{message} [code {code}]")
            } else {
                message
            };
            (Error::new(code_of, message), None)
        }
        Family::Twilio => {
            let code = json["code"].as_i64().unwrap_or(0);
            let message = json["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("the server answered {status}"));
            let code_of = twilio_code(code, status);
            let message = if code != 0 {
                format!("{message} [Twilio error {code}]")
            } else {
                message
            };
            (Error::new(code_of, message), None)
        }
        Family::Telegram => {
            let code = json["error_code"]
                .as_i64()
                .unwrap_or(status.as_u16() as i64);
            let description = json["description"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("the server answered {status}"));
            let wait = json["parameters"]["retry_after"]
                .as_u64()
                .map(Duration::from_secs);
            let code_of = match code {
                429 => ErrorCode::RateLimited,
                401 | 404 => ErrorCode::AuthFailed,
                409 => ErrorCode::Protocol,
                c if c >= 500 => ErrorCode::Network,
                _ => ErrorCode::Rejected,
            };
            let message = match code {
                401 | 404 => format!("Telegram refused the bot token ({description})"),
                409 => format!(
                    "Telegram will not hand out updates ({description}); remove the bot's webhook \
                     (deleteWebhook) to use it with Sportello"
                ),
                _ => description,
            };
            (Error::new(code_of, message), wait)
        }
    }
}

/// Twilio's documented codes: 20003 authentication, 20429 too many requests, 63016 outside
/// the WhatsApp 24-hour window, 63018 WhatsApp rate limit.
pub fn twilio_code(code: i64, status: StatusCode) -> ErrorCode {
    match code {
        20003 | 20005 => ErrorCode::AuthFailed,
        20429 | 63018 => ErrorCode::RateLimited,
        63016 => ErrorCode::OutsideWindow,
        _ if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
            ErrorCode::AuthFailed
        }
        _ if status == StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        _ if status.is_server_error() => ErrorCode::Network,
        _ => ErrorCode::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_rate_limits_are_rate_limited() {
        for code in [4, 17, 32, 613, 130429] {
            let body = format!(
                r#"{{"error":{{"message":"(#{code}) limit","type":"OAuthException","code":{code},"fbtrace_id":"A"}}}}"#
            );
            let (e, _) = classify(Family::Graph, StatusCode::BAD_REQUEST, body.as_bytes());
            assert_eq!(e.code, ErrorCode::RateLimited, "{code}");
            assert!(e.code.is_transient());
        }
    }

    #[test]
    fn whatsapp_re_engagement_is_the_window_rule() {
        let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"x"}}"#;
        let (e, _) = classify(Family::Graph, StatusCode::BAD_REQUEST, body);
        assert_eq!(e.code, ErrorCode::OutsideWindow);
        assert!(e.message.contains("24 hours"), "{}", e.message);
    }

    #[test]
    fn expired_graph_token_needs_attention() {
        let body = br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"x"}}"#;
        let (e, _) = classify(Family::Graph, StatusCode::UNAUTHORIZED, body);
        assert_eq!(e.code, ErrorCode::AuthFailed);
    }

    #[test]
    fn revoked_or_missing_permissions_need_attention() {
        for (code, subcode) in [(10, 0), (200, 0), (230, 0), (102, 0), (190, 460)] {
            let body = format!(
                r#"{{"error":{{"message":"(#{code}) permission","type":"OAuthException","code":{code},"error_subcode":{subcode},"fbtrace_id":"x"}}}}"#
            );
            let (e, _) = classify(Family::Graph, StatusCode::FORBIDDEN, body.as_bytes());
            assert_eq!(e.code, ErrorCode::AuthFailed, "{code}");
            assert!(!e.code.is_transient());
        }
        // Code 10 with Messenger's subcode 2018278 is the reply window, not a permission.
        let body = br#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"x"}}"#;
        let (e, _) = classify(Family::Graph, StatusCode::BAD_REQUEST, body);
        assert_eq!(e.code, ErrorCode::OutsideWindow);
    }

    #[test]
    fn telegram_429_carries_retry_after() {
        let body = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
        let (e, wait) = classify(Family::Telegram, StatusCode::TOO_MANY_REQUESTS, body);
        assert_eq!(e.code, ErrorCode::RateLimited);
        assert_eq!(wait, Some(Duration::from_secs(7)));
    }

    #[test]
    fn twilio_63016_is_the_window_rule() {
        let body = br#"{"code":63016,"message":"Failed to send freeform message because you are outside the allowed window.","more_info":"https://www.twilio.com/docs/errors/63016","status":400}"#;
        let (e, _) = classify(Family::Twilio, StatusCode::BAD_REQUEST, body);
        assert_eq!(e.code, ErrorCode::OutsideWindow);
    }
}
