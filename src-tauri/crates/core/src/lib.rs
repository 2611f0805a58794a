//! Sportello's headless core.
//!
//! Owns the domain types, the SQLite store (schema, migrations, full-text index), the sync
//! supervisor that runs one worker per account, the outbox that sends replies exactly once,
//! and the secrets kept in the OS keyring.
//!
//! It must never depend on Tauri or any GUI: the desktop shell and the CLI are both thin
//! adapters over this crate, and every behaviour here is testable headless.

pub mod bench;
pub mod care;
pub mod channel;
pub mod error;
pub mod events;
pub mod model;
pub mod outbox;
pub mod paths;
pub mod phone;
pub mod quotes;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod supervisor;
pub mod templates;
pub mod threading;

pub use error::{Error, ErrorCode, Result};
pub use store::Store;

/// Milliseconds since the Unix epoch, the one time unit stored and sent to the UI.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
