//! One window, a blank page, nothing else: what any Tauri 2 app costs before it does anything.
//!
//! When the page has loaded it prints `loaded_unix_ms=<ms since 1970>` once, so
//! tests/bench/footprint.py can time a start without WebDriver (Sportello logs the same moment
//! for its first painted row).

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    tauri::Builder::default()
        .on_page_load(|_, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                println!("loaded_unix_ms={}", now.as_millis());
            }
        })
        .run(tauri::generate_context!())
        .expect("error while running the empty window");
}
