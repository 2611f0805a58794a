//! Storing what channels deliver: idempotent by (account, external id), threaded by keys,
//! with the sync cursor moved in the same transaction so a killed sync loses nothing and
//! repeats nothing.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{SourceRef, Store, write_cursor};
use crate::events::{Change, InboundNote, SyncSummary};
use crate::model::{
    ChannelKind, ConversationStatus, Delivery, Direction, Identity, IdentityKind, IncomingMessage,
    SyncCursor,
};
use crate::threading::preview;
use crate::{Result, now_ms};

#[derive(Debug, Clone, Copy, Default)]
pub struct IngestOptions {
    /// A first (or catch-up) sync: announce one summary instead of a note per message.
    pub summarize: bool,
}

/// A message ready for [`Store::ingest_prepared`]: its attachment files are written.
#[derive(Debug)]
pub struct Prepared {
    pub message: IncomingMessage,
    /// The content hash of each of `message.attachments`, in order.
    pub hashes: Vec<String>,
    /// Where `message.raw` was appended ([`Store::put_source`], then [`Store::flush_sources`]
    /// before storing); `None` keeps the source in the database.
    pub source: Option<SourceRef>,
}

#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub stored: u32,
    pub duplicates: u32,
    pub conversations: Vec<i64>,
}

impl Store {
    /// Stores a batch of messages for an account and, atomically with them, the cursor that
    /// says they were fetched. A message whose external id is already stored is not stored
    /// again (its server location is remembered, and one of our queued replies read back from
    /// the server counts as sent).
    pub fn ingest(
        &self,
        account_id: i64,
        messages: Vec<IncomingMessage>,
        cursor: Option<&SyncCursor>,
        options: IngestOptions,
    ) -> Result<IngestReport> {
        // Attachment files and sources first, flushed: a crash leaves at worst unused bytes.
        let prepared = messages
            .into_iter()
            .map(|m| {
                let hashes = self.put_attachment_blobs(&m)?;
                let source = m
                    .raw
                    .as_deref()
                    .map(|raw| self.put_source(raw))
                    .transpose()?;
                Ok(Prepared {
                    message: m,
                    hashes,
                    source,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if prepared.iter().any(|p| p.source.is_some()) {
            self.flush_sources()?;
        }
        self.ingest_prepared(account_id, prepared, cursor, options)
    }

    /// Writes a message's attachment files (content-addressed, so safe to do ahead of the
    /// transaction and on any thread); returns their hashes in order, for [`Store::ingest_prepared`].
    pub fn put_attachment_blobs(&self, m: &IncomingMessage) -> Result<Vec<String>> {
        m.attachments
            .iter()
            .map(|a| self.put_blob(&a.data))
            .collect()
    }

    /// The content hash of each attachment of a message whose source is kept, writing only
    /// those not found in the source (a sync: the files are extracted from the source when
    /// first needed, see [`Store::attachment_file`]).
    pub fn hash_attachments_kept_in_source(&self, m: &IncomingMessage) -> Result<Vec<String>> {
        use sha2::Digest;
        m.attachments
            .iter()
            .map(|a| match (a.source_part, &m.raw) {
                (Some(_), Some(_)) => Ok(hex::encode(sha2::Sha256::digest(&a.data))),
                _ => self.put_blob(&a.data),
            })
            .collect()
    }

    /// [`Store::ingest`] for messages whose attachment files are already written (a sync
    /// parses and writes them on several threads, then stores the batch on one).
    pub fn ingest_prepared(
        &self,
        account_id: i64,
        prepared: Vec<Prepared>,
        cursor: Option<&SyncCursor>,
        options: IngestOptions,
    ) -> Result<IngestReport> {
        let mut report = IngestReport::default();
        let mut change = Change::default();
        let mut touched = BTreeSet::new();
        let mut summary = 0u32;
        let mut fresh_inbound: Vec<(i64, i64)> = Vec::new();
        let channel_kind;
        {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let (channel, account_name): (String, String) = tx.query_row(
                "SELECT kind, name FROM accounts WHERE id = ?1",
                [account_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let channel = ChannelKind::parse(&channel).unwrap_or(ChannelKind::Email);
            channel_kind = channel;
            for Prepared {
                message: m,
                hashes,
                source,
            } in &prepared
            {
                if hashes.len() != m.attachments.len() {
                    return Err(crate::Error::internal(
                        "an attachment of a message to store was not written",
                    ));
                }
                match store_one(&tx, account_id, m, hashes, *source)? {
                    Stored::Duplicate(conversation) => {
                        report.duplicates += 1;
                        if let Some(c) = conversation {
                            touched.insert(c);
                        }
                    }
                    Stored::New {
                        message_id,
                        conversation_id,
                    } => {
                        report.stored += 1;
                        touched.insert(conversation_id);
                        let direction = m.direction.unwrap_or(Direction::Inbound);
                        if direction == Direction::Inbound && !m.is_read && !options.summarize {
                            fresh_inbound.push((message_id, conversation_id));
                        }
                        if direction == Direction::Inbound && !m.is_read {
                            if options.summarize {
                                summary += 1;
                            } else {
                                change.inbound.push(InboundNote {
                                    message_id,
                                    conversation_id,
                                    channel,
                                    sender: if m.sender_name.is_empty() {
                                        m.sender_handle.clone()
                                    } else {
                                        m.sender_name.clone()
                                    },
                                    preview: preview(&m.text, 140),
                                });
                            }
                        }
                    }
                }
            }
            for &c in &touched {
                refresh_conversation(&tx, c)?;
            }
            if let Some(cursor) = cursor {
                write_cursor(&tx, account_id, cursor)?;
            }
            tx.commit()?;
            if summary > 0 {
                change.summaries.push(SyncSummary {
                    account_id,
                    account_name,
                    new_messages: summary,
                });
            }
        }
        report.conversations = touched.into_iter().collect();
        change.conversations = report.conversations.clone();
        self.announce(change);
        if !fresh_inbound.is_empty() {
            // An automatic reply never fails the sync that brought the message.
            if let Err(e) = self.auto_reply_to(account_id, channel_kind, &fresh_inbound) {
                tracing::warn!(account_id, code = %e.code, "auto-reply skipped: {}", e.message);
            }
        }
        Ok(report)
    }
}

enum Stored {
    Duplicate(Option<i64>),
    New {
        message_id: i64,
        conversation_id: i64,
    },
}

fn store_one(
    tx: &Transaction,
    account_id: i64,
    m: &IncomingMessage,
    hashes: &[String],
    source: Option<SourceRef>,
) -> Result<Stored> {
    let existing: Option<(i64, i64, String)> = tx
        .prepare_cached(
            "SELECT id, conversation_id, delivery FROM messages
             WHERE account_id = ?1 AND external_id = ?2",
        )?
        .query_row(params![account_id, m.external_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    if let Some((id, conversation_id, delivery)) = existing {
        remember_location(tx, account_id, m, id)?;
        // Our own reply seen on the server: it was sent, whatever the outbox last knew.
        let delivery = Delivery::parse(&delivery);
        if matches!(
            delivery,
            Delivery::Queued | Delivery::Sending | Delivery::Failed
        ) {
            tx.prepare_cached(
                "UPDATE messages SET delivery = 'sent', delivery_error = NULL WHERE id = ?1",
            )?
            .execute([id])?;
            tx.prepare_cached(
                "UPDATE outbox SET state = 'sent', sent_at = COALESCE(sent_at, ?2)
                 WHERE message_id = ?1 AND state != 'sent'",
            )?
            .execute(params![id, now_ms()])?;
            return Ok(Stored::Duplicate(Some(conversation_id)));
        }
        return Ok(Stored::Duplicate(None));
    }

    let direction = m.direction.unwrap_or(Direction::Inbound);
    let contact_id = match &m.counterpart {
        Some(identity) => Some(resolve_contact(tx, identity, m.sent_at)?),
        None => None,
    };
    let conversation_id = find_conversation(tx, account_id, m)?;
    let conversation_id = match conversation_id {
        Some(id) => {
            if direction == Direction::Inbound {
                // A customer writing again reopens a closed, pending or snoozed conversation.
                tx.prepare_cached(
                    "UPDATE conversations SET status = 'open', snoozed_until = NULL,
                            closed_at = NULL
                     WHERE id = ?1 AND status IN ('closed', 'pending', 'snoozed')",
                )?
                .execute([id])?;
            }
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO conversations(account_id, contact_id, handle, subject, status,
                                           created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                account_id,
                contact_id,
                m.counterpart
                    .as_ref()
                    .map(|c| c.value.as_str())
                    .unwrap_or(""),
                m.subject,
                ConversationStatus::Open.as_str(),
                now_ms()
            ])?;
            tx.last_insert_rowid()
        }
    };
    for key in m.thread_keys.iter().chain(m.fallback_thread_key.iter()) {
        if key.is_empty() {
            continue;
        }
        tx.prepare_cached(
            "INSERT OR IGNORE INTO thread_keys(account_id, key, conversation_id)
             VALUES (?1, ?2, ?3)",
        )?
        .execute(params![account_id, key, conversation_id])?;
    }

    tx.prepare_cached(
        "INSERT INTO messages(conversation_id, account_id, direction, external_id, sender_name,
                              sender_handle, recipients, subject, body_text, body_html,
                              remote_content, sent_at, received_at, delivery, is_read,
                              parse_error, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'received', ?14, ?15,
                 ?16)",
    )?
    .execute(params![
        conversation_id,
        account_id,
        direction.as_str(),
        m.external_id,
        m.sender_name,
        m.sender_handle,
        serde_json::to_string(&m.recipients)?,
        m.subject,
        m.text,
        m.html,
        m.has_remote_content,
        m.sent_at,
        now_ms(),
        // What we sent ourselves is read.
        m.is_read || direction == Direction::Outbound,
        m.parse_error,
        if m.meta.is_null() {
            "{}".to_string()
        } else {
            m.meta.to_string()
        },
    ])?;
    let message_id = tx.last_insert_rowid();
    match (&m.raw, source) {
        (Some(raw), Some(at)) if at.length == raw.len() as i64 => {
            tx.prepare_cached(
                "INSERT INTO message_sources(message_id, raw, pack_id, pack_offset, pack_length)
                 VALUES (?1, x'', ?2, ?3, ?4)",
            )?
            .execute(params![message_id, at.pack, at.offset, at.length])?;
        }
        (Some(raw), _) => {
            tx.prepare_cached("INSERT INTO message_sources(message_id, raw) VALUES (?1, ?2)")?
                .execute(params![message_id, raw])?;
        }
        (None, _) => {}
    }
    for (a, hash) in m.attachments.iter().zip(hashes) {
        tx.prepare_cached(
            "INSERT INTO attachments(message_id, filename, mime_type, size, content_hash,
                                     content_id, inline, source_part)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            message_id,
            a.filename,
            a.mime_type,
            a.data.len() as i64,
            hash,
            a.content_id,
            a.inline,
            // Only with the source kept to extract it from.
            a.source_part.filter(|_| m.raw.is_some())
        ])?;
    }
    for a in &m.remote_attachments {
        tx.prepare_cached(
            "INSERT INTO attachments(message_id, filename, mime_type, size, remote_ref)
             VALUES (?1, ?2, ?3, 0, ?4)",
        )?
        .execute(params![message_id, a.filename, a.mime_type, a.remote_ref])?;
    }
    remember_location(tx, account_id, m, message_id)?;
    if direction == Direction::Inbound {
        // Numbers the customer wrote (a signature) feed the merge suggestions.
        for phone in crate::phone::phones_in_text(&m.text) {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO phone_mentions(message_id, phone) VALUES (?1, ?2)",
            )?
            .execute(params![message_id, phone])?;
        }
    }
    if let Some(contact_id) = contact_id {
        tx.prepare_cached(
            "UPDATE contacts SET last_contact_at = MAX(COALESCE(last_contact_at, 0), ?2)
             WHERE id = ?1",
        )?
        .execute(params![contact_id, m.sent_at])?;
    }
    Ok(Stored::New {
        message_id,
        conversation_id,
    })
}

fn remember_location(
    tx: &Transaction,
    account_id: i64,
    m: &IncomingMessage,
    message_id: i64,
) -> Result<()> {
    if let Some(loc) = &m.location {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO message_locations(account_id, folder, uidvalidity, uid,
                                                      message_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            account_id,
            loc.folder,
            loc.uidvalidity,
            loc.uid,
            message_id
        ])?;
    }
    Ok(())
}

/// A known thread key wins; then the fallback key (counterpart + subject).
fn find_conversation(
    tx: &Transaction,
    account_id: i64,
    m: &IncomingMessage,
) -> Result<Option<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT conversation_id FROM thread_keys WHERE account_id = ?1 AND key = ?2",
    )?;
    for key in m.thread_keys.iter().chain(m.fallback_thread_key.iter()) {
        if key.is_empty() {
            continue;
        }
        if let Some(id) = stmt
            .query_row(params![account_id, key], |r| r.get(0))
            .optional()?
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The contact owning this identity, created on first sight. A new identity with the email
/// address or the E.164 number of a known one (a WhatsApp number already seen as a phone, on
/// Twilio or in the contact's details) joins that contact.
pub(crate) fn resolve_contact(conn: &Connection, identity: &Identity, seen_at: i64) -> Result<i64> {
    let found: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT contact_id, display_name FROM identities WHERE kind = ?1 AND value = ?2",
        )?
        .query_row(params![identity.kind.as_str(), identity.value], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((contact_id, known_name)) = found {
        if known_name.is_empty() && !identity.display_name.is_empty() {
            conn.prepare_cached(
                "UPDATE identities SET display_name = ?3 WHERE kind = ?1 AND value = ?2",
            )?
            .execute(params![
                identity.kind.as_str(),
                identity.value,
                identity.display_name
            ])?;
            conn.prepare_cached(
                "UPDATE contacts SET display_name = ?2, name_key = ?3
                 WHERE id = ?1 AND display_name = ''",
            )?
            .execute(params![
                contact_id,
                identity.display_name,
                super::contacts::name_key(&identity.display_name)
            ])?;
        }
        return Ok(contact_id);
    }
    let linked: Option<i64> = match identity.kind {
        IdentityKind::Phone | IdentityKind::Whatsapp if crate::phone::is_e164(&identity.value) => {
            conn.prepare_cached(
                "SELECT contact_id FROM identities
                 WHERE kind IN ('phone', 'whatsapp') AND value = ?1 ORDER BY id LIMIT 1",
            )?
            .query_row([&identity.value], |r| r.get(0))
            .optional()?
        }
        IdentityKind::Email => conn
            .prepare_cached(
                "SELECT contact_id FROM identities
                 WHERE kind = 'email' AND value = ?1 COLLATE NOCASE ORDER BY id LIMIT 1",
            )?
            .query_row([&identity.value], |r| r.get(0))
            .optional()?,
        _ => None,
    };
    let contact_id = match linked {
        Some(id) => {
            conn.prepare_cached(
                "UPDATE contacts SET display_name = ?2, created_at = MIN(created_at, ?3),
                        name_key = ?4
                 WHERE id = ?1 AND display_name = ''",
            )?
            .execute(params![
                id,
                identity.display_name,
                seen_at.min(now_ms()),
                super::contacts::name_key(&identity.display_name)
            ])?;
            id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO contacts(display_name, created_at, name_key) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                identity.display_name,
                seen_at.min(now_ms()),
                super::contacts::name_key(&identity.display_name)
            ])?;
            conn.last_insert_rowid()
        }
    };
    conn.prepare_cached(
        "INSERT INTO identities(contact_id, kind, value, display_name) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        contact_id,
        identity.kind.as_str(),
        identity.value,
        identity.display_name
    ])?;
    Ok(contact_id)
}

/// Recomputes a conversation's list row from its messages: last activity and preview, unread
/// count, and since when the customer waits (their first message after our last reply).
pub(crate) fn refresh_conversation(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE conversations SET
            message_count = (SELECT COUNT(*) FROM messages WHERE conversation_id = ?1),
            unread_count = (SELECT COUNT(*) FROM messages
                            WHERE conversation_id = ?1 AND direction = 'inbound' AND is_read = 0),
            last_message_at = COALESCE((SELECT MAX(sent_at) FROM messages
                                        WHERE conversation_id = ?1 AND kind != 'note'), 0),
            last_preview = COALESCE((SELECT substr(body_text, 1, 2000) FROM messages
                                     WHERE conversation_id = ?1 AND kind != 'note'
                                     ORDER BY sent_at DESC, id DESC LIMIT 1), ''),
            last_direction = COALESCE((SELECT direction FROM messages
                                       WHERE conversation_id = ?1 AND kind != 'note'
                                       ORDER BY sent_at DESC, id DESC LIMIT 1), 'inbound'),
            -- Notes and automatic replies are not an answer: the customer still waits.
            waiting_since = (SELECT MIN(sent_at) FROM messages
                             WHERE conversation_id = ?1 AND direction = 'inbound'
                               AND sent_at > COALESCE((SELECT MAX(sent_at) FROM messages
                                   WHERE conversation_id = ?1 AND direction = 'outbound'
                                     AND kind = 'normal'), 0)),
            last_inbound_at = (SELECT MAX(sent_at) FROM messages
                               WHERE conversation_id = ?1 AND direction = 'inbound')
         WHERE id = ?1",
    )?
    .execute([id])?;
    // The preview column keeps one folded line, not the raw body.
    let body: String = conn
        .prepare_cached("SELECT last_preview FROM conversations WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached("UPDATE conversations SET last_preview = ?2 WHERE id = ?1")?
        .execute(params![id, preview(&body, 160)])?;
    Ok(())
}
