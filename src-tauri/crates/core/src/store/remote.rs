//! Changes to make on a server (IMAP flags, moves, copies of sent replies) and changes the
//! server reports (flags set elsewhere, messages expunged elsewhere).
//!
//! A user's action is written here first and done by the account's next sync, so it survives
//! going offline and restarts; the channel decides how (for email: `UID STORE`, `UID MOVE`,
//! `APPEND`).

use std::collections::{BTreeSet, HashSet};

use rusqlite::{OptionalExtension, params};

use super::Store;
use super::ingest::refresh_conversation;
use crate::events::Change;
use crate::model::{ConversationStatus, RemoteLocation};
use crate::{Error, Result, now_ms};

/// After this many failed attempts an operation is dropped (and logged): a server that keeps
/// refusing it will not start accepting it.
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteOpKind {
    /// Mark read on the server (`\Seen`).
    Seen,
    /// Mark unread on the server.
    Unseen,
    /// We replied (`\Answered`).
    Answered,
    /// Move to the account's archive folder.
    Archive,
    /// Store a copy of a sent reply (its bytes in `data`) in the Sent folder.
    AppendSent,
}

impl RemoteOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteOpKind::Seen => "seen",
            RemoteOpKind::Unseen => "unseen",
            RemoteOpKind::Answered => "answered",
            RemoteOpKind::Archive => "archive",
            RemoteOpKind::AppendSent => "append_sent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "seen" => RemoteOpKind::Seen,
            "unseen" => RemoteOpKind::Unseen,
            "answered" => RemoteOpKind::Answered,
            "archive" => RemoteOpKind::Archive,
            "append_sent" => RemoteOpKind::AppendSent,
            _ => return None,
        })
    }
}

/// One pending operation, with where its message lives on the server now.
#[derive(Debug, Clone)]
pub struct RemoteOp {
    pub id: i64,
    pub message_id: Option<i64>,
    pub kind: RemoteOpKind,
    pub data: Option<Vec<u8>>,
    pub attempts: u32,
    pub locations: Vec<RemoteLocation>,
}

impl Store {
    /// Queues an operation for the account's next sync.
    pub fn queue_remote_op(
        &self,
        account_id: i64,
        message_id: Option<i64>,
        kind: RemoteOpKind,
        data: Option<&[u8]>,
    ) -> Result<i64> {
        let conn = self.writer();
        conn.execute(
            "INSERT INTO remote_ops(account_id, message_id, op, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account_id, message_id, kind.as_str(), data, now_ms()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Queues `\Answered` for the stored message with this external id (the one a reply
    /// answers); nothing when it is not stored.
    pub fn queue_answered(&self, account_id: i64, external_id: &str) -> Result<bool> {
        let id: Option<i64> = self
            .writer()
            .query_row(
                "SELECT id FROM messages WHERE account_id = ?1 AND external_id = ?2",
                params![account_id, external_id],
                |r| r.get(0),
            )
            .optional()?;
        match id {
            Some(id) => {
                self.queue_remote_op(account_id, Some(id), RemoteOpKind::Answered, None)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The account's pending operations, oldest first.
    pub fn remote_ops(&self, account_id: i64) -> Result<Vec<RemoteOp>> {
        let conn = self.writer();
        let mut stmt = conn.prepare_cached(
            "SELECT id, message_id, op, data, attempts FROM remote_ops
             WHERE account_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map([account_id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                    r.get::<_, u32>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut locations = conn.prepare_cached(
            "SELECT folder, uidvalidity, uid FROM message_locations WHERE message_id = ?1",
        )?;
        let mut ops = Vec::with_capacity(rows.len());
        for (id, message_id, op, data, attempts) in rows {
            let Some(kind) = RemoteOpKind::parse(&op) else {
                tracing::warn!(op, "unknown remote operation dropped");
                conn.execute("DELETE FROM remote_ops WHERE id = ?1", [id])?;
                continue;
            };
            let locs = match message_id {
                Some(m) => locations
                    .query_map([m], |r| {
                        Ok(RemoteLocation {
                            folder: r.get(0)?,
                            uidvalidity: r.get(1)?,
                            uid: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                None => Vec::new(),
            };
            ops.push(RemoteOp {
                id,
                message_id,
                kind,
                data,
                attempts,
                locations: locs,
            });
        }
        Ok(ops)
    }

    /// Whether the account has operations waiting.
    pub fn has_remote_ops(&self, account_id: i64) -> Result<bool> {
        Ok(self
            .reader()
            .query_row(
                "SELECT 1 FROM remote_ops WHERE account_id = ?1 LIMIT 1",
                [account_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// The operation was done (or has nothing left to do).
    pub fn finish_remote_ops(&self, ids: &[i64]) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        for id in ids {
            tx.execute("DELETE FROM remote_ops WHERE id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The operation failed; it is tried again by a later sync, up to a limit.
    pub fn fail_remote_op(&self, id: i64, error: &Error) -> Result<()> {
        let conn = self.writer();
        let attempts: u32 = conn
            .query_row(
                "UPDATE remote_ops SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1
                 RETURNING attempts",
                params![id, serde_json::to_string(error)?],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if attempts >= MAX_ATTEMPTS {
            tracing::warn!(
                id,
                "a server operation failed {attempts} times; dropped: {error}"
            );
            conn.execute("DELETE FROM remote_ops WHERE id = ?1", [id])?;
        }
        Ok(())
    }

    /// How many stored messages the server folder holds, as far as we know.
    pub fn location_count(&self, account_id: i64, folder: &str, uidvalidity: u32) -> Result<u32> {
        Ok(self.writer().query_row(
            "SELECT COUNT(*) FROM message_locations
             WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3",
            params![account_id, folder, uidvalidity],
            |r| r.get(0),
        )?)
    }

    /// Read state reported by the server (`\Seen` or not) for messages of one folder. A
    /// message with a local change still waiting to go to the server keeps the local state.
    /// Returns how many messages changed.
    pub fn apply_remote_flags(
        &self,
        account_id: i64,
        folder: &str,
        uidvalidity: u32,
        flags: &[(u32, bool)],
    ) -> Result<u32> {
        let mut touched = BTreeSet::new();
        {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            {
                let mut find = tx.prepare_cached(
                    "SELECT m.id, m.conversation_id, m.is_read FROM message_locations l
                     JOIN messages m ON m.id = l.message_id
                     WHERE l.account_id = ?1 AND l.folder = ?2 AND l.uidvalidity = ?3
                       AND l.uid = ?4 AND m.direction = 'inbound'
                       AND NOT EXISTS (SELECT 1 FROM remote_ops o WHERE o.message_id = m.id
                                       AND o.op IN ('seen', 'unseen'))",
                )?;
                let mut set =
                    tx.prepare_cached("UPDATE messages SET is_read = ?2 WHERE id = ?1")?;
                for &(uid, seen) in flags {
                    let row: Option<(i64, i64, bool)> = find
                        .query_row(params![account_id, folder, uidvalidity, uid], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()?;
                    if let Some((id, conversation, is_read)) = row
                        && is_read != seen
                    {
                        set.execute(params![id, seen])?;
                        touched.insert(conversation);
                    }
                }
            }
            for &c in &touched {
                refresh_conversation(&tx, c)?;
            }
            tx.commit()?;
        }
        let n = touched.len() as u32;
        if n > 0 {
            self.announce(Change {
                conversations: touched.into_iter().collect(),
                ..Default::default()
            });
        }
        Ok(n)
    }

    /// The server folder now holds only `present` (UIDs): forgets the other locations. A
    /// message found nowhere else any more stops showing — unless its conversation has a reply
    /// of ours, where it is kept (a customer's history is never silently lost). Our own
    /// messages are always kept. Returns how many messages were removed.
    pub fn forget_expunged(
        &self,
        account_id: i64,
        folder: &str,
        uidvalidity: u32,
        present: &HashSet<u32>,
    ) -> Result<u32> {
        let mut touched = BTreeSet::new();
        let mut removed = 0u32;
        {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let gone: Vec<(u32, i64)> = {
                let mut stmt = tx.prepare(
                    "SELECT uid, message_id FROM message_locations
                     WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3",
                )?;
                stmt.query_map(params![account_id, folder, uidvalidity], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|(uid, _)| !present.contains(uid))
                .collect()
            };
            for (uid, message_id) in gone {
                tx.execute(
                    "DELETE FROM message_locations
                     WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
                    params![account_id, folder, uidvalidity, uid],
                )?;
                let (conversation, direction, elsewhere, replied): (i64, String, bool, bool) = tx
                    .query_row(
                    "SELECT m.conversation_id, m.direction,
                            EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id),
                            EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id =
                                    m.conversation_id AND o.direction = 'outbound')
                         FROM messages m WHERE m.id = ?1",
                    [message_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )?;
                if direction == "outbound" || elsewhere || replied {
                    continue;
                }
                tx.execute("DELETE FROM messages WHERE id = ?1", [message_id])?;
                removed += 1;
                touched.insert(conversation);
            }
            for &c in &touched {
                let left: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1",
                    [c],
                    |r| r.get(0),
                )?;
                if left == 0 {
                    tx.execute("DELETE FROM conversations WHERE id = ?1", [c])?;
                } else {
                    refresh_conversation(&tx, c)?;
                }
            }
            tx.commit()?;
        }
        if !touched.is_empty() {
            self.announce(Change {
                conversations: touched.into_iter().collect(),
                ..Default::default()
            });
        }
        Ok(removed)
    }

    /// Forgets one server location (the message was moved away by us; it stays stored).
    pub fn forget_location(&self, account_id: i64, location: &RemoteLocation) -> Result<()> {
        self.writer().execute(
            "DELETE FROM message_locations
             WHERE account_id = ?1 AND folder = ?2 AND uidvalidity = ?3 AND uid = ?4",
            params![
                account_id,
                location.folder,
                location.uidvalidity,
                location.uid
            ],
        )?;
        Ok(())
    }

    /// Archives a conversation: it is closed here, and each of its messages that lives on a
    /// server is queued to move to the account's archive folder (done by the next sync; the
    /// channel skips it where the account has no archive). Returns how many were queued.
    pub fn archive_conversation(&self, id: i64) -> Result<u32> {
        let queued = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let account_id: i64 = tx
                .query_row(
                    "SELECT account_id FROM conversations WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("no conversation {id}")))?;
            let queued = tx.execute(
                "INSERT INTO remote_ops(account_id, message_id, op, created_at)
                 SELECT ?1, m.id, 'archive', ?3 FROM messages m
                 WHERE m.conversation_id = ?2
                   AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)",
                params![account_id, id, now_ms()],
            )?;
            tx.execute(
                "UPDATE conversations SET status = ?2 WHERE id = ?1",
                params![id, ConversationStatus::Closed.as_str()],
            )?;
            tx.commit()?;
            queued as u32
        };
        self.announce(Change {
            conversations: vec![id],
            ..Default::default()
        });
        Ok(queued)
    }
}
