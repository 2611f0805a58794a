//! The SQLite store: one file per data folder, WAL mode, versioned migrations.
//!
//! Every committed write that the UI or the notifier should hear about is announced once on
//! the change stream ([`Store::subscribe`]).

mod autoreply;
mod canned;
mod chat;
mod contacts;
mod files;
mod ingest;
mod query;
mod remote;
mod report;
pub mod schema;
mod search;
mod sources;
mod workflow;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::broadcast;

use crate::events::Change;
use crate::model::{Account, AccountStatus, ChannelKind, SyncCursor, SyncProgress, SyncState};
use crate::{Error, Result, now_ms};

pub use canned::{CannedReply, CannedReplyInput};
pub use contacts::{
    ContactDetail, ContactSuggestion, MergeRecord, SuggestionReason, TimelineItem, name_key,
};
pub use files::safe_file_name;
pub(crate) use ingest::refresh_conversation;
pub use ingest::{IngestOptions, IngestReport, Prepared};
pub use query::{ConversationPage, ConversationQuery, HIT_CLOSE, HIT_OPEN};
pub use remote::{RemoteOp, RemoteOpKind};
pub use report::{
    CareReport, ChannelFigures, Durations, Figures, HourCount, WeekFigures, WeekdayHours,
    report_csv, write_report_csv,
};
pub use search::{SearchQuery, parse_search};
pub use sources::SourceRef;
pub use workflow::{ChannelCount, ConversationFilter, IdCount, SavedView, Tag, View, ViewCounts};

pub const DB_FILE: &str = "sportello.db";

/// How much of the database the read connection maps into memory (SQLite `mmap_size`): none.
/// Mapped pages count in the app's PSS — and the kernel maps neighbouring cached pages on each
/// fault, so with 256 MB scrolling 100,000 scattered list rows mapped ~244 MB and the search
/// mix ~48 MB — while reading through SQLite's cache (and the kernel's page cache) cost the
/// searches no measurable CPU at 1,000,000 messages (docs/benchmarks.md, "Footprint":
/// `sportello-cli bench search --reuse DIR --mmap-mb N`).
pub const READER_MMAP_BYTES: i64 = 0;

/// A cheap, cloneable handle on the data folder's database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// All writes go through this connection, one transaction at a time.
    writer: Mutex<Connection>,
    /// Reads for the UI, so a long sync transaction never blocks the list (WAL).
    reader: Mutex<Connection>,
    data_dir: PathBuf,
    installation_id: String,
    changes: broadcast::Sender<Change>,
    /// Progress of running syncs, kept in memory only.
    progress: Mutex<std::collections::HashMap<i64, SyncProgress>>,
    /// Message sources, outside the database.
    packs: sources::Packs,
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::storage(format!(
                "cannot create the data folder {}: {e}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DB_FILE);
        let mut writer = Connection::open(&path)?;
        // Refuse a newer database before anything (even the journal mode) touches the file.
        schema::check_not_newer(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        // A sync stores each message with ~15 statements: keep them all compiled.
        writer.set_prepared_statement_cache_capacity(64);
        schema::migrate(&mut writer)?;
        let installation_id = match writer
            .query_row(
                "SELECT value FROM meta WHERE key = 'installation_id'",
                [],
                |r| r.get(0),
            )
            .optional()?
        {
            Some(id) => id,
            None => {
                let id = hex::encode(rand::random::<[u8; 8]>());
                writer.execute(
                    "INSERT INTO meta(key, value) VALUES ('installation_id', ?1)",
                    [&id],
                )?;
                id
            }
        };
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&reader)?;
        // Searches walk the full-text index: keep more of it in memory than SQLite's default
        // 2 MB; see READER_MMAP_BYTES for the map.
        reader.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
        reader.pragma_update(None, "cache_size", -16_384i64)?;
        let (changes, _) = broadcast::channel(1024);
        Ok(Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                data_dir: data_dir.to_path_buf(),
                installation_id,
                changes,
                progress: Mutex::new(Default::default()),
                packs: sources::Packs::new(data_dir),
            }),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// A random id of this data folder; names its secrets in the keyring.
    pub fn installation_id(&self) -> &str {
        &self.inner.installation_id
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.inner.data_dir.join("blobs")
    }

    /// Path of a stored file, by its content hash.
    pub fn blob_path(&self, hash: &str) -> PathBuf {
        let prefix = hash.get(..2).unwrap_or("00");
        self.blobs_dir().join(prefix).join(hash)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    pub(crate) fn announce(&self, change: Change) {
        if !change.is_empty() {
            // No receiver is fine (the CLI does not listen).
            let _ = self.inner.changes.send(change);
        }
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        self.inner.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- settings (small key/value facts about this installation) ----

    pub fn get_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .reader()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.writer().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    // ---- accounts ----

    pub fn add_account(
        &self,
        kind: ChannelKind,
        name: &str,
        address: &str,
        settings: &serde_json::Value,
    ) -> Result<Account> {
        let id = {
            let conn = self.writer();
            conn.execute(
                "INSERT INTO accounts(kind, name, address, settings, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind.as_str(), name, address, settings.to_string(), now_ms()],
            )?;
            conn.last_insert_rowid()
        };
        self.announce(Change {
            accounts: vec![id],
            ..Default::default()
        });
        self.account(id)
    }

    pub fn update_account_settings(&self, id: i64, settings: &serde_json::Value) -> Result<()> {
        let n = self.writer().execute(
            "UPDATE accounts SET settings = ?2 WHERE id = ?1",
            params![id, settings.to_string()],
        )?;
        if n == 0 {
            return Err(Error::not_found(format!("no account {id}")));
        }
        self.announce(Change {
            accounts: vec![id],
            ..Default::default()
        });
        Ok(())
    }

    /// Removes an account and everything synced from it (its secrets are removed by the caller).
    pub fn remove_account(&self, id: i64) -> Result<()> {
        let n = self
            .writer()
            .execute("DELETE FROM accounts WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(Error::not_found(format!("no account {id}")));
        }
        self.announce(Change {
            accounts: vec![id],
            ..Default::default()
        });
        Ok(())
    }

    /// Takes back an account whose secrets could not all be put in the keyring: the secrets
    /// under `keys` that were saved, then the account itself (logged if that fails too, as the
    /// caller is already returning the keyring's error).
    pub fn remove_half_added_account(&self, id: i64, keys: &[&str]) {
        for key in keys {
            let _ = crate::secrets::delete(self.installation_id(), id, key);
        }
        if let Err(remove) = self.remove_account(id) {
            tracing::error!(
                account = id,
                "could not remove the half-added account: {remove}"
            );
        }
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        let conn = self.reader();
        let mut stmt = conn.prepare(
            "SELECT id, kind, name, address, settings, enabled, created_at, sync_state,
                    last_sync_at, last_error FROM accounts ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| self.account_from_row(r))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn account(&self, id: i64) -> Result<Account> {
        let conn = self.reader();
        conn.query_row(
            "SELECT id, kind, name, address, settings, enabled, created_at, sync_state,
                    last_sync_at, last_error FROM accounts WHERE id = ?1",
            [id],
            |r| self.account_from_row(r),
        )
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no account {id}")))
    }

    fn account_from_row(&self, r: &rusqlite::Row) -> rusqlite::Result<Account> {
        let id: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let settings: String = r.get(4)?;
        let state: String = r.get(7)?;
        let last_error: Option<String> = r.get(9)?;
        Ok(Account {
            id,
            kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
            name: r.get(2)?,
            address: r.get(3)?,
            settings: serde_json::from_str(&settings).unwrap_or_default(),
            enabled: r.get(5)?,
            created_at: r.get(6)?,
            status: AccountStatus {
                state: sync_state_parse(&state),
                last_sync_at: r.get(8)?,
                last_error: last_error.and_then(|e| serde_json::from_str(&e).ok()),
                progress: self
                    .inner
                    .progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .copied(),
            },
        })
    }

    /// Records what the account's worker is doing. `ok` also stamps the last successful sync.
    pub fn set_account_state(
        &self,
        id: i64,
        state: SyncState,
        error: Option<&Error>,
        synced_now: bool,
    ) -> Result<()> {
        let error = error.map(serde_json::to_string).transpose()?;
        let last_sync = synced_now.then(now_ms);
        self.writer().execute(
            "UPDATE accounts SET sync_state = ?2, last_error = ?3,
                    last_sync_at = COALESCE(?4, last_sync_at) WHERE id = ?1",
            params![id, sync_state_str(state), error, last_sync],
        )?;
        self.announce(Change {
            accounts: vec![id],
            ..Default::default()
        });
        Ok(())
    }

    /// Progress of a long sync (memory only); `None` when it ends.
    pub fn set_progress(&self, id: i64, progress: Option<SyncProgress>) {
        {
            let mut map = self
                .inner
                .progress
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match progress {
                Some(p) => map.insert(id, p),
                None => map.remove(&id),
            };
        }
        self.announce(Change {
            accounts: vec![id],
            ..Default::default()
        });
    }

    // ---- sync cursors ----

    pub fn cursor(&self, account_id: i64, folder: &str) -> Result<Option<SyncCursor>> {
        let conn = self.writer();
        read_cursor(&conn, account_id, folder)
    }

    /// Stores a cursor outside an ingest (e.g. when a folder has nothing new but its
    /// UIDVALIDITY or modseq moved).
    pub fn set_cursor(&self, account_id: i64, cursor: &SyncCursor) -> Result<()> {
        write_cursor(&self.writer(), account_id, cursor)
    }

    /// The folder's UIDVALIDITY changed: forget where its messages were (they are kept, and a
    /// re-read recognises them by their ids) and restart its cursor.
    pub fn reset_folder(&self, account_id: i64, folder: &str, uidvalidity: u32) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM message_locations WHERE account_id = ?1 AND folder = ?2",
            params![account_id, folder],
        )?;
        write_cursor(
            &tx,
            account_id,
            &SyncCursor {
                folder: folder.to_string(),
                uidvalidity,
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The raw source of a message (the email as received), if one was kept: in a pack file
    /// (see `sources.rs`) or, for messages stored before those, in the database.
    pub fn message_source(&self, message_id: i64) -> Result<Vec<u8>> {
        type Row = (Vec<u8>, Option<i64>, Option<i64>, Option<i64>);
        let row: Option<Row> = self
            .reader()
            .query_row(
                "SELECT raw, pack_id, pack_offset, pack_length FROM message_sources
                 WHERE message_id = ?1",
                [message_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        match row {
            Some((_, Some(pack), Some(offset), Some(length))) => self.inner.packs.read(SourceRef {
                pack,
                offset,
                length,
            }),
            Some((raw, ..)) => Ok(raw),
            None => Err(Error::not_found(format!(
                "message {message_id} has no stored source"
            ))),
        }
    }

    /// Appends a message source to the current pack file, ahead of the transaction that will
    /// store its row (any thread). Not durable until [`Store::flush_sources`].
    pub fn put_source(&self, raw: &[u8]) -> Result<SourceRef> {
        self.inner.packs.append(raw)
    }

    /// Flushes the appended sources to disk: call before storing rows that point to them.
    pub fn flush_sources(&self) -> Result<()> {
        self.inner.packs.flush()
    }

    /// Where the pack files live (tests).
    pub fn sources_dir(&self) -> PathBuf {
        self.inner.data_dir.join("sources")
    }

    /// Writes a file once under blobs/, named by its SHA-256; returns the hash.
    pub fn put_blob(&self, data: &[u8]) -> Result<String> {
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(data));
        let path = self.blob_path(&hash);
        if !path.exists() {
            let dir = path.parent().expect("blob path has a parent");
            std::fs::create_dir_all(dir)?;
            // Unique per write: several threads may store the same file at once (a sync
            // parses on every core), and the last rename wins with identical bytes.
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = dir.join(format!(".{hash}.{}.{n}.tmp", std::process::id()));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(hash)
    }
}

pub(crate) fn read_cursor(
    conn: &Connection,
    account_id: i64,
    folder: &str,
) -> Result<Option<SyncCursor>> {
    Ok(conn
        .query_row(
            "SELECT folder, uidvalidity, last_uid, highest_modseq, extra FROM sync_cursors
             WHERE account_id = ?1 AND folder = ?2",
            params![account_id, folder],
            |r| {
                let extra: String = r.get(4)?;
                Ok(SyncCursor {
                    folder: r.get(0)?,
                    uidvalidity: r.get(1)?,
                    last_uid: r.get(2)?,
                    highest_modseq: r.get::<_, i64>(3)? as u64,
                    // An empty object reads back as "no extra position" (the default).
                    extra: match serde_json::from_str(&extra) {
                        Ok(serde_json::Value::Object(o)) if o.is_empty() => serde_json::Value::Null,
                        Ok(v) => v,
                        Err(_) => serde_json::Value::Null,
                    },
                })
            },
        )
        .optional()?)
}

pub(crate) fn write_cursor(conn: &Connection, account_id: i64, cursor: &SyncCursor) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_cursors(account_id, folder, uidvalidity, last_uid, highest_modseq,
                                  extra, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(account_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
             last_uid = excluded.last_uid, highest_modseq = excluded.highest_modseq,
             extra = excluded.extra, updated_at = excluded.updated_at",
    )?
    .execute(params![
        account_id,
        cursor.folder,
        cursor.uidvalidity,
        cursor.last_uid,
        cursor.highest_modseq as i64,
        if cursor.extra.is_null() {
            "{}".to_string()
        } else {
            cursor.extra.to_string()
        },
        now_ms()
    ])?;
    Ok(())
}

fn sync_state_str(s: SyncState) -> &'static str {
    match s {
        SyncState::Idle => "idle",
        SyncState::Syncing => "syncing",
        SyncState::Offline => "offline",
        SyncState::NeedsAttention => "needs_attention",
        SyncState::Local => "local",
    }
}

fn sync_state_parse(s: &str) -> SyncState {
    match s {
        "syncing" => SyncState::Syncing,
        "offline" => SyncState::Offline,
        "needs_attention" => SyncState::NeedsAttention,
        "local" => SyncState::Local,
        _ => SyncState::Idle,
    }
}
