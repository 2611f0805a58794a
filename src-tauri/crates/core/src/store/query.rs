//! Reads for the UI and the CLI: the conversation list, a thread, search, stats.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Store;
use crate::events::Change;
use crate::model::{
    Attachment, ChannelKind, Contact, ConversationDetail, ConversationStatus, ConversationSummary,
    Delivery, Direction, Identity, IdentityKind, Message, MessageKind, Stats,
};
use crate::{Error, Result};

/// Which window of the conversation list to read.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[ts(export)]
pub struct ConversationQuery {
    pub offset: u32,
    pub limit: u32,
    #[ts(type = "number | null")]
    #[serde(default)]
    pub account_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ConversationPage {
    pub total: u32,
    pub items: Vec<ConversationSummary>,
}

/// The search-hit markers around each match in a snippet (Unicode private-use characters, so
/// they can never clash with text a customer wrote).
pub const HIT_OPEN: char = '\u{E000}';
pub const HIT_CLOSE: char = '\u{E001}';

pub(crate) const SUMMARY_COLUMNS: &str = "c.id, c.account_id, a.name, a.kind, c.contact_id,
    COALESCE(NULLIF(k.display_name, ''), c.handle), c.handle, c.subject, c.status,
    c.unread_count, c.message_count, c.last_message_at, c.last_preview, c.last_direction,
    c.waiting_since, c.last_inbound_at, c.pinned,
    (SELECT group_concat(tag_id) FROM conversation_tags t WHERE t.conversation_id = c.id),
    c.snoozed_until";

pub(crate) fn summary_from_row(r: &rusqlite::Row) -> rusqlite::Result<ConversationSummary> {
    let kind: String = r.get(3)?;
    let status: String = r.get(8)?;
    let direction: String = r.get(13)?;
    Ok(ConversationSummary {
        id: r.get(0)?,
        account_id: r.get(1)?,
        account_name: r.get(2)?,
        channel: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
        contact_id: r.get(4)?,
        contact_name: r.get(5)?,
        contact_handle: r.get(6)?,
        subject: r.get(7)?,
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Open),
        unread_count: r.get(9)?,
        message_count: r.get(10)?,
        last_message_at: r.get(11)?,
        last_preview: r.get(12)?,
        last_direction: Direction::parse(&direction),
        waiting_since: r.get(14)?,
        last_inbound_at: r.get(15)?,
        pinned: r.get(16)?,
        tag_ids: r
            .get::<_, Option<String>>(17)?
            .map(|ids| ids.split(',').filter_map(|i| i.parse().ok()).collect())
            .unwrap_or_default(),
        snoozed_until: r.get(18)?,
    })
}

impl Store {
    /// A window of the unified list, newest activity first.
    pub fn conversations(&self, q: &ConversationQuery) -> Result<ConversationPage> {
        let conn = self.reader();
        let limit = q.limit.clamp(1, 1000);
        let total: u32 = conn.query_row(
            "SELECT COUNT(*) FROM conversations WHERE ?1 IS NULL OR account_id = ?1",
            [q.account_id],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM conversations c
             JOIN accounts a ON a.id = c.account_id
             LEFT JOIN contacts k ON k.id = c.contact_id
             WHERE ?1 IS NULL OR c.account_id = ?1
             ORDER BY c.pinned DESC, c.last_message_at DESC, c.id DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let items = stmt
            .query_map(params![q.account_id, limit, q.offset], summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ConversationPage { total, items })
    }

    pub fn conversation_summary(&self, id: i64) -> Result<ConversationSummary> {
        summary(&self.reader(), id)
    }

    /// A conversation with its messages (oldest first) and its contact.
    pub fn conversation(&self, id: i64) -> Result<ConversationDetail> {
        let conn = self.reader();
        let conversation = summary(&conn, id)?;
        let messages = messages_of(&conn, "m.conversation_id = ?1", id)?;
        let contact = match conversation.contact_id {
            Some(cid) => Some(contact(&conn, cid)?),
            None => None,
        };
        Ok(ConversationDetail {
            conversation,
            messages,
            contact,
        })
    }

    pub fn message(&self, id: i64) -> Result<Message> {
        messages_of(&self.reader(), "m.id = ?1", id)?
            .pop()
            .ok_or_else(|| Error::not_found(format!("no message {id}")))
    }

    pub fn attachment(&self, id: i64) -> Result<Attachment> {
        self.reader()
            .query_row(
                "SELECT id, filename, mime_type, size, content_hash, content_id, inline,
                        remote_ref IS NOT NULL
                 FROM attachments WHERE id = ?1",
                [id],
                attachment_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no attachment {id}")))
    }

    /// Marks every inbound message of a conversation read; returns the ids that changed
    /// (so a channel can tell its server).
    pub fn mark_conversation_read(&self, id: i64) -> Result<Vec<i64>> {
        let changed = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let ids = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM messages WHERE conversation_id = ?1 AND is_read = 0",
                )?;
                stmt.query_map([id], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            // Messages that live on a server are marked read there by the account's next
            // sync (a queued operation survives going offline).
            tx.execute(
                "INSERT INTO remote_ops(account_id, message_id, op, created_at)
                 SELECT m.account_id, m.id, 'seen', ?2 FROM messages m
                 WHERE m.conversation_id = ?1 AND m.is_read = 0
                   AND EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)",
                rusqlite::params![id, crate::now_ms()],
            )?;
            tx.execute(
                "UPDATE messages SET is_read = 1 WHERE conversation_id = ?1",
                [id],
            )?;
            tx.execute(
                "UPDATE conversations SET unread_count = 0 WHERE id = ?1",
                [id],
            )?;
            tx.commit()?;
            ids
        };
        if !changed.is_empty() {
            self.announce(Change {
                conversations: vec![id],
                ..Default::default()
            });
        }
        Ok(changed)
    }

    /// Conversations with unread messages: the tray and taskbar badge. One count over the
    /// conversations' own column, cheap enough to run after every change batch (unlike
    /// [`Store::stats`], which counts every table).
    pub fn unread_conversations(&self) -> Result<u64> {
        let n: i64 = self.reader().query_row(
            "SELECT COUNT(*) FROM conversations WHERE unread_count > 0",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    pub fn stats(&self) -> Result<Stats> {
        let conn = self.reader();
        let count = |sql: &str| -> Result<u64> {
            Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok(Stats {
            accounts: count("SELECT COUNT(*) FROM accounts")?,
            conversations: count("SELECT COUNT(*) FROM conversations")?,
            messages: count("SELECT COUNT(*) FROM messages")?,
            contacts: count("SELECT COUNT(*) FROM contacts WHERE merged_into IS NULL")?,
            unread_conversations: count(
                "SELECT COUNT(*) FROM conversations WHERE unread_count > 0",
            )?,
            outbox_pending: count(
                "SELECT COUNT(*) FROM outbox WHERE state IN ('queued','sending')",
            )?,
            outbox_failed: count("SELECT COUNT(*) FROM outbox WHERE state = 'failed'")?,
        })
    }
}

/// Turns what a person types into a safe FTS5 query: every word quoted, matched as a prefix,
/// all words required. Operators typed by the user are treated as text.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '_' && c != '-')
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{}\"*", t.replace('"', "")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" "))
    }
}

fn summary(conn: &Connection, id: i64) -> Result<ConversationSummary> {
    conn.query_row(
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM conversations c
             JOIN accounts a ON a.id = c.account_id
             LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?1"
        ),
        [id],
        summary_from_row,
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("no conversation {id}")))
}

fn attachment_from_row(r: &rusqlite::Row) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        filename: r.get(1)?,
        mime_type: r.get(2)?,
        size: r.get(3)?,
        content_hash: r.get(4)?,
        content_id: r.get(5)?,
        inline: r.get(6)?,
        pending: r.get::<_, Option<bool>>(7)?.filter(|p| *p),
    })
}

pub(crate) fn messages_of(conn: &Connection, filter: &str, arg: i64) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, m.conversation_id, m.account_id, m.direction, m.external_id, m.sender_name,
                m.sender_handle, m.recipients, m.subject, m.body_text, m.body_html,
                m.remote_content, m.sent_at, m.delivery, m.delivery_error, m.is_read,
                m.parse_error, EXISTS(SELECT 1 FROM message_sources s WHERE s.message_id = m.id),
                m.kind
         FROM messages m WHERE {filter} ORDER BY m.sent_at, m.id"
    ))?;
    let mut messages = stmt
        .query_map([arg], |r| {
            let direction: String = r.get(3)?;
            let recipients: String = r.get(7)?;
            let delivery: String = r.get(13)?;
            let delivery_error: Option<String> = r.get(14)?;
            Ok(Message {
                id: r.get(0)?,
                conversation_id: r.get(1)?,
                account_id: r.get(2)?,
                direction: Direction::parse(&direction),
                external_id: r.get(4)?,
                sender_name: r.get(5)?,
                sender_handle: r.get(6)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                subject: r.get(8)?,
                text: r.get(9)?,
                html: r.get(10)?,
                has_remote_content: r.get(11)?,
                sent_at: r.get(12)?,
                delivery: Delivery::parse(&delivery),
                delivery_error: delivery_error.and_then(|e| serde_json::from_str(&e).ok()),
                is_read: r.get(15)?,
                parse_error: r.get(16)?,
                has_raw: r.get(17)?,
                attachments: Vec::new(),
                kind: MessageKind::parse(&r.get::<_, String>(18)?),
                fold_line: None,
                html_folds: false,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut att = conn.prepare_cached(
        "SELECT id, filename, mime_type, size, content_hash, content_id, inline,
                remote_ref IS NOT NULL
         FROM attachments WHERE message_id = ?1 ORDER BY id",
    )?;
    for m in &mut messages {
        m.fold_line = crate::quotes::fold_line(&m.text).map(|l| l as u32);
        m.html_folds = m.html.as_deref().is_some_and(crate::quotes::html_folds);
        m.attachments = att
            .query_map([m.id], attachment_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
    }
    Ok(messages)
}

pub(crate) fn contact(conn: &Connection, id: i64) -> Result<Contact> {
    let (display_name, first_seen_at, last_contact_at) = conn.query_row(
        "SELECT display_name, created_at, last_contact_at FROM contacts WHERE id = ?1",
        [id],
        |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT kind, value, display_name FROM identities WHERE contact_id = ?1 ORDER BY id",
    )?;
    let identities = stmt
        .query_map([id], |r| {
            let kind: String = r.get(0)?;
            Ok(Identity {
                kind: IdentityKind::parse(&kind).unwrap_or(IdentityKind::Email),
                value: r.get(1)?,
                display_name: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Contact {
        id,
        display_name,
        identities,
        first_seen_at,
        last_contact_at,
    })
}
