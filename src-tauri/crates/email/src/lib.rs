//! Sportello's email channel.
//!
//! Owns everything email-specific: account settings and their validation, IMAP sync (INBOX and
//! Sent, by UID cursor, resumable), MIME parsing and HTML sanitising, SMTP submission of
//! replies, and importing `.eml`/Maildir/mbox files into the local "Imported" account.
//!
//! It must not hold state of its own: every message, cursor and outbox item lives in
//! sportello-core's store, and every secret in the OS keyring through `sportello_core::secrets`.
//! It never logs or returns a password, and has no GUI code.

mod imap;
mod import;
pub mod mime;
mod oauth;
mod oauth_clients;
mod oauth_flow;
mod presets;
mod remote;
mod settings;
mod smtp;
mod sync_store;
mod tls;

use std::sync::Arc;

use async_trait::async_trait;
use sportello_core::channel::{Channel, OutboxItem, SendReceipt, SyncContext, SyncReport};
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Error, ErrorCode, Result, Store, secrets};

pub use imap::{BatchLimits, FolderRole, MailFolder, SyncTuning};
pub use import::{IMPORTED_NAME, ImportReport, MboxReader, import_paths, imported_account};
pub use mime::{parse_message, sanitize_html};
pub use oauth::{
    ACCESS_TOKEN_KEY, AccessToken, CLIENT_SECRET_KEY, Login, OAuthProvider, OAuthSession,
    OAuthSettings, REFRESH_MARGIN, REFRESH_TOKEN_KEY, Tokens, store_tokens, xoauth2_response,
};
pub use oauth_clients::{
    OAuthClientInput, OAuthClientSettings, oauth_client, oauth_clients, set_oauth_client,
};
pub use oauth_flow::{
    BrowserSignIn, SIGN_IN_TIMEOUT, SignedIn, address_from_id_token, run_browser_sign_in,
};
pub use presets::{AuthKind, ProviderPreset, preset, preset_for_address, presets};
pub use settings::{EmailAccountInput, EmailSettings, Security, is_loopback};
pub use smtp::{BuiltMessage, build_reply};

/// The keyring entry holding an account's password.
pub const PASSWORD_KEY: &str = "password";

/// Checks the input, stores the account, and puts the password in the keyring (only there).
/// If the keyring refuses, the account is removed again and the keyring's error returned.
pub fn add_account(store: &Store, input: &EmailAccountInput) -> Result<Account> {
    let settings = input.validate()?;
    let account = store.add_account(
        ChannelKind::Email,
        input.name.trim(),
        input.address.trim(),
        &settings.to_json(),
    )?;
    if let Err(e) = secrets::set(
        store.installation_id(),
        account.id,
        PASSWORD_KEY,
        &input.password,
    ) {
        store.remove_half_added_account(account.id, &[]);
        return Err(e);
    }
    Ok(account)
}

/// What the browser sign-in needs to add an account (Gmail, Microsoft).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct OAuthAccountInput {
    pub name: String,
    pub provider: AuthKind,
    /// The address typed in the form: pre-fills the provider's page; the account gets the
    /// address the provider actually signed in.
    #[serde(default)]
    pub address: Option<String>,
    /// Replaces the provider's sign-in server (see [`OAuthSettings::auth_base`]).
    #[serde(default)]
    pub auth_base: Option<String>,
    /// Replaces the built-in client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Google desktop clients' (non-secret) client secret; kept in the keyring.
    #[serde(default)]
    pub client_secret: Option<String>,
}

impl OAuthAccountInput {
    fn oauth_settings(&self) -> OAuthSettings {
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        OAuthSettings {
            provider: self.provider,
            auth_base: clean(&self.auth_base),
            client_id: clean(&self.client_id),
            tenant: None,
        }
    }

    /// The sign-in settings and client secret used: the client typed in the form, else the
    /// installation's from the settings window, else the environment's or the build's.
    fn configured(&self, store: &Store) -> Result<(OAuthSettings, Option<String>)> {
        oauth_clients::configured(store, self.oauth_settings(), self.client_secret.clone())
    }
}

/// The servers of a browser sign-in provider: its preset (Gmail, Outlook/Microsoft 365).
pub fn oauth_servers(provider: AuthKind) -> Result<EmailSettings> {
    let preset = presets()
        .into_iter()
        .find(|p| p.auth == provider && provider != AuthKind::Password)
        .ok_or_else(|| Error::invalid("a password account has no browser sign-in"))?;
    Ok(EmailSettings {
        local: false,
        imap_host: preset.imap_host,
        imap_port: preset.imap_port,
        imap_security: preset.imap_security,
        smtp_host: preset.smtp_host,
        smtp_port: preset.smtp_port,
        smtp_security: preset.smtp_security,
        username: String::new(),
        ca_file: None,
        folders: Vec::new(),
        oauth: None,
    })
}

/// Starts a new account's browser sign-in: open [`BrowserSignIn::url`], then
/// [`BrowserSignIn::finish`] and [`add_oauth_account`].
pub async fn start_oauth_sign_in(
    store: &Store,
    input: &OAuthAccountInput,
) -> Result<BrowserSignIn> {
    let (settings, secret) = input.configured(store)?;
    BrowserSignIn::start(&settings, secret.as_deref(), input.address.as_deref()).await
}

/// Stores an account signed in in the browser: its settings (`servers`, default the
/// provider's preset) and its tokens, only in the keyring. If the keyring refuses, the
/// account is removed again.
pub fn add_oauth_account(
    store: &Store,
    input: &OAuthAccountInput,
    servers: Option<EmailSettings>,
    signed: &SignedIn,
) -> Result<Account> {
    let address = signed
        .address
        .clone()
        .or_else(|| {
            input
                .address
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
        })
        .ok_or_else(|| {
            Error::invalid("the provider did not say which address signed in: type the address")
        })?;
    let mut settings = match servers {
        Some(s) => s,
        None => oauth_servers(input.provider)?,
    };
    // The account keeps the client it signed in with: its tokens belong to that client.
    let (oauth, client_secret) = input.configured(store)?;
    settings.username = address.clone();
    settings.oauth = Some(oauth);
    let name = match input.name.trim() {
        "" => address.as_str(),
        name => name,
    };
    let account = store.add_account(ChannelKind::Email, name, &address, &settings.to_json())?;
    let saved = (|| {
        store_tokens(store.installation_id(), account.id, &signed.tokens)?;
        if let Some(secret) = client_secret.as_deref().filter(|s| !s.is_empty()) {
            secrets::set(
                store.installation_id(),
                account.id,
                CLIENT_SECRET_KEY,
                secret,
            )?;
        }
        Ok(())
    })();
    if let Err(e) = saved {
        store.remove_half_added_account(
            account.id,
            &[ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, CLIENT_SECRET_KEY],
        );
        return Err(e);
    }
    Ok(account)
}

/// Starts the browser sign-in again for an account whose sign-in expired or was revoked;
/// then [`BrowserSignIn::finish`] and [`finish_sign_in_again`]. The account and its mail stay.
pub async fn start_sign_in_again(store: &Store, account: &Account) -> Result<BrowserSignIn> {
    let settings = EmailSettings::from_json(&account.settings)?;
    let oauth = settings.oauth.ok_or_else(|| {
        Error::invalid("this account signs in with a password: change it in the account")
    })?;
    let secret = secrets::get_optional(store.installation_id(), account.id, CLIENT_SECRET_KEY)?;
    let (oauth, secret) = oauth_clients::configured(store, oauth, secret)?;
    BrowserSignIn::start(&oauth, secret.as_deref(), Some(&account.address)).await
}

/// Keeps the new sign-in's tokens, if it signed in the account's own address.
pub fn finish_sign_in_again(store: &Store, account: &Account, signed: &SignedIn) -> Result<()> {
    if let Some(address) = &signed.address
        && !address.eq_ignore_ascii_case(account.address.trim())
    {
        return Err(Error::invalid(format!(
            "you signed in as {address}, but this account is {}: sign in with that address",
            account.address
        )));
    }
    // An account that signed in with the default client and now with the one set in the
    // settings keeps that one from now on (its new tokens belong to it).
    let mut settings = EmailSettings::from_json(&account.settings)?;
    if let Some(oauth) = settings.oauth.clone() {
        let secret = secrets::get_optional(store.installation_id(), account.id, CLIENT_SECRET_KEY)?;
        let (used, used_secret) = oauth_clients::configured(store, oauth.clone(), secret.clone())?;
        if used != oauth {
            if let Some(s) = used_secret.filter(|s| Some(s) != secret.as_ref()) {
                secrets::set(store.installation_id(), account.id, CLIENT_SECRET_KEY, &s)?;
            }
            settings.oauth = Some(used);
            store.update_account_settings(account.id, &settings.to_json())?;
        }
    }
    store_tokens(store.installation_id(), account.id, &signed.tokens)
}

/// Logs in to the IMAP server and authenticates to the SMTP server, storing nothing.
pub async fn test_settings(input: &EmailAccountInput) -> Result<()> {
    let settings = input.validate()?;
    let login = Login::Password(input.password.clone());
    let (imap, smtp) = tokio::join!(
        imap::check(&settings, &login),
        smtp::check(&settings, &login)
    );
    imap?;
    smtp
}

/// The account's folders with their roles and whether each feeds the inbox.
pub async fn list_folders(store: &Store, account: &Account) -> Result<Vec<MailFolder>> {
    let channel = EmailChannel::open(store, account)?
        .ok_or_else(|| Error::invalid("the imported mail has no server folders"))?;
    let login = channel.login().await?;
    list_folders_with(&channel.settings, &login).await
}

/// [`list_folders`] with explicit settings and sign-in (before an account exists).
pub async fn list_folders_with(settings: &EmailSettings, login: &Login) -> Result<Vec<MailFolder>> {
    let mut session = imap::connect(settings, login).await?;
    let folders = imap::list_folders(settings, &mut session).await;
    let _ = session.logout().await;
    folders
}

/// Chooses the folders whose mail shows in the inbox (empty: INBOX and Sent). Takes effect
/// at the account's next sync.
pub fn set_inbox_folders(store: &Store, account_id: i64, folders: &[String]) -> Result<()> {
    let account = store.account(account_id)?;
    let mut settings = EmailSettings::from_json(&account.settings)?;
    settings.folders = folders
        .iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    store.update_account_settings(account_id, &settings.to_json())
}

/// The channel of an email account; `None` for the local "Imported" account.
/// Reads the password from the keyring.
pub fn open(store: &Store, account: &Account) -> Result<Option<Arc<dyn Channel>>> {
    Ok(EmailChannel::open(store, account)?.map(|c| Arc::new(c) as Arc<dyn Channel>))
}

/// How an [`EmailChannel`] signs in.
enum Secret {
    Password(String),
    OAuth(OAuthSession),
}

/// An email account's connection details. Implements [`Channel`].
pub struct EmailChannel {
    account: Account,
    settings: EmailSettings,
    secret: Secret,
    tuning: SyncTuning,
    memory: imap::SyncMemory,
    /// Where a sent reply's follow-ups (`\Answered`, the copy in Sent) are queued.
    store: Option<Store>,
}

impl std::fmt::Debug for EmailChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChannel")
            .field("account", &self.account.id)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EmailChannel {
    /// Like [`open`], keeping the concrete type (tests tune the batch size with it).
    pub fn open(store: &Store, account: &Account) -> Result<Option<EmailChannel>> {
        if account.kind != ChannelKind::Email {
            return Err(Error::invalid(format!(
                "account {} is not an email account",
                account.id
            )));
        }
        let settings = EmailSettings::from_json(&account.settings)?;
        if settings.local {
            return Ok(None);
        }
        if let Some(oauth) = settings.oauth.clone() {
            let session = OAuthSession::new(store.installation_id(), account.id, oauth);
            let mut channel = EmailChannel::new(account.clone(), settings, String::new());
            channel.secret = Secret::OAuth(session);
            return Ok(Some(channel.with_store(store.clone())));
        }
        let password = secrets::get(store.installation_id(), account.id, PASSWORD_KEY)?;
        Ok(Some(
            EmailChannel::new(account.clone(), settings, password).with_store(store.clone()),
        ))
    }

    pub fn new(account: Account, settings: EmailSettings, password: String) -> Self {
        EmailChannel {
            account,
            settings,
            secret: Secret::Password(password),
            tuning: SyncTuning::default(),
            memory: imap::SyncMemory::default(),
            store: None,
        }
    }

    /// How many messages (and bytes) are stored per transaction while syncing.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        self.tuning.limits = limits;
        self
    }

    /// Flag-scan and IDLE periods (tests shorten them).
    pub fn with_tuning(mut self, tuning: SyncTuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Lets [`Channel::send`] queue a reply's follow-ups on the server (`\Answered` on the
    /// message it answers, a copy in Sent) and try them at once.
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// What the next connection signs in with; an OAuth2 access token is refreshed first when
    /// it has less than [`REFRESH_MARGIN`] left.
    async fn login(&self) -> Result<Login> {
        match &self.secret {
            Secret::Password(p) => Ok(Login::Password(p.clone())),
            Secret::OAuth(session) => Ok(Login::Bearer(session.access_token().await?)),
        }
    }

    /// Whether to sign in once more after `failure`: a refused OAuth2 access token (revoked
    /// before its expiry) is dropped so the retry refreshes it, and a revoked sign-in ends as
    /// `SignInAgain`, not as a refused password.
    async fn retry_refreshed(&self, failure: Option<ErrorCode>) -> Result<bool> {
        match (&self.secret, failure) {
            (Secret::OAuth(session), Some(ErrorCode::AuthFailed)) => {
                tracing::info!(
                    account = self.account.id,
                    "the server refused the access token; refreshing it"
                );
                session.invalidate().await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Gmail files what its SMTP sends in Sent Mail itself: a copy of ours would show twice.
fn server_files_sent_mail(settings: &EmailSettings) -> bool {
    let host = settings.smtp_host.to_ascii_lowercase();
    host.ends_with("gmail.com") || host.ends_with("googlemail.com")
}

#[async_trait]
impl Channel for EmailChannel {
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        let login = self.login().await?;
        let result = imap::sync(ctx, &self.settings, &login, &self.tuning, &self.memory).await;
        if self
            .retry_refreshed(result.as_ref().err().map(|e| e.code))
            .await?
        {
            let login = self.login().await?;
            return imap::sync(ctx, &self.settings, &login, &self.tuning, &self.memory).await;
        }
        result
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let built = smtp::build_reply(account, &item.message, &item.files)?;
        let login = self.login().await?;
        smtp::submit(&self.settings, &login, &built).await?;
        if let Some(store) = &self.store {
            // The reply is out: what follows is bookkeeping on the server, never a failure.
            let queued = (|| -> Result<()> {
                if let Some(parent) = &item.message.in_reply_to {
                    let id = sportello_core::threading::normalize_message_id(parent);
                    store.queue_answered(account.id, &id)?;
                }
                if !server_files_sent_mail(&self.settings) {
                    store.queue_remote_op(
                        account.id,
                        None,
                        sportello_core::store::RemoteOpKind::AppendSent,
                        Some(&built.bytes),
                    )?;
                }
                Ok(())
            })();
            if let Err(e) = queued {
                tracing::warn!(
                    account = account.id,
                    "cannot queue the reply's follow-ups: {e}"
                );
            } else if let Err(e) =
                imap::apply_ops_now(store, account.id, &self.settings, &login).await
            {
                tracing::info!(
                    account = account.id,
                    "follow-ups wait for the next sync: {e}"
                );
            }
        }
        Ok(SendReceipt::default())
    }

    async fn test(&self) -> Result<()> {
        let check = async |login: Login| {
            let (imap, smtp) = tokio::join!(
                imap::check(&self.settings, &login),
                smtp::check(&self.settings, &login)
            );
            imap.and(smtp)
        };
        let result = check(self.login().await?).await;
        if self
            .retry_refreshed(result.as_ref().err().map(|e| e.code))
            .await?
        {
            return check(self.login().await?).await;
        }
        result
    }

    /// With IDLE the sync itself waits for the server: start the next pass at once.
    fn poll_interval(&self) -> Option<std::time::Duration> {
        self.memory
            .idle
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(std::time::Duration::ZERO)
    }
}
