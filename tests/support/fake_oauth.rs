//! An OAuth2 authorization server as Google's and Microsoft's documented endpoints behave,
//! for the desktop flow (RFC 6749 §4.1 with PKCE, RFC 7636):
//!
//! - `GET /authorize`: checks `response_type=code`, the client id, a loopback `redirect_uri`, a
//!   `state` and an S256 `code_challenge`, then "signs the user in" at once and answers 302 to
//!   `redirect_uri?code=...&state=...` (the test plays the browser by following it).
//! - `POST /token`, `grant_type=authorization_code`: the code once, the same `redirect_uri`, and
//!   a `code_verifier` whose S256 hash is the challenge; answers `access_token`, `expires_in`,
//!   `refresh_token` and an (unsigned) `id_token` naming the account. `grant_type=refresh_token`:
//!   a new access token, or `invalid_grant` once the refresh token is revoked. Errors are JSON
//!   `{"error", "error_description"}` with status 400 (RFC 6749 §5.2).
//! - `POST /introspect` (RFC 7662, what Dovecot's `oauth2` passdb asks): `token=...` is
//!   `{"active": true, "email": ...}` while the access token is current.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::json;
use sha2::Digest;

use super::fake_http::{FakeServer, Request, Response, decode};

pub const CLIENT_ID: &str = "sportello-test-client";

struct Grant {
    challenge: String,
    redirect_uri: String,
}

pub struct OAuthState {
    /// The address the fake signs in (the id_token's `email` and `preferred_username`).
    pub email: String,
    /// Lifetime of the access tokens it issues, in seconds.
    pub expires_in: AtomicU64,
    /// Like Microsoft: each refresh answers a new refresh token and retires the old one.
    pub rotate: AtomicBool,
    codes: Mutex<HashMap<String, Grant>>,
    /// Refresh token -> revoked.
    refresh_tokens: Mutex<HashMap<String, bool>>,
    /// Access tokens currently valid.
    access_tokens: Mutex<Vec<String>>,
    counter: AtomicU32,
    pub refreshes: AtomicU32,
    pub code_exchanges: AtomicU32,
}

pub struct FakeOAuth {
    pub server: FakeServer,
    pub state: Arc<OAuthState>,
}

impl FakeOAuth {
    pub fn start(email: &str) -> FakeOAuth {
        let state = Arc::new(OAuthState {
            email: email.to_string(),
            expires_in: AtomicU64::new(3600),
            rotate: AtomicBool::new(false),
            codes: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            access_tokens: Mutex::new(Vec::new()),
            counter: AtomicU32::new(0),
            refreshes: AtomicU32::new(0),
            code_exchanges: AtomicU32::new(0),
        });
        let s = state.clone();
        let server = FakeServer::start(Arc::new(move |r: &Request| handle(&s, r)));
        FakeOAuth { server, state }
    }

    pub fn base(&self) -> String {
        self.server.base()
    }

    pub fn introspection_url(&self) -> String {
        format!("{}/introspect", self.base())
    }

    /// Every refresh token issued so far (to look for them on disk).
    pub fn refresh_tokens(&self) -> Vec<String> {
        self.state
            .refresh_tokens
            .lock()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    pub fn access_tokens(&self) -> Vec<String> {
        self.state.access_tokens.lock().unwrap().clone()
    }

    /// Revokes every refresh token (the user removed the app's access, or changed password).
    pub fn revoke_all(&self) {
        for revoked in self.state.refresh_tokens.lock().unwrap().values_mut() {
            *revoked = true;
        }
    }

    /// Makes every access token issued so far invalid (expired at the provider).
    pub fn expire_access_tokens(&self) {
        self.state.access_tokens.lock().unwrap().clear();
    }

    pub fn refreshes(&self) -> u32 {
        self.state.refreshes.load(Ordering::SeqCst)
    }
}

fn error(code: &str, description: &str) -> Response {
    Response::json(
        400,
        json!({"error": code, "error_description": description}),
    )
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn id_token(email: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.fake-signature",
        e.encode(br#"{"alg":"none","typ":"JWT"}"#),
        e.encode(
            json!({"iss": "fake-oauth", "sub": "42", "aud": CLIENT_ID,
                   "email": email, "preferred_username": email})
            .to_string()
        )
    )
}

fn handle(state: &OAuthState, r: &Request) -> Response {
    match (r.method.as_str(), r.path()) {
        ("GET", "/authorize") => authorize(state, r),
        ("POST", "/token") => token(state, r),
        ("POST", "/introspect") => {
            let token = r.form("token").unwrap_or_default();
            let active = state.access_tokens.lock().unwrap().contains(&token);
            if active {
                Response::json(200, json!({"active": true, "email": state.email}))
            } else {
                Response::json(200, json!({"active": false}))
            }
        }
        _ => Response::status(404),
    }
}

fn authorize(state: &OAuthState, r: &Request) -> Response {
    let q = |k: &str| r.query(k).unwrap_or_default();
    if q("response_type") != "code" {
        return error("unsupported_response_type", "response_type must be code");
    }
    if q("client_id") != CLIENT_ID {
        return error("invalid_client", "unknown client");
    }
    let redirect = q("redirect_uri");
    if !redirect.starts_with("http://127.0.0.1:") {
        return error("invalid_request", "redirect_uri must be a loopback address");
    }
    if q("code_challenge_method") != "S256" || q("code_challenge").len() < 43 {
        return error("invalid_request", "PKCE with S256 is required");
    }
    if q("state").is_empty() || q("scope").is_empty() {
        return error("invalid_request", "state and scope are required");
    }
    let n = state.counter.fetch_add(1, Ordering::SeqCst);
    let code = format!("code-{n}-{}", q("state").len());
    state.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: q("code_challenge"),
            redirect_uri: redirect.clone(),
        },
    );
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect}{sep}code={code}&state={}",
        encode(&r.query("state").unwrap_or_default())
    );
    Response {
        status: 302,
        content_type: "text/plain".into(),
        headers: vec![("Location".into(), location)],
        body: Vec::new(),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn issue(state: &OAuthState, refresh: Option<String>) -> serde_json::Value {
    let n = state.counter.fetch_add(1, Ordering::SeqCst);
    let access = format!("ya29.fake-access-{n}");
    state.access_tokens.lock().unwrap().push(access.clone());
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.expires_in.load(Ordering::SeqCst),
        "scope": "https://mail.google.com/ openid email",
    });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
        answer["id_token"] = json!(id_token(&state.email));
    }
    answer
}

fn token(state: &OAuthState, r: &Request) -> Response {
    let ctype = r.header("content-type").unwrap_or_default();
    if !ctype.starts_with("application/x-www-form-urlencoded") {
        return error("invalid_request", "the body must be form-encoded");
    }
    if r.form("client_id").as_deref() != Some(CLIENT_ID) {
        return error("invalid_client", "unknown client");
    }
    match r.form("grant_type").as_deref() {
        Some("authorization_code") => {
            let code = r.form("code").unwrap_or_default();
            let Some(grant) = state.codes.lock().unwrap().remove(&code) else {
                return error("invalid_grant", "the code is unknown or was used");
            };
            if r.form("redirect_uri").as_deref() != Some(grant.redirect_uri.as_str()) {
                return error("invalid_grant", "redirect_uri does not match");
            }
            let verifier = r.form("code_verifier").unwrap_or_default();
            if verifier.len() < 43 || s256(&verifier) != grant.challenge {
                return error(
                    "invalid_grant",
                    "code_verifier does not match the challenge",
                );
            }
            state.code_exchanges.fetch_add(1, Ordering::SeqCst);
            let n = state.counter.fetch_add(1, Ordering::SeqCst);
            let refresh = format!("1//fake-refresh-{n}");
            state
                .refresh_tokens
                .lock()
                .unwrap()
                .insert(refresh.clone(), false);
            Response::json(200, issue(state, Some(refresh)))
        }
        Some("refresh_token") => {
            let refresh = r.form("refresh_token").unwrap_or_default();
            let revoked = state.refresh_tokens.lock().unwrap().get(&refresh).copied();
            match revoked {
                Some(false) => {
                    state.refreshes.fetch_add(1, Ordering::SeqCst);
                    let mut answer = issue(state, None);
                    if state.rotate.load(Ordering::SeqCst) {
                        let n = state.counter.fetch_add(1, Ordering::SeqCst);
                        let next = format!("1//fake-refresh-{n}");
                        let mut tokens = state.refresh_tokens.lock().unwrap();
                        tokens.insert(refresh, true);
                        tokens.insert(next.clone(), false);
                        answer["refresh_token"] = json!(next);
                    }
                    Response::json(200, answer)
                }
                _ => error("invalid_grant", "Token has been expired or revoked."),
            }
        }
        _ => error("unsupported_grant_type", "unknown grant_type"),
    }
}

/// Plays the browser: GETs the authorize URL and follows the redirect to the app's loopback
/// address. Returns the final status and the loopback page's text.
pub async fn browse(url: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let answer = client.get(url).send().await.expect("follow the sign-in");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// The query parameter `key` of a URL.
pub fn query(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (decode(k) == key).then(|| decode(v))
    })
}
