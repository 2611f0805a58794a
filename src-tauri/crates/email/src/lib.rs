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
mod settings;
mod smtp;
mod tls;

use std::sync::Arc;

use async_trait::async_trait;
use sportello_core::channel::{Channel, OutboxItem, SendReceipt, SyncContext, SyncReport};
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Error, Result, Store, secrets};

pub use imap::BatchLimits;
pub use import::{IMPORTED_NAME, ImportReport, MboxReader, import_paths, imported_account};
pub use mime::{parse_message, sanitize_html};
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
        if let Err(remove) = store.remove_account(account.id) {
            tracing::error!(
                account = account.id,
                "could not remove the half-added account: {remove}"
            );
        }
        return Err(e);
    }
    Ok(account)
}

/// Logs in to the IMAP server and authenticates to the SMTP server, storing nothing.
pub async fn test_settings(input: &EmailAccountInput) -> Result<()> {
    let settings = input.validate()?;
    let (imap, smtp) = tokio::join!(
        imap::check(&settings, &input.password),
        smtp::check(&settings, &input.password)
    );
    imap?;
    smtp
}

/// The channel of an email account; `None` for the local "Imported" account.
/// Reads the password from the keyring.
pub fn open(store: &Store, account: &Account) -> Result<Option<Arc<dyn Channel>>> {
    Ok(EmailChannel::open(store, account)?.map(|c| Arc::new(c) as Arc<dyn Channel>))
}

/// An email account's connection details. Implements [`Channel`].
pub struct EmailChannel {
    account: Account,
    settings: EmailSettings,
    password: String,
    limits: BatchLimits,
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
        let password = secrets::get(store.installation_id(), account.id, PASSWORD_KEY)?;
        Ok(Some(EmailChannel::new(account.clone(), settings, password)))
    }

    pub fn new(account: Account, settings: EmailSettings, password: String) -> Self {
        EmailChannel {
            account,
            settings,
            password,
            limits: BatchLimits::default(),
        }
    }

    /// How many messages (and bytes) are stored per transaction while syncing.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }
}

#[async_trait]
impl Channel for EmailChannel {
    async fn sync(&self, ctx: &SyncContext) -> Result<SyncReport> {
        imap::sync(ctx, &self.settings, &self.password, self.limits).await
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let built = smtp::build_reply(account, &item.message)?;
        smtp::submit(&self.settings, &self.password, &built).await?;
        // A later issue APPENDs `built.bytes` to the Sent folder here; until then the server's
        // own copy (if it keeps one) is recognised by its Message-ID on the next sync.
        Ok(SendReceipt::default())
    }

    async fn test(&self) -> Result<()> {
        let (imap, smtp) = tokio::join!(
            imap::check(&self.settings, &self.password),
            smtp::check(&self.settings, &self.password)
        );
        imap?;
        smtp
    }
}
