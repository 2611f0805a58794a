//! An email account's server settings: what the user types in ([`EmailAccountInput`]) and what
//! is stored as the account's settings JSON ([`EmailSettings`], never a secret).

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sportello_core::{Error, Result};
use ts_rs::TS;

/// How a connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Security {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    #[default]
    Tls,
    /// A plain connection upgraded with STARTTLS (IMAP 143, submission 587).
    Starttls,
    /// No encryption: only ever allowed to this computer (test servers, local bridges).
    Plain,
}

/// What the "add email account" form sends.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct EmailAccountInput {
    pub name: String,
    pub address: String,
    pub imap_host: String,
    pub imap_port: u16,
    pub imap_security: Security,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: Security,
    /// The login name, when it is not the address.
    pub username: Option<String>,
    pub password: String,
    /// Path of an extra CA certificate (PEM) to trust, for self-hosted servers.
    pub ca_file: Option<String>,
}

/// Stored as the account's settings JSON. Holds no secret: the password is in the keyring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailSettings {
    /// The "Imported" account: mail read from files, never synced.
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub imap_host: String,
    #[serde(default)]
    pub imap_port: u16,
    #[serde(default)]
    pub imap_security: Security,
    #[serde(default)]
    pub smtp_host: String,
    #[serde(default)]
    pub smtp_port: u16,
    #[serde(default)]
    pub smtp_security: Security,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Folders to sync. Empty: INBOX and the Sent folder the server advertises.
    #[serde(default)]
    pub folders: Vec<String>,
    /// Set for accounts that sign in in the browser (OAuth2, XOAUTH2) instead of a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<crate::oauth::OAuthSettings>,
}

impl EmailSettings {
    pub fn local() -> Self {
        EmailSettings {
            local: true,
            imap_host: String::new(),
            imap_port: 0,
            imap_security: Security::Tls,
            smtp_host: String::new(),
            smtp_port: 0,
            smtp_security: Security::Tls,
            username: String::new(),
            ca_file: None,
            folders: Vec::new(),
            oauth: None,
        }
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        serde_json::from_value(value.clone()).map_err(|e| {
            Error::invalid(format!("the account's email settings are unreadable: {e}"))
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings serialise")
    }
}

impl EmailAccountInput {
    /// Checks the input and returns the settings to store. Errors say which field is wrong.
    pub fn validate(&self) -> Result<EmailSettings> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("the account needs a name"));
        }
        check_address(&self.address)?;
        check_server("IMAP", &self.imap_host, self.imap_port, self.imap_security)?;
        check_server("SMTP", &self.smtp_host, self.smtp_port, self.smtp_security)?;
        if self.password.is_empty() {
            return Err(Error::invalid("the password is empty"));
        }
        let ca_file = match self.ca_file.as_deref().map(str::trim) {
            Some(path) if !path.is_empty() => {
                crate::tls::read_ca_file(Path::new(path))?;
                Some(path.to_string())
            }
            _ => None,
        };
        let username = match self.username.as_deref().map(str::trim) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => self.address.trim().to_string(),
        };
        Ok(EmailSettings {
            local: false,
            imap_host: self.imap_host.trim().to_string(),
            imap_port: self.imap_port,
            imap_security: self.imap_security,
            smtp_host: self.smtp_host.trim().to_string(),
            smtp_port: self.smtp_port,
            smtp_security: self.smtp_security,
            username,
            ca_file,
            folders: Vec::new(),
            oauth: None,
        })
    }
}

fn check_address(address: &str) -> Result<()> {
    let a = address.trim();
    let ok = match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("\"{a}\" is not an email address")))
    }
}

fn check_server(what: &str, host: &str, port: u16, security: Security) -> Result<()> {
    let host = host.trim();
    if host.is_empty() {
        return Err(Error::invalid(format!("the {what} server is empty")));
    }
    if host.contains("://") || host.contains('/') || host.chars().any(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "the {what} server \"{host}\" should be a host name such as mail.example.com"
        )));
    }
    if port == 0 {
        return Err(Error::invalid(format!(
            "the {what} port must be between 1 and 65535"
        )));
    }
    if security == Security::Plain {
        if !is_loopback(host) {
            return Err(Error::invalid(format!(
                "an unencrypted {what} connection is only allowed to this computer \
                 (localhost); choose TLS or STARTTLS for {host}"
            )));
        }
        tracing::warn!(host, port, "{what} without encryption to this computer");
    }
    Ok(())
}

/// Whether a host name is this computer.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EmailAccountInput {
        EmailAccountInput {
            name: "Bottega".into(),
            address: "info@bottega.it".into(),
            imap_host: "imap.bottega.it".into(),
            imap_port: 993,
            imap_security: Security::Tls,
            smtp_host: "smtp.bottega.it".into(),
            smtp_port: 465,
            smtp_security: Security::Tls,
            username: None,
            password: "segreto".into(),
            ca_file: None,
        }
    }

    #[test]
    fn valid_input_gives_settings_without_the_password() {
        let s = input().validate().unwrap();
        assert_eq!(s.username, "info@bottega.it");
        assert!(!s.local);
        assert!(!s.to_json().to_string().contains("segreto"));
        assert_eq!(EmailSettings::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn plain_is_refused_for_remote_hosts() {
        let mut i = input();
        i.imap_security = Security::Plain;
        let e = i.validate().unwrap_err();
        assert_eq!(e.code, sportello_core::ErrorCode::InvalidInput);
        assert!(e.message.contains("imap.bottega.it"), "{}", e.message);
    }

    #[test]
    fn plain_is_allowed_for_loopback_hosts() {
        for host in [
            "127.0.0.1",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
            "127.0.0.2",
        ] {
            let mut i = input();
            i.imap_host = host.into();
            i.imap_security = Security::Plain;
            i.smtp_host = host.into();
            i.smtp_security = Security::Plain;
            i.validate().unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        assert!(!is_loopback("localhost.example.com"));
        assert!(!is_loopback("10.0.0.1"));
    }

    #[test]
    fn bad_fields_are_named() {
        type Change = fn(&mut EmailAccountInput);
        let cases: Vec<(Change, &str)> = vec![
            (|i| i.name = " ".into(), "name"),
            (|i| i.address = "not-an-address".into(), "email address"),
            (|i| i.address = "a b@c.it".into(), "email address"),
            (|i| i.imap_host = "".into(), "IMAP server"),
            (|i| i.smtp_host = "https://smtp.x.it".into(), "host name"),
            (|i| i.smtp_port = 0, "SMTP port"),
            (|i| i.password = "".into(), "password"),
            (|i| i.ca_file = Some("/nonexistent/ca.pem".into()), "CA"),
        ];
        for (change, expected) in cases {
            let mut i = input();
            change(&mut i);
            let e = i.validate().unwrap_err();
            assert_eq!(e.code, sportello_core::ErrorCode::InvalidInput);
            assert!(
                e.message.contains(expected),
                "{expected:?} not in {:?}",
                e.message
            );
        }
    }

    #[test]
    fn explicit_username_is_kept() {
        let mut i = input();
        i.username = Some("  mario ".into());
        assert_eq!(i.validate().unwrap().username, "mario");
    }
}
