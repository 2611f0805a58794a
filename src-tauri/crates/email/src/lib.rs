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
mod presets;
mod remote;
mod settings;
mod smtp;
mod tls;

use std::sync::Arc;

use async_trait::async_trait;
use sportello_core::channel::{Channel, OutboxItem, SendReceipt, SyncContext, SyncReport};
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Error, Result, Store, secrets};

pub use imap::{BatchLimits, FolderRole, MailFolder, SyncTuning};
pub use import::{IMPORTED_NAME, ImportReport, MboxReader, import_paths, imported_account};
pub use mime::{parse_message, sanitize_html};
pub use oauth::{Login, xoauth2_response};
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

/// An email account's connection details. Implements [`Channel`].
pub struct EmailChannel {
    account: Account,
    settings: EmailSettings,
    password: String,
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
        let password = secrets::get(store.installation_id(), account.id, PASSWORD_KEY)?;
        Ok(Some(
            EmailChannel::new(account.clone(), settings, password).with_store(store.clone()),
        ))
    }

    pub fn new(account: Account, settings: EmailSettings, password: String) -> Self {
        EmailChannel {
            account,
            settings,
            password,
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

    async fn login(&self) -> Result<Login> {
        Ok(Login::Password(self.password.clone()))
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
        imap::sync(ctx, &self.settings, &login, &self.tuning, &self.memory).await
    }

    async fn send(&self, account: &Account, item: &OutboxItem) -> Result<SendReceipt> {
        let built = smtp::build_reply(account, &item.message)?;
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
        let login = self.login().await?;
        let (imap, smtp) = tokio::join!(
            imap::check(&self.settings, &login),
            smtp::check(&self.settings, &login)
        );
        imap?;
        smtp
    }

    /// With IDLE the sync itself waits for the server: start the next pass at once.
    fn poll_interval(&self) -> Option<std::time::Duration> {
        self.memory
            .idle
            .load(std::sync::atomic::Ordering::SeqCst)
            .then_some(std::time::Duration::ZERO)
    }
}
