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
        fts.extend(from_query(q));
        // The filters, as tests on a message row `m` (for the full-text walk they are checked
        // row by row, so each is one lookup or a small set built once).
        let mut args: Vec<Value> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        let use_fts = !fts.is_empty();
        let fts_exact = fts.join(" AND ");
        if use_fts {
            // ?1, the MATCH of the walk.
            args.push(Value::Text(fts_exact.clone()));
        }
        if let Some(channel) = q.channel {
            args.push(Value::Text(channel.as_str().into()));
            conds.push(format!(
                "m.account_id IN (SELECT id FROM accounts WHERE kind = ?{})",
                args.len()
            ));
        }
        if let Some(status) = q.status {
            args.push(Value::Text(status.as_str().into()));
            conds.push(format!(
                "(SELECT status FROM conversations WHERE id = m.conversation_id) = ?{}",
                args.len()
            ));
        }
        if let Some(tag) = &q.tag {
            args.push(Value::Text(tag.clone()));
            // Correlated, not `IN (…)`: a set would make the newest-first scan of a
            // tag-only search read every message of every tagged conversation (34 ms at 1M).
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
        let terms = scored_terms(q);
        // The word being typed, when longer than the prefix index (3 letters): FTS5 would merge
        // the whole doclist of every word it starts before giving the first row (O(matches),
        // 25 ms for "spedizione" over a million messages). Its first three letters are served
        // by the prefix index lazily, newest first, and each row is checked here.
        let narrowed = narrowed_query(&q.text);
        if let Some((narrow_text, word)) = &narrowed {
            let mut fts = vec![narrow_text.clone()];
            fts.extend(from_query(q));
            args[0] = Value::Text(fts.join(" AND "));
            if let Walk::Ranked(found) = walk(&conn, &conds, &args, &terms, Some(word), limit)? {
                return hits(&conn, found, &q.text, limit);
            }
            args[0] = Value::Text(fts_exact.clone());
        }
        match walk(&conn, &conds, &args, &terms, None, limit)? {
            Walk::Ranked(found) => hits(&conn, found, &q.text, limit),
            Walk::TooFewChecked => unreachable!("only a checked walk gives up"),
        }
    }
}

/// One word of the query as the index folds it: where it counts and whether it is a prefix.
struct Term {
    word: String,
    prefix: bool,
    senders_only: bool,
}

fn scored_terms(q: &SearchQuery) -> Vec<Term> {
    let typing = !q.text.ends_with(char::is_whitespace);
    let words: Vec<&str> = q
        .text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let n = words.len();
    let mut terms: Vec<Term> = words
        .iter()
        .enumerate()
        .map(|(i, w)| Term {
            word: fold(w),
            prefix: typing && i + 1 == n,
            senders_only: false,
        })
        .collect();
    terms.extend(
        q.from
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(|w| Term {
                word: fold(w),
                prefix: true,
                senders_only: true,
            }),
    );
    terms
}

fn from_query(q: &SearchQuery) -> Option<String> {
    fts_query(&q.from).map(|from| format!("{{sender_name sender_handle}} : ({from})"))
}

/// The words query with the word being typed cut to its first three letters (served by the
/// prefix index), and that word folded, for rows to be checked against; `None` when the
/// word being typed is short enough for the prefix index already.
fn narrowed_query(text: &str) -> Option<(String, String)> {
    if text.ends_with(char::is_whitespace) {
        return None;
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    let (last, before) = words.split_last()?;
    if last.chars().count() <= PREFIX_INDEXED {
        return None;
    }
    let head: String = last.chars().take(PREFIX_INDEXED).collect();
    let mut parts: Vec<String> = before.iter().map(|w| format!("\"{w}\"")).collect();
    parts.push(format!("\"{head}\"*"));
    Some((parts.join(" "), fold(last)))
}

/// A match found while walking the index, with what ranks it.
struct Found {
    id: i64,
    sent_at: i64,
    /// Per column (subject, body, sender name, sender address): length in words.
    lens: [u32; 4],
    /// Per term, per column: how many words match.
    tf: Vec<[u32; 4]>,
}

enum Walk {
    Ranked(Vec<Found>),
    /// A checked walk found fewer than a page among the rows it may look at.
    TooFewChecked,
}

/// Walks the matches newest first, keeping those the filters let through (and, for a
/// narrowed query, that really hold a word starting with `check`), until [`RANK_WINDOW`] are
/// kept, or [`EXAMINE_CAP`] rows were looked at and a page is full. Ranking every match of a
/// common word would cost time in proportion to the whole mailbox.
fn walk(
    conn: &rusqlite::Connection,
    conds: &[String],
    args: &[Value],
    terms: &[Term],
    check: Option<&str>,
    limit: i64,
) -> Result<Walk> {
    let pass = if conds.is_empty() {
        "1".to_string()
    } else {
        format!("({})", conds.join(" AND "))
    };
    let sql = format!(
        "SELECT m.id, m.sent_at, m.subject, m.body_text, m.sender_name, m.sender_handle, {pass}
         FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
         WHERE messages_fts MATCH ?1
         ORDER BY messages_fts.rowid DESC"
    );
    let checked = check.and_then(|w| terms.iter().position(|t| t.prefix && t.word == w));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args.iter()))?;
    let mut found = Vec::new();
    let mut examined = 0i64;
    let mut passed = 0i64;
    let mut folded = String::new();
    while let Some(r) = rows.next()? {
        examined += 1;
        if examined > EXAMINE_CAP && found.len() as i64 >= limit {
            break;
        }
        // Few rows sharing the first letters hold the word: the exact prefix is cheaper (its
        // matches are few), and a word found nowhere is not looked for row by row.
        if checked.is_some() && examined > EXAMINE_CAP {
            return Ok(Walk::TooFewChecked);
        }
        if r.get::<_, i64>(6)? == 0 {
            continue;
        }
        passed += 1;
        if checked.is_some() && passed == CHECK_PROBE + 1 && (found.len() as i64) * 4 < CHECK_PROBE
        {
            return Ok(Walk::TooFewChecked);
        }
        let mut lens = [0u32; 4];
        let mut tf = vec![[0u32; 4]; terms.len()];
        for (col, len) in lens.iter_mut().enumerate() {
            let text = r.get_ref(2 + col)?.as_str().unwrap_or("");
            for token in text.split(|c: char| !c.is_alphanumeric()) {
                if token.is_empty() {
                    continue;
                }
                *len += 1;
                fold_into(token, &mut folded);
                for (i, t) in terms.iter().enumerate() {
                    if t.senders_only && col < 2 {
                        continue;
                    }
                    let hit = if t.prefix {
                        folded.starts_with(t.word.as_str())
                    } else {
                        folded == t.word
                    };
                    if hit {
                        tf[i][col] += 1;
                    }
                }
            }
        }
        if let Some(i) = checked
            && tf[i].iter().all(|&n| n == 0)
        {
            continue;
        }
        found.push(Found {
            id: r.get(0)?,
            sent_at: r.get(1)?,
            lens,
            tf,
        });
        if found.len() as i64 >= RANK_WINDOW {
            break;
        }
    }
    if let Some(c) = check
        && checked.is_none()
    {
        return Err(Error::internal(format!("{c:?} is not a term being typed")));
    }
    Ok(Walk::Ranked(found))
}

/// BM25 (k1 1.2, b 0.75) with FTS5's column weights as before (subject 2, body 1, sender 3),
/// average lengths taken over the matches ranked. No IDF: every match holds every word, so
/// it only weighed one word's repeats against another's, and FTS5's bm25() counted it by
/// reading every match of every word (12 ms per common word over a million messages).
fn rank(found: &mut Vec<Found>) {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    const WEIGHTS: [f64; 4] = [2.0, 1.0, 3.0, 3.0];
    let mut avg = [1.0f64; 4];
    if !found.is_empty() {
        for (col, a) in avg.iter_mut().enumerate() {
            let total: u64 = found.iter().map(|f| u64::from(f.lens[col])).sum();
            *a = (total as f64 / found.len() as f64).max(1.0);
        }
    }
    let score = |f: &Found| -> f64 {
        let mut s = 0.0;
        for tf in &f.tf {
            for col in 0..4 {
                let n = f64::from(tf[col]);
                if n > 0.0 {
                    let norm = 1.0 - B + B * f64::from(f.lens[col]) / avg[col];
                    s += WEIGHTS[col] * n * (K1 + 1.0) / (n + K1 * norm);
                }
            }
        }
        s
    };
    let mut scored: Vec<(f64, Found)> = std::mem::take(found)
        .into_iter()
        .map(|f| (score(&f), f))
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(b.1.sent_at.cmp(&a.1.sent_at))
            .then(b.1.id.cmp(&a.1.id))
    });
    *found = scored.into_iter().map(|(_, f)| f).collect();
}

/// The page of hits, best first, with what the list shows; the snippet is cut here, for the
/// hits shown only (FTS5's snippet() would run the whole match again for each).
fn hits(
    conn: &rusqlite::Connection,
    mut found: Vec<Found>,
    text: &str,
    limit: i64,
) -> Result<Vec<SearchHit>> {
    rank(&mut found);
    let terms = terms_of(text);
    let mut stmt = conn.prepare_cached(
        "SELECT m.conversation_id, a.kind, COALESCE(NULLIF(k.display_name, ''), c.handle),
                m.subject, substr(m.body_text, 1, 4000), m.sent_at
         FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         JOIN accounts a ON a.id = m.account_id
         LEFT JOIN contacts k ON k.id = c.contact_id
         WHERE m.id = ?1",
    )?;
    let mut out = Vec::new();
    for f in found.iter().take(limit as usize) {
        let hit = stmt.query_row([f.id], |r| {
            let kind: String = r.get(1)?;
            let subject: String = r.get(3)?;
            let body: String = r.get(4)?;
            let snippet = highlight(&body, &terms)
                .or_else(|| highlight(&subject, &terms))
                .unwrap_or_else(|| preview(&body, 160));
            Ok(SearchHit {
                message_id: f.id,
                conversation_id: r.get(0)?,
                channel: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                contact_name: r.get(2)?,
                subject,
                snippet,
                sent_at: r.get(5)?,
            })
        })?;
        out.push(hit);
    }
    Ok(out)
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

/// Lower case without the accents Italian, French, Spanish and German use (and a few more
/// of the letters the index folds: Polish, Czech, Nordic, Turkish).
fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

fn fold_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
        return;
    }
    out.extend(word.chars().flat_map(char::to_lowercase).map(|c| match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' | 'ć' | 'č' => 'c',
        'ñ' | 'ń' | 'ň' => 'n',
        'ā' | 'ą' | 'ă' => 'a',
        'ē' | 'ę' | 'ě' => 'e',
        'ī' | 'ı' => 'i',
        'ō' | 'ő' | 'ø' => 'o',
        'ū' | 'ű' | 'ů' => 'u',
        'ý' | 'ÿ' => 'y',
        'ś' | 'š' | 'ş' => 's',
        'ź' | 'ż' | 'ž' => 'z',
        'ł' => 'l',
        'ř' => 'r',
        'ť' => 't',
        'ď' => 'd',
        'ğ' => 'g',
        other => other,
    }));
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
/// How many index matches a walk looks at before it settles for the page it has (filters that
/// reject most rows would otherwise walk far for the full window).
const EXAMINE_CAP: i64 = 6000;
/// The prefix lengths indexed (`prefix = '2 3'` in the schema): the longest one.
const PREFIX_INDEXED: usize = 3;
/// After this many rows of a checked walk, fewer than a quarter holding the word typed ends it.
const CHECK_PROBE: i64 = 400;

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

    /// A store with one email and one WhatsApp account, one conversation each, and the
    /// messages given (account index, subject, body), in order (ids and dates increasing).
    fn store_with(messages: &[(usize, &str, &str)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        {
            let mut conn = store.writer();
            let tx = conn.transaction().unwrap();
            for (i, kind) in ["email", "whatsapp"].iter().enumerate() {
                tx.execute(
                    "INSERT INTO accounts(id, kind, name, address, created_at)
                     VALUES (?1, ?2, ?2, '', 0)",
                    rusqlite::params![i as i64 + 1, kind],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO conversations(id, account_id, handle, subject, created_at)
                     VALUES (?1, ?1, 'cliente@example.com', 'Ordine', 0)",
                    [i as i64 + 1],
                )
                .unwrap();
            }
            let mut stmt = tx
                .prepare(
                    "INSERT INTO messages(conversation_id, account_id, direction, external_id,
                                          sender_name, sender_handle, subject, body_text,
                                          sent_at, received_at)
                     VALUES (?1, ?1, 'inbound', ?2, 'Maria', 'maria@example.com', ?3, ?4,
                             ?5, ?5)",
                )
                .unwrap();
            for (n, (account, subject, body)) in messages.iter().enumerate() {
                let n = n as i64;
                stmt.execute(rusqlite::params![
                    *account as i64 + 1,
                    format!("m{n}"),
                    subject,
                    body,
                    1_700_000_000_000 + n * 60_000
                ])
                .unwrap();
            }
            drop(stmt);
            tx.commit().unwrap();
        }
        (dir, store)
    }

    fn subjects(store: &Store, input: &str) -> Vec<String> {
        store
            .search(input, 50)
            .unwrap()
            .into_iter()
            .map(|h| h.subject)
            .collect()
    }

    /// The word being typed is looked up by its first three letters and checked row by row;
    /// when the rows sharing those letters are too many, the exact prefix query answers.
    #[test]
    fn the_word_being_typed_matches_longer_words_past_many_lookalikes() {
        let mut messages = vec![(0, "vecchio", "la spedizionissima è partita")];
        let filler = (0, "spesa", "una spesa qualsiasi");
        messages.extend(std::iter::repeat_n(filler, (EXAMINE_CAP + 500) as usize));
        messages.push((0, "nuovo", "Spedizione già partita"));
        let (_d, store) = store_with(&messages);
        assert_eq!(subjects(&store, "spediz"), vec!["nuovo", "vecchio"]);
        assert_eq!(subjects(&store, "spedizionis"), vec!["vecchio"]);
        assert!(subjects(&store, "spedx").is_empty());
        // Finished words match whole; short prefixes use the prefix index.
        let finished = SearchQuery {
            text: "spediz ".into(),
            ..Default::default()
        };
        assert!(store.search_query(&finished, 50).unwrap().is_empty());
        assert_eq!(subjects(&store, "spe").len(), 50);
        assert_eq!(subjects(&store, "spesa").len(), 50);
        assert_eq!(subjects(&store, "gia partit"), vec!["nuovo"]);
    }

    /// Filters that reject most of the newest matches still find the older ones that pass.
    #[test]
    fn filters_find_rare_matches_behind_the_examined_rows() {
        let mut messages = vec![
            (1, "wa vecchio", "il pacco è arrivato"),
            (1, "wa", "pacco rotto"),
        ];
        let filler = (0, "mail", "pacco in arrivo");
        messages.extend(std::iter::repeat_n(filler, (EXAMINE_CAP + 500) as usize));
        let (_d, store) = store_with(&messages);
        assert_eq!(
            subjects(&store, "channel:whatsapp pacco"),
            vec!["wa", "wa vecchio"]
        );
        assert_eq!(
            subjects(&store, "canale:whatsapp pacc"),
            vec!["wa", "wa vecchio"]
        );
        assert_eq!(subjects(&store, "channel:email pacco").len(), 50);
    }

    /// Best first: a word in the subject or the sender counts more than in the body, a word
    /// repeated more than once, a short message more than a long one; ties newest first.
    #[test]
    fn matches_are_ranked_best_first() {
        let long = "fattura ".to_string() + &"parola ".repeat(60);
        let (_d, store) = store_with(&[
            (0, "corpo lungo", &long),
            (0, "corpo", "la fattura di marzo"),
            (0, "fattura marzo", "eccola"),
            (0, "doppio", "fattura, fattura e ancora fattura"),
            (0, "nulla", "niente da vedere"),
            (0, "pari", "la fattura di marzo"),
        ]);
        let ranked = subjects(&store, "fattura");
        assert_eq!(ranked.len(), 5, "{ranked:?}");
        let at = |s: &str| ranked.iter().position(|r| r == s).unwrap();
        assert!(at("fattura marzo") < at("pari"), "{ranked:?}");
        assert!(at("doppio") < at("pari"), "{ranked:?}");
        // Same text: the newer first.
        assert_eq!(at("pari") + 1, at("corpo"), "{ranked:?}");
        assert_eq!(at("corpo lungo"), 4, "{ranked:?}");
        let hits = store.search("fatt", 50).unwrap();
        assert_eq!(hits.len(), 5);
        let doppio = hits.iter().find(|h| h.subject == "doppio").unwrap();
        assert_eq!(
            doppio.snippet,
            format!(
                "{HIT_OPEN}fattura{HIT_CLOSE}, {HIT_OPEN}fattura{HIT_CLOSE} e ancora {HIT_OPEN}fattura{HIT_CLOSE}"
            )
        );
        // The sender's name counts too.
        assert_eq!(subjects(&store, "from:mari fattura").len(), 5);
        assert!(subjects(&store, "from:luca fattura").is_empty());
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
