//! One search box over every channel: full text (FTS5: case- and accent-insensitive, each
//! word a prefix) plus filters typed in the same box — `from:`, `channel:`, `tag:`,
//! `status:`, `after:`/`before:` dates — best match first.

use rusqlite::params_from_iter;
use rusqlite::types::Value;
use serde::Serialize;
use ts_rs::TS;

use super::Store;
use super::query::{HIT_CLOSE, HIT_OPEN, fts_query};
use crate::model::{ChannelKind, ConversationStatus, SearchHit};
use crate::threading::preview;
use crate::{Error, Result};

/// A search as typed, split into text and filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SearchQuery {
    /// The free words (each matched as a prefix).
    pub text: String,
    /// Words the sender's name or address must contain.
    pub from: String,
    #[ts(optional)]
    pub channel: Option<ChannelKind>,
    /// A tag name (of the conversation).
    #[ts(optional)]
    pub tag: Option<String>,
    #[ts(optional)]
    pub status: Option<ConversationStatus>,
    /// Sent at or after (ms; the start of the day typed, in the shop's time zone).
    #[ts(optional, type = "number")]
    pub after: Option<i64>,
    /// Sent before (ms; the start of the day typed).
    #[ts(optional, type = "number")]
    pub before: Option<i64>,
}

impl SearchQuery {
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.from.trim().is_empty()
            && self.channel.is_none()
            && self.tag.is_none()
            && self.status.is_none()
            && self.after.is_none()
            && self.before.is_none()
    }
}

/// Splits on spaces outside double quotes; quotes are removed.
fn tokens(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in input.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn channel_named(v: &str) -> Option<ChannelKind> {
    Some(match v {
        "email" | "mail" | "e-mail" => ChannelKind::Email,
        "whatsapp" | "wa" => ChannelKind::Whatsapp,
        "messenger" | "facebook" | "fb" => ChannelKind::Messenger,
        "instagram" | "ig" => ChannelKind::Instagram,
        "telegram" | "tg" => ChannelKind::Telegram,
        _ => return None,
    })
}

fn status_named(v: &str) -> Option<ConversationStatus> {
    Some(match v {
        "open" | "aperta" | "aperto" | "aperte" => ConversationStatus::Open,
        "pending" | "attesa" | "in-attesa" => ConversationStatus::Pending,
        "snoozed" | "posticipata" | "rimandata" => ConversationStatus::Snoozed,
        "closed" | "chiusa" | "chiuso" | "chiuse" => ConversationStatus::Closed,
        _ => return None,
    })
}

/// The start of a day ("2025-03-01", or a month "2025-03") in `tz`, in ms.
fn day_start(v: &str, tz: &jiff::tz::TimeZone) -> Option<i64> {
    let date = v
        .parse::<jiff::civil::Date>()
        .or_else(|_| format!("{v}-01").parse::<jiff::civil::Date>())
        .ok()?;
    Some(date.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
}

/// Reads what a person typed: `key:value` filters (English or Italian keys: `da:`,
/// `canale:`, `stato:`, `dopo:`, `prima:`; values may be quoted) and free words. A filter
/// that cannot be read is an error saying why, so the box can show it.
pub fn parse_search(input: &str, tz: &jiff::tz::TimeZone) -> Result<SearchQuery> {
    let mut q = SearchQuery::default();
    let mut words: Vec<String> = Vec::new();
    for token in tokens(input) {
        let Some((key, value)) = token.split_once(':') else {
            words.push(token);
            continue;
        };
        let value = value.trim();
        let lower = value.to_lowercase();
        match key.to_lowercase().as_str() {
            "from" | "da" => {
                if !q.from.is_empty() {
                    q.from.push(' ');
                }
                q.from.push_str(value);
            }
            "channel" | "canale" => q.channel = Some(channel_named(&lower).ok_or_else(|| {
                Error::invalid(format!(
                    "unknown channel {value:?} (email, whatsapp, messenger, instagram, telegram)"
                ))
            })?),
            "tag" | "etichetta" => q.tag = Some(value.to_string()),
            "status" | "stato" | "is" => {
                q.status = Some(status_named(&lower).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown status {value:?} (open, pending, snoozed, closed)"
                    ))
                })?)
            }
            "after" | "dopo" | "dal" => {
                q.after = Some(day_start(value, tz).ok_or_else(|| {
                    Error::invalid(format!("{value:?} is not a date like 2025-03-01"))
                })?)
            }
            "before" | "prima" | "al" => {
                q.before = Some(day_start(value, tz).ok_or_else(|| {
                    Error::invalid(format!("{value:?} is not a date like 2025-03-01"))
                })?)
            }
            // "http://..." or "ore 10:30": not a filter.
            _ => words.push(token),
        }
    }
    q.text = words.join(" ");
    Ok(q)
}

impl Store {
    /// Searches every channel for what a person typed (words and filters), best match first.
    pub fn search(&self, input: &str, limit: u32) -> Result<Vec<SearchHit>> {
        let tz = self.care_settings()?.time_zone();
        let q = parse_search(input, &tz)?;
        self.search_query(&q, limit)
    }

    pub fn search_query(&self, q: &SearchQuery, limit: u32) -> Result<Vec<SearchHit>> {
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let mut fts: Vec<String> = Vec::new();
        if let Some(text) = words_query(&q.text) {
            fts.push(text);
        }
        if let Some(from) = fts_query(&q.from) {
            fts.push(format!("{{sender_name sender_handle}} : ({from})"));
        }
        let mut args: Vec<Value> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        let use_fts = !fts.is_empty();
        if use_fts {
            args.push(Value::Text(fts.join(" AND ")));
            conds.push(format!("messages_fts MATCH ?{}", args.len()));
        }
        if let Some(channel) = q.channel {
            args.push(Value::Text(channel.as_str().into()));
            conds.push(format!("a.kind = ?{}", args.len()));
        }
        if let Some(status) = q.status {
            args.push(Value::Text(status.as_str().into()));
            conds.push(format!("c.status = ?{}", args.len()));
        }
        if let Some(tag) = &q.tag {
            args.push(Value::Text(tag.clone()));
            conds.push(format!(
                "EXISTS (SELECT 1 FROM conversation_tags t JOIN tags g ON g.id = t.tag_id
                         WHERE t.conversation_id = m.conversation_id
                           AND g.name = ?{} COLLATE NOCASE)",
                args.len()
            ));
        }
        if let Some(after) = q.after {
            args.push(Value::Integer(after));
            conds.push(format!("m.sent_at >= ?{}", args.len()));
        }
        if let Some(before) = q.before {
            args.push(Value::Integer(before));
            conds.push(format!("m.sent_at < ?{}", args.len()));
        }
        let limit = i64::from(limit.clamp(1, 500));
        let conn = self.reader();
        if !use_fts {
            args.push(Value::Integer(limit));
            let sql = format!(
                "SELECT m.id, m.conversation_id, a.kind,
                        COALESCE(NULLIF(k.display_name, ''), c.handle), m.subject,
                        substr(m.body_text, 1, 400), m.sent_at
                 FROM messages m
                 JOIN conversations c ON c.id = m.conversation_id
                 JOIN accounts a ON a.id = m.account_id
                 LEFT JOIN contacts k ON k.id = c.contact_id
                 WHERE {}
                 ORDER BY m.sent_at DESC, m.id DESC
                 LIMIT ?{}",
                conds.join(" AND "),
                args.len()
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let hits = stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    let kind: String = r.get(2)?;
                    let body: String = r.get(5)?;
                    Ok(SearchHit {
                        message_id: r.get(0)?,
                        conversation_id: r.get(1)?,
                        channel: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                        contact_name: r.get(3)?,
                        subject: r.get(4)?,
                        snippet: preview(&body, 160),
                        sent_at: r.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            return Ok(hits);
        }
        // Ranking every match of a common word ("spedizione" is in a third of a shop's mail)
        // would cost time in proportion to the whole mailbox: the newest RANK_WINDOW matches
        // (FTS5 walks them in rowid order and stops) are ranked by relevance, best first.
        args.push(Value::Integer(RANK_WINDOW));
        let window = args.len();
        args.push(Value::Integer(limit));
        let sql = format!(
            "SELECT id, conversation_id, kind, contact_name, subject, sent_at, body FROM (
                 SELECT m.id AS id, m.conversation_id AS conversation_id, a.kind AS kind,
                        COALESCE(NULLIF(k.display_name, ''), c.handle) AS contact_name,
                        m.subject AS subject, m.sent_at AS sent_at,
                        substr(m.body_text, 1, 4000) AS body,
                        bm25(messages_fts, 2.0, 1.0, 3.0, 3.0) AS score
                 FROM messages_fts
                 JOIN messages m ON m.id = messages_fts.rowid
                 JOIN conversations c ON c.id = m.conversation_id
                 JOIN accounts a ON a.id = m.account_id
                 LEFT JOIN contacts k ON k.id = c.contact_id
                 WHERE {}
                 ORDER BY messages_fts.rowid DESC
                 LIMIT ?{window})
             ORDER BY score, sent_at DESC
             LIMIT ?{}",
            conds.join(" AND "),
            window + 1
        );
        let terms = terms_of(&q.text);
        let mut stmt = conn.prepare_cached(&sql)?;
        let hits = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                let kind: String = r.get(2)?;
                let subject: String = r.get(4)?;
                let body: String = r.get(6)?;
                // Snippets are cut here, for the hits shown only: FTS5's snippet() would run
                // the whole match again for each hit.
                let snippet = highlight(&body, &terms)
                    .or_else(|| highlight(&subject, &terms))
                    .unwrap_or_else(|| preview(&body, 160));
                Ok(SearchHit {
                    message_id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    channel: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                    contact_name: r.get(3)?,
                    subject,
                    snippet,
                    sent_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(hits)
    }
}

/// The free words as an FTS5 query: every word required, the last one (the one being typed)
/// as a prefix, the others whole — expanding a prefix reads every matching entry of the index,
/// which is what made "ordine 4521" slow over a million messages. A trailing space means the
/// last word is finished too.
fn words_query(text: &str) -> Option<String> {
    let typing = !text.ends_with(char::is_whitespace);
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\""))
        .collect();
    let n = words.len();
    if n == 0 {
        return None;
    }
    Some(
        words
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                if i + 1 == n && typing {
                    format!("{w}*")
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The words of a query, folded like the index folds them (case and accents).
fn terms_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(fold)
        .collect()
}

/// Lower case without the accents Italian, French, Spanish and German use.
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            other => other,
        })
        .collect()
}

/// About 16 words around the first word starting with a query term, each such word wrapped in
/// [`HIT_OPEN`] / [`HIT_CLOSE`]; `None` when no word matches.
pub(crate) fn highlight(text: &str, terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let hit = |w: &str| {
        let core: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
        let f = fold(&core);
        !f.is_empty() && terms.iter().any(|t| f.starts_with(t.as_str()))
    };
    let first = words.iter().position(|w| hit(w))?;
    let start = first.saturating_sub(5);
    let end = (start + 16).min(words.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    for (i, w) in words[start..end].iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if hit(w) {
            // Mark the word itself, not the punctuation around it ("[spedizione]?").
            let lead = w.len() - w.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
            let tail = w.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
            let (before, rest) = w.split_at(lead);
            let (core, after) = rest.split_at(tail.saturating_sub(lead).min(rest.len()));
            out.push_str(before);
            out.push(HIT_OPEN);
            out.push_str(core);
            out.push(HIT_CLOSE);
            out.push_str(after);
        } else {
            out.push_str(w);
        }
    }
    if end < words.len() {
        out.push('…');
    }
    Some(out)
}

/// How many of the newest matches are ranked by relevance.
const RANK_WINDOW: i64 = 2000;

#[cfg(test)]
mod tests {
    use super::*;

    fn rome() -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get("Europe/Rome").unwrap()
    }

    #[test]
    fn filters_and_words_are_split() {
        let q = parse_search(
            "spedizione from:\"Maria Rossi\" channel:WhatsApp tag:reso status:chiusa \
             after:2025-03-01 before:2025-04 ore 10:30",
            &rome(),
        )
        .unwrap();
        assert_eq!(q.text, "spedizione ore 10:30");
        assert_eq!(q.from, "Maria Rossi");
        assert_eq!(q.channel, Some(ChannelKind::Whatsapp));
        assert_eq!(q.tag.as_deref(), Some("reso"));
        assert_eq!(q.status, Some(ConversationStatus::Closed));
        // Midnight in Rome (UTC+1 in March).
        assert_eq!(q.after, Some(1_740_783_600_000));
        assert_eq!(q.before, Some(1_743_458_400_000));
    }

    #[test]
    fn snippets_mark_the_word_not_its_punctuation() {
        let terms = vec!["spedizione".to_string()];
        assert_eq!(
            highlight("quando arriva la spedizione? («spedizione»)", &terms).unwrap(),
            format!(
                "quando arriva la {HIT_OPEN}spedizione{HIT_CLOSE}? («{HIT_OPEN}spedizione{HIT_CLOSE}»)"
            )
        );
    }

    #[test]
    fn snippets_mark_every_matching_word_ignoring_accents() {
        let terms = terms_of("perche sped");
        let s = highlight("Ciao, perché la spedizione è in ritardo?", &terms).unwrap();
        assert_eq!(
            s,
            format!(
                "Ciao, {HIT_OPEN}perché{HIT_CLOSE} la {HIT_OPEN}spedizione{HIT_CLOSE} è in ritardo?"
            )
        );
        assert_eq!(highlight("nulla qui", &terms), None);
    }

    #[test]
    fn only_the_word_being_typed_is_a_prefix() {
        assert_eq!(
            words_query("ordine 4521").as_deref(),
            Some("\"ordine\" \"4521\"*")
        );
        assert_eq!(words_query("sped").as_deref(), Some("\"sped\"*"));
        assert_eq!(words_query("reso ").as_deref(), Some("\"reso\""));
        assert_eq!(words_query(" ,; "), None);
    }

    #[test]
    fn unreadable_filters_say_why() {
        assert!(parse_search("channel:fax", &rome()).is_err());
        assert!(parse_search("after:ieri", &rome()).is_err());
        assert!(parse_search("status:boh", &rome()).is_err());
        assert!(
            parse_search("https://shop.it/ordine", &rome())
                .unwrap()
                .text
                .contains("https")
        );
    }
}
