//! Times what the shell and the window ask of the store at start-up, against a data folder
//! (the footprint benchmark's, see docs/benchmarks.md "Footprint"):
//!
//!   cargo run --release -p sportello-core --example startup -- <data-dir> [rounds]
//!
//! Opens the store (migrations), then runs each call `rounds` times and prints the first
//! and the best time of each in milliseconds.
use std::time::Instant;

use sportello_core::Store;
use sportello_core::store::{ConversationFilter, ConversationQuery, View};

fn main() -> sportello_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: startup <data-dir> [rounds]"));
    let rounds: usize = args.next().map_or(3, |r| r.parse().expect("rounds"));
    let (store, ms) = timed(|| Store::open(&dir));
    let store = store?;
    println!("{:<32} {ms:>9.1} ms  {}", "Store::open", memory());
    type Call<'a> = (&'a str, Box<dyn Fn(&Store) -> sportello_core::Result<()>>);
    let calls: Vec<Call> = vec![
        ("settings", Box::new(|s| s.settings().map(drop))),
        ("accounts", Box::new(|s| s.accounts().map(drop))),
        (
            "unread_conversations",
            Box::new(|s| s.unread_conversations().map(drop)),
        ),
        ("recover_outbox", Box::new(|s| s.recover_outbox().map(drop))),
        ("wake_snoozed", Box::new(|s| s.wake_snoozed(0).map(drop))),
        ("tags", Box::new(|s| s.tags().map(drop))),
        ("care_settings", Box::new(|s| s.care_settings().map(drop))),
        ("saved_views", Box::new(|s| s.saved_views().map(drop))),
        ("view_counts", Box::new(|s| s.view_counts().map(drop))),
        (
            "find_conversations inbox p0",
            Box::new(|s| page(s, 0, View::Inbox)),
        ),
        (
            "find_conversations all p0",
            Box::new(|s| page(s, 0, View::All)),
        ),
    ];
    for (name, call) in &calls {
        let mut times = Vec::new();
        for _ in 0..rounds.max(1) {
            let (result, ms) = timed(|| call(&store));
            result?;
            times.push(ms);
        }
        let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{name:<32} first {:>8.1} ms  best {:>8.1} ms  {}",
            times[0],
            best,
            memory()
        );
    }
    println!("after the start-up calls: {}", memory());
    // Then what use adds: the list scrolled end to end, and searches.
    for offset in (0..100_000).step_by(5_000) {
        page(&store, offset, View::All)?;
    }
    println!("after scrolling the list: {}", memory());
    for word in [
        "ordine",
        "spedizione",
        "fattura",
        "reso",
        "pacco",
        "grazie",
        "rossi",
        "mario",
    ] {
        store.search(word, 50)?;
    }
    println!("after 8 searches: {}", memory());
    Ok(())
}

/// What `f` returned and how long it took, in milliseconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1e3)
}

/// One page of the list as the window asks for it: 100 rows of `view` from `offset`.
fn page(store: &Store, offset: u32, view: View) -> sportello_core::Result<()> {
    let q = ConversationQuery {
        offset,
        limit: 100,
        account_id: None,
    };
    store
        .find_conversations(&q, &ConversationFilter::view(view))
        .map(drop)
}

/// This process's PSS and how much of it is the database file mapped by the reader (mmap).
fn memory() -> String {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let (mut total, mut db, mut in_db) = (0u64, 0u64, false);
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Pss:") {
            let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            total += kb;
            if in_db {
                db += kb;
            }
        } else if line.contains(" /") || line.split_whitespace().count() == 5 {
            // A mapping's header line.
            if line
                .split_whitespace()
                .next()
                .is_some_and(|a| a.contains('-'))
            {
                in_db = line.ends_with("sportello.db");
            }
        }
    }
    format!(
        "PSS {:.1} MiB, of which the mapped database {:.1} MiB",
        total as f64 / 1024.0,
        db as f64 / 1024.0
    )
}
