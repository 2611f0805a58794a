//! The user's preferences, kept in the store (never secrets).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Result, Store, threading::normalize_email};

const KEY: &str = "settings";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct Settings {
    /// "auto" follows the OS language.
    #[ts(type = "\"auto\" | \"it\" | \"en\"")]
    pub locale: String,
    /// Desktop notifications for new messages.
    pub notifications: bool,
    /// Senders whose remote images are shown without asking (lower-case addresses).
    pub remote_content_senders: Vec<String>,
    /// Local port of the webhook receiver (WhatsApp Cloud API, Messenger/Instagram): the shop
    /// exposes it with a tunnel. Takes effect at the next start.
    pub webhook_port: u16,
    /// Show an email's plain-text alternative instead of its HTML.
    pub prefer_plain_text: bool,
}

/// The webhook port unless the user chose another (docs/channels.md uses it).
pub const DEFAULT_WEBHOOK_PORT: u16 = 8787;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locale: "auto".into(),
            notifications: true,
            remote_content_senders: Vec::new(),
            webhook_port: DEFAULT_WEBHOOK_PORT,
            prefer_plain_text: false,
        }
    }
}

impl Store {
    pub fn settings(&self) -> Result<Settings> {
        Ok(match self.get_setting(KEY)? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => Settings::default(),
        })
    }

    pub fn save_settings(&self, settings: &Settings) -> Result<Settings> {
        let mut clean = settings.clone();
        if !matches!(clean.locale.as_str(), "auto" | "it" | "en") {
            clean.locale = "auto".into();
        }
        clean.remote_content_senders = clean
            .remote_content_senders
            .iter()
            .map(|s| normalize_email(s))
            .collect();
        clean.remote_content_senders.sort();
        clean.remote_content_senders.dedup();
        if clean.webhook_port == 0 {
            clean.webhook_port = DEFAULT_WEBHOOK_PORT;
        }
        self.set_setting(KEY, &serde_json::to_string(&clean)?)?;
        Ok(clean)
    }
}
