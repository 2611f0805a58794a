//! Signing in: a password, or an OAuth2 access token sent as XOAUTH2 (Gmail, Microsoft).
//!
//! OAuth2 accounts keep two secrets in the keyring, and only there: the refresh token
//! ([`REFRESH_TOKEN_KEY`]) and the current access token with its expiry
//! ([`ACCESS_TOKEN_KEY`], JSON `{"token", "expires_at"}`). Before each IMAP or SMTP connection
//! [`OAuthSession::access_token`] hands out the stored access token, or first refreshes it
//! when less than [`REFRESH_MARGIN`] is left. A refresh answered `invalid_grant` (revoked,
//! expired, password changed) is [`ErrorCode::SignInAgain`]; a refresh that cannot reach the
//! provider is [`ErrorCode::Network`] and retried with the usual backoff.
//!
//! Where to sign in comes from a small provider table ([`OAuthProvider`]); every URL can be
//! pointed elsewhere (account settings `auth_base`, or `SPORTELLO_GOOGLE_AUTH_BASE` /
//! `SPORTELLO_MICROSOFT_AUTH_BASE`), which is how the tests use a local OAuth2 server. The
//! client id is the account's own, else `SPORTELLO_GOOGLE_CLIENT_ID` /
//! `SPORTELLO_MICROSOFT_CLIENT_ID` from the environment at run time, else the same variables
//! as they were when Sportello was built (`option_env!`). Google's desktop clients also have a
//! client secret that Google documents as not secret; it is optional and kept in the keyring
//! ([`CLIENT_SECRET_KEY`]) or taken from `SPORTELLO_GOOGLE_CLIENT_SECRET` likewise.

use std::time::Duration;

use oauth2::basic::{BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RefreshToken,
    RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use sportello_core::{Error, ErrorCode, Result, secrets};
use ts_rs::TS;

use crate::presets::AuthKind;
use crate::settings::is_loopback;

/// What a connection signs in with. Never logged.
#[derive(Clone)]
pub enum Login {
    Password(String),
    /// An OAuth2 access token (XOAUTH2).
    Bearer(String),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Login::Password(_) => "Login::Password(..)",
            Login::Bearer(_) => "Login::Bearer(..)",
        })
    }
}

impl Login {
    /// The same password or the same access token.
    pub(crate) fn same_as(&self, other: &Login) -> bool {
        match (self, other) {
            (Login::Password(a), Login::Password(b)) | (Login::Bearer(a), Login::Bearer(b)) => {
                a == b
            }
            _ => false,
        }
    }
}

/// The XOAUTH2 SASL initial response (Google's and Microsoft's documented format):
/// `user=<user>^Aauth=Bearer <token>^A^A`, base64-encoded by the IMAP/SMTP client.
pub fn xoauth2_response(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// async-imap's `AUTHENTICATE XOAUTH2`: answers the first (empty) challenge with the token;
/// a failure challenge (a JSON error) is answered with an empty line, as the mechanism asks.
pub struct XOAuth2 {
    pub user: String,
    pub token: String,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, challenge: &[u8]) -> String {
        if challenge.is_empty() {
            xoauth2_response(&self.user, &self.token)
        } else {
            String::new()
        }
    }
}

/// Keyring entry: the OAuth2 refresh token.
pub const REFRESH_TOKEN_KEY: &str = "refresh_token";
/// Keyring entry: the current access token and when it expires (JSON).
pub const ACCESS_TOKEN_KEY: &str = "access_token";
/// Keyring entry: the optional OAuth2 client secret (Google desktop clients).
pub const CLIENT_SECRET_KEY: &str = "client_secret";
/// An access token with less than this left is refreshed before connecting.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// One OAuth2 provider's sign-in: its default endpoints, the scopes IMAP and SMTP need, and
/// the names of the variables that override them.
#[derive(Debug, Clone, Copy)]
pub struct OAuthProvider {
    pub kind: AuthKind,
    pub name: &'static str,
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub scopes: &'static [&'static str],
    /// The build-time default client id (`option_env!`), if the build had one.
    pub builtin_client_id: Option<&'static str>,
    pub builtin_client_secret: Option<&'static str>,
    /// Run-time variables: the client id, the client secret and the base URL override.
    pub client_id_env: &'static str,
    pub client_secret_env: &'static str,
    pub auth_base_env: &'static str,
}

const GOOGLE: OAuthProvider = OAuthProvider {
    kind: AuthKind::Google,
    name: "Google",
    authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    scopes: &["https://mail.google.com/", "openid", "email"],
    builtin_client_id: option_env!("SPORTELLO_GOOGLE_CLIENT_ID"),
    builtin_client_secret: option_env!("SPORTELLO_GOOGLE_CLIENT_SECRET"),
    client_id_env: "SPORTELLO_GOOGLE_CLIENT_ID",
    client_secret_env: "SPORTELLO_GOOGLE_CLIENT_SECRET",
    auth_base_env: "SPORTELLO_GOOGLE_AUTH_BASE",
};

const MICROSOFT: OAuthProvider = OAuthProvider {
    kind: AuthKind::Microsoft,
    name: "Microsoft",
    // `common`: work, school and personal (outlook.com) accounts alike.
    authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    scopes: &[
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
        "openid",
        "email",
    ],
    builtin_client_id: option_env!("SPORTELLO_MICROSOFT_CLIENT_ID"),
    builtin_client_secret: option_env!("SPORTELLO_MICROSOFT_CLIENT_SECRET"),
    client_id_env: "SPORTELLO_MICROSOFT_CLIENT_ID",
    client_secret_env: "SPORTELLO_MICROSOFT_CLIENT_SECRET",
    auth_base_env: "SPORTELLO_MICROSOFT_AUTH_BASE",
};

impl OAuthProvider {
    /// The provider of a sign-in kind; `None` for passwords.
    pub fn of(kind: AuthKind) -> Option<OAuthProvider> {
        match kind {
            AuthKind::Google => Some(GOOGLE),
            AuthKind::Microsoft => Some(MICROSOFT),
            AuthKind::Password => None,
        }
    }
}

/// An OAuth2 account's sign-in settings, stored in the account's settings JSON (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OAuthSettings {
    pub provider: AuthKind,
    /// Replaces the provider's sign-in server: `{auth_base}/authorize` and `{auth_base}/token`.
    #[serde(default)]
    pub auth_base: Option<String>,
    /// Replaces the built-in client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Microsoft: the directory (tenant) to sign in to instead of `common`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub tenant: Option<String>,
}

/// Where and as whom to sign in, with every override applied.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub provider: OAuthProvider,
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|v| !v.is_empty()).map(String::from)
}

impl OAuthSettings {
    /// Applies the overrides: settings, then the environment, then the build's defaults.
    /// `client_secret` is the account's own (from the keyring or the sign-in form).
    pub(crate) fn endpoints(&self, client_secret: Option<&str>) -> Result<Endpoints> {
        let provider = OAuthProvider::of(self.provider)
            .ok_or_else(|| Error::invalid("a password account has no browser sign-in"))?;
        let base = non_empty(self.auth_base.as_deref()).or_else(|| env_var(provider.auth_base_env));
        let (authorize_url, token_url) = match base {
            Some(base) => {
                check_base(&base)?;
                let base = base.trim_end_matches('/');
                (format!("{base}/authorize"), format!("{base}/token"))
            }
            None => match non_empty(self.tenant.as_deref()) {
                Some(tenant) if provider.kind == AuthKind::Microsoft => {
                    crate::oauth_clients::check_tenant(&tenant)?;
                    let at = |url: &str| url.replace("/common/", &format!("/{tenant}/"));
                    (at(provider.authorize_url), at(provider.token_url))
                }
                _ => (provider.authorize_url.into(), provider.token_url.into()),
            },
        };
        let client_id = non_empty(self.client_id.as_deref())
            .or_else(|| env_var(provider.client_id_env))
            .or_else(|| non_empty(provider.builtin_client_id))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "this build of Sportello has no {} client id: set one in the account's \
                     sign-in settings or in {}",
                    provider.name, provider.client_id_env
                ))
            })?;
        let client_secret = non_empty(client_secret)
            .or_else(|| env_var(provider.client_secret_env))
            .or_else(|| non_empty(provider.builtin_client_secret));
        Ok(Endpoints {
            provider,
            authorize_url,
            token_url,
            client_id,
            client_secret,
        })
    }
}

/// A sign-in server must be HTTPS, except on this computer (tests, local proxies).
fn check_base(base: &str) -> Result<()> {
    let url = oauth2::url::Url::parse(base)
        .map_err(|e| Error::invalid(format!("the sign-in address \"{base}\" is not a URL: {e}")))?;
    let local = url.host_str().map(is_loopback).unwrap_or(false);
    if url.scheme() == "https" || (url.scheme() == "http" && local) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "the sign-in address \"{base}\" must use https (http only on this computer)"
        )))
    }
}

/// The token endpoint's answer plus OpenID Connect's `id_token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

pub(crate) type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

pub(crate) type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

impl Endpoints {
    pub(crate) fn client(&self) -> Result<OAuthClient> {
        let auth = AuthUrl::new(self.authorize_url.clone())
            .map_err(|e| Error::invalid(format!("bad sign-in address: {e}")))?;
        let token = TokenUrl::new(self.token_url.clone())
            .map_err(|e| Error::invalid(format!("bad token address: {e}")))?;
        let mut client = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            // Public desktop clients: the client id (and the optional secret) in the body.
            .set_auth_type(oauth2::AuthType::RequestBody);
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(client)
    }
}

/// The HTTP client for the token endpoint: no redirects (RFC 6749 §3.2 answers directly).
pub(crate) fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::new(ErrorCode::Internal, format!("HTTP client: {e}")))
}

/// Maps a token-endpoint failure: `invalid_grant` on a refresh is "sign in again"; not
/// reaching the provider is a network error. Never includes a token.
pub(crate) fn token_error(
    name: &str,
    refreshing: bool,
    e: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let detail = match r.error_description() {
                Some(d) => format!("{} ({d})", r.error()),
                None => r.error().to_string(),
            };
            match r.error() {
                BasicErrorResponseType::InvalidGrant if refreshing => Error::new(
                    ErrorCode::SignInAgain,
                    format!("{name} no longer accepts this sign-in ({detail}): sign in again"),
                ),
                BasicErrorResponseType::InvalidGrant => Error::new(
                    ErrorCode::AuthFailed,
                    format!("{name} refused the sign-in code: {detail}"),
                ),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => Error::new(
                    ErrorCode::AuthFailed,
                    format!("{name} does not accept Sportello's client id: {detail}"),
                ),
                _ => Error::new(
                    ErrorCode::Protocol,
                    format!("{name}'s sign-in server answered an error: {detail}"),
                ),
            }
        }
        RequestTokenError::Request(e) => Error::new(
            ErrorCode::Network,
            format!("cannot reach {name}'s sign-in server: {}", error_chain(&e)),
        ),
        RequestTokenError::Parse(e, _) => Error::new(
            ErrorCode::Protocol,
            format!("{name}'s sign-in server answered something unreadable: {e}"),
        ),
        RequestTokenError::Other(e) => Error::new(
            ErrorCode::Protocol,
            format!("{name}'s sign-in server answered unexpectedly: {e}"),
        ),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An access token and when it stops working (ms since the epoch).
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl AccessToken {
    pub(crate) fn from_answer(answer: &TokenAnswer) -> AccessToken {
        // Both providers send expires_in; an answer without one is taken as one hour.
        let lifetime = answer.expires_in().unwrap_or(Duration::from_secs(3600));
        AccessToken {
            token: answer.access_token().secret().clone(),
            expires_at: sportello_core::now_ms() + lifetime.as_millis() as i64,
        }
    }

    /// Whether it still has more than [`REFRESH_MARGIN`] left.
    pub fn is_fresh(&self) -> bool {
        self.expires_at - sportello_core::now_ms() > REFRESH_MARGIN.as_millis() as i64
    }
}

/// The tokens a sign-in or refresh produced.
#[derive(Clone)]
pub struct Tokens {
    pub access: AccessToken,
    /// A refresh token, when the provider sent one (on a refresh: a rotated one).
    pub refresh: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &self.access)
            .field("refresh", &self.refresh.as_ref().map(|_| ".."))
            .finish()
    }
}

/// Puts an account's tokens in the keyring (only there).
pub fn store_tokens(installation: &str, account_id: i64, tokens: &Tokens) -> Result<()> {
    if let Some(refresh) = &tokens.refresh {
        secrets::set(installation, account_id, REFRESH_TOKEN_KEY, refresh)?;
    }
    let access = serde_json::to_string(&tokens.access).expect("token serialises");
    secrets::set(installation, account_id, ACCESS_TOKEN_KEY, &access)
}

fn stored_access(installation: &str, account_id: i64) -> Result<Option<AccessToken>> {
    let text = secrets::get_optional(installation, account_id, ACCESS_TOKEN_KEY)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// An OAuth2 account's source of access tokens: the keyring, refreshed when due.
pub struct OAuthSession {
    installation: String,
    account_id: i64,
    settings: OAuthSettings,
    /// Serialises refreshes (IMAP and SMTP may ask at once) and caches the token.
    current: tokio::sync::Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for OAuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSession")
            .field("account", &self.account_id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OAuthSession {
    pub fn new(installation: &str, account_id: i64, settings: OAuthSettings) -> Self {
        OAuthSession {
            installation: installation.to_string(),
            account_id,
            settings,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// An access token with more than [`REFRESH_MARGIN`] left, refreshing it first if needed.
    pub async fn access_token(&self) -> Result<String> {
        let mut current = self.current.lock().await;
        // The keyring wins over the cache: a new sign-in may have replaced the tokens.
        if let Some(stored) = stored_access(&self.installation, self.account_id)? {
            *current = Some(stored);
        }
        if let Some(token) = current.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.token.clone());
        }
        let tokens = self.refresh().await?;
        store_tokens(&self.installation, self.account_id, &tokens)?;
        let token = tokens.access.token.clone();
        *current = Some(tokens.access);
        Ok(token)
    }

    /// Forgets the current access token (the server refused it before its expiry: revoked, or
    /// the clocks disagree), so the next [`access_token`](Self::access_token) refreshes.
    pub async fn invalidate(&self) -> Result<()> {
        let mut current = self.current.lock().await;
        if let Some(mut stale) = current
            .take()
            .or(stored_access(&self.installation, self.account_id)?)
        {
            stale.expires_at = 0;
            let text = serde_json::to_string(&stale).expect("token serialises");
            secrets::set(&self.installation, self.account_id, ACCESS_TOKEN_KEY, &text)?;
        }
        Ok(())
    }

    async fn refresh(&self) -> Result<Tokens> {
        let refresh =
            secrets::get_optional(&self.installation, self.account_id, REFRESH_TOKEN_KEY)?
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::SignInAgain,
                        "the account's sign-in is missing from the keyring: sign in again",
                    )
                })?;
        let secret = secrets::get_optional(&self.installation, self.account_id, CLIENT_SECRET_KEY)?;
        let endpoints = self.settings.endpoints(secret.as_deref())?;
        let client = endpoints.client()?;
        let http = http_client()?;
        tracing::info!(account = self.account_id, "refreshing the access token");
        let answer = client
            .exchange_refresh_token(&RefreshToken::new(refresh))
            .request_async(&http)
            .await
            .map_err(|e| token_error(endpoints.provider.name, true, e))?;
        Ok(Tokens {
            access: AccessToken::from_answer(&answer),
            refresh: answer.refresh_token().map(|r| r.secret().clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_imap::Authenticator;

    #[test]
    fn xoauth2_matches_the_documented_format() {
        // Google's example: user=someuser@example.com^Aauth=Bearer ya29.vF9dft4...^A^A
        let r = xoauth2_response(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            r,
            "user=someuser@example.com\u{1}auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\u{1}\u{1}"
        );
        let mut auth = XOAuth2 {
            user: "a@b.it".into(),
            token: "t".into(),
        };
        assert_eq!(auth.process(b""), "user=a@b.it\u{1}auth=Bearer t\u{1}\u{1}");
        // An error challenge (JSON) is answered with an empty line, ending the exchange.
        assert_eq!(auth.process(br#"{"status":"400"}"#), "");
        assert!(!format!("{:?}", Login::Bearer("secret".into())).contains("secret"));
    }
}
