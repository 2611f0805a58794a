//! What chat channels need beyond ingest: media fetched after its message is stored, delivery
//! statuses reported later by the provider, and the channel-specific facts of a message.

use rusqlite::{OptionalExtension, params};

use super::Store;
use crate::events::Change;
use crate::model::{Delivery, PendingAttachment};
use crate::{Error, Result};

/// Statuses only move forward (a late "sent" never hides "read"); "failed" wins over
/// everything but a confirmed delivery.
fn rank(d: Delivery) -> u8 {
    match d {
        Delivery::Received | Delivery::Queued | Delivery::Sending => 0,
        Delivery::Sent => 1,
        Delivery::Failed => 2,
        Delivery::Delivered => 3,
        Delivery::Read => 4,
    }
}

impl Store {
    /// Attachments of an account still waiting to be downloaded, oldest first.
    pub fn pending_attachments(
        &self,
        account_id: i64,
        limit: u32,
    ) -> Result<Vec<PendingAttachment>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT a.id, a.message_id, a.filename, a.mime_type, a.remote_ref
             FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE a.remote_ref IS NOT NULL AND m.account_id = ?1
             ORDER BY a.id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![account_id, limit], |r| {
                Ok(PendingAttachment {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    filename: r.get(2)?,
                    mime_type: r.get(3)?,
                    remote_ref: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Stores the downloaded bytes of a pending attachment (and its real type and name, when
    /// the provider told them only at download time).
    pub fn complete_attachment(
        &self,
        attachment_id: i64,
        data: &[u8],
        mime_type: Option<&str>,
        filename: Option<&str>,
    ) -> Result<()> {
        let hash = self.put_blob(data)?;
        let conversation: Option<i64> = {
            let conn = self.writer();
            conn.execute(
                "UPDATE attachments SET content_hash = ?2, size = ?3, remote_ref = NULL,
                        mime_type = COALESCE(?4, mime_type), filename = COALESCE(?5, filename)
                 WHERE id = ?1",
                params![attachment_id, hash, data.len() as i64, mime_type, filename],
            )?;
            conn.query_row(
                "SELECT m.conversation_id FROM attachments a JOIN messages m ON m.id = a.message_id
                 WHERE a.id = ?1",
                [attachment_id],
                |r| r.get(0),
            )
            .optional()?
        };
        self.announce(Change {
            conversations: conversation.into_iter().collect(),
            ..Default::default()
        });
        Ok(())
    }

    /// The provider no longer has the file (expired media id): stop trying. The attachment
    /// stays listed without content.
    pub fn abandon_attachment(&self, attachment_id: i64) -> Result<()> {
        self.writer().execute(
            "UPDATE attachments SET remote_ref = NULL WHERE id = ?1",
            [attachment_id],
        )?;
        Ok(())
    }

    /// Records a delivery status the provider reported for one of our messages, found by its
    /// external id. Returns false when no such outbound message is known (yet). Statuses never
    /// move backwards.
    pub fn set_delivery(
        &self,
        account_id: i64,
        external_id: &str,
        delivery: Delivery,
        error: Option<&Error>,
    ) -> Result<bool> {
        let error = error.map(serde_json::to_string).transpose()?;
        let conversation = {
            let conn = self.writer();
            let found: Option<(i64, i64, String)> = conn
                .query_row(
                    "SELECT id, conversation_id, delivery FROM messages
                     WHERE account_id = ?1 AND external_id = ?2 AND direction = 'outbound'",
                    params![account_id, external_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((id, conversation, current)) = found else {
                return Ok(false);
            };
            if rank(delivery) <= rank(Delivery::parse(&current)) {
                return Ok(true);
            }
            conn.execute(
                "UPDATE messages SET delivery = ?2, delivery_error = ?3 WHERE id = ?1",
                params![id, delivery.as_str(), error],
            )?;
            conversation
        };
        self.announce(Change {
            conversations: vec![conversation],
            ..Default::default()
        });
        Ok(true)
    }

    /// The channel-specific facts stored with a message (a reply's template, a chat's ids).
    /// The customer edited a message they sent (Telegram's `edited_message`): its text is
    /// replaced (the search index follows) and `edited_at` is kept in its meta, so the thread
    /// marks it edited. Returns false when no such message is stored.
    pub fn edit_message_text(
        &self,
        account_id: i64,
        external_id: &str,
        text: &str,
        edited_at: i64,
    ) -> Result<bool> {
        let conversation = {
            let conn = self.writer();
            let found: Option<i64> = conn
                .query_row(
                    "SELECT conversation_id FROM messages
                     WHERE account_id = ?1 AND external_id = ?2 AND direction = 'inbound'",
                    params![account_id, external_id],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(conversation) = found else {
                return Ok(false);
            };
            conn.execute(
                "UPDATE messages
                 SET body_text = ?3, meta = json_set(COALESCE(meta, '{}'), '$.edited_at', ?4)
                 WHERE account_id = ?1 AND external_id = ?2 AND direction = 'inbound'",
                params![account_id, external_id, text, edited_at],
            )?;
            super::ingest::refresh_conversation(&conn, conversation)?;
            conversation
        };
        self.announce(Change {
            conversations: vec![conversation],
            ..Default::default()
        });
        Ok(true)
    }

    /// Sets one key of a message's channel-specific facts (JSON meta), e.g. the parts of a
    /// multi-part chat reply the provider already accepted.
    pub fn set_message_meta(
        &self,
        message_id: i64,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let path = format!("$.{key}");
        let changed = self.writer().execute(
            "UPDATE messages SET meta = json_set(COALESCE(meta, '{}'), ?2, json(?3)) WHERE id = ?1",
            params![message_id, path, value.to_string()],
        )?;
        if changed == 0 {
            return Err(Error::not_found(format!("no message {message_id}")));
        }
        Ok(())
    }

    pub fn message_meta(&self, message_id: i64) -> Result<serde_json::Value> {
        let meta: String = self
            .reader()
            .query_row(
                "SELECT meta FROM messages WHERE id = ?1",
                [message_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no message {message_id}")))?;
        Ok(serde_json::from_str(&meta).unwrap_or_default())
    }
}
