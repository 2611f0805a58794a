//! Secrets (passwords, tokens) live only in the OS keyring, never in SQLite, logs or errors.
//!
//! Entries are named per data folder (its installation id) so two data folders, such as a test's
//! and the real one, never read each other's secrets.

use crate::{Error, ErrorCode, Result};

const SERVICE: &str = "sportello";

fn entry(installation: &str, account_id: i64, key: &str) -> Result<keyring::Entry> {
    keyring::Entry::new(
        SERVICE,
        &format!("{installation}/account-{account_id}/{key}"),
    )
    .map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> Error {
    let message = match e {
        keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            "the system keyring is not available or is locked; unlock it and try again".to_string()
        }
        keyring::Error::NoEntry => "no saved password for this account".to_string(),
        other => format!("keyring error: {other}"),
    };
    Error::new(ErrorCode::Keyring, message)
}

pub fn set(installation: &str, account_id: i64, key: &str, value: &str) -> Result<()> {
    entry(installation, account_id, key)?
        .set_password(value)
        .map_err(keyring_error)
}

pub fn get(installation: &str, account_id: i64, key: &str) -> Result<String> {
    entry(installation, account_id, key)?
        .get_password()
        .map_err(keyring_error)
}

/// Like [`get`], but a secret that was never saved (or was removed) is `None`, not an error.
pub fn get_optional(installation: &str, account_id: i64, key: &str) -> Result<Option<String>> {
    match entry(installation, account_id, key)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keyring_error(e)),
    }
}

/// Removes a secret; a secret that is already gone is not an error.
pub fn delete(installation: &str, account_id: i64, key: &str) -> Result<()> {
    match entry(installation, account_id, key)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keyring_error(e)),
    }
}
