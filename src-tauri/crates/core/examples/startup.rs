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
    let t = Instant::now();
    let store = Store::open(&dir)?;
    println!(
        "{:<32} {:>9.1} ms",
        "Store::open",
        t.elapsed().as_secs_f64() * 1e3
    );
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
            Box::new(|s| {
                let q = ConversationQuery {
                    offset: 0,
                    limit: 100,
                    account_id: None,
                };
                s.find_conversations(&q, &ConversationFilter::view(View::Inbox))
                    .map(drop)
            }),
        ),
        (
            "find_conversations all p0",
            Box::new(|s| {
                let q = ConversationQuery {
                    offset: 0,
                    limit: 100,
                    account_id: None,
                };
                s.find_conversations(&q, &ConversationFilter::view(View::All))
                    .map(drop)
            }),
        ),
    ];
    for (name, call) in &calls {
        let mut times = Vec::new();
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            call(&store)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "{name:<32} first {:>8.1} ms  best {:>8.1} ms",
            times[0], best
        );
    }
    Ok(())
}
