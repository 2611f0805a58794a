//! Organising conversations: status (open, pending, snoozed until a time, closed), pinning,
//! coloured tags, internal notes, filters, saved views and the counts beside each view.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::query::{ConversationPage, ConversationQuery, SUMMARY_COLUMNS, summary_from_row};
use super::{Store, refresh_conversation};
use crate::events::{Change, SnoozeNote};
use crate::model::{ChannelKind, ConversationStatus, ConversationSummary, Message, MessageKind};
use crate::{Error, Result, now_ms};

/// The views of the sidebar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum View {
    /// Open conversations.
    Inbox,
    /// Open conversations whose customer waits for our answer.
    Waiting,
    /// Waiting for the customer.
    Pending,
    Snoozed,
    Closed,
    /// With unread messages, whatever their status.
    Unread,
    All,
}

/// Which conversations a list shows. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct ConversationFilter {
    #[ts(optional)]
    pub view: Option<View>,
    /// Any of these statuses (empty: any).
    pub statuses: Vec<ConversationStatus>,
    pub unread: bool,
    /// The customer waits for our reply (their last message is unanswered).
    pub waiting: bool,
    #[ts(optional)]
    pub channel: Option<ChannelKind>,
    #[ts(optional, type = "number")]
    pub account_id: Option<i64>,
    #[ts(optional, type = "number")]
    pub tag_id: Option<i64>,
    #[ts(optional, type = "number")]
    pub contact_id: Option<i64>,
}

impl ConversationFilter {
    pub fn view(view: View) -> Self {
        ConversationFilter {
            view: Some(view),
            ..Default::default()
        }
    }

    /// The SQL condition over `conversations c` and its parameters.
    fn sql(&self) -> (String, Vec<Value>) {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        match self.view {
            Some(View::Inbox) => conds.push("c.status = 'open'".into()),
            Some(View::Waiting) => {
                conds.push("c.status = 'open' AND c.waiting_since IS NOT NULL".into())
            }
            Some(View::Pending) => conds.push("c.status = 'pending'".into()),
            Some(View::Snoozed) => conds.push("c.status = 'snoozed'".into()),
            Some(View::Closed) => conds.push("c.status = 'closed'".into()),
            Some(View::Unread) => conds.push("c.unread_count > 0".into()),
            Some(View::All) | None => {}
        }
        if !self.statuses.is_empty() {
            let list: Vec<String> = self
                .statuses
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            conds.push(format!("c.status IN ({})", list.join(",")));
        }
        if self.unread {
            conds.push("c.unread_count > 0".into());
        }
        if self.waiting {
            conds.push("c.waiting_since IS NOT NULL".into());
        }
        if let Some(channel) = self.channel {
            args.push(Value::Text(channel.as_str().into()));
            conds.push(format!(
                "c.account_id IN (SELECT id FROM accounts WHERE kind = ?{})",
                args.len()
            ));
        }
        if let Some(account) = self.account_id {
            args.push(Value::Integer(account));
            conds.push(format!("c.account_id = ?{}", args.len()));
        }
        if let Some(tag) = self.tag_id {
            args.push(Value::Integer(tag));
            conds.push(format!(
                "EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id
                         AND t.tag_id = ?{})",
                args.len()
            ));
        }
        if let Some(contact) = self.contact_id {
            args.push(Value::Integer(contact));
            conds.push(format!("c.contact_id = ?{}", args.len()));
        }
        if conds.is_empty() {
            ("1".into(), args)
        } else {
            (conds.join(" AND "), args)
        }
    }
}

/// A coloured label on conversations and contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Tag {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// "#rrggbb"
    pub color: String,
}

/// A filter the user named and keeps in the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SavedView {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub filter: ConversationFilter,
    pub position: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct IdCount {
    #[ts(type = "number")]
    pub id: i64,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ChannelCount {
    pub channel: ChannelKind,
    pub count: u32,
}

/// The numbers beside each view of the sidebar. Channel, account and tag counts are of open
/// conversations (the inbox); saved views count every match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ViewCounts {
    pub inbox: u32,
    pub waiting: u32,
    /// Waiting longer than the response-time target.
    pub overdue: u32,
    pub pending: u32,
    pub snoozed: u32,
    pub closed: u32,
    pub unread: u32,
    pub all: u32,
    pub channels: Vec<ChannelCount>,
    pub accounts: Vec<IdCount>,
    pub tags: Vec<IdCount>,
    pub saved: Vec<IdCount>,
}

fn valid_color(color: &str) -> Result<String> {
    let c = color.trim().to_ascii_lowercase();
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
    if ok {
        Ok(c)
    } else {
        Err(Error::invalid(format!(
            "a tag colour looks like #1a7f37, not {color:?}"
        )))
    }
}

fn exists(conn: &Connection, table: &str, id: i64) -> Result<()> {
    let found: Option<i64> = conn
        .query_row(
            &format!("SELECT id FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .optional()?;
    found
        .map(drop)
        .ok_or_else(|| Error::not_found(format!("no {} {id}", table.trim_end_matches('s'))))
}

/// How many open conversations each tag has (tags without any are missing).
const TAG_COUNTS: &str = "SELECT t.tag_id, COUNT(*) FROM conversation_tags t
     WHERE t.conversation_id IN (SELECT id FROM conversations WHERE status = 'open')
     GROUP BY t.tag_id";

/// One page of the list under the condition `cond` (over `conversations c`, with `n`
/// parameters; the limit and offset follow). `CROSS JOIN` keeps the conversations outermost,
/// so the page is a walk of a list index in its order (see migration 6), never a sort.
fn page_sql(cond: &str, n: usize) -> String {
    format!(
        "SELECT {SUMMARY_COLUMNS} FROM conversations c
         CROSS JOIN accounts a ON a.id = c.account_id
         LEFT JOIN contacts k ON k.id = c.contact_id
         WHERE {cond}
         ORDER BY c.pinned DESC, c.last_message_at DESC, c.id DESC
         LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    )
}

impl Store {
    /// A window of the list restricted by `filter`: pinned first, then newest activity.
    pub fn find_conversations(
        &self,
        q: &ConversationQuery,
        filter: &ConversationFilter,
    ) -> Result<ConversationPage> {
        let mut filter = filter.clone();
        if filter.account_id.is_none() {
            filter.account_id = q.account_id;
        }
        let (cond, mut args) = filter.sql();
        let conn = self.reader();
        let total: u32 = conn.query_row(
            &format!("SELECT COUNT(*) FROM conversations c WHERE {cond}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let n = args.len();
        args.push(Value::Integer(i64::from(q.limit.clamp(1, 1000))));
        args.push(Value::Integer(i64::from(q.offset)));
        let mut stmt = conn.prepare_cached(&page_sql(&cond, n))?;
        let items = stmt
            .query_map(params_from_iter(args.iter()), summary_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ConversationPage { total, items })
    }

    /// How many conversations each view, channel, account, tag and saved view holds.
    pub fn view_counts(&self) -> Result<ViewCounts> {
        let late_before = now_ms() - self.care_settings()?.sla_ms();
        let saved = self.saved_views()?;
        let conn = self.reader();
        // Each figure is a count over an index (`conversations_counts`, `conversations_unread`),
        // never a pass over every conversation: this runs while the window opens.
        let mut counts = ViewCounts::default();
        let mut stmt =
            conn.prepare_cached("SELECT status, COUNT(*) FROM conversations GROUP BY status")?;
        let by_status = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (status, n) in by_status {
            match ConversationStatus::parse(&status) {
                Some(ConversationStatus::Open) => counts.inbox = n,
                Some(ConversationStatus::Pending) => counts.pending = n,
                Some(ConversationStatus::Snoozed) => counts.snoozed = n,
                Some(ConversationStatus::Closed) => counts.closed = n,
                None => {}
            }
            counts.all += n;
        }
        (counts.waiting, counts.overdue) = conn.query_row(
            "SELECT COUNT(waiting_since), COALESCE(SUM(waiting_since < ?1), 0)
             FROM conversations WHERE status = 'open' AND waiting_since IS NOT NULL",
            [late_before],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        counts.unread = conn.query_row(
            "SELECT COUNT(*) FROM conversations WHERE unread_count > 0",
            [],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(
            "SELECT a.id, a.kind,
                    (SELECT COUNT(*) FROM conversations c
                     WHERE c.status = 'open' AND c.account_id = a.id)
             FROM accounts a ORDER BY a.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, kind, count) in rows {
            counts.accounts.push(IdCount { id, count });
            let channel = ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email);
            match counts.channels.iter_mut().find(|c| c.channel == channel) {
                Some(c) => c.count += count,
                None => counts.channels.push(ChannelCount { channel, count }),
            }
        }
        // Open conversations per tag: the open ids come from `conversations_counts` and are
        // matched against the tag links, never looked up one by one in the conversations table
        // (whose pages lie scattered across the file: each lookup mapped 64 KB of it).
        let mut stmt = conn.prepare_cached(TAG_COUNTS)?;
        let by_tag = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?)))?
            .collect::<rusqlite::Result<std::collections::HashMap<_, _>>>()?;
        let mut stmt = conn.prepare_cached("SELECT id FROM tags ORDER BY name")?;
        counts.tags = stmt
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|id| {
                id.map(|id| IdCount {
                    id,
                    count: by_tag.get(&id).copied().unwrap_or(0),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for view in saved {
            let (cond, args) = view.filter.sql();
            let count: u32 = conn.query_row(
                &format!("SELECT COUNT(*) FROM conversations c WHERE {cond}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            counts.saved.push(IdCount { id: view.id, count });
        }
        Ok(counts)
    }

    // ---- status ----

    /// Moves a conversation to a status. `Snoozed` needs `snoozed_until` in the future; the
    /// conversation reopens by itself then ([`Store::wake_snoozed`]) or when the customer
    /// writes. Closing stamps the resolution time.
    pub fn set_status(
        &self,
        conversation_id: i64,
        status: ConversationStatus,
        snoozed_until: Option<i64>,
    ) -> Result<ConversationSummary> {
        let now = now_ms();
        let until = match status {
            ConversationStatus::Snoozed => match snoozed_until {
                Some(t) if t > now => Some(t),
                _ => {
                    return Err(Error::invalid(
                        "a snoozed conversation needs a time in the future to reopen",
                    ));
                }
            },
            _ => None,
        };
        {
            let conn = self.writer();
            let n = conn.execute(
                "UPDATE conversations SET status = ?2, snoozed_until = ?3,
                        closed_at = CASE WHEN ?2 = 'closed' THEN
                                        (CASE WHEN status = 'closed' THEN closed_at ELSE ?4 END)
                                    ELSE NULL END
                 WHERE id = ?1",
                params![conversation_id, status.as_str(), until, now],
            )?;
            if n == 0 {
                return Err(Error::not_found(format!(
                    "no conversation {conversation_id}"
                )));
            }
        }
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        self.conversation_summary(conversation_id)
    }

    /// Reopens every conversation whose snooze ran out by `now`; announces each with a
    /// [`SnoozeNote`] so the shell can notify. Returns their ids.
    pub fn wake_snoozed(&self, now: i64) -> Result<Vec<i64>> {
        let woke: Vec<i64> = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let ids = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM conversations
                     WHERE status = 'snoozed' AND snoozed_until <= ?1 ORDER BY snoozed_until",
                )?;
                stmt.query_map([now], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            for id in &ids {
                tx.execute(
                    "UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = ?1",
                    [id],
                )?;
            }
            tx.commit()?;
            ids
        };
        if woke.is_empty() {
            return Ok(woke);
        }
        let mut notes = Vec::new();
        for &id in &woke {
            let s = self.conversation_summary(id)?;
            notes.push(SnoozeNote {
                conversation_id: id,
                channel: s.channel,
                contact_name: s.contact_name,
                preview: s.last_preview,
            });
        }
        self.announce(Change {
            conversations: woke.clone(),
            woke: notes,
            ..Default::default()
        });
        Ok(woke)
    }

    /// When the next snoozed conversation reopens.
    pub fn next_snooze_due(&self) -> Result<Option<i64>> {
        Ok(self.reader().query_row(
            "SELECT MIN(snoozed_until) FROM conversations WHERE status = 'snoozed'",
            [],
            |r| r.get(0),
        )?)
    }

    pub fn set_pinned(&self, conversation_id: i64, pinned: bool) -> Result<()> {
        let n = self.writer().execute(
            "UPDATE conversations SET pinned = ?2 WHERE id = ?1",
            params![conversation_id, pinned],
        )?;
        if n == 0 {
            return Err(Error::not_found(format!(
                "no conversation {conversation_id}"
            )));
        }
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        Ok(())
    }

    // ---- notes ----

    /// Writes an internal note in a conversation: shown in the thread, never sent, and not an
    /// answer (the customer still waits).
    pub fn add_note(&self, conversation_id: i64, text: &str) -> Result<Message> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid("the note is empty"));
        }
        let author = self.care_settings()?.agent_name;
        let id = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let account_id: i64 = tx
                .query_row(
                    "SELECT account_id FROM conversations WHERE id = ?1",
                    [conversation_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("no conversation {conversation_id}")))?;
            let now = now_ms();
            tx.execute(
                "INSERT INTO messages(conversation_id, account_id, direction, external_id,
                                      sender_name, body_text, sent_at, received_at, delivery,
                                      is_read, kind)
                 VALUES (?1, ?2, 'outbound', ?3, ?4, ?5, ?6, ?6, 'received', 1, ?7)",
                params![
                    conversation_id,
                    account_id,
                    format!("note:{now}.{}", hex::encode(rand::random::<[u8; 6]>())),
                    author,
                    text,
                    now,
                    MessageKind::Note.as_str()
                ],
            )?;
            let id = tx.last_insert_rowid();
            refresh_conversation(&tx, conversation_id)?;
            tx.commit()?;
            id
        };
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        self.message(id)
    }

    /// Deletes an internal note (only notes can be deleted).
    pub fn delete_note(&self, message_id: i64) -> Result<()> {
        let conversation_id = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let conversation_id: i64 = tx
                .query_row(
                    "SELECT conversation_id FROM messages WHERE id = ?1 AND kind = 'note'",
                    [message_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("no note {message_id}")))?;
            tx.execute("DELETE FROM messages WHERE id = ?1", [message_id])?;
            refresh_conversation(&tx, conversation_id)?;
            tx.commit()?;
            conversation_id
        };
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        Ok(())
    }

    // ---- tags ----

    pub fn tags(&self) -> Result<Vec<Tag>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached("SELECT id, name, color FROM tags ORDER BY name")?;
        let tags = stmt
            .query_map([], |r| {
                Ok(Tag {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    color: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(tags)
    }

    /// Creates a tag, or returns the one with that name (case-insensitive).
    pub fn create_tag(&self, name: &str, color: &str) -> Result<Tag> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a tag needs a name"));
        }
        let color = valid_color(color)?;
        let conn = self.writer();
        conn.execute(
            "INSERT INTO tags(name, color, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO NOTHING",
            params![name, color, now_ms()],
        )?;
        Ok(conn.query_row(
            "SELECT id, name, color FROM tags WHERE name = ?1",
            [name],
            |r| {
                Ok(Tag {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    color: r.get(2)?,
                })
            },
        )?)
    }

    pub fn update_tag(&self, id: i64, name: &str, color: &str) -> Result<Tag> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a tag needs a name"));
        }
        let color = valid_color(color)?;
        let conversations = {
            let conn = self.writer();
            exists(&conn, "tags", id)?;
            conn.execute(
                "UPDATE tags SET name = ?2, color = ?3 WHERE id = ?1",
                params![id, name, color],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Error::invalid(format!("a tag named {name:?} already exists"))
                }
                other => other.into(),
            })?;
            tagged_conversations(&conn, id)?
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        Ok(Tag {
            id,
            name: name.to_string(),
            color,
        })
    }

    pub fn delete_tag(&self, id: i64) -> Result<()> {
        let conversations = {
            let conn = self.writer();
            exists(&conn, "tags", id)?;
            let ids = tagged_conversations(&conn, id)?;
            conn.execute("DELETE FROM tags WHERE id = ?1", [id])?;
            ids
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        Ok(())
    }

    /// Puts a tag on a conversation (`on`) or takes it off.
    pub fn tag_conversation(&self, conversation_id: i64, tag_id: i64, on: bool) -> Result<()> {
        {
            let conn = self.writer();
            exists(&conn, "conversations", conversation_id)?;
            exists(&conn, "tags", tag_id)?;
            if on {
                conn.execute(
                    "INSERT OR IGNORE INTO conversation_tags(conversation_id, tag_id)
                     VALUES (?1, ?2)",
                    params![conversation_id, tag_id],
                )?;
            } else {
                conn.execute(
                    "DELETE FROM conversation_tags WHERE conversation_id = ?1 AND tag_id = ?2",
                    params![conversation_id, tag_id],
                )?;
            }
        }
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        Ok(())
    }

    /// Puts a tag on a contact (`on`) or takes it off.
    pub fn tag_contact(&self, contact_id: i64, tag_id: i64, on: bool) -> Result<()> {
        let conversations = {
            let conn = self.writer();
            exists(&conn, "contacts", contact_id)?;
            exists(&conn, "tags", tag_id)?;
            if on {
                conn.execute(
                    "INSERT OR IGNORE INTO contact_tags(contact_id, tag_id) VALUES (?1, ?2)",
                    params![contact_id, tag_id],
                )?;
            } else {
                conn.execute(
                    "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag_id = ?2",
                    params![contact_id, tag_id],
                )?;
            }
            contact_conversations(&conn, contact_id)?
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        Ok(())
    }

    // ---- saved views ----

    pub fn saved_views(&self) -> Result<Vec<SavedView>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, filter, position FROM saved_views ORDER BY position, id",
        )?;
        let views = stmt
            .query_map([], |r| {
                let filter: String = r.get(2)?;
                Ok(SavedView {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    filter: serde_json::from_str(&filter).unwrap_or_default(),
                    position: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(views)
    }

    /// Creates a saved view (`id` None) or renames/changes one.
    pub fn save_view(
        &self,
        id: Option<i64>,
        name: &str,
        filter: &ConversationFilter,
    ) -> Result<SavedView> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a view needs a name"));
        }
        let json = serde_json::to_string(filter)?;
        let id = {
            let conn = self.writer();
            match id {
                Some(id) => {
                    exists(&conn, "saved_views", id)?;
                    conn.execute(
                        "UPDATE saved_views SET name = ?2, filter = ?3 WHERE id = ?1",
                        params![id, name, json],
                    )?;
                    id
                }
                None => {
                    conn.execute(
                        "INSERT INTO saved_views(name, filter, position, created_at)
                         VALUES (?1, ?2, (SELECT COALESCE(MAX(position), 0) + 1 FROM saved_views),
                                 ?3)",
                        params![name, json, now_ms()],
                    )?;
                    conn.last_insert_rowid()
                }
            }
        };
        self.saved_views()?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| Error::not_found(format!("no view {id}")))
    }

    pub fn delete_view(&self, id: i64) -> Result<()> {
        let n = self
            .writer()
            .execute("DELETE FROM saved_views WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(Error::not_found(format!("no view {id}")));
        }
        Ok(())
    }
}

fn tagged_conversations(conn: &Connection, tag_id: i64) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT conversation_id FROM conversation_tags WHERE tag_id = ?1")?;
    let ids = stmt
        .query_map([tag_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

pub(crate) fn contact_conversations(conn: &Connection, contact_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM conversations WHERE contact_id = ?1")?;
    let ids = stmt
        .query_map([contact_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
        stmt.query_map(params_from_iter(nulls), |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// The first page the window shows, for every fixed view and an account, walks a list
    /// index (migration 6) in order: no sort of every matching conversation, and no scan of
    /// the table (a page of 100 out of 100,000 took 35–190 ms sorting, see docs/benchmarks.md).
    #[test]
    fn list_pages_walk_an_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.reader();
        let mut filters: Vec<ConversationFilter> = [
            View::Inbox,
            View::Waiting,
            View::Pending,
            View::Snoozed,
            View::Closed,
            View::Unread,
            View::All,
        ]
        .into_iter()
        .map(ConversationFilter::view)
        .collect();
        filters.push(ConversationFilter {
            account_id: Some(1),
            ..Default::default()
        });
        for filter in filters {
            let (cond, args) = filter.sql();
            let sql = page_sql(&cond, args.len());
            let steps = plan(&conn, &sql);
            assert!(
                steps.iter().all(|s| !s.contains("TEMP B-TREE")),
                "{filter:?}\n{steps:#?}"
            );
            assert!(
                steps[0].starts_with("SEARCH c USING INDEX")
                    || steps[0].starts_with("SCAN c USING INDEX"),
                "{filter:?}\n{steps:#?}"
            );
        }
    }

    /// The view counts, asked while the window opens, read narrow indexes only.
    #[test]
    fn view_counts_never_read_the_conversations_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.reader();
        for sql in [
            "SELECT status, COUNT(*) FROM conversations GROUP BY status",
            "SELECT COUNT(waiting_since), COALESCE(SUM(waiting_since < ?1), 0)
             FROM conversations WHERE status = 'open' AND waiting_since IS NOT NULL",
            "SELECT COUNT(*) FROM conversations WHERE unread_count > 0",
            "SELECT a.id, a.kind,
                    (SELECT COUNT(*) FROM conversations c
                     WHERE c.status = 'open' AND c.account_id = a.id)
             FROM accounts a ORDER BY a.id",
            TAG_COUNTS,
        ] {
            let steps = plan(&conn, sql);
            let on_conversations: Vec<&String> = steps
                .iter()
                .filter(|s| s.contains("conversations") || s.contains(" c "))
                .collect();
            assert!(!on_conversations.is_empty(), "{sql}\n{steps:#?}");
            assert!(
                on_conversations.iter().all(|s| {
                    s.contains("COVERING INDEX conversations_counts")
                        || s.contains("INDEX conversations_unread")
                }),
                "{sql}\n{steps:#?}"
            );
        }
    }
}
