//! Errors with stable codes: the UI and scripts branch on [`ErrorCode`], never on text.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A stable, machine-readable error code. Add one only when a caller branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ErrorCode {
    /// The server refused the credentials.
    AuthFailed,
    /// The provider revoked or expired the account's sign-in (OAuth2 `invalid_grant`): the
    /// user must sign in again in the browser; retrying will not help.
    SignInAgain,
    /// The server could not be reached, or the connection dropped.
    Network,
    /// The TLS handshake failed (certificate not trusted, wrong name, ...).
    Tls,
    /// The server answered something we cannot work with.
    Protocol,
    /// The server refused the message permanently (will not be retried).
    Rejected,
    /// What was asked for does not exist.
    NotFound,
    /// The input is not acceptable; the message says why.
    InvalidInput,
    /// The OS keyring is not available or refused access.
    Keyring,
    /// The provider asks us to slow down (HTTP 429, Graph codes 4/17/32/613, WhatsApp
    /// 130429): retried later, after the wait the provider asked for.
    RateLimited,
    /// The platform's reply window is closed (WhatsApp's 24 hours, Twilio 63016, Messenger's
    /// 7 days): free text is refused; the UI offers a template instead.
    OutsideWindow,
    /// A file is larger than the channel accepts (WhatsApp images 5 MB, Telegram photos
    /// 10 MB, email 25 MB...); the message says the limit. Nothing was queued or sent.
    FileTooLarge,
    /// This account cannot send files from this computer (Twilio takes only public web
    /// addresses); the UI does not offer attaching there.
    AttachmentNotSupported,
    /// The database belongs to a newer Sportello.
    DatabaseTooNew,
    /// Reading or writing local data failed.
    Storage,
    /// Something else went wrong.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::SignInAgain => "sign_in_again",
            ErrorCode::Network => "network",
            ErrorCode::Tls => "tls",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Rejected => "rejected",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Keyring => "keyring",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::OutsideWindow => "outside_window",
            ErrorCode::FileTooLarge => "file_too_large",
            ErrorCode::AttachmentNotSupported => "attachment_not_supported",
            ErrorCode::DatabaseTooNew => "database_too_new",
            ErrorCode::Storage => "storage",
            ErrorCode::Internal => "internal",
        }
    }

    /// Whether trying again later may succeed (network trouble) or not (bad password).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::Network | ErrorCode::Protocol | ErrorCode::Internal | ErrorCode::RateLimited
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The core's error: a code plus a human sentence. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize, TS)]
#[error("{message}")]
#[ts(export)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// How long the server asked us to wait before trying again (a rate limit's
    /// `retry_after`), in milliseconds. Only for the worker's back-off; not sent to the window.
    #[serde(skip)]
    #[ts(skip)]
    pub retry_after_ms: Option<u64>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }
    /// The same error, carrying the wait the server asked for.
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after_ms = Some(wait.as_millis().min(u64::MAX as u128) as u64);
        self
    }
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after_ms.map(std::time::Duration::from_millis)
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::new(ErrorCode::NotFound, what)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidInput, message)
    }
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Storage, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => Error::not_found("not found"),
            other => Error::storage(format!("database error: {other}")),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::storage(format!("file error: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("JSON error: {e}"))
    }
}
