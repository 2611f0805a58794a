//! The webhook receiver: the only way WhatsApp's Cloud API delivers messages, and the
//! low-latency path for Messenger and Instagram. It listens on a local port that the shop
//! owner exposes with a tunnel (cloudflared, ngrok; see docs/channels.md).
//!
//! `GET` answers Meta's subscription check (`hub.mode=subscribe`, `hub.verify_token`,
//! `hub.challenge`) when the token is the verify token of one of that path's accounts
//! (WhatsApp Cloud accounts for `/webhooks/whatsapp`, Messenger/Instagram accounts for
//! `/webhooks/meta`). `POST` is accepted only with an `X-Hub-Signature-256` that is the
//! HMAC-SHA256 of the raw body under the app secret of one of that path's accounts; anything
//! else is refused (401) before it is parsed. The payload is stored first and 200 answered
//! after, so a delivery that fails to store is retried by Meta; storing is idempotent by
//! message id, so a retried delivery is one message.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Error, Result, Store};
use tokio_util::sync::CancellationToken;

use crate::{APP_SECRET, VERIFY_TOKEN, meta, twilio, whatsapp};

/// Reads an account's secret (the keyring in the app; a map in tests).
pub type SecretLookup = Arc<dyn Fn(i64, &str) -> Option<String> + Send + Sync>;
/// Told which account just stored something (the daemon wakes its worker to fetch media).
pub type OnStored = Arc<dyn Fn(i64) + Send + Sync>;

pub const WHATSAPP_PATH: &str = "/webhooks/whatsapp";
pub const META_PATH: &str = "/webhooks/meta";
/// Meta's payloads are at most 3 MB.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct Receiver {
    store: Store,
    secret: SecretLookup,
    on_stored: Option<OnStored>,
}

impl Receiver {
    /// A receiver reading secrets from the OS keyring.
    pub fn new(store: Store) -> Receiver {
        let installation = store.installation_id().to_string();
        Receiver {
            store,
            secret: Arc::new(move |account, key| {
                sportello_core::secrets::get(&installation, account, key).ok()
            }),
            on_stored: None,
        }
    }

    pub fn with_secrets(mut self, secret: SecretLookup) -> Receiver {
        self.secret = secret;
        self
    }

    pub fn on_stored(mut self, f: OnStored) -> Receiver {
        self.on_stored = Some(f);
        self
    }

    pub fn router(self) -> Router {
        Router::new()
            .route(WHATSAPP_PATH, get(verify_whatsapp).post(receive_whatsapp))
            .route(META_PATH, get(verify_meta).post(receive_meta))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(Arc::new(self))
    }

    /// Listens on `addr` until `cancel` fires. Returns the bound address (port 0 picks one).
    pub async fn serve(
        self,
        addr: SocketAddr,
        cancel: CancellationToken,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::invalid(format!("cannot listen for webhooks on {addr}: {e}")))?;
        let bound = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move {
            let shutdown = async move { cancel.cancelled().await };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!("webhook receiver stopped: {e}");
            }
        });
        Ok((bound, handle))
    }

    fn accounts(&self, meta_family: bool) -> Vec<Account> {
        self.store
            .accounts()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| {
                if meta_family {
                    matches!(a.kind, ChannelKind::Messenger | ChannelKind::Instagram)
                } else {
                    a.kind == ChannelKind::Whatsapp && !twilio::is_twilio(a)
                }
            })
            .collect()
    }

    fn verify(&self, q: &VerifyQuery, meta_family: bool) -> (StatusCode, String) {
        if q.mode.as_deref() != Some("subscribe") {
            return (StatusCode::BAD_REQUEST, "hub.mode must be subscribe".into());
        }
        let Some(token) = q.verify_token.as_deref().filter(|t| !t.is_empty()) else {
            return (StatusCode::FORBIDDEN, "missing hub.verify_token".into());
        };
        // Each path answers only to its own accounts' tokens: /webhooks/meta to the token given
        // with `account add-meta --verify-token-env`, never to a WhatsApp account's.
        let known = self.accounts(meta_family).iter().any(|a| {
            (self.secret)(a.id, VERIFY_TOKEN)
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
        });
        if known {
            (StatusCode::OK, q.challenge.clone().unwrap_or_default())
        } else {
            (StatusCode::FORBIDDEN, "unknown verify token".into())
        }
    }

    /// The accounts whose app secret signed this body.
    fn signed_by(&self, headers: &HeaderMap, body: &[u8], meta_family: bool) -> Vec<Account> {
        let Some(sig) = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("sha256="))
            .and_then(|hex_sig| hex::decode(hex_sig).ok())
        else {
            return Vec::new();
        };
        self.accounts(meta_family)
            .into_iter()
            .filter(|a| {
                (self.secret)(a.id, APP_SECRET)
                    .is_some_and(|secret| verify_signature(secret.as_bytes(), body, &sig))
            })
            .collect()
    }

    fn stored(&self, account_id: i64) {
        if let Some(f) = &self.on_stored {
            f(account_id);
        }
    }
}

#[derive(Debug, Deserialize)]
struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `sha256=` + hex HMAC-SHA256 of `body` under `secret`, as Meta signs.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn verify_signature(secret: &[u8], body: &[u8], signature: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn verify_whatsapp(
    State(r): State<Arc<Receiver>>,
    Query(q): Query<VerifyQuery>,
) -> (StatusCode, String) {
    r.verify(&q, false)
}

async fn verify_meta(
    State(r): State<Arc<Receiver>>,
    Query(q): Query<VerifyQuery>,
) -> (StatusCode, String) {
    r.verify(&q, true)
}

/// The accounts whose app secret signed `body`, and the payload; or the answer to give at once.
fn signed_payload(
    r: &Receiver,
    headers: &HeaderMap,
    body: &[u8],
    meta_family: bool,
) -> std::result::Result<(Vec<Account>, serde_json::Value), (StatusCode, String)> {
    let accounts = r.signed_by(headers, body, meta_family);
    if accounts.is_empty() {
        return Err((
            StatusCode::UNAUTHORIZED,
            "bad or missing X-Hub-Signature-256".into(),
        ));
    }
    let payload = serde_json::from_slice(body).map_err(|e| {
        // Signed by Meta but unreadable: retrying will not help; log and let it go.
        tracing::error!("signed webhook payload is not JSON: {e}");
        (StatusCode::OK, String::new())
    })?;
    Ok((accounts, payload))
}

async fn receive_whatsapp(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let (accounts, payload) = match signed_payload(&r, &headers, &body, false) {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let store = r.store.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<i64>> {
        let mut touched = Vec::new();
        for (number_id, batch) in whatsapp::parse_webhook(&payload) {
            let Some(account) = accounts
                .iter()
                .find(|a| crate::setting(a, "phone_number_id") == Some(number_id.as_str()))
            else {
                tracing::warn!(%number_id, "webhook for a phone number id no account has");
                continue;
            };
            whatsapp::ingest_webhook(&store, account.id, batch)?;
            touched.push(account.id);
        }
        Ok(touched)
    })
    .await;
    finish(&r, result)
}

async fn receive_meta(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let (accounts, payload) = match signed_payload(&r, &headers, &body, true) {
        Ok(signed) => signed,
        Err(answer) => return answer,
    };
    let store = r.store.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<i64>> {
        let mut touched = Vec::new();
        for (owner_id, messages) in meta::parse_webhook(&payload) {
            let Some(account) = accounts
                .iter()
                .find(|a| meta::owner_id(a) == Some(owner_id.as_str()))
            else {
                tracing::warn!(%owner_id, "webhook for a Page or Instagram account we do not have");
                continue;
            };
            let messages = messages
                .into_iter()
                .map(|m| meta::to_incoming(account, m))
                .collect();
            store.ingest(account.id, messages, None, Default::default())?;
            touched.push(account.id);
        }
        Ok(touched)
    })
    .await;
    finish(&r, result)
}

fn finish(
    r: &Receiver,
    result: std::result::Result<Result<Vec<i64>>, tokio::task::JoinError>,
) -> (StatusCode, String) {
    match result {
        Ok(Ok(touched)) => {
            for id in touched {
                r.stored(id);
            }
            (StatusCode::OK, "EVENT_RECEIVED".into())
        }
        Ok(Err(e)) => {
            // Not stored: answer an error so Meta delivers it again later.
            tracing::error!(code = %e.code, "webhook not stored: {}", e.message);
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "not stored; retry".into(),
            )
        }
        Err(e) => {
            tracing::error!("webhook task failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "not stored; retry".into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_meta_format() {
        // HMAC-SHA256("It's a Secret to Everybody", "Hello, World!") from GitHub's docs,
        // which use the same scheme and header format.
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let sig = hex::decode("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
            .unwrap();
        assert!(verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            &sig
        ));
        assert!(!verify_signature(b"another secret", b"Hello, World!", &sig));
        assert!(!verify_signature(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            &sig
        ));
    }
}
