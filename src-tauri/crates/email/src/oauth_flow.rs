//! The desktop sign-in in the system browser (RFC 8252) with PKCE (RFC 7636).
//!
//! 1. [`BrowserSignIn::start`] listens on `127.0.0.1:<random port>` and builds the provider's
//!    authorize URL: a random `state`, an S256 code challenge, the scopes, and
//!    `redirect_uri=http://127.0.0.1:<port>/`. Google also gets `access_type=offline` and
//!    `prompt=consent` (else it may send no refresh token); Microsoft sends one for
//!    `offline_access`.
//! 2. The caller opens [`BrowserSignIn::url`] in the browser (the window: the OS opener; the
//!    CLI: prints it and tries `xdg-open`/`open`).
//! 3. [`BrowserSignIn::finish`] waits for the browser's redirect to the loopback address,
//!    refuses an answer whose `state` is not ours, and exchanges the code, with the PKCE
//!    verifier, at the token endpoint.
//! 4. The account's address is read from the `id_token` the token endpoint returns for the
//!    `openid email` scopes: Google's `email` claim, Microsoft's `preferred_username` (else
//!    `email`). The id_token comes straight from the token endpoint over TLS, so its signature
//!    is not checked (OpenID Connect Core §3.1.3.7 allows TLS to stand in for it); it is only
//!    used to name the account, never to authorise anything.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use sportello_core::{Error, ErrorCode, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::oauth::{AccessToken, Endpoints, OAuthSettings, Tokens, http_client, token_error};
use crate::presets::AuthKind;

/// How long the browser may take before the sign-in gives up.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What a completed sign-in gives: the tokens and the address the provider signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub tokens: Tokens,
    /// From the id_token; `None` if the provider sent none.
    pub address: Option<String>,
}

/// A sign-in waiting for the browser.
pub struct BrowserSignIn {
    listener: TcpListener,
    endpoints: Endpoints,
    redirect: String,
    url: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

impl std::fmt::Debug for BrowserSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSignIn")
            .field("redirect", &self.redirect)
            .finish_non_exhaustive()
    }
}

impl BrowserSignIn {
    /// Starts listening for the redirect and builds the authorize URL. `login_hint` pre-fills
    /// the address on the provider's page.
    pub async fn start(
        settings: &OAuthSettings,
        client_secret: Option<&str>,
        login_hint: Option<&str>,
    ) -> Result<BrowserSignIn> {
        let endpoints = settings.endpoints(client_secret)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot listen on this computer for the browser's answer: {e}"),
            )
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/");
        let client = endpoints.client()?.set_redirect_uri(
            RedirectUrl::new(redirect.clone()).map_err(|e| Error::invalid(e.to_string()))?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(
                endpoints
                    .provider
                    .scopes
                    .iter()
                    .map(|s| Scope::new(s.to_string())),
            )
            .set_pkce_challenge(challenge);
        if endpoints.provider.kind == AuthKind::Google {
            request = request
                .add_extra_param("access_type", "offline")
                .add_extra_param("prompt", "consent");
        }
        if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        let (url, state) = request.url();
        Ok(BrowserSignIn {
            listener,
            endpoints,
            redirect,
            url: url.to_string(),
            state,
            verifier,
        })
    }

    /// The provider's sign-in page, to open in the browser.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The loopback address the browser comes back to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect
    }

    /// Waits for the browser (at most `timeout`), then exchanges the code for tokens.
    /// Dropping the future cancels the sign-in.
    pub async fn finish(self, timeout: Duration) -> Result<SignedIn> {
        let name = self.endpoints.provider.name;
        let code = tokio::time::timeout(timeout, wait_for_code(&self.listener, &self.state, name))
            .await
            .map_err(|_| {
                Error::new(
                    ErrorCode::AuthFailed,
                    format!(
                        "the {name} sign-in was not completed in the browser within {} minutes",
                        timeout.as_secs() / 60
                    ),
                )
            })??;
        drop(self.listener);
        let client = self.endpoints.client()?.set_redirect_uri(
            RedirectUrl::new(self.redirect.clone()).map_err(|e| Error::invalid(e.to_string()))?,
        );
        let http = http_client()?;
        let answer = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .request_async(&http)
            .await
            .map_err(|e| token_error(name, false, e))?;
        let refresh = answer.refresh_token().map(|r| r.secret().clone());
        if refresh.is_none() {
            return Err(Error::new(
                ErrorCode::Protocol,
                format!(
                    "{name} signed in but sent no refresh token: Sportello could not stay signed in"
                ),
            ));
        }
        let address = answer
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(|t| address_from_id_token(self.endpoints.provider.kind, t));
        Ok(SignedIn {
            tokens: Tokens {
                access: AccessToken::from_answer(&answer),
                refresh,
            },
            address,
        })
    }
}

/// The whole browser sign-in for a window: opens the sign-in page with `open` (the OS
/// opener), then waits for the browser (at most [`SIGN_IN_TIMEOUT`]) unless `cancel` fires
/// first (the user closed the dialog), which ends it with `InvalidInput`.
pub async fn run_browser_sign_in(
    flow: BrowserSignIn,
    open: impl FnOnce(&str) -> Result<()>,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<SignedIn> {
    open(flow.url())?;
    tokio::select! {
        signed = flow.finish(SIGN_IN_TIMEOUT) => signed,
        () = cancel => Err(Error::invalid("the sign-in was cancelled")),
    }
}

/// Serves the loopback address until the browser brings back a code (or an error).
async fn wait_for_code(listener: &TcpListener, state: &CsrfToken, name: &str) -> Result<String> {
    loop {
        let (mut socket, _) = listener.accept().await.map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("waiting for the browser failed: {e}"),
            )
        })?;
        let Some(target) = read_request_target(&mut socket).await else {
            continue;
        };
        let url = match oauth2::url::Url::parse(&format!("http://127.0.0.1{target}")) {
            Ok(u) => u,
            Err(_) => {
                respond(&mut socket, 400, "Bad request.").await;
                continue;
            }
        };
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let answers = params.contains_key("code") || params.contains_key("error");
        if url.path() != "/" || !answers {
            // favicon.ico and the like.
            respond(&mut socket, 404, "Not found.").await;
            continue;
        }
        if params.get("state").map(String::as_str) != Some(state.secret().as_str()) {
            respond(
                &mut socket,
                400,
                "This answer does not belong to Sportello's sign-in. Questa risposta non \
                 appartiene all'accesso di Sportello.",
            )
            .await;
            return Err(Error::new(
                ErrorCode::AuthFailed,
                format!(
                    "the browser's answer does not belong to this {name} sign-in (its state \
                     does not match): start the sign-in again"
                ),
            ));
        }
        if let Some(error) = params.get("error") {
            respond(
                &mut socket,
                200,
                "Sign-in not completed: you can close this tab. Accesso non completato: puoi \
                 chiudere questa scheda.",
            )
            .await;
            let detail = params
                .get("error_description")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(Error::new(
                ErrorCode::AuthFailed,
                if error == "access_denied" {
                    format!("the {name} sign-in was cancelled or refused in the browser{detail}")
                } else {
                    format!("{name} did not complete the sign-in: {error}{detail}")
                },
            ));
        }
        respond(
            &mut socket,
            200,
            "Sportello is signed in: you can close this tab. Sportello ha effettuato l'accesso: \
             puoi chiudere questa scheda.",
        )
        .await;
        return Ok(params["code"].clone());
    }
}

/// Reads an HTTP request's head and returns its target (`/?code=...`).
async fn read_request_target(socket: &mut TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = socket.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET" && target.starts_with('/')).then(|| target.to_string())
}

async fn respond(socket: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        _ => "Not Found",
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sportello</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

/// The signed-in address from an id_token's claims (see the module documentation).
pub fn address_from_id_token(kind: AuthKind, id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let claim = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| v.contains('@'))
            .map(String::from)
    };
    match kind {
        AuthKind::Microsoft => claim("preferred_username").or_else(|| claim("email")),
        _ => claim("email"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(br#"{"alg":"RS256"}"#),
            e.encode(claims.to_string())
        )
    }

    #[test]
    fn the_address_comes_from_the_id_token() {
        let google = jwt(serde_json::json!({"email": "shop@gmail.com", "sub": "1"}));
        assert_eq!(
            address_from_id_token(AuthKind::Google, &google).as_deref(),
            Some("shop@gmail.com")
        );
        let ms = jwt(serde_json::json!({
            "preferred_username": "shop@outlook.it", "email": "other@x.it"
        }));
        assert_eq!(
            address_from_id_token(AuthKind::Microsoft, &ms).as_deref(),
            Some("shop@outlook.it")
        );
        let ms_email_only = jwt(serde_json::json!({"email": "a@b.it", "preferred_username": "n"}));
        assert_eq!(
            address_from_id_token(AuthKind::Microsoft, &ms_email_only).as_deref(),
            Some("a@b.it")
        );
        assert_eq!(address_from_id_token(AuthKind::Google, "not-a-jwt"), None);
    }

    #[tokio::test]
    async fn the_authorize_url_carries_pkce_state_scopes_and_the_loopback_redirect() {
        let settings = OAuthSettings {
            provider: AuthKind::Microsoft,
            auth_base: Some("http://127.0.0.1:9/oauth".into()),
            client_id: Some("client-1".into()),
            tenant: None,
        };
        let flow = BrowserSignIn::start(&settings, None, Some("a@b.it"))
            .await
            .unwrap();
        let url = oauth2::url::Url::parse(flow.url()).unwrap();
        assert_eq!(url.path(), "/oauth/authorize");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "client-1");
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["code_challenge"].len() >= 43);
        assert!(q["state"].len() >= 16);
        assert_eq!(q["login_hint"], "a@b.it");
        assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
        assert_eq!(q["redirect_uri"], flow.redirect_uri());
        assert_eq!(
            q["scope"],
            "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access openid email"
        );
    }

    #[tokio::test]
    async fn the_window_opens_the_page_and_a_cancel_ends_the_wait() {
        let settings = OAuthSettings {
            provider: AuthKind::Google,
            auth_base: Some("http://127.0.0.1:9".into()),
            client_id: Some("c".into()),
            tenant: None,
        };
        let flow = BrowserSignIn::start(&settings, None, None).await.unwrap();
        let expected = flow.url().to_string();
        let mut opened = None;
        let e = run_browser_sign_in(
            flow,
            |url| {
                opened = Some(url.to_string());
                Ok(())
            },
            std::future::ready(()),
        )
        .await
        .unwrap_err();
        assert_eq!(opened.as_deref(), Some(expected.as_str()));
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("cancelled"), "{}", e.message);

        // A browser that cannot be opened is said at once, not after the timeout.
        let flow = BrowserSignIn::start(&settings, None, None).await.unwrap();
        let e = run_browser_sign_in(
            flow,
            |_| Err(Error::internal("no browser")),
            std::future::pending(),
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("no browser"));
    }

    #[test]
    fn a_remote_sign_in_server_must_use_https() {
        let settings = OAuthSettings {
            provider: AuthKind::Google,
            auth_base: Some("http://accounts.example.com".into()),
            client_id: Some("c".into()),
            tenant: None,
        };
        let e = settings.endpoints(None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let ok = OAuthSettings {
            auth_base: Some("https://accounts.example.com/o/".into()),
            ..settings
        };
        let endpoints = ok.endpoints(Some("s")).unwrap();
        assert_eq!(endpoints.token_url, "https://accounts.example.com/o/token");
        assert_eq!(endpoints.client_secret.as_deref(), Some("s"));
    }

    #[test]
    fn a_microsoft_tenant_replaces_common_and_is_checked() {
        let settings = OAuthSettings {
            provider: AuthKind::Microsoft,
            auth_base: None,
            client_id: Some("c".into()),
            tenant: Some("contoso.onmicrosoft.com".into()),
        };
        let endpoints = settings.endpoints(None).unwrap();
        assert_eq!(
            endpoints.authorize_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
        );
        assert_eq!(
            endpoints.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let bad = OAuthSettings {
            tenant: Some("evil.com/../x?".into()),
            ..settings.clone()
        };
        assert_eq!(
            bad.endpoints(None).unwrap_err().code,
            ErrorCode::InvalidInput
        );
        // Google has no tenant: the setting is ignored.
        let google = OAuthSettings {
            provider: AuthKind::Google,
            ..settings
        };
        assert_eq!(
            google.endpoints(None).unwrap().authorize_url,
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
    }
}
