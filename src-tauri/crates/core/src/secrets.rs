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

/// The most a single keyring entry is given, in UTF-16 code units. Windows Credential Manager
/// refuses secrets over 1,280 UTF-16 units (2,560 bytes); a Microsoft access token is often
/// longer. A longer secret is kept in pieces (`key#1`, `key#2`, …) and the entry under `key`
/// holds only a marker with their count — the same on every system, so Linux tests cover it.
const PIECE_UNITS: usize = 1000;
/// The marker's prefix: starts with a control character no password or token contains.
const SPLIT_MARKER: &str = "\u{1}sportello-split:";

fn pieces(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut units) = (0, 0);
    for (i, c) in value.char_indices() {
        if units + c.len_utf16() > PIECE_UNITS {
            out.push(&value[start..i]);
            start = i;
            units = 0;
        }
        units += c.len_utf16();
    }
    out.push(&value[start..]);
    out
}

fn piece_key(key: &str, n: usize) -> String {
    format!("{key}#{n}")
}

/// How many pieces the secret under `key` is split into (0: kept whole, or absent).
fn split_count(installation: &str, account_id: i64, key: &str) -> Result<usize> {
    Ok(read(installation, account_id, key)?
        .and_then(|v| v.strip_prefix(SPLIT_MARKER)?.parse().ok())
        .unwrap_or(0))
}

fn read(installation: &str, account_id: i64, key: &str) -> Result<Option<String>> {
    match entry(installation, account_id, key)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keyring_error(e)),
    }
}

fn remove(installation: &str, account_id: i64, key: &str) -> Result<()> {
    match entry(installation, account_id, key)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(keyring_error(e)),
    }
}

fn write(installation: &str, account_id: i64, key: &str, value: &str) -> Result<()> {
    entry(installation, account_id, key)?
        .set_password(value)
        .map_err(keyring_error)
}

pub fn set(installation: &str, account_id: i64, key: &str, value: &str) -> Result<()> {
    let old = split_count(installation, account_id, key)?;
    let parts = pieces(value);
    if parts.len() > 1 {
        for (n, part) in parts.iter().enumerate() {
            write(installation, account_id, &piece_key(key, n + 1), part)?;
        }
        write(
            installation,
            account_id,
            key,
            &format!("{SPLIT_MARKER}{}", parts.len()),
        )?;
    } else {
        write(installation, account_id, key, value)?;
    }
    let kept = if parts.len() > 1 { parts.len() } else { 0 };
    for n in kept + 1..=old {
        remove(installation, account_id, &piece_key(key, n))?;
    }
    Ok(())
}

pub fn get(installation: &str, account_id: i64, key: &str) -> Result<String> {
    get_optional(installation, account_id, key)?
        .ok_or_else(|| keyring_error(keyring::Error::NoEntry))
}

/// Like [`get`], but a secret that was never saved (or was removed) is `None`, not an error.
pub fn get_optional(installation: &str, account_id: i64, key: &str) -> Result<Option<String>> {
    let Some(value) = read(installation, account_id, key)? else {
        return Ok(None);
    };
    let Some(count) = value
        .strip_prefix(SPLIT_MARKER)
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return Ok(Some(value));
    };
    let mut whole = String::new();
    for n in 1..=count {
        match read(installation, account_id, &piece_key(key, n))? {
            Some(part) => whole.push_str(&part),
            // A piece removed behind our back: the secret is gone, not half there.
            None => return Ok(None),
        }
    }
    Ok(Some(whole))
}

/// Removes a secret (and its pieces); a secret that is already gone is not an error.
pub fn delete(installation: &str, account_id: i64, key: &str) -> Result<()> {
    let count = split_count(installation, account_id, key)?;
    remove(installation, account_id, key)?;
    for n in 1..=count {
        remove(installation, account_id, &piece_key(key, n))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_stay_under_the_windows_limit_and_join_back() {
        assert_eq!(pieces("short"), vec!["short"]);
        let token = "eyJ0eXAi".repeat(400); // 3,200 characters, like a Microsoft access token
        let parts = pieces(&token);
        assert_eq!(parts.len(), 4);
        assert!(
            parts
                .iter()
                .all(|p| p.encode_utf16().count() <= PIECE_UNITS)
        );
        assert_eq!(parts.concat(), token);
        // Characters outside the BMP count twice in UTF-16 and are never cut.
        let wide = "😀".repeat(700);
        let parts = pieces(&wide);
        assert!(
            parts
                .iter()
                .all(|p| p.encode_utf16().count() <= PIECE_UNITS)
        );
        assert_eq!(parts.concat(), wide);
    }

    /// Against the real keyring (inside `tests/session.sh`).
    #[test]
    fn a_long_secret_is_kept_in_pieces_and_reads_back_whole() {
        if std::env::var_os("SPORTELLO_TEST_SESSION").is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "this test needs the OS keyring: run it inside tests/session.sh"
            );
            eprintln!("note: skipped: needs the OS keyring (tests/session.sh)");
            return;
        }
        let installation = format!("test-split-{}", std::process::id());
        let long = "A1b2-C3d4_".repeat(350); // 3,500 characters
        set(&installation, 7, "access_token", &long).unwrap();
        assert_eq!(get(&installation, 7, "access_token").unwrap(), long);
        // No single entry holds more than a piece.
        let head = read(&installation, 7, "access_token").unwrap().unwrap();
        assert!(head.starts_with(SPLIT_MARKER), "{head}");
        for n in 1..=4 {
            let piece = read(&installation, 7, &piece_key("access_token", n))
                .unwrap()
                .unwrap();
            assert!(piece.len() <= PIECE_UNITS);
        }
        // Replaced by a short one: the old pieces are removed.
        set(&installation, 7, "access_token", "short").unwrap();
        assert_eq!(get(&installation, 7, "access_token").unwrap(), "short");
        assert_eq!(
            read(&installation, 7, &piece_key("access_token", 1)).unwrap(),
            None
        );
        // Long again, then deleted: nothing left behind.
        set(&installation, 7, "access_token", &long).unwrap();
        delete(&installation, 7, "access_token").unwrap();
        assert_eq!(
            get_optional(&installation, 7, "access_token").unwrap(),
            None
        );
        for n in 1..=4 {
            assert_eq!(
                read(&installation, 7, &piece_key("access_token", n)).unwrap(),
                None
            );
        }
        assert_eq!(
            get(&installation, 7, "access_token").unwrap_err().code,
            ErrorCode::Keyring
        );
    }
}
