//! The one change stream, forwarded: store writes are gathered for a short moment and sent
//! to the window as one `sportello://changes` event; the same batch feeds the notifier.

use std::time::Duration;

use sportello_core::Store;
use sportello_core::events::Change;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

pub const CHANGES_EVENT: &str = "sportello://changes";
pub const OPEN_CONVERSATION_EVENT: &str = "sportello://open-conversation";

/// How long to gather writes into one event: short enough to feel instant.
const BATCH_WINDOW: Duration = Duration::from_millis(120);

pub async fn run<R: Runtime>(app: AppHandle<R>, store: Store) {
    let mut rx = store.subscribe();
    loop {
        let mut batch = match rx.recv().await {
            Ok(change) => change,
            Err(RecvError::Lagged(_)) => Change::default(),
            Err(RecvError::Closed) => return,
        };
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while let Ok(Ok(more)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            batch.merge(more);
        }
        if let Err(e) = app.emit(CHANGES_EVENT, &batch) {
            tracing::warn!("cannot send changes to the window: {e}");
        }
        notify(&app, &store, &batch);
    }
}

fn notify<R: Runtime>(app: &AppHandle<R>, store: &Store, batch: &Change) {
    if batch.inbound.is_empty() && batch.summaries.is_empty() {
        return;
    }
    let settings = store.settings().unwrap_or_default();
    if !settings.notifications {
        return;
    }
    // The language chosen in the settings, or the OS's (Italian unless it is clearly not).
    let italian = match settings.locale.as_str() {
        "it" => true,
        "en" => false,
        _ => sys_locale::get_locale().is_none_or(|l| l.starts_with("it")),
    };
    for s in &batch.summaries {
        let body = if italian {
            format!(
                "{}: {} messaggi sincronizzati",
                s.account_name, s.new_messages
            )
        } else {
            format!("{}: {} messages synced", s.account_name, s.new_messages)
        };
        show(app, "Sportello", &body, None, italian);
    }
    // A burst (many new messages at once) gets one summary too.
    if batch.inbound.len() > 3 {
        let body = if italian {
            format!("{} nuovi messaggi", batch.inbound.len())
        } else {
            format!("{} new messages", batch.inbound.len())
        };
        show(app, "Sportello", &body, None, italian);
        return;
    }
    for note in &batch.inbound {
        show(
            app,
            &note.sender,
            &note.preview,
            Some(note.conversation_id),
            italian,
        );
    }
}

/// Shows one notification; where the platform reports clicks, a click opens the conversation.
fn show<R: Runtime>(
    app: &AppHandle<R>,
    summary: &str,
    body: &str,
    conversation: Option<i64>,
    italian: bool,
) {
    let mut n = notify_rust::Notification::new();
    n.appname("Sportello").summary(summary).body(body);
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        n.action("default", if italian { "Apri" } else { "Open" });
        let app = app.clone();
        let shown = n.show();
        match shown {
            Ok(handle) => {
                std::thread::spawn(move || {
                    handle.wait_for_action(|action| {
                        if action == "default" {
                            crate::focus_main(&app);
                            if let Some(id) = conversation {
                                let _ = app.emit(OPEN_CONVERSATION_EVENT, id);
                            }
                        }
                    });
                });
            }
            Err(e) => tracing::warn!("cannot show a notification: {e}"),
        }
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = (app, conversation, italian);
        if let Err(e) = n.show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}
