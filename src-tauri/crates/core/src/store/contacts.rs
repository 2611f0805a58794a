//! One customer across channels: the contact panel (identities, every conversation as one
//! timeline, notes, tags), suggestions of contacts that are likely the same person, and merges
//! that can be undone exactly.
//!
//! Identities with the same email address or E.164 number link by themselves at ingest
//! ([`super::ingest::resolve_contact`]); what is only likely is suggested, never merged
//! silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Store;
use super::query::{ConversationQuery, contact};
use super::workflow::{ConversationFilter, contact_conversations};
use crate::events::Change;
use crate::model::{ChannelKind, Contact, ConversationSummary, Direction, MessageKind};
use crate::threading::preview;
use crate::{Error, Result, now_ms};

/// Everything the contact panel shows.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ContactDetail {
    pub contact: Contact,
    pub notes: String,
    #[ts(type = "number[]")]
    pub tag_ids: Vec<i64>,
    /// Every conversation on every channel, newest first.
    pub conversations: Vec<ConversationSummary>,
    /// The latest messages of all those conversations as one timeline, newest first.
    pub timeline: Vec<TimelineItem>,
    /// Merges into this contact that can be undone, newest first.
    pub merges: Vec<MergeRecord>,
    pub suggestions: Vec<ContactSuggestion>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct TimelineItem {
    #[ts(type = "number")]
    pub message_id: i64,
    #[ts(type = "number")]
    pub conversation_id: i64,
    pub channel: ChannelKind,
    pub account_name: String,
    pub direction: Direction,
    pub kind: MessageKind,
    pub subject: String,
    pub preview: String,
    #[ts(type = "number")]
    pub sent_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct MergeRecord {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub survivor_id: i64,
    #[ts(type = "number")]
    pub merged_id: i64,
    /// The name the merged contact had.
    pub merged_name: String,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number | null")]
    pub undone_at: Option<i64>,
}

/// Why two contacts are probably the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SuggestionReason {
    /// One wrote, in a message (often the signature), a number the other uses.
    PhoneInMessage,
    /// Same name, and both wrote the same phone number in their messages.
    SameNameSamePhone,
    /// Same name, and email addresses at the same (company, not webmail) domain.
    SameNameSameDomain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct ContactSuggestion {
    #[ts(type = "number")]
    pub contact_id: i64,
    #[ts(type = "number")]
    pub other_id: i64,
    pub contact_name: String,
    pub other_name: String,
    pub reason: SuggestionReason,
    /// The shared detail (the number, the domain).
    pub detail: String,
}

/// What a merge changed, kept to undo it exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MergeSnapshot {
    survivor_before: ContactFields,
    survivor_after: ContactFields,
    merged: ContactFields,
    identities: Vec<i64>,
    conversations: Vec<i64>,
    merged_tags: Vec<i64>,
    survivor_tags: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ContactFields {
    display_name: String,
    notes: String,
    created_at: i64,
    last_contact_at: Option<i64>,
}

/// Webmail domains shared by strangers: the same domain there says nothing.
const PUBLIC_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "libero.it",
    "hotmail.com",
    "hotmail.it",
    "outlook.com",
    "outlook.it",
    "live.com",
    "live.it",
    "msn.com",
    "yahoo.com",
    "yahoo.it",
    "icloud.com",
    "me.com",
    "virgilio.it",
    "alice.it",
    "tim.it",
    "tin.it",
    "tiscali.it",
    "fastwebnet.it",
    "email.it",
    "inwind.it",
    "iol.it",
    "aruba.it",
    "pec.it",
    "legalmail.it",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
    "aol.com",
    "example.com",
    "example.it",
];

/// A name as a comparable key: case, accents and word order ignored; `None` for names of one
/// word (too common to suggest anything) or that are an address or a number. Stored in
/// `contacts.name_key` whenever a contact's name is written (ingest, rename, merge, undo).
pub fn name_key(name: &str) -> Option<String> {
    let mut words: Vec<String> = name
        .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().map(fold_char).collect::<String>().to_lowercase())
        .collect();
    if words.len() < 2
        || words
            .iter()
            .any(|w| w.contains('@') || w.chars().any(|c| c.is_ascii_digit()))
    {
        return None;
    }
    words.sort();
    Some(words.join(" "))
}

fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'À' | 'Á' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'Ò' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' => 'u',
        other => other,
    }
}

fn fields(conn: &Connection, id: i64) -> Result<ContactFields> {
    conn.query_row(
        "SELECT display_name, notes, created_at, last_contact_at FROM contacts
         WHERE id = ?1 AND merged_into IS NULL",
        [id],
        |r| {
            Ok(ContactFields {
                display_name: r.get(0)?,
                notes: r.get(1)?,
                created_at: r.get(2)?,
                last_contact_at: r.get(3)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("no contact {id}")))
}

fn write_fields(tx: &Transaction, id: i64, f: &ContactFields) -> Result<()> {
    tx.execute(
        "UPDATE contacts SET display_name = ?2, notes = ?3, created_at = ?4, last_contact_at = ?5,
                name_key = ?6
         WHERE id = ?1",
        params![
            id,
            f.display_name,
            f.notes,
            f.created_at,
            f.last_contact_at,
            name_key(&f.display_name)
        ],
    )?;
    Ok(())
}

fn ids(conn: &Connection, sql: &str, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let v = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(v)
}

/// A contact's name as shown in suggestions: its name, or else one of its identities.
const NAME_OF: &str = "SELECT COALESCE(NULLIF(k.display_name, ''),
        (SELECT value FROM identities i WHERE i.contact_id = k.id LIMIT 1), '')
     FROM contacts k WHERE k.id = ?1";
/// The name key of a live contact.
const NAME_KEY_OF: &str = "SELECT name_key FROM contacts WHERE id = ?1 AND merged_into IS NULL";
/// The numbers written in a contact's messages.
const MENTIONED_BY: &str = "SELECT DISTINCT p.phone FROM conversations c
     JOIN messages m ON m.conversation_id = c.id
     JOIN phone_mentions p ON p.message_id = m.id
     WHERE c.contact_id = ?1";
/// Who uses a number (as a phone or on WhatsApp).
const PHONE_OWNERS: &str = "SELECT DISTINCT contact_id FROM identities
     WHERE kind IN ('phone', 'whatsapp') AND value = ?1";
/// Who wrote a number in their messages.
const MENTIONERS: &str = "SELECT DISTINCT c.contact_id FROM phone_mentions p
     JOIN messages m ON m.id = p.message_id
     JOIN conversations c ON c.id = m.conversation_id
     WHERE p.phone = ?1 AND c.contact_id IS NOT NULL";
/// A contact's own numbers.
const PHONES_OF: &str = "SELECT value FROM identities
     WHERE contact_id = ?1 AND kind IN ('phone', 'whatsapp')";
/// A contact's email addresses.
const EMAILS_OF: &str = "SELECT value FROM identities WHERE contact_id = ?1 AND kind = 'email'";
/// The other live contacts with the same name key.
const SAME_NAME: &str = "SELECT id FROM contacts
     WHERE name_key = ?1 AND merged_into IS NULL AND id <> ?2";
/// The pairs with one contact that the user turned down.
const DISMISSED_WITH: &str =
    "SELECT contact_a, contact_b FROM dismissed_suggestions WHERE contact_a = ?1
     UNION SELECT contact_a, contact_b FROM dismissed_suggestions WHERE contact_b = ?1";

/// The statements [`suggestions_for`] runs, for the test of their query plans.
#[cfg(test)]
const ONE_CONTACT_QUERIES: &[&str] = &[
    NAME_OF,
    NAME_KEY_OF,
    MENTIONED_BY,
    PHONE_OWNERS,
    MENTIONERS,
    PHONES_OF,
    EMAILS_OF,
    SAME_NAME,
    DISMISSED_WITH,
];

/// Suggested pairs, (smaller id, larger id) -> strongest reason and its detail.
struct Found {
    pairs: BTreeMap<(i64, i64), (SuggestionReason, String)>,
    dismissed: BTreeSet<(i64, i64)>,
    /// Only pairs with this contact.
    only: Option<i64>,
}

impl Found {
    fn new(dismissed: BTreeSet<(i64, i64)>, only: Option<i64>) -> Found {
        Found {
            pairs: BTreeMap::new(),
            dismissed,
            only,
        }
    }

    fn add(&mut self, a: i64, b: i64, reason: SuggestionReason, detail: &str) {
        if a == b {
            return;
        }
        let key = (a.min(b), a.max(b));
        if self.dismissed.contains(&key) || self.only.is_some_and(|c| c != a && c != b) {
            return;
        }
        let e = self
            .pairs
            .entry(key)
            .or_insert_with(|| (reason, detail.to_owned()));
        if reason < e.0 {
            *e = (reason, detail.to_owned());
        }
    }
}

fn strings(conn: &Connection, sql: &str, id: i64) -> Result<BTreeSet<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let v = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// The company (not webmail) domains of some email addresses.
fn company_domains<'a>(addresses: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    addresses
        .into_iter()
        .filter_map(|a| a.rsplit_once('@'))
        .map(|(_, domain)| domain.to_lowercase())
        .filter(|d| !PUBLIC_DOMAINS.contains(&d.as_str()))
        .collect()
}

/// Suggestions with one contact, reading only its candidates (see `contact_suggestions`).
fn suggestions_for(conn: &Connection, id: i64) -> Result<Found> {
    let dismissed: BTreeSet<(i64, i64)> = {
        let mut stmt = conn.prepare_cached(DISMISSED_WITH)?;
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut found = Found::new(dismissed, Some(id));
    let Some(key) = conn
        .prepare_cached(NAME_KEY_OF)?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
    else {
        // Merged away or gone: nothing to suggest.
        return Ok(found);
    };

    // A number this contact wrote that another contact uses, and the other way round.
    let mentioned = strings(conn, MENTIONED_BY, id)?;
    {
        let mut owners = conn.prepare_cached(PHONE_OWNERS)?;
        for phone in &mentioned {
            for other in owners.query_map([phone], |r| r.get::<_, i64>(0))? {
                found.add(id, other?, SuggestionReason::PhoneInMessage, phone);
            }
        }
        let mut writers = conn.prepare_cached(MENTIONERS)?;
        for phone in strings(conn, PHONES_OF, id)? {
            for other in writers.query_map([&phone], |r| r.get::<_, i64>(0))? {
                found.add(other?, id, SuggestionReason::PhoneInMessage, &phone);
            }
        }
    }

    // Same name plus one shared detail: only the contacts with the same name key.
    if let Some(key) = key {
        let domains = company_domains(&strings(conn, EMAILS_OF, id)?);
        let others: Vec<i64> = {
            let mut stmt = conn.prepare_cached(SAME_NAME)?;
            stmt.query_map(params![key, id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        for other in others {
            if !mentioned.is_empty() {
                let theirs = strings(conn, MENTIONED_BY, other)?;
                if let Some(phone) = mentioned.intersection(&theirs).next() {
                    found.add(id, other, SuggestionReason::SameNameSamePhone, phone);
                }
            }
            if !domains.is_empty() {
                let theirs = company_domains(&strings(conn, EMAILS_OF, other)?);
                if let Some(domain) = domains.intersection(&theirs).next() {
                    found.add(id, other, SuggestionReason::SameNameSameDomain, domain);
                }
            }
        }
    }
    Ok(found)
}

/// Suggestions among every contact (the CLI's list): one pass over everything.
fn all_suggestions(conn: &Connection) -> Result<Found> {
    let dismissed: BTreeSet<(i64, i64)> = {
        let mut stmt =
            conn.prepare_cached("SELECT contact_a, contact_b FROM dismissed_suggestions")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut found = Found::new(dismissed, None);

    // A number written in one contact's messages that another contact uses.
    let mut mentions: HashMap<i64, BTreeSet<String>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT c.contact_id, p.phone FROM phone_mentions p
             JOIN messages m ON m.id = p.message_id
             JOIN conversations c ON c.id = m.conversation_id
             WHERE c.contact_id IS NOT NULL",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (c, phone) = row?;
            mentions.entry(c).or_default().insert(phone);
        }
        let mut owners = conn.prepare_cached(PHONE_OWNERS)?;
        for (&c, phones) in &mentions {
            for phone in phones {
                for other in owners.query_map([phone], |r| r.get::<_, i64>(0))? {
                    found.add(c, other?, SuggestionReason::PhoneInMessage, phone);
                }
            }
        }
    }

    // Same name plus one shared detail.
    let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, name_key FROM contacts
             WHERE name_key IS NOT NULL AND merged_into IS NULL ORDER BY id",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (id, key) = row?;
            by_name.entry(key).or_default().push(id);
        }
    }
    let mut addresses: HashMap<i64, Vec<String>> = HashMap::new();
    {
        let mut stmt =
            conn.prepare_cached("SELECT contact_id, value FROM identities WHERE kind = 'email'")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
            let (c, address) = row?;
            addresses.entry(c).or_default().push(address);
        }
    }
    let domains: HashMap<i64, BTreeSet<String>> = addresses
        .iter()
        .map(|(&c, a)| (c, company_domains(a)))
        .collect();
    for group in by_name.values().filter(|g| g.len() > 1) {
        for (i, &a) in group.iter().enumerate() {
            for &b in &group[i + 1..] {
                if let (Some(x), Some(y)) = (mentions.get(&a), mentions.get(&b))
                    && let Some(phone) = x.intersection(y).next()
                {
                    found.add(a, b, SuggestionReason::SameNameSamePhone, phone);
                }
                if let (Some(x), Some(y)) = (domains.get(&a), domains.get(&b))
                    && let Some(domain) = x.intersection(y).next()
                {
                    found.add(a, b, SuggestionReason::SameNameSameDomain, domain);
                }
            }
        }
    }
    Ok(found)
}

/// Fills `contacts.name_key` for every contact (migration 5).
pub(crate) fn fill_name_keys(conn: &Connection) -> Result<()> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn.prepare("SELECT id, display_name FROM contacts")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut update = conn.prepare("UPDATE contacts SET name_key = ?2 WHERE id = ?1")?;
    for (id, name) in rows {
        if let Some(key) = name_key(&name) {
            update.execute(params![id, key])?;
        }
    }
    Ok(())
}

impl Store {
    /// The contact panel of a contact (a merged-away contact answers not found).
    pub fn contact_detail(&self, id: i64) -> Result<ContactDetail> {
        let (notes, tag_ids, timeline) = {
            let conn = self.reader();
            let notes: String = conn
                .query_row(
                    "SELECT notes FROM contacts WHERE id = ?1 AND merged_into IS NULL",
                    [id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("no contact {id}")))?;
            let tag_ids = ids(
                &conn,
                "SELECT tag_id FROM contact_tags WHERE contact_id = ?1 ORDER BY tag_id",
                id,
            )?;
            let mut stmt = conn.prepare_cached(
                "SELECT m.id, m.conversation_id, a.kind, a.name, m.direction, m.kind, m.subject,
                        substr(m.body_text, 1, 600), m.sent_at
                 FROM conversations c
                 JOIN messages m ON m.conversation_id = c.id
                 JOIN accounts a ON a.id = c.account_id
                 WHERE c.contact_id = ?1
                 ORDER BY m.sent_at DESC, m.id DESC LIMIT 200",
            )?;
            let timeline = stmt
                .query_map([id], |r| {
                    let channel: String = r.get(2)?;
                    let direction: String = r.get(4)?;
                    let kind: String = r.get(5)?;
                    let body: String = r.get(7)?;
                    Ok(TimelineItem {
                        message_id: r.get(0)?,
                        conversation_id: r.get(1)?,
                        channel: ChannelKind::parse(&channel).unwrap_or(ChannelKind::Email),
                        account_name: r.get(3)?,
                        direction: Direction::parse(&direction),
                        kind: MessageKind::parse(&kind),
                        subject: r.get(6)?,
                        preview: preview(&body, 160),
                        sent_at: r.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            (notes, tag_ids, timeline)
        };
        let contact = contact(&self.reader(), id)?;
        let conversations = self
            .find_conversations(
                &ConversationQuery {
                    offset: 0,
                    limit: 1000,
                    account_id: None,
                },
                &ConversationFilter {
                    contact_id: Some(id),
                    ..Default::default()
                },
            )?
            .items;
        let merges = self
            .merges_into(id)?
            .into_iter()
            .filter(|m| m.undone_at.is_none())
            .collect();
        let suggestions = self.contact_suggestions(Some(id))?;
        Ok(ContactDetail {
            contact,
            notes,
            tag_ids,
            conversations,
            timeline,
            merges,
            suggestions,
        })
    }

    /// The contact panel beside a conversation: its contact's detail, or `None` when the
    /// conversation has no contact (the panel then shows the handle only).
    pub fn conversation_contact(&self, conversation_id: i64) -> Result<Option<ContactDetail>> {
        let contact_id: Option<i64> = self
            .reader()
            .query_row(
                "SELECT contact_id FROM conversations WHERE id = ?1",
                [conversation_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no conversation {conversation_id}")))?;
        contact_id.map(|id| self.contact_detail(id)).transpose()
    }

    /// Contacts whose name or identity contains `text` (for the merge picker).
    pub fn find_contacts(&self, text: &str, limit: u32) -> Result<Vec<Contact>> {
        let pattern = format!("%{}%", text.trim().replace(['%', '_'], ""));
        let found: Vec<i64> = {
            let conn = self.reader();
            let mut stmt = conn.prepare_cached(
                "SELECT k.id FROM contacts k WHERE k.merged_into IS NULL AND (
                    k.display_name LIKE ?1
                    OR EXISTS (SELECT 1 FROM identities i WHERE i.contact_id = k.id
                               AND (i.value LIKE ?1 OR i.display_name LIKE ?1)))
                 ORDER BY k.last_contact_at DESC NULLS LAST, k.id LIMIT ?2",
            )?;
            stmt.query_map(params![pattern, limit.clamp(1, 200)], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let conn = self.reader();
        found.into_iter().map(|id| contact(&conn, id)).collect()
    }

    pub fn set_contact_notes(&self, id: i64, notes: &str) -> Result<()> {
        self.update_contact(id, "notes", notes)
    }

    pub fn rename_contact(&self, id: i64, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a contact needs a name"));
        }
        self.update_contact(id, "display_name", name)
    }

    fn update_contact(&self, id: i64, column: &str, value: &str) -> Result<()> {
        let conversations = {
            let conn = self.writer();
            let n = if column == "display_name" {
                conn.execute(
                    "UPDATE contacts SET display_name = ?2, name_key = ?3
                     WHERE id = ?1 AND merged_into IS NULL",
                    params![id, value, name_key(value)],
                )?
            } else {
                conn.execute(
                    &format!(
                        "UPDATE contacts SET {column} = ?2 WHERE id = ?1 AND merged_into IS NULL"
                    ),
                    params![id, value],
                )?
            };
            if n == 0 {
                return Err(Error::not_found(format!("no contact {id}")));
            }
            contact_conversations(&conn, id)?
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        Ok(())
    }

    /// Contacts that are probably the same person, strongest first: for one contact, or for
    /// everyone (`None`). Pairs the user dismissed are left out.
    ///
    /// For one contact (the panel asks at every conversation switch) only its likely matches
    /// are read, through indexes: the owners of the numbers it wrote, the writers of its
    /// numbers, the contacts with its name key — never every contact.
    pub fn contact_suggestions(&self, contact_id: Option<i64>) -> Result<Vec<ContactSuggestion>> {
        let conn = self.reader();
        let found = match contact_id {
            Some(id) => suggestions_for(&conn, id)?,
            None => all_suggestions(&conn)?,
        };
        let mut name_of = conn.prepare_cached(NAME_OF)?;
        let mut names: HashMap<i64, String> = HashMap::new();
        let mut name = |id: i64| -> Result<String> {
            if let Some(n) = names.get(&id) {
                return Ok(n.clone());
            }
            let n: String = name_of
                .query_row([id], |r| r.get(0))
                .optional()?
                .unwrap_or_default();
            names.insert(id, n.clone());
            Ok(n)
        };
        let mut out = Vec::with_capacity(found.pairs.len());
        for ((a, b), (reason, detail)) in found.pairs {
            // For one contact, it is always `contact_id`.
            let (a, b) = if contact_id == Some(b) {
                (b, a)
            } else {
                (a, b)
            };
            out.push(ContactSuggestion {
                contact_id: a,
                other_id: b,
                contact_name: name(a)?,
                other_name: name(b)?,
                reason,
                detail,
            });
        }
        out.sort_by(|x, y| x.reason.cmp(&y.reason).then(x.other_id.cmp(&y.other_id)));
        Ok(out)
    }

    /// "Not the same person": the pair is no longer suggested.
    pub fn dismiss_suggestion(&self, a: i64, b: i64) -> Result<()> {
        self.writer().execute(
            "INSERT OR IGNORE INTO dismissed_suggestions(contact_a, contact_b) VALUES (?1, ?2)",
            params![a.min(b), a.max(b)],
        )?;
        Ok(())
    }

    /// Merges contact `merged` into `survivor`: its identities, conversations and tags move,
    /// the earliest first-seen and latest last-contact are kept, notes are joined. The merged
    /// contact is hidden, not deleted, and [`Store::undo_merge`] puts everything back.
    pub fn merge_contacts(&self, survivor: i64, merged: i64) -> Result<MergeRecord> {
        if survivor == merged {
            return Err(Error::invalid("a contact cannot be merged with itself"));
        }
        let (record_id, conversations) = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let s = fields(&tx, survivor)?;
            let m = fields(&tx, merged)?;
            let identities = ids(
                &tx,
                "SELECT id FROM identities WHERE contact_id = ?1 ORDER BY id",
                merged,
            )?;
            let conversations = ids(
                &tx,
                "SELECT id FROM conversations WHERE contact_id = ?1 ORDER BY id",
                merged,
            )?;
            let merged_tags = ids(
                &tx,
                "SELECT tag_id FROM contact_tags WHERE contact_id = ?1 ORDER BY tag_id",
                merged,
            )?;
            let survivor_tags = ids(
                &tx,
                "SELECT tag_id FROM contact_tags WHERE contact_id = ?1 ORDER BY tag_id",
                survivor,
            )?;
            let after = ContactFields {
                display_name: if s.display_name.is_empty() {
                    m.display_name.clone()
                } else {
                    s.display_name.clone()
                },
                notes: match (s.notes.trim().is_empty(), m.notes.trim().is_empty()) {
                    (_, true) => s.notes.clone(),
                    (true, false) => m.notes.clone(),
                    (false, false) => format!("{}\n\n{}", s.notes, m.notes),
                },
                created_at: s.created_at.min(m.created_at),
                last_contact_at: s.last_contact_at.max(m.last_contact_at),
            };
            tx.execute(
                "UPDATE identities SET contact_id = ?1 WHERE contact_id = ?2",
                params![survivor, merged],
            )?;
            tx.execute(
                "UPDATE conversations SET contact_id = ?1 WHERE contact_id = ?2",
                params![survivor, merged],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO contact_tags(contact_id, tag_id)
                 SELECT ?1, tag_id FROM contact_tags WHERE contact_id = ?2",
                params![survivor, merged],
            )?;
            tx.execute("DELETE FROM contact_tags WHERE contact_id = ?1", [merged])?;
            write_fields(&tx, survivor, &after)?;
            tx.execute(
                "UPDATE contacts SET merged_into = ?1 WHERE id = ?2",
                params![survivor, merged],
            )?;
            let snapshot = MergeSnapshot {
                survivor_before: s,
                survivor_after: after,
                merged: m,
                identities,
                conversations: conversations.clone(),
                merged_tags,
                survivor_tags,
            };
            tx.execute(
                "INSERT INTO contact_merges(survivor_id, merged_id, snapshot, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    survivor,
                    merged,
                    serde_json::to_string(&snapshot)?,
                    now_ms()
                ],
            )?;
            let id = tx.last_insert_rowid();
            let mut all = conversations;
            all.extend(contact_conversations(&tx, survivor)?);
            tx.commit()?;
            all.sort_unstable();
            all.dedup();
            (id, all)
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        self.merge_record(record_id)
    }

    /// Undoes a merge: the merged contact comes back with exactly its identities,
    /// conversations, tags and details, and the survivor gets its own back (a detail the user
    /// changed since the merge is kept). A conversation that started after the merge from one
    /// of the moved identities goes back with it. Refused when the survivor has itself been
    /// merged since (undo that first).
    pub fn undo_merge(&self, merge_id: i64) -> Result<MergeRecord> {
        let conversations = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let (survivor, merged, snapshot, undone): (i64, i64, String, Option<i64>) = tx
                .query_row(
                    "SELECT survivor_id, merged_id, snapshot, undone_at FROM contact_merges
                     WHERE id = ?1",
                    [merge_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?
                .ok_or_else(|| Error::not_found(format!("no merge {merge_id}")))?;
            if undone.is_some() {
                return Err(Error::invalid("this merge was already undone"));
            }
            let later: Option<i64> = tx.query_row(
                "SELECT merged_into FROM contacts WHERE id = ?1",
                [survivor],
                |r| r.get(0),
            )?;
            if later.is_some() {
                return Err(Error::invalid(
                    "this contact was merged again since; undo the later merge first",
                ));
            }
            let snap: MergeSnapshot = serde_json::from_str(&snapshot)?;
            let mut moved_back = Vec::new();
            {
                let mut ident = tx.prepare_cached(
                    "UPDATE identities SET contact_id = ?1 WHERE id = ?2 AND contact_id = ?3",
                )?;
                for id in &snap.identities {
                    ident.execute(params![merged, id, survivor])?;
                }
                let mut conv = tx.prepare_cached(
                    "UPDATE conversations SET contact_id = ?1 WHERE id = ?2 AND contact_id = ?3",
                )?;
                for id in &snap.conversations {
                    if conv.execute(params![merged, id, survivor])? > 0 {
                        moved_back.push(*id);
                    }
                }
            }
            // Conversations begun after the merge by a moved identity follow it back.
            let newer = {
                let mut stmt = tx.prepare_cached(
                    "SELECT c.id FROM conversations c
                     WHERE c.contact_id = ?1
                       AND c.created_at >= (SELECT created_at FROM contact_merges WHERE id = ?2)
                       AND c.handle IN (SELECT value FROM identities WHERE contact_id = ?3)",
                )?;
                stmt.query_map(params![survivor, merge_id, merged], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            for id in newer {
                if !snap.conversations.contains(&id) {
                    tx.execute(
                        "UPDATE conversations SET contact_id = ?1 WHERE id = ?2",
                        params![merged, id],
                    )?;
                    moved_back.push(id);
                }
            }
            for tag in &snap.merged_tags {
                if !snap.survivor_tags.contains(tag) {
                    tx.execute(
                        "DELETE FROM contact_tags WHERE contact_id = ?1 AND tag_id = ?2",
                        params![survivor, tag],
                    )?;
                }
                tx.execute(
                    "INSERT OR IGNORE INTO contact_tags(contact_id, tag_id) VALUES (?1, ?2)",
                    params![merged, tag],
                )?;
            }
            // Each survivor detail goes back unless the user changed it after the merge.
            let now = fields(&tx, survivor)?;
            let pick = |now: &str, after: &str, before: &str| {
                if now == after {
                    before.to_string()
                } else {
                    now.to_string()
                }
            };
            let restored = ContactFields {
                display_name: pick(
                    &now.display_name,
                    &snap.survivor_after.display_name,
                    &snap.survivor_before.display_name,
                ),
                notes: pick(
                    &now.notes,
                    &snap.survivor_after.notes,
                    &snap.survivor_before.notes,
                ),
                created_at: if now.created_at == snap.survivor_after.created_at {
                    snap.survivor_before.created_at
                } else {
                    now.created_at
                },
                last_contact_at: if now.last_contact_at == snap.survivor_after.last_contact_at {
                    snap.survivor_before.last_contact_at
                } else {
                    now.last_contact_at
                },
            };
            write_fields(&tx, survivor, &restored)?;
            write_fields(&tx, merged, &snap.merged)?;
            tx.execute(
                "UPDATE contacts SET merged_into = NULL WHERE id = ?1",
                [merged],
            )?;
            tx.execute(
                "UPDATE contact_merges SET undone_at = ?2 WHERE id = ?1",
                params![merge_id, now_ms()],
            )?;
            let mut all = moved_back;
            all.extend(contact_conversations(&tx, survivor)?);
            tx.commit()?;
            all.sort_unstable();
            all.dedup();
            all
        };
        self.announce(Change {
            conversations,
            ..Default::default()
        });
        self.merge_record(merge_id)
    }

    /// Merges into a contact, newest first (undone ones included).
    pub fn merges_into(&self, survivor: i64) -> Result<Vec<MergeRecord>> {
        let ids = ids(
            &self.reader(),
            "SELECT id FROM contact_merges WHERE survivor_id = ?1 ORDER BY id DESC",
            survivor,
        )?;
        ids.into_iter().map(|id| self.merge_record(id)).collect()
    }

    fn merge_record(&self, id: i64) -> Result<MergeRecord> {
        let conn = self.reader();
        let (survivor_id, merged_id, snapshot, created_at, undone_at): (
            i64,
            i64,
            String,
            i64,
            Option<i64>,
        ) = conn
            .query_row(
                "SELECT survivor_id, merged_id, snapshot, created_at, undone_at
                 FROM contact_merges WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no merge {id}")))?;
        let snap: MergeSnapshot = serde_json::from_str(&snapshot)?;
        Ok(MergeRecord {
            id,
            survivor_id,
            merged_id,
            merged_name: snap.merged.display_name,
            created_at,
            undone_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The panel's suggestions read through indexes only: no statement scans a table.
    #[test]
    fn one_contact_suggestions_never_scan_a_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.reader();
        for sql in ONE_CONTACT_QUERIES {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(!plan.is_empty(), "{sql}");
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{sql}\n{plan:#?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("USING")),
                "{sql}\n{plan:#?}"
            );
        }
    }

    #[test]
    fn names_compare_without_case_accents_or_order() {
        assert_eq!(name_key("Niccolò Rossi"), name_key("rossi niccolo"));
        assert_eq!(name_key("Maria"), None);
        assert_eq!(name_key("maria@example.com x"), None);
    }
}
