//! Downloading the files of chat messages after the messages are stored: the webhook answers
//! quickly, and a failed download is retried on the next pass instead of losing the message.

use async_trait::async_trait;
use sportello_core::model::PendingAttachment;
use sportello_core::{ErrorCode, Result, Store};

/// What a download brought.
pub(crate) struct Fetched {
    pub data: Vec<u8>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
}

#[async_trait]
pub(crate) trait MediaSource: Send + Sync {
    /// `Ok(None)`: the provider no longer has the file (expired id); stop trying.
    async fn fetch(&self, pending: &PendingAttachment) -> Result<Option<Fetched>>;
}

/// Downloads what is pending for an account. Returns how many files were stored. A
/// transient failure stops the round (the files stay pending for the next pass); an
/// authentication failure is returned so the account shows it.
pub(crate) async fn download_pending(
    store: &Store,
    account_id: i64,
    source: &dyn MediaSource,
) -> Result<u32> {
    let mut stored = 0;
    for pending in store.pending_attachments(account_id, 200)? {
        match source.fetch(&pending).await {
            Ok(Some(f)) => {
                store.complete_attachment(
                    pending.id,
                    &f.data,
                    f.mime_type.as_deref(),
                    f.filename.as_deref(),
                )?;
                stored += 1;
            }
            Ok(None) => {
                tracing::warn!(attachment = pending.id, "media no longer available");
                store.abandon_attachment(pending.id)?;
            }
            Err(e) if e.code == ErrorCode::AuthFailed => return Err(e),
            Err(e) if e.code.is_transient() => {
                tracing::warn!(attachment = pending.id, code = %e.code, "media download postponed: {}", e.message);
                break;
            }
            Err(e) => {
                tracing::warn!(attachment = pending.id, code = %e.code, "media refused: {}", e.message);
                store.abandon_attachment(pending.id)?;
            }
        }
    }
    Ok(stored)
}
