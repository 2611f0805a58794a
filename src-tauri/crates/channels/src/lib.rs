//! The one place that knows every channel crate: it opens the right [`Channel`] for an
//! account. The desktop shell and the CLI both hand [`opener`] to the sync supervisor.
//! No channel logic lives here.

use std::sync::Arc;

use sportello_core::channel::{Channel, OpenChannel};
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Result, Store};

/// Opens the channel for an account; `Ok(None)` for local-only accounts.
pub fn open(store: &Store, account: &Account) -> Result<Option<Arc<dyn Channel>>> {
    match account.kind {
        ChannelKind::Email => sportello_email::open(store, account),
        // WhatsApp (Cloud API or Twilio, by the account's `provider`), Messenger, Instagram,
        // Telegram.
        ChannelKind::Whatsapp
        | ChannelKind::Messenger
        | ChannelKind::Instagram
        | ChannelKind::Telegram => sportello_messaging::open(store, account),
    }
}

pub fn opener() -> OpenChannel {
    Arc::new(open)
}

/// Names under which channels keep an account's secrets in the keyring.
const SECRET_KEYS: &[&str] = &[
    "password",
    "access_token",
    "refresh_token",
    "app_secret",
    "verify_token",
    "token",
    // OAuth2 email accounts (Gmail, Microsoft): a desktop client's secret.
    "client_secret",
];

/// Removes an account, everything synced from it and its secrets in the keyring.
pub fn remove_account(store: &Store, account_id: i64) -> Result<()> {
    store.account(account_id)?;
    for key in SECRET_KEYS {
        sportello_core::secrets::delete(store.installation_id(), account_id, key)?;
    }
    store.remove_account(account_id)
}
