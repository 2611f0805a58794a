//! The app's log: to stderr and to daily files under `<data dir>/logs` (seven kept), readable
//! from the settings screen. Nothing secret is ever logged (the core never formats secrets).

use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sportello_core::{Error, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

const KEEP_FILES: usize = 7;

/// When the app began (`run`'s first line), on the wall clock the page's marks use.
pub static LAUNCHED: OnceLock<SystemTime> = OnceLock::new();

/// Logs the window's start-up: each mark (ms after the page's `time_origin`, itself ms since
/// 1970) as ms after launch, and when the first row was painted, ms since 1970 (what
/// tests/bench/footprint.py reads to time a start without WebDriver).
pub fn startup(time_origin: f64, marks: &[(String, f64)]) {
    let Some(launched) = LAUNCHED.get() else {
        return;
    };
    let launched = launched
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    tracing::info!("{}", startup_line(launched, time_origin, marks));
}

fn startup_line(launched: f64, time_origin: f64, marks: &[(String, f64)]) -> String {
    let mut text = format!(
        "start-up after launch: page {:.0} ms",
        time_origin - launched
    );
    // The page's own marks; a few at most (a page gone wrong cannot flood the log).
    for (name, at) in marks.iter().take(12) {
        let name = name.strip_prefix("sportello:").unwrap_or(name);
        let name: String = name.chars().take(40).collect();
        text.push_str(&format!(", {name} {:.0} ms", time_origin + at - launched));
    }
    let painted = marks
        .iter()
        .find(|(name, _)| name == "sportello:painted")
        .map_or(0.0, |(_, at)| time_origin + at);
    text.push_str(&format!("; painted_unix_ms={painted:.0}"));
    text
}

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
    fn the_start_up_line_gives_each_mark_after_launch_and_when_the_inbox_was_painted() {
        let marks = vec![
            ("sportello:script".to_string(), 150.4),
            ("sportello:ready".to_string(), 300.0),
            ("sportello:painted".to_string(), 420.6),
        ];
        assert_eq!(
            startup_line(1_000_000.0, 1_000_400.0, &marks),
            "start-up after launch: page 400 ms, script 550 ms, ready 700 ms, painted 821 ms; \
             painted_unix_ms=1000821"
        );
        let flood: Vec<_> = (0..100).map(|i| (format!("m{i}"), 1.0)).collect();
        assert_eq!(startup_line(0.0, 0.0, &flood).matches(" ms").count(), 13);
    }

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
