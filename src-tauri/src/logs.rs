//! The app's log: to stderr and to daily files under `<data dir>/logs` (seven kept), readable
//! from the settings screen. Nothing secret is ever logged (the core never formats secrets).

use std::path::Path;

use sportello_core::{Error, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

const KEEP_FILES: usize = 7;

pub fn init(data_dir: &Path) {
    let filter = || EnvFilter::try_from_env("SPORTELLO_LOG").unwrap_or_else(|_| "info".into());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter());
    let _ = std::fs::create_dir_all(data_dir.join("logs"));
    let file = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .max_log_files(KEEP_FILES)
        .filename_prefix("sportello")
        .filename_suffix("log")
        .build(data_dir.join("logs"))
        .map(|appender| {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            // The guard flushes the file at exit; the log lives as long as the app.
            std::mem::forget(guard);
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter())
        });
    let registry = tracing_subscriber::registry().with(stderr);
    match file {
        Ok(file) => registry.with(file).init(),
        Err(e) => {
            registry.init();
            tracing::warn!("no log file: {e}");
        }
    }
}

/// The last `max_bytes` of the log files, oldest first.
pub fn tail(data_dir: &Path, max_bytes: usize) -> Result<String> {
    let dir = data_dir.join("logs");
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect(),
        Err(_) => return Ok(String::new()),
    };
    // Daily names (sportello.YYYY-MM-DD.log) sort by date.
    files.sort();
    let mut out: Vec<u8> = Vec::new();
    for path in files.iter().rev() {
        let bytes =
            std::fs::read(path).map_err(|e| Error::storage(format!("cannot read the log: {e}")))?;
        let room = max_bytes.saturating_sub(out.len());
        let start = bytes.len().saturating_sub(room);
        let mut chunk = bytes[start..].to_vec();
        chunk.extend_from_slice(&out);
        out = chunk;
        if out.len() >= max_bytes {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    // Start at a whole line.
    Ok(match (out.len() >= max_bytes, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_string(),
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_reads_the_newest_lines_across_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("sportello.2026-11-21.log"), "old 1\nold 2\n").unwrap();
        std::fs::write(logs.join("sportello.2026-11-22.log"), "new 1\nnew 2\n").unwrap();
        std::fs::write(logs.join("notes.txt"), "not a log\n").unwrap();
        assert_eq!(
            tail(dir.path(), 1024).unwrap(),
            "old 1\nold 2\nnew 1\nnew 2\n"
        );
        // Cut to whole lines from the end.
        assert_eq!(tail(dir.path(), 14).unwrap(), "new 1\nnew 2\n");
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(tail(empty.path(), 1024).unwrap(), "");
    }
}
