//! Known providers, so a shop owner types only an address. Hosts, ports and security come
//! from each provider's published IMAP/SMTP settings (see docs/provider-quirks.md); anything
//! not listed falls back to the manual form.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::settings::{EmailAccountInput, Security};

/// How an account signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuthKind {
    /// A password (or an app password) kept in the keyring.
    #[default]
    Password,
    /// Google sign-in in the browser (OAuth2, XOAUTH2).
    Google,
    /// Microsoft sign-in in the browser (OAuth2, XOAUTH2).
    Microsoft,
}

/// One provider's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ProviderPreset {
    /// Stable id (`gmail`, `outlook`, `aruba`...).
    pub id: String,
    pub name: String,
    /// Address domains it serves (empty for hosting providers: their customers use their own
    /// domains, so the user picks the provider).
    pub domains: Vec<String>,
    pub imap_host: String,
    pub imap_port: u16,
    pub imap_security: Security,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    /// The sign-in it prefers; providers with OAuth still take app passwords.
    pub auth: AuthKind,
    /// A password alone is refused: an app password must be made in the provider's security
    /// settings (or use the browser sign-in).
    pub app_password: bool,
}

#[allow(clippy::too_many_arguments)]
fn p(
    id: &str,
    name: &str,
    domains: &[&str],
    imap: (&str, u16, Security),
    smtp: (&str, u16, Security),
    auth: AuthKind,
    app_password: bool,
) -> ProviderPreset {
    ProviderPreset {
        id: id.into(),
        name: name.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        imap_host: imap.0.into(),
        imap_port: imap.1,
        imap_security: imap.2,
        smtp_host: smtp.0.into(),
        smtp_port: smtp.1,
        smtp_security: smtp.2,
        auth,
        app_password,
    }
}

/// Every known provider, in the order the UI lists them.
pub fn presets() -> Vec<ProviderPreset> {
    use Security::{Starttls, Tls};
    vec![
        p(
            "gmail",
            "Gmail / Google Workspace",
            &["gmail.com", "googlemail.com"],
            ("imap.gmail.com", 993, Tls),
            ("smtp.gmail.com", 465, Tls),
            AuthKind::Google,
            true,
        ),
        p(
            "outlook",
            "Outlook.com / Microsoft 365",
            &[
                "outlook.com",
                "outlook.it",
                "hotmail.com",
                "hotmail.it",
                "live.com",
                "live.it",
                "msn.com",
            ],
            ("outlook.office365.com", 993, Tls),
            ("smtp.office365.com", 587, Starttls),
            AuthKind::Microsoft,
            false,
        ),
        p(
            "icloud",
            "iCloud Mail",
            &["icloud.com", "me.com", "mac.com"],
            ("imap.mail.me.com", 993, Tls),
            ("smtp.mail.me.com", 587, Starttls),
            AuthKind::Password,
            true,
        ),
        p(
            "yahoo",
            "Yahoo Mail",
            &["yahoo.com", "yahoo.it", "ymail.com", "rocketmail.com"],
            ("imap.mail.yahoo.com", 993, Tls),
            ("smtp.mail.yahoo.com", 465, Tls),
            AuthKind::Password,
            true,
        ),
        p(
            "aruba",
            "Aruba",
            &["aruba.it"],
            ("imaps.aruba.it", 993, Tls),
            ("smtps.aruba.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
        p(
            "aruba_pec",
            "Aruba PEC",
            &["pec.it"],
            ("imaps.pec.aruba.it", 993, Tls),
            ("smtps.pec.aruba.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
        p(
            "libero",
            "Libero Mail",
            &["libero.it", "inwind.it", "iol.it", "blu.it", "giallo.it"],
            ("imapmail.libero.it", 993, Tls),
            ("smtp.libero.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
        p(
            "virgilio",
            "Virgilio Mail",
            &["virgilio.it"],
            ("in.virgilio.it", 993, Tls),
            ("out.virgilio.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
        p(
            "tim",
            "TIM Mail",
            &["tim.it", "alice.it", "tin.it", "tiscalinet.it"],
            ("imap.tim.it", 993, Tls),
            ("smtp.tim.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
        p(
            "register",
            "Register.it",
            &[],
            ("imap.register.it", 993, Tls),
            ("authsmtp.register.it", 465, Tls),
            AuthKind::Password,
            false,
        ),
    ]
}

/// The preset with this id.
pub fn preset(id: &str) -> Option<ProviderPreset> {
    presets()
        .into_iter()
        .find(|p| p.id.eq_ignore_ascii_case(id.trim()))
}

/// The preset for an address's domain (`None`: unknown domain, use the manual form or pick a
/// hosting provider).
pub fn preset_for_address(address: &str) -> Option<ProviderPreset> {
    let domain = address.trim().rsplit_once('@')?.1.to_ascii_lowercase();
    presets().into_iter().find(|p| p.domains.contains(&domain))
}

impl ProviderPreset {
    /// The account form filled from this preset.
    pub fn input(&self, name: &str, address: &str, password: &str) -> EmailAccountInput {
        EmailAccountInput {
            name: name.to_string(),
            address: address.to_string(),
            imap_host: self.imap_host.clone(),
            imap_port: self.imap_port,
            imap_security: self.imap_security,
            smtp_host: self.smtp_host.clone(),
            smtp_port: self.smtp_port,
            smtp_security: self.smtp_security,
            username: None,
            password: password.to_string(),
            ca_file: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_finds_its_provider_in_any_case() {
        assert_eq!(preset_for_address("Mario@Gmail.com").unwrap().id, "gmail");
        assert_eq!(
            preset_for_address("negozio@libero.it").unwrap().imap_host,
            "imapmail.libero.it"
        );
        assert_eq!(
            preset_for_address("a@hotmail.it").unwrap().auth,
            AuthKind::Microsoft
        );
        assert_eq!(
            preset_for_address("a@virgilio.it").unwrap().smtp_host,
            "out.virgilio.it"
        );
        assert!(preset_for_address("info@bottega-rossi.it").is_none());
        assert!(preset_for_address("not an address").is_none());
        assert_eq!(
            preset("Register").unwrap().smtp_host,
            "authsmtp.register.it"
        );
    }

    #[test]
    fn every_preset_makes_valid_settings() {
        for p in presets() {
            let address = format!("info@{}", p.domains.first().map_or("negozio.it", |d| d));
            let input = p.input("Negozio", &address, "x");
            input
                .validate()
                .unwrap_or_else(|e| panic!("{}: {}", p.id, e.message));
            assert_ne!(input.imap_security, Security::Plain, "{}", p.id);
        }
    }
}
