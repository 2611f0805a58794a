//! Importing mail from files into the local "Imported" account: `.eml` files, Maildir folders
//! (`cur/` and `new/`, and Maildir++ sub-folders), mbox files. No network.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sportello_core::model::{Account, ChannelKind, IncomingMessage};
use sportello_core::store::IngestOptions;
use sportello_core::{Result, Store};
use ts_rs::TS;

use crate::mime;
use crate::settings::EmailSettings;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct ImportReport {
    /// Messages stored (including ones kept only as source because they could not be parsed).
    pub imported: u32,
    /// Messages that were already there.
    pub duplicates: u32,
    /// Files or messages that could not be read.
    pub failed: u32,
    /// One line per failure: what and why.
    pub errors: Vec<String>,
}

pub const IMPORTED_NAME: &str = "Imported";

/// The local account that holds imported mail, created on first use.
pub fn imported_account(store: &Store) -> Result<Account> {
    for account in store.accounts()? {
        if account.kind == ChannelKind::Email
            && EmailSettings::from_json(&account.settings).is_ok_and(|s| s.local)
        {
            return Ok(account);
        }
    }
    store.add_account(
        ChannelKind::Email,
        IMPORTED_NAME,
        "",
        &EmailSettings::local().to_json(),
    )
}

/// Messages are stored in batches so a large mbox never sits in memory as a whole.
const BATCH: usize = 200;

struct Importer<'a> {
    store: &'a Store,
    /// Created with the first message, so a failed import leaves no empty account behind.
    account_id: Option<i64>,
    own: Vec<String>,
    batch: Vec<IncomingMessage>,
    report: ImportReport,
}

impl Importer<'_> {
    fn add(&mut self, raw: Vec<u8>, received_at: Option<i64>) -> Result<()> {
        let mut m = mime::parse_message_for(raw, &self.own, received_at);
        // Imported mail is old mail: it should not light up as unread.
        m.is_read = true;
        self.batch.push(m);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let account_id = match self.account_id {
            Some(id) => id,
            None => *self.account_id.insert(imported_account(self.store)?.id),
        };
        let batch = std::mem::take(&mut self.batch);
        let r = self
            .store
            .ingest(account_id, batch, None, IngestOptions { summarize: true })?;
        self.report.imported += r.stored;
        self.report.duplicates += r.duplicates;
        Ok(())
    }

    fn fail(&mut self, path: &Path, why: impl std::fmt::Display) {
        // Reported to the caller in `errors`; a log line would only repeat it.
        tracing::debug!(path = %path.display(), "import failed: {why}");
        self.report.failed += 1;
        self.report
            .errors
            .push(format!("{}: {why}", path.display()));
    }

    fn path(&mut self, path: &Path) -> Result<()> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.fail(path, e);
                return Ok(());
            }
        };
        if meta.is_dir() {
            if is_maildir(path) {
                self.maildir(path)?;
                // Maildir++ keeps sub-folders as dot-folders beside cur/ and new/.
                for sub in sorted_entries(path) {
                    let name = sub.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if name.starts_with('.') && name.len() > 1 && is_maildir(&sub) {
                        self.maildir(&sub)?;
                    }
                }
            } else {
                for entry in sorted_entries(path) {
                    let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if name.starts_with('.') {
                        continue;
                    }
                    if entry.is_dir() {
                        self.path(&entry)?;
                    } else if has_ext(&entry, &["eml", "mbox", "mbx", "msg"])
                        || looks_like_mbox(&entry)
                    {
                        self.file(&entry)?;
                    }
                }
            }
            return Ok(());
        }
        self.file(path)
    }

    fn file(&mut self, path: &Path) -> Result<()> {
        if looks_like_mbox(path) {
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    self.fail(path, e);
                    return Ok(());
                }
            };
            for (i, message) in MboxReader::new(BufReader::new(file)).enumerate() {
                match message {
                    Ok(raw) => self.add(raw, None)?,
                    Err(e) => {
                        self.fail(path, format!("message {}: {e}", i + 1));
                        break;
                    }
                }
            }
            return Ok(());
        }
        match std::fs::read(path) {
            Ok(raw) if raw.is_empty() => self.fail(path, "the file is empty"),
            Ok(raw) => self.add(raw, modified_ms(path))?,
            Err(e) => self.fail(path, e),
        }
        Ok(())
    }

    fn maildir(&mut self, dir: &Path) -> Result<()> {
        for sub in ["cur", "new"] {
            for entry in sorted_entries(&dir.join(sub)) {
                let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') || !entry.is_file() {
                    continue;
                }
                match std::fs::read(&entry) {
                    Ok(raw) => self.add(raw, modified_ms(&entry))?,
                    Err(e) => self.fail(&entry, e),
                }
            }
        }
        Ok(())
    }
}

/// Imports files and folders into the "Imported" account. Unreadable files are counted in
/// `failed`; messages that cannot be parsed are still stored with their source.
pub fn import_paths(store: &Store, paths: &[PathBuf]) -> Result<ImportReport> {
    let own = store
        .accounts()?
        .into_iter()
        .filter(|a| a.kind == ChannelKind::Email && !a.address.is_empty())
        .map(|a| a.address)
        .collect();
    let mut importer = Importer {
        store,
        account_id: None,
        own,
        batch: Vec::new(),
        report: Default::default(),
    };
    for path in paths {
        importer.path(path)?;
    }
    importer.flush()?;
    Ok(importer.report)
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

fn modified_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(
        modified
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_millis() as i64,
    )
}

/// An mbox file starts with a `From ` separator line.
fn looks_like_mbox(path: &Path) -> bool {
    let mut head = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"From "
}

/// Splits an mbox stream into messages: a `From ` line starts a message at the start of the
/// file, after a blank line, or when it looks like a real separator (`From addr date`); the
/// blank line before a separator is dropped, and `>From ` lines are unescaped (mboxrd, which
/// also reads mboxo correctly for the usual `>From `).
pub struct MboxReader<R> {
    reader: R,
    current: Option<Vec<u8>>,
    previous_blank: bool,
    started: bool,
    done: bool,
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(reader: R) -> Self {
        MboxReader {
            reader,
            current: None,
            previous_blank: true,
            started: false,
            done: false,
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// `From sender Www Mmm dd hh:mm:ss yyyy`: an address-like token, then a time and a year.
fn looks_like_separator(line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let mut words = line.split_whitespace().skip(1);
    let Some(sender) = words.next() else {
        return false;
    };
    let rest: Vec<&str> = words.collect();
    !sender.is_empty()
        && rest.iter().any(|w| {
            w.len() >= 5 && w.as_bytes()[2] == b':' && w[..2].bytes().all(|b| b.is_ascii_digit())
        })
        && rest
            .iter()
            .any(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
}

fn finish(mut message: Vec<u8>) -> Vec<u8> {
    // The blank line that separates messages belongs to the file, not to the message.
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
    message
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => {
                    self.done = true;
                    return self.current.take().map(|m| Ok(finish(m)));
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if line.starts_with(b"From ")
                && (!self.started || self.previous_blank || looks_like_separator(&line))
            {
                self.started = true;
                self.previous_blank = false;
                let previous = self.current.replace(Vec::new());
                if let Some(m) = previous {
                    return Some(Ok(finish(m)));
                }
                continue;
            }
            self.previous_blank = is_blank(&line);
            let Some(current) = self.current.as_mut() else {
                // Text before the first separator is not a message.
                continue;
            };
            let quotes = line.iter().take_while(|&&b| b == b'>').count();
            if quotes > 0 && line[quotes..].starts_with(b"From ") {
                current.extend_from_slice(&line[1..]);
            } else {
                current.extend_from_slice(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &str) -> Vec<String> {
        MboxReader::new(data.as_bytes())
            .map(|m| String::from_utf8(m.unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn mbox_splits_on_from_lines_and_unescapes() {
        let data = "From a@x.it Mon Jan  1 10:00:00 2024\n\
                    Subject: one\n\
                    \n\
                    Hello\n\
                    >From here on, quoted\n\
                    >>From two levels\n\
                    \n\
                    From b@x.it Tue Jan  2 11:00:00 2024\n\
                    Subject: two\n\
                    \n\
                    Bye\n";
        let messages = split(data);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0],
            "Subject: one\n\nHello\nFrom here on, quoted\n>From two levels\n"
        );
        assert_eq!(messages[1], "Subject: two\n\nBye\n");
    }

    #[test]
    fn a_from_line_inside_a_paragraph_is_not_a_separator() {
        let data = "From a@x.it Mon Jan  1 10:00:00 2024\nSubject: one\n\nText\nFrom me, thanks\n";
        let messages = split(data);
        assert_eq!(messages.len(), 1);
        assert!(messages[0].ends_with("Text\nFrom me, thanks\n"));
    }

    #[test]
    fn crlf_mbox_and_missing_blank_line() {
        let data = "From a@x.it Mon Jan  1 10:00:00 2024\r\nSubject: one\r\n\r\nA\r\n\
                    From b@x.it Tue Jan  2 11:00:00 2024\r\nSubject: two\r\n\r\nB\r\n\r\n";
        let messages = split(data);
        assert_eq!(
            messages,
            vec!["Subject: one\r\n\r\nA\r\n", "Subject: two\r\n\r\nB\r\n"]
        );
    }

    #[test]
    fn empty_and_garbage_input_give_no_messages() {
        assert!(split("").is_empty());
        assert!(split("not an mbox\nat all\n").is_empty());
    }
}
