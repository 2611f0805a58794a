//! The installation's own OAuth2 clients (settings window, Advanced): per provider a client
//! id, for Microsoft a tenant, and an optional client secret. A new browser sign-in uses them
//! before `SPORTELLO_*_CLIENT_ID` and the build-time default; the account then keeps the
//! client it signed in with (its tokens belong to that client), so changing the setting
//! later affects only new sign-ins.
//!
//! The client id and tenant are stored in the store's settings table; the secret only in the
//! keyring (entry [`CLIENT_SECRET_KEY`]-style, under the installation itself, account 0).

use serde::{Deserialize, Serialize};
use sportello_core::{Error, Result, Store, secrets};
use ts_rs::TS;

use crate::oauth::{OAuthProvider, OAuthSettings};
use crate::presets::AuthKind;

/// The keyring's "account" of secrets that belong to the installation, not to an account
/// (account ids start at 1).
const INSTALLATION: i64 = 0;

/// One provider's client as the settings window shows it. The secret never leaves the
/// keyring: only whether one is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OAuthClientSettings {
    pub provider: AuthKind,
    /// Empty: the build's default client (or `SPORTELLO_*_CLIENT_ID`).
    pub client_id: String,
    /// Microsoft: the directory (tenant) id or domain; empty: `common` (work, school and
    /// personal accounts).
    pub tenant: String,
    /// A client secret is kept in the keyring.
    pub has_client_secret: bool,
    /// This build (or its environment) has a default client id for the provider.
    pub has_default: bool,
}

/// What the settings window saves for one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OAuthClientInput {
    pub provider: AuthKind,
    pub client_id: String,
    #[serde(default)]
    pub tenant: String,
    /// Absent: keep the stored secret; empty: remove it; else the new secret (keyring only).
    #[serde(default)]
    #[ts(optional)]
    pub client_secret: Option<String>,
}

/// What is kept in the store (no secret).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    client_id: String,
    #[serde(default)]
    tenant: String,
}

fn slug(provider: AuthKind) -> Result<&'static str> {
    match provider {
        AuthKind::Google => Ok("google"),
        AuthKind::Microsoft => Ok("microsoft"),
        AuthKind::Password => Err(Error::invalid("a password account has no browser sign-in")),
    }
}

fn setting_key(provider: AuthKind) -> Result<String> {
    Ok(format!("oauth_client.{}", slug(provider)?))
}

fn secret_key(provider: AuthKind) -> Result<String> {
    Ok(format!("oauth_client_secret.{}", slug(provider)?))
}

fn stored(store: &Store, provider: AuthKind) -> Result<Stored> {
    Ok(store
        .get_setting(&setting_key(provider)?)?
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default())
}

/// A tenant is a GUID or a domain: letters, digits, dots and dashes.
pub(crate) fn check_tenant(tenant: &str) -> Result<()> {
    let ok = tenant.len() <= 100
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "\"{tenant}\" is not a Microsoft tenant: use its id or domain, e.g. contoso.onmicrosoft.com"
        )))
    }
}

/// One provider's client settings.
pub fn oauth_client(store: &Store, provider: AuthKind) -> Result<OAuthClientSettings> {
    let saved = stored(store, provider)?;
    let key = secret_key(provider)?;
    let has_client_secret =
        secrets::get_optional(store.installation_id(), INSTALLATION, &key)?.is_some();
    let builtin = OAuthProvider::of(provider).is_some_and(|p| {
        p.builtin_client_id.is_some_and(|v| !v.trim().is_empty())
            || std::env::var(p.client_id_env).is_ok_and(|v| !v.trim().is_empty())
    });
    Ok(OAuthClientSettings {
        provider,
        client_id: saved.client_id,
        tenant: if provider == AuthKind::Microsoft {
            saved.tenant
        } else {
            String::new()
        },
        has_client_secret,
        has_default: builtin,
    })
}

/// Google's and Microsoft's client settings, in that order.
pub fn oauth_clients(store: &Store) -> Result<Vec<OAuthClientSettings>> {
    [AuthKind::Google, AuthKind::Microsoft]
        .into_iter()
        .map(|p| oauth_client(store, p))
        .collect()
}

/// Saves one provider's client: the id and tenant in the store, the secret in the keyring.
pub fn set_oauth_client(store: &Store, input: &OAuthClientInput) -> Result<OAuthClientSettings> {
    let key = setting_key(input.provider)?;
    let client_id = input.client_id.trim().to_string();
    if client_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid("a client id has no spaces"));
    }
    let tenant = if input.provider == AuthKind::Microsoft {
        input.tenant.trim().to_string()
    } else {
        String::new()
    };
    check_tenant(&tenant)?;
    // The secret first: if the keyring refuses, nothing changed.
    if let Some(secret) = &input.client_secret {
        let name = secret_key(input.provider)?;
        match secret.trim() {
            "" => secrets::delete(store.installation_id(), INSTALLATION, &name)?,
            secret => secrets::set(store.installation_id(), INSTALLATION, &name, secret)?,
        }
    }
    let value = serde_json::to_string(&Stored { client_id, tenant })?;
    store.set_setting(&key, &value)?;
    oauth_client(store, input.provider)
}

/// The sign-in settings and client secret a new browser sign-in uses: the ones typed for it
/// if a client id was, else the installation's client from the settings (if one is set),
/// else those of `settings` as they are (environment, then build default, later).
pub(crate) fn configured(
    store: &Store,
    mut settings: OAuthSettings,
    secret: Option<String>,
) -> Result<(OAuthSettings, Option<String>)> {
    let typed = settings
        .client_id
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    if typed {
        return Ok((settings, secret));
    }
    let saved = stored(store, settings.provider)?;
    if saved.client_id.trim().is_empty() {
        return Ok((settings, secret));
    }
    settings.client_id = Some(saved.client_id.trim().to_string());
    if settings.provider == AuthKind::Microsoft && !saved.tenant.trim().is_empty() {
        settings.tenant = Some(saved.tenant.trim().to_string());
    }
    let secret = match secret.filter(|s| !s.trim().is_empty()) {
        Some(s) => Some(s),
        None => secrets::get_optional(
            store.installation_id(),
            INSTALLATION,
            &secret_key(settings.provider)?,
        )?,
    };
    Ok((settings, secret))
}
