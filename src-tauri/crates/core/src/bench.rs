//! The search benchmark behind `sportello-cli bench search`: a generated shop inbox (Italian
//! customer messages over five channels) in a throwaway data folder, the full-text index
//! built over it, then a fixed mix of searches timed through [`Store::search`].
//!
//! Not a timed test: numbers depend on the machine. Figures go in docs/benchmarks.md.

use std::path::Path;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::params;
use serde::Serialize;

use crate::model::ChannelKind;
use crate::{Result, Store};

/// Searches timed, each several times: common and rare words, prefixes, accents, names,
/// order numbers and every kind of filter.
pub const QUERY_MIX: &[&str] = &[
    "spedizione",
    "rimborso reso",
    "taglia",
    "perche",
    "consegna ritardo",
    "ordine 4521",
    "maria",
    "from:rossi reso",
    "channel:whatsapp pacco",
    "status:closed fattura",
    "tag:urgente",
    "after:2024-06-01 before:2024-07-01 consegna",
    "sp",
    "colore disponibile",
    "zanfrolo",
    "from:gmail.com spedizione",
];

const WORDS: &[&str] = &[
    "ciao",
    "buongiorno",
    "salve",
    "grazie",
    "ordine",
    "spedizione",
    "pacco",
    "consegna",
    "corriere",
    "ritardo",
    "arrivato",
    "arrivata",
    "ancora",
    "non",
    "è",
    "il",
    "la",
    "di",
    "che",
    "per",
    "un",
    "una",
    "mi",
    "potete",
    "sapere",
    "quando",
    "taglia",
    "colore",
    "disponibile",
    "reso",
    "rimborso",
    "cambio",
    "fattura",
    "pagamento",
    "paypal",
    "carta",
    "bonifico",
    "perché",
    "sconto",
    "codice",
    "prodotto",
    "maglia",
    "scarpe",
    "borsa",
    "giacca",
    "vestito",
    "misura",
    "piccola",
    "grande",
    "media",
    "rosso",
    "blu",
    "nero",
    "bianco",
    "verde",
    "tracking",
    "numero",
    "indirizzo",
    "via",
    "casa",
    "lavoro",
    "domani",
    "oggi",
    "ieri",
    "settimana",
    "gentilissimi",
    "cordiali",
    "saluti",
    "aspetto",
    "risposta",
    "urgente",
    "regalo",
    "compleanno",
    "negozio",
    "sito",
    "carrello",
    "account",
    "password",
    "email",
    "telefono",
    "whatsapp",
    "disponibilità",
    "magazzino",
    "restock",
    "quando",
    "torna",
    "qualità",
    "tessuto",
    "cotone",
    "lana",
    "lavaggio",
    "difetto",
    "rotto",
    "danneggiato",
    "sostituzione",
    "garanzia",
    "hello",
    "order",
    "shipping",
    "delivery",
    "refund",
    "size",
    "thanks",
    "please",
    "where",
    "my",
];
const FIRST: &[&str] = &[
    "Maria",
    "Giulia",
    "Francesca",
    "Anna",
    "Sara",
    "Laura",
    "Chiara",
    "Elena",
    "Marco",
    "Luca",
    "Giuseppe",
    "Andrea",
    "Francesco",
    "Alessandro",
    "Matteo",
    "Lorenzo",
    "Paolo",
    "Simone",
    "Davide",
    "Federica",
    "Silvia",
    "Valentina",
    "Roberta",
    "Niccolò",
];
const LAST: &[&str] = &[
    "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
    "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo",
    "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Mariani",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "libero.it",
    "hotmail.it",
    "yahoo.it",
    "outlook.com",
];

#[derive(Debug, Clone, Serialize)]
pub struct QueryTiming {
    pub query: String,
    pub hits: usize,
    pub p50_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchBench {
    pub messages: u64,
    pub conversations: u64,
    pub generate_s: f64,
    /// Building the full-text index over every message (rebuild + optimize).
    pub index_build_s: f64,
    pub db_bytes: u64,
    pub runs: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// The read connection's `mmap_size` the searches ran with, in MiB.
    pub reader_mmap_mib: i64,
    /// This process's PSS after the searches (Linux; 0 elsewhere), in MiB: what the map and
    /// SQLite's cache add to the app.
    pub pss_mib: f64,
    pub queries: Vec<QueryTiming>,
}

/// A made-up word from syllables: the long tail of a real vocabulary (names of products,
/// typos), so that rare words are rare.
fn tail_word(rng: &mut StdRng) -> String {
    const SYL: &[&str] = &[
        "za", "fro", "lo", "ma", "ti", "ne", "ru", "spa", "gio", "ven", "cor", "bi", "te", "lu",
        "pra", "sco", "de", "mi", "no", "fa",
    ];
    let n = rng.random_range(2..=4);
    (0..n)
        .map(|_| SYL[rng.random_range(0..SYL.len())])
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub conversations: u64,
    pub messages: u64,
    /// Conversations whose last customer message is still unread.
    pub unread_conversations: u64,
    pub generate_s: f64,
    /// Building the full-text index over every message (rebuild + optimize).
    pub index_build_s: f64,
    pub db_bytes: u64,
}

/// How many messages the next conversation gets: around the mean of what is left (a quarter
/// to seven quarters of it, 2–14 for a mean of 8), so the totals come out exact.
fn next_size(rng: &mut StdRng, conversations_left: u64, messages_left: u64) -> u64 {
    if conversations_left <= 1 {
        return messages_left;
    }
    let mean = messages_left as f64 / conversations_left as f64;
    let lo = ((mean * 0.25).round() as u64).max(1);
    let hi = ((mean * 1.75).round() as u64).max(lo);
    // Leave at least one message for each conversation still to come.
    rng.random_range(lo..=hi)
        .min(messages_left - (conversations_left - 1))
        .max(1)
}

/// Fills the empty data folder `dir` with a shop inbox of exactly `conversations`
/// conversations and `messages` messages (deterministic): five accounts (one per channel, no
/// credentials, so they never sync), contacts, Italian customer messages alternating with the
/// shop's replies, list rows filled in as ingestion would (preview, unread count, waiting
/// since), one conversation in eight with its last customer message unread, and the full-text
/// index built at the end. The search and footprint benchmarks both start from it.
pub fn generate(dir: &Path, conversations: u64, messages: u64) -> Result<Generated> {
    if conversations == 0 || messages < conversations {
        return Err(crate::Error::invalid(
            "give at least one conversation and at least one message per conversation",
        ));
    }
    let store = Store::open(dir)?;
    let mut rng = StdRng::seed_from_u64(20250301);
    let contacts = (conversations / 2).max(1);
    let start = Instant::now();
    // 2024-01-01 .. 2025-01-01
    let (t0, span) = (1_704_067_200_000i64, 366 * 86_400_000i64);
    let mut unread_conversations = 0u64;
    {
        let mut conn = store.writer();
        // The index is built in one go below, as `index_build_s`.
        conn.execute_batch("DROP TRIGGER messages_fts_insert;")?;
        let tx = conn.transaction()?;
        let mut accounts = Vec::new();
        for kind in [
            ChannelKind::Email,
            ChannelKind::Whatsapp,
            ChannelKind::Messenger,
            ChannelKind::Instagram,
            ChannelKind::Telegram,
        ] {
            tx.execute(
                "INSERT INTO accounts(kind, name, address, created_at) VALUES (?1, ?2, '', 0)",
                params![kind.as_str(), format!("Bottega {}", kind.as_str())],
            )?;
            accounts.push(tx.last_insert_rowid());
        }
        let mut names = Vec::with_capacity(contacts as usize);
        for i in 0..contacts {
            let name = format!(
                "{} {}",
                FIRST[rng.random_range(0..FIRST.len())],
                LAST[rng.random_range(0..LAST.len())]
            );
            tx.execute(
                "INSERT INTO contacts(display_name, created_at, name_key) VALUES (?1, 0, ?2)",
                params![name, crate::store::name_key(&name)],
            )?;
            let handle = format!(
                "{}.{}{i}@{}",
                name.split(' ').next().unwrap_or("x").to_lowercase(),
                name.rsplit(' ').next().unwrap_or("x").to_lowercase(),
                DOMAINS[rng.random_range(0..DOMAINS.len())]
            );
            names.push((tx.last_insert_rowid(), name, handle));
        }
        let tags: Vec<i64> = ["urgente", "reso", "vip"]
            .iter()
            .map(|t| {
                tx.execute("INSERT INTO tags(name, created_at) VALUES (?1, 0)", [t])?;
                Ok(tx.last_insert_rowid())
            })
            .collect::<Result<_>>()?;
        let mut conv = tx.prepare(
            "INSERT INTO conversations(account_id, contact_id, handle, subject, status,
                                       created_at, last_message_at, message_count, unread_count,
                                       last_preview, last_direction, waiting_since,
                                       last_inbound_at, closed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        let mut msg = tx.prepare(
            "INSERT INTO messages(conversation_id, account_id, direction, external_id,
                                  sender_name, sender_handle, subject, body_text, sent_at,
                                  received_at, is_read)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
        )?;
        let mut tag = tx.prepare(
            "INSERT OR IGNORE INTO conversation_tags(conversation_id, tag_id) VALUES (?1, ?2)",
        )?;
        let statuses = ["open", "pending", "closed", "closed", "closed"];
        let mut written = 0u64;
        let mut bodies: Vec<String> = Vec::new();
        for c in 0..conversations {
            let account = accounts[rng.random_range(0..accounts.len())];
            let (contact, name, handle) = &names[rng.random_range(0..names.len())];
            let subject = format!("Ordine {}", rng.random_range(1000..99999));
            let at = t0 + rng.random_range(0..span);
            let status = statuses[rng.random_range(0..statuses.len())];
            let n = next_size(&mut rng, conversations - c, messages - written);
            bodies.clear();
            for _ in 0..n {
                let len = rng.random_range(8..40);
                let mut body = String::with_capacity(len * 8);
                for w in 0..len {
                    if w > 0 {
                        body.push(' ');
                    }
                    // Zipf-like: most words from the common list, some from the long tail.
                    if rng.random_range(0..12) == 0 {
                        body.push_str(&tail_word(&mut rng));
                    } else {
                        let i = (rng.random::<f64>().powi(2) * WORDS.len() as f64) as usize;
                        body.push_str(WORDS[i.min(WORDS.len() - 1)]);
                    }
                }
                if rng.random_range(0..20) == 0 {
                    body.push_str(&format!(" ordine {}", rng.random_range(1000..99999)));
                }
                bodies.push(body);
            }
            // Customer and shop take turns, the customer first, ten minutes apart.
            let sent_at = |k: u64| at + k as i64 * 600_000;
            let last = n - 1;
            let last_inbound = last.is_multiple_of(2);
            let unread = last_inbound && status != "closed" && rng.random_range(0..8) == 0;
            let last_inbound_at = sent_at(if last_inbound { last } else { last - 1 });
            conv.execute(params![
                account,
                contact,
                handle,
                subject,
                status,
                at,
                sent_at(last),
                n as i64,
                i64::from(unread),
                crate::threading::preview(&bodies[last as usize], 160),
                if last_inbound { "inbound" } else { "outbound" },
                last_inbound.then_some(sent_at(last)),
                last_inbound_at,
                (status == "closed").then_some(sent_at(last)),
            ])?;
            let cid = tx.last_insert_rowid();
            unread_conversations += u64::from(unread);
            if rng.random_range(0..10) == 0 {
                tag.execute(params![cid, tags[rng.random_range(0..tags.len())]])?;
            }
            for (k, body) in bodies.iter().enumerate() {
                let k = k as u64;
                let inbound = k.is_multiple_of(2);
                let (sender, sender_handle) = if inbound {
                    (name.as_str(), handle.as_str())
                } else {
                    ("Bottega", "negozio@bottega.it")
                };
                msg.execute(params![
                    cid,
                    account,
                    if inbound { "inbound" } else { "outbound" },
                    format!("g{c}.{k}"),
                    sender,
                    sender_handle,
                    subject,
                    body,
                    sent_at(k),
                    !(unread && k == last),
                ])?;
            }
            written += n;
        }
        drop((conv, msg, tag));
        tx.commit()?;
    }
    let generate_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    {
        let conn = store.writer();
        conn.execute_batch(
            "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
             INSERT INTO messages_fts(messages_fts) VALUES ('optimize');
             CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                 INSERT INTO messages_fts(rowid, subject, body_text, sender_name, sender_handle)
                 VALUES (new.id, new.subject, new.body_text, new.sender_name, new.sender_handle);
             END;
             ANALYZE;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
    }
    let index_build_s = start.elapsed().as_secs_f64();
    let db_bytes = ["sportello.db", "sportello.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(Generated {
        conversations,
        messages,
        unread_conversations,
        generate_s: round2(generate_s),
        index_build_s: round2(index_build_s),
        db_bytes,
    })
}

/// Fills `dir` with `messages` generated messages (eight to a conversation on average, see
/// [`generate`]), builds the index and times [`QUERY_MIX`] `rounds` times over. With `reuse`,
/// `dir` already holds what an earlier run generated and only the searches are timed.
/// `reader_mmap` overrides the read connection's `mmap_size` (bytes) for the comparison.
pub fn search_bench(
    dir: &Path,
    messages: u64,
    rounds: usize,
    reuse: bool,
    reader_mmap: Option<i64>,
) -> Result<SearchBench> {
    let generated = if reuse {
        let store = Store::open(dir)?;
        let stats = store.stats()?;
        Generated {
            conversations: stats.conversations,
            messages: stats.messages,
            unread_conversations: stats.unread_conversations,
            generate_s: 0.0,
            index_build_s: 0.0,
            db_bytes: std::fs::metadata(dir.join(crate::store::DB_FILE))?.len(),
        }
    } else {
        generate(dir, (messages / 8).max(1), messages.max(1))?
    };
    let store = Store::open(dir)?;
    let mmap = reader_mmap.unwrap_or(crate::store::READER_MMAP_BYTES);
    store.reader().pragma_update(None, "mmap_size", mmap)?;
    // One warm-up pass, then the timed rounds.
    for q in QUERY_MIX {
        store.search(q, 50)?;
    }
    let mut all = Vec::new();
    let mut queries = Vec::new();
    for q in QUERY_MIX {
        let mut times = Vec::with_capacity(rounds);
        let mut hits = 0;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            hits = store.search(q, 50)?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        all.extend(times.iter().copied());
        queries.push(QueryTiming {
            query: (*q).to_string(),
            hits,
            p50_ms: round2(percentile(&times, 0.5)),
            max_ms: round2(*times.last().unwrap_or(&0.0)),
        });
    }
    all.sort_by(f64::total_cmp);
    Ok(SearchBench {
        messages: generated.messages,
        conversations: generated.conversations,
        generate_s: generated.generate_s,
        index_build_s: generated.index_build_s,
        db_bytes: generated.db_bytes,
        runs: all.len(),
        p50_ms: round2(percentile(&all, 0.5)),
        p95_ms: round2(percentile(&all, 0.95)),
        max_ms: round2(*all.last().unwrap_or(&0.0)),
        reader_mmap_mib: mmap / (1024 * 1024),
        pss_mib: round2(own_pss_kib() as f64 / 1024.0),
        queries,
    })
}

/// This process's proportional set size in KiB (Linux; 0 where /proc is not there).
fn own_pss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench search --reuse DIR --mmap-mb N`: times the searches on what an earlier run
    /// generated (no second generation), with the read connection's map as asked.
    #[test]
    fn search_bench_reuses_a_generated_folder_with_the_map_asked() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 50, 400).unwrap();
        let report = search_bench(dir.path(), 1, 2, true, Some(8 * 1024 * 1024)).unwrap();
        assert_eq!((report.conversations, report.messages), (50, 400));
        assert_eq!((report.generate_s, report.reader_mmap_mib), (0.0, 8));
        assert_eq!(report.runs, 2 * QUERY_MIX.len());
        assert!(report.db_bytes > 0);
        if cfg!(target_os = "linux") {
            assert!(report.pss_mib > 0.0);
        }
        let default = search_bench(dir.path(), 1, 1, true, None).unwrap();
        assert_eq!(
            default.reader_mmap_mib,
            crate::store::READER_MMAP_BYTES / (1024 * 1024)
        );
    }

    /// The footprint benchmark opens the app on this data: its list rows must be what
    /// ingestion would have computed, and the totals exactly what was asked.
    #[test]
    fn generated_inbox_has_exact_totals_and_rows_as_ingestion_computes_them() {
        let dir = tempfile::tempdir().unwrap();
        let report = generate(dir.path(), 300, 3_001).unwrap();
        assert_eq!((report.conversations, report.messages), (300, 3_001));
        let store = Store::open(dir.path()).unwrap();
        let stats = store.stats().unwrap();
        assert_eq!((stats.conversations, stats.messages), (300, 3_001));
        assert_eq!(stats.unread_conversations, report.unread_conversations);
        assert!(report.unread_conversations > 0);
        assert_eq!(
            store.unread_conversations().unwrap(),
            report.unread_conversations
        );
        let row_sql = "SELECT message_count, unread_count, last_message_at, last_preview,
                              last_direction, waiting_since, last_inbound_at
                       FROM conversations ORDER BY id";
        type Row = (i64, i64, i64, String, String, Option<i64>, Option<i64>);
        let rows = |conn: &rusqlite::Connection| -> Vec<Row> {
            let mut stmt = conn.prepare(row_sql).unwrap();
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
        };
        let generated = rows(&store.reader());
        {
            let conn = store.writer();
            for id in 1..=300 {
                crate::store::refresh_conversation(&conn, id).unwrap();
            }
        }
        assert_eq!(rows(&store.reader()), generated);
        // Sizes vary around the mean of 10 (a quarter to seven quarters of what is left).
        let sizes: Vec<i64> = generated.iter().map(|r| r.0).collect();
        assert!(sizes.iter().all(|&n| (1..=20).contains(&n)), "{sizes:?}");
        assert!(sizes.iter().any(|&n| n < 6) && sizes.iter().any(|&n| n > 14));
        // The search finds what was written.
        assert!(!store.search("spedizione", 5).unwrap().is_empty());
        assert!(generate(tempfile::tempdir().unwrap().path(), 10, 9).is_err());
    }
}
