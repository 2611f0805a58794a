//! Where Sportello keeps its data: the OS app-data folder unless told otherwise.

use std::path::PathBuf;

/// The environment variable that moves the data folder (tests never touch the real one).
pub const DATA_DIR_ENV: &str = "SPORTELLO_DATA_DIR";

/// `explicit` (from `--data-dir`), else `$SPORTELLO_DATA_DIR`, else the OS app-data folder
/// (`~/.local/share/sportello`, `~/Library/Application Support/sportello`, `%APPDATA%\sportello`).
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir;
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("sportello")
}
