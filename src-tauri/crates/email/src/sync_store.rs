//! The storing side of a folder's sync: a bounded pipeline behind the IMAP fetch.
//!
//! ```text
//! UID FETCH stream ──batches──▶ parse stage ──parsed batches──▶ one writer
//!   (async task)     (bounded)  (every core: MIME,  (bounded)    (one transaction per
//!                               charsets, HTML,                   batch, cursor included)
//!                               sources appended)
//! ```
//!
//! Each batch is parsed on as many threads as the machine has cores while the writer stores
//! the previous one. Sources are appended to a pack file and flushed before the batch is
//! handed on, so writing them ahead of the transaction is safe (a crash leaves at worst
//! unused pack bytes); attachments are only hashed, their files extracted from the source
//! when first needed (`Store::attachment_file`). The writer stores a batch and the cursor at
//! its highest UID in one transaction, in fetch order: a sync stopped anywhere resumes with
//! nothing lost and nothing repeated.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sportello_core::model::{RemoteLocation, SyncCursor};
use sportello_core::store::{IngestOptions, Prepared};
use sportello_core::{Error, Result, Store};

use crate::mime;

/// One message as fetched, before parsing.
pub(crate) struct Fetched {
    pub uid: u32,
    pub seen: bool,
    pub internal_date: Option<i64>,
    pub raw: Vec<u8>,
}

/// Fetched messages and the cursor that stores with them.
pub(crate) struct Batch {
    pub messages: Vec<Fetched>,
    pub cursor: SyncCursor,
}

/// A batch parsed, its sources written: ready for the writer.
struct ParsedBatch {
    messages: Vec<Prepared>,
    cursor: SyncCursor,
}

/// Where the storing side of one folder's sync puts what it is handed.
pub(crate) struct Storing {
    pub store: Store,
    pub account_id: i64,
    pub own_address: String,
    pub folder: String,
    /// A first sync (or a re-sync) announces one summary, not a note per message.
    pub summarize: bool,
    /// Set when the sync is cancelled: both stages stop at the next batch.
    pub cancelled: Arc<AtomicBool>,
    /// Threads parsing each batch.
    pub parse_threads: usize,
}

/// Parse threads per batch: the machine's cores (at most 8, at least 1).
pub(crate) fn default_parse_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// Runs the parse stage on this (blocking) thread and the writer on another; returns
/// `(fetched, stored, duplicates)` for what was committed.
pub(crate) fn store_batches(
    s: Storing,
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
    progress: impl Fn(u32) + Sync,
) -> Result<(u32, u32, u32)> {
    // One parsed batch waits while the writer stores the previous one.
    let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<ParsedBatch>(1);
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("mail-writer".into())
            .spawn_scoped(scope, || write_batches(&s, parsed_rx, &progress))
            .map_err(|e| Error::internal(format!("cannot start the mail writer: {e}")))?;
        let parsing: Result<()> = (|| {
            while let Some(batch) = rx.blocking_recv() {
                if s.cancelled.load(Ordering::SeqCst) {
                    break;
                }
                let messages = parse_batch(&s, batch.cursor.uidvalidity, batch.messages)?;
                // The batch's sources reach the disk before the writer stores rows naming them.
                s.store.flush_sources()?;
                let parsed = ParsedBatch {
                    messages,
                    cursor: batch.cursor,
                };
                if parsed_tx.send(parsed).is_err() {
                    // The writer stopped (an error): its result says why.
                    break;
                }
            }
            Ok(())
        })();
        drop(parsed_tx);
        // Dropping the receiver tells the fetch to stop if parsing failed.
        drop(rx);
        let written = writer
            .join()
            .map_err(|_| Error::internal("the mail writer stopped unexpectedly"))??;
        parsing?;
        Ok(written)
    })
}

/// The one writer: each batch with its cursor in one transaction, in fetch order.
fn write_batches(
    s: &Storing,
    rx: std::sync::mpsc::Receiver<ParsedBatch>,
    progress: &(impl Fn(u32) + Sync),
) -> Result<(u32, u32, u32)> {
    let (mut fetched, mut stored, mut duplicates) = (0u32, 0u32, 0u32);
    for batch in rx {
        if s.cancelled.load(Ordering::SeqCst) {
            break;
        }
        let n = batch.messages.len() as u32;
        let report = s.store.ingest_prepared(
            s.account_id,
            batch.messages,
            Some(&batch.cursor),
            IngestOptions {
                summarize: s.summarize,
            },
        )?;
        fetched += n;
        stored += report.stored;
        duplicates += report.duplicates;
        progress(n);
    }
    Ok((fetched, stored, duplicates))
}

/// Parses one batch on `s.parse_threads` threads (each taking the next message), appending
/// sources as it goes; the order of the batch is kept.
fn parse_batch(s: &Storing, uidvalidity: u32, fetched: Vec<Fetched>) -> Result<Vec<Prepared>> {
    let one = |f: Fetched| -> Result<Prepared> {
        let mut m = mime::parse_message(f.raw, &s.own_address, f.internal_date);
        m.is_read = f.seen;
        m.location = Some(RemoteLocation {
            folder: s.folder.clone(),
            uidvalidity,
            uid: f.uid,
        });
        // The files stay in the kept source until first needed: only their hashes now.
        let hashes = s.store.hash_attachments_kept_in_source(&m)?;
        let source = m
            .raw
            .as_deref()
            .map(|raw| s.store.put_source(raw))
            .transpose()?;
        Ok(Prepared {
            message: m,
            hashes,
            source,
        })
    };
    let threads = s.parse_threads.clamp(1, fetched.len().max(1));
    if threads == 1 {
        return fetched.into_iter().map(one).collect();
    }
    let n = fetched.len();
    let inputs: Vec<Mutex<Option<Fetched>>> =
        fetched.into_iter().map(|f| Mutex::new(Some(f))).collect();
    let outputs: Vec<Mutex<Option<Result<Prepared>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    // Claimed slots are always filled, so the unfilled ones follow the error.
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let Some(f) = inputs[i].lock().unwrap_or_else(|p| p.into_inner()).take() else {
                        continue;
                    };
                    let result = one(f);
                    failed.fetch_or(result.is_err(), Ordering::Relaxed);
                    *outputs[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(n);
    for slot in outputs {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(result) => out.push(result?),
            // Only after another message failed: that error was returned above.
            None => return Err(Error::internal("a fetched message was not parsed")),
        }
    }
    Ok(out)
}
