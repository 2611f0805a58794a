//! Message sources (the exact bytes received) in append-only pack files under the data
//! folder's `sources/`, outside SQLite: through the database they were written twice (the WAL,
//! then again at each checkpoint) and were most of a first sync's disk writes.
//!
//! Crash safety: a source is appended and flushed to disk (`fdatasync`) *before* the
//! transaction that stores its row (`message_sources.pack_id/pack_offset/pack_length`)
//! commits. A crash in between leaves bytes no row points to — a torn or unused tail, or a
//! gap when two writers interleave — which are never read: every read goes by a committed
//! row's offset and length. Appends use `O_APPEND` with one `write` each, so several threads
//! or processes on one data folder never overwrite each other. Bytes of deleted messages are
//! not reclaimed (no compaction yet).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Error, Result};

/// A pack grows to about this size, then the next one is started.
const PACK_LIMIT: u64 = 1 << 30;

/// Where one source lives: pack file, offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRef {
    pub pack: i64,
    pub offset: i64,
    pub length: i64,
}

pub(crate) struct Packs {
    dir: PathBuf,
    current: Mutex<Option<(i64, File)>>,
}

pub(crate) fn pack_path(dir: &Path, pack: i64) -> PathBuf {
    dir.join(format!("pack-{pack:06}.bin"))
}

impl Packs {
    pub(crate) fn new(data_dir: &Path) -> Packs {
        Packs {
            dir: data_dir.join("sources"),
            current: Mutex::new(None),
        }
    }

    /// The highest pack number present (0 when none).
    fn last_pack(&self) -> Result<i64> {
        let mut last = 0;
        match std::fs::read_dir(&self.dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let Some(n) = name
                        .to_str()
                        .and_then(|n| n.strip_prefix("pack-"))
                        .and_then(|n| n.strip_suffix(".bin"))
                        .and_then(|n| n.parse::<i64>().ok())
                    else {
                        continue;
                    };
                    last = last.max(n);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(last)
    }

    fn open_append(&self, pack: i64) -> Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        Ok(OpenOptions::new()
            .create(true)
            .append(true)
            .open(pack_path(&self.dir, pack))?)
    }

    /// Appends one source; the bytes are not yet durable (see [`Packs::flush`]).
    pub(crate) fn append(&self, raw: &[u8]) -> Result<SourceRef> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none() {
            let pack = self.last_pack()?.max(1);
            *current = Some((pack, self.open_append(pack)?));
        }
        let (pack, file) = current.as_mut().expect("opened above");
        if file.metadata()?.len() >= PACK_LIMIT {
            file.sync_data()?;
            let next = *pack + 1;
            *current = Some((next, self.open_append(next)?));
        }
        let (pack, file) = current.as_mut().expect("opened above");
        // One write: with O_APPEND it lands whole at the end, whoever else appends.
        let written = file.write(raw)?;
        if written != raw.len() {
            return Err(Error::storage(format!(
                "a message source was written short ({written} of {} bytes)",
                raw.len()
            )));
        }
        let end = file.stream_position()?;
        Ok(SourceRef {
            pack: *pack,
            offset: (end - written as u64) as i64,
            length: written as i64,
        })
    }

    /// Makes every appended source durable; called before the rows pointing to them commit.
    pub(crate) fn flush(&self) -> Result<()> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, file)) = current.as_ref() {
            file.sync_data()?;
        }
        Ok(())
    }

    pub(crate) fn read(&self, at: SourceRef) -> Result<Vec<u8>> {
        let mut file = File::open(pack_path(&self.dir, at.pack))?;
        file.seek(SeekFrom::Start(at.offset as u64))?;
        let mut raw = vec![0u8; at.length as usize];
        file.read_exact(&mut raw).map_err(|e| {
            Error::storage(format!(
                "the stored source in pack {} at {} is incomplete: {e}",
                at.pack, at.offset
            ))
        })?;
        Ok(raw)
    }
}
