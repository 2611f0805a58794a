//! The one change stream, forwarded: store writes are gathered for a short moment and sent
//! to the window as one `sportello://changes` event; the same batch feeds the notifier.

use std::time::Duration;

use sportello_core::Store;
use sportello_core::events::Change;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

pub const CHANGES_EVENT: &str = "sportello://changes";
/// Sent when a notification is clicked (macOS reports no clicks to Sportello: unused there).
#[cfg_attr(target_os = "macos", allow(dead_code))]
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
        if !batch.conversations.is_empty() {
            crate::desktop::update_unread(&app, &store);
        }
        notify(&app, &store, &batch);
    }
}

/// Whether Sportello speaks Italian now: the language chosen in the settings, or the OS's
/// (Italian unless it is clearly not).
pub fn italian(store: &Store) -> bool {
    match store.settings().unwrap_or_default().locale.as_str() {
        "it" => true,
        "en" => false,
        _ => sys_locale::get_locale().is_none_or(|l| l.starts_with("it")),
    }
}

fn notify<R: Runtime>(app: &AppHandle<R>, store: &Store, batch: &Change) {
    if batch.inbound.is_empty() && batch.summaries.is_empty() && batch.woke.is_empty() {
        return;
    }
    let settings = store.settings().unwrap_or_default();
    if !settings.notifications {
        return;
    }
    let italian = italian(store);
    let desktop = crate::desktop::load(store);
    let now = crate::desktop::local_minutes_now();
    // The conversation open in the focused window: its new messages are already seen.
    let viewing = app
        .get_webview_window("main")
        .filter(|w| w.is_focused().unwrap_or(false) && w.is_visible().unwrap_or(false))
        .and_then(|_| app.try_state::<crate::App>())
        .and_then(|state| *state.viewing.lock().unwrap_or_else(|p| p.into_inner()));
    let inbound: Vec<_> = batch
        .inbound
        .iter()
        .filter(|n| {
            crate::desktop::should_notify(&desktop, n.channel, n.conversation_id, viewing, now)
        })
        .collect();
    // Snoozed conversations whose time came: notified like new messages.
    let woke: Vec<_> = batch
        .woke
        .iter()
        .filter(|n| {
            crate::desktop::should_notify(&desktop, n.channel, n.conversation_id, viewing, now)
        })
        .collect();
    if desktop.quiet_hours.is_some_and(|q| q.contains(now)) {
        return;
    }
    let style = Style {
        italian,
        sound: desktop.sound,
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
        show(app, "Sportello", &body, None, style);
    }
    for note in woke {
        let title = if italian {
            "Conversazione riaperta"
        } else {
            "Conversation reopened"
        };
        let body = if desktop.show_preview {
            format!("{}: {}", note.contact_name, note.preview)
        } else if italian {
            "Un promemoria è scaduto".to_string()
        } else {
            "A snooze ended".to_string()
        };
        show(app, title, &body, Some(note.conversation_id), style);
    }
    // A burst (many new messages at once) gets one summary too.
    if inbound.len() > 3 {
        let body = if italian {
            format!("{} nuovi messaggi", inbound.len())
        } else {
            format!("{} new messages", inbound.len())
        };
        show(app, "Sportello", &body, None, style);
        return;
    }
    for note in inbound {
        if desktop.show_preview {
            show(
                app,
                &note.sender,
                &note.preview,
                Some(note.conversation_id),
                style,
            );
        } else {
            // Privacy mode: nothing about who wrote or what.
            let body = if italian {
                "Nuovo messaggio"
            } else {
                "New message"
            };
            show(app, "Sportello", body, Some(note.conversation_id), style);
        }
    }
}

#[derive(Clone, Copy)]
struct Style {
    italian: bool,
    sound: bool,
}

/// Shows one notification; where the platform reports clicks, a click opens the conversation.
fn show<R: Runtime>(
    app: &AppHandle<R>,
    summary: &str,
    body: &str,
    conversation: Option<i64>,
    style: Style,
) {
    let Style { italian, sound } = style;
    let mut n = notify_rust::Notification::new();
    n.appname("Sportello").summary(summary).body(body);
    if sound {
        n.sound_name(SOUND);
    }
    // Windows shows a toast under a registered app id (the installer's Start-menu shortcut
    // carries the bundle identifier); without one notify-rust falls back to PowerShell's.
    #[cfg(windows)]
    if running_installed() {
        n.app_id(&app.config().identifier);
    }
    // macOS: without an application, mac-notification-sys sends as Finder.
    #[cfg(target_os = "macos")]
    if running_installed() {
        static APPLICATION: std::sync::Once = std::sync::Once::new();
        APPLICATION.call_once(|| {
            if let Err(e) = notify_rust::set_application(&app.config().identifier) {
                tracing::warn!("notifications will not show as Sportello's: {e}");
            }
        });
    }
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
    // Windows reports a click on the toast's body (no button needed) while it is on screen.
    #[cfg(windows)]
    {
        let _ = italian;
        match n.show() {
            Ok(handle) => {
                let app = app.clone();
                std::thread::spawn(move || {
                    let _ = handle.wait_for_response(|r: &notify_rust::NotificationResponse| {
                        if r.is_default_action() {
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
    #[cfg(target_os = "macos")]
    {
        let _ = (conversation, italian);
        if let Err(e) = n.show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}

/// The notification sound, named the way each platform's notifier wants it: the freedesktop
/// sound theme's name, macOS's default sound, the Windows instant-message sound (a name
/// notify-rust does not know plays nothing there).
#[cfg(not(any(target_os = "macos", windows)))]
const SOUND: &str = "message-new-instant";
#[cfg(target_os = "macos")]
const SOUND: &str = "NSUserNotificationDefaultSoundName";
#[cfg(windows)]
const SOUND: &str = "IM";

/// Whether this is the installed app (the bundle identifier is registered with the OS), not a
/// build run from a cargo target folder or, on macOS, a binary outside an `.app` bundle.
#[cfg(any(windows, target_os = "macos"))]
fn running_installed() -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    if cfg!(target_os = "macos") {
        return exe.to_string_lossy().contains(".app/Contents/MacOS/");
    }
    // target\debug or target\release: where cargo puts a build.
    let mut dirs = exe.parent().into_iter().flat_map(|d| d.iter().rev());
    let (profile, target) = (dirs.next(), dirs.next());
    !(target.is_some_and(|t| t == "target")
        && profile.is_some_and(|p| p == "debug" || p == "release"))
}
