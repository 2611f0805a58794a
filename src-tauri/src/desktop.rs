//! Being a good desktop citizen: one instance, a tray icon with the unread count, closing to
//! the tray, starting at login, remembering the window, checking for signed updates, and the
//! notification preferences (per channel, quiet hours, sound, privacy).
//!
//! The preferences are kept in the store under their own key; the rules that decide whether a
//! notification shows are plain functions, tested below.

use serde::{Deserialize, Serialize};
use sportello_core::model::ChannelKind;
use sportello_core::{Result, Store};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager, Runtime, WindowEvent};
use ts_rs::TS;

const KEY: &str = "desktop";
const TRAY_ID: &str = "sportello";

/// Sent to the window when a newer signed version is available: its version string.
pub const UPDATE_EVENT: &str = "sportello://update-available";

/// A time of day as minutes after midnight, local time.
pub type Minutes = u16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct DesktopSettings {
    /// Closing the window keeps Sportello syncing in the tray (quit from the tray menu).
    pub close_to_tray: bool,
    /// Start Sportello (in the tray) when the user logs in.
    pub start_at_login: bool,
    /// Look for a newer signed version at start.
    pub check_updates: bool,
    /// Play the notification sound.
    pub sound: bool,
    /// Show sender and text in notifications; off shows only "new message".
    pub show_preview: bool,
    /// Channels whose new messages never notify.
    pub muted_channels: Vec<ChannelKind>,
    /// No notifications between these times (local time; may wrap past midnight).
    pub quiet_hours: Option<QuietHours>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct QuietHours {
    pub from: Minutes,
    pub to: Minutes,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings {
            close_to_tray: true,
            start_at_login: false,
            check_updates: true,
            sound: true,
            show_preview: true,
            muted_channels: Vec::new(),
            quiet_hours: None,
        }
    }
}

impl QuietHours {
    /// Whether `now` (minutes after local midnight) falls in the quiet period.
    pub fn contains(self, now: Minutes) -> bool {
        match self.from.cmp(&self.to) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => self.from <= now && now < self.to,
            // 22:00 → 07:00 wraps past midnight.
            std::cmp::Ordering::Greater => now >= self.from || now < self.to,
        }
    }
}

pub fn load(store: &Store) -> DesktopSettings {
    store
        .get_setting(KEY)
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

pub fn save(store: &Store, settings: &DesktopSettings) -> Result<DesktopSettings> {
    let mut clean = settings.clone();
    clean.muted_channels.sort_by_key(|c| c.as_str());
    clean.muted_channels.dedup();
    if let Some(q) = &mut clean.quiet_hours {
        q.from = q.from.min(24 * 60 - 1);
        q.to = q.to.min(24 * 60 - 1);
    }
    store.set_setting(KEY, &serde_json::to_string(&clean)?)?;
    Ok(clean)
}

/// Whether a new inbound message should raise a notification.
///
/// `viewing` is the conversation open in a focused window: the user is already looking at it.
pub fn should_notify(
    settings: &DesktopSettings,
    channel: ChannelKind,
    conversation_id: i64,
    viewing: Option<i64>,
    now: Minutes,
) -> bool {
    if settings.muted_channels.contains(&channel) {
        return false;
    }
    if settings.quiet_hours.is_some_and(|q| q.contains(now)) {
        return false;
    }
    viewing != Some(conversation_id)
}

/// Minutes after local midnight, now.
pub fn local_minutes_now() -> Minutes {
    use chrono::Timelike;
    let now = chrono::Local::now();
    (now.hour() * 60 + now.minute()) as Minutes
}

/// The plugins Sportello uses; the single-instance one first, so a second launch only
/// focuses the running window.
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            crate::focus_main(app);
        }))
        // Size, position and maximised state; never "hidden" (closing to the tray hides the
        // window, and the next start must still show it).
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec!["--minimized"]),
        ))
        .plugin(tauri_plugin_updater::Builder::new().build())
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == "main"
            {
                let app = window.app_handle();
                let close_to_tray = app
                    .try_state::<crate::App>()
                    .map(|state| load(&state.store).close_to_tray)
                    .unwrap_or(false);
                if close_to_tray && app.tray_by_id(TRAY_ID).is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
}

/// The tray icon and its menu; the first settings applied (start at login, update check).
pub fn setup<R: Runtime>(app: &AppHandle<R>, store: &Store, italian: bool) {
    #[cfg(target_os = "linux")]
    software_rendering(app);
    if let Err(e) = build_tray(app, italian) {
        // Some Linux desktops have no tray: then closing the window quits, as usual.
        tracing::warn!("no tray icon: {e}");
    }
    let settings = load(store);
    apply_start_at_login(app, settings.start_at_login);
    if std::env::args().any(|a| a == "--minimized")
        && let Some(w) = app.get_webview_window("main")
        && app.tray_by_id(TRAY_ID).is_some()
    {
        let _ = w.hide();
    }
    if settings.check_updates {
        let app = app.clone();
        tauri::async_runtime::spawn(async move { check_for_update(app).await });
    }
    update_unread(app, store);
}

/// Linux: WebKitGTK draws the window without GPU compositing. A window of text and lists
/// gains nothing from it, and it costs: the web process keeps GL textures for its layers
/// (about 95 MiB more at start and 170 MiB more after scrolling the list and opening 50
/// conversations: docs/benchmarks.md, "Footprint"), and it is what leaves the window blank on
/// some GPU drivers. `SPORTELLO_GPU=1` keeps WebKit's default; so does a
/// `WEBKIT_DISABLE_COMPOSITING_MODE` the user set (WebKit reads that one itself).
#[cfg(target_os = "linux")]
fn software_rendering<R: Runtime>(app: &AppHandle<R>) {
    let env = |name| std::env::var_os(name);
    if env("SPORTELLO_GPU").is_some_and(|v| v == "1")
        || env("WEBKIT_DISABLE_COMPOSITING_MODE").is_some()
    {
        return;
    }
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let applied = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            tracing::info!(
                "the window is drawn without GPU compositing (SPORTELLO_GPU=1 keeps it)"
            );
        }
    });
    if let Err(e) = applied {
        tracing::warn!("cannot turn off GPU compositing: {e}");
    }
}

fn build_tray<R: Runtime>(app: &AppHandle<R>, italian: bool) -> tauri::Result<TrayIcon<R>> {
    let (open, sync, quit) = if italian {
        ("Apri Sportello", "Sincronizza ora", "Esci")
    } else {
        ("Open Sportello", "Sync now", "Quit")
    };
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, "open", open, true, None::<&str>)?,
            &MenuItem::with_id(app, "sync", sync, true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", quit, true, None::<&str>)?,
        ],
    )?;
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Sportello")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::focus_main(app),
            "sync" => {
                if let Some(state) = app.try_state::<crate::App>() {
                    state.supervisor.wake(None);
                }
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::focus_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)
}

/// The count last shown, so a change batch that leaves it as it was touches nothing.
static SHOWN_UNREAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

/// Shows the unread count on the tray icon and, where the platform has one, the dock/taskbar:
/// a badge on macOS and on Linux desktops with the Unity launcher API (GNOME docks, KDE), an
/// overlay icon on the Windows taskbar button (Windows has no badge count).
pub fn update_unread<R: Runtime>(app: &AppHandle<R>, store: &Store) {
    let unread = store.unread_conversations().unwrap_or(0);
    if SHOWN_UNREAD.swap(unread, std::sync::atomic::Ordering::Relaxed) == unread {
        return;
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let tip = if unread == 0 {
            "Sportello".to_string()
        } else {
            format!("Sportello ({unread})")
        };
        let _ = tray.set_tooltip(Some(&tip));
        #[cfg(any(target_os = "macos", target_os = "linux"))]
        let _ = tray.set_title(if unread == 0 {
            None
        } else {
            Some(unread.to_string())
        });
    }
    if let Some(w) = app.get_webview_window("main") {
        #[cfg(not(target_os = "windows"))]
        let _ = w.set_badge_count(if unread == 0 {
            None
        } else {
            Some(unread as i64)
        });
        #[cfg(target_os = "windows")]
        {
            let icon = (unread > 0).then(|| {
                tauri::image::Image::new_owned(overlay_badge(unread), BADGE_SIZE, BADGE_SIZE)
            });
            if let Err(e) = w.set_overlay_icon(icon) {
                tracing::warn!("cannot show the unread count on the taskbar: {e}");
            }
        }
    }
}

/// The side of the Windows taskbar overlay icon, in pixels.
#[cfg(any(target_os = "windows", test))]
const BADGE_SIZE: u32 = 16;

/// Digits 0–9 and "+", 3×5 pixels each, one row per byte (bit 2 is the left column).
#[cfg(any(target_os = "windows", test))]
const GLYPHS: [[u8; 5]; 11] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
    [0b000, 0b010, 0b111, 0b010, 0b000],
];

/// The Windows overlay icon for `count` unread conversations: a red disc with the number in
/// white ("9+" above nine), as RGBA pixels, `BADGE_SIZE` square. Drawn here because the
/// taskbar takes an image, not a number.
#[cfg(any(target_os = "windows", test))]
fn overlay_badge(count: u64) -> Vec<u8> {
    let size = BADGE_SIZE as usize;
    let mut px = vec![0u8; size * size * 4];
    let centre = (size as f32 - 1.0) / 2.0;
    for y in 0..size {
        for x in 0..size {
            let (dx, dy) = (x as f32 - centre, y as f32 - centre);
            if dx * dx + dy * dy <= (size as f32 / 2.0).powi(2) {
                px[(y * size + x) * 4..][..4].copy_from_slice(&[0xd9, 0x30, 0x25, 0xff]);
            }
        }
    }
    let glyphs: Vec<usize> = if count > 9 {
        vec![9, 10]
    } else {
        vec![count as usize]
    };
    // Each glyph drawn at twice its size (6×10), one pixel apart, centred.
    let width = glyphs.len() * 6 + (glyphs.len() - 1);
    let (left, top) = ((size - width) / 2, (size - 10) / 2);
    for (i, glyph) in glyphs.iter().enumerate() {
        for (row, bits) in GLYPHS[*glyph].iter().enumerate() {
            for col in 0..3 {
                if bits & (0b100 >> col) == 0 {
                    continue;
                }
                for (sx, sy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let x = left + i * 7 + col * 2 + sx;
                    let y = top + row * 2 + sy;
                    px[(y * size + x) * 4..][..4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
                }
            }
        }
    }
    px
}

/// Turns starting at login on or off to match the setting.
pub fn apply_start_at_login<R: Runtime>(app: &AppHandle<R>, enabled: bool) {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = app.autolaunch();
    let result = match (enabled, launcher.is_enabled().unwrap_or(false)) {
        (true, false) => launcher.enable(),
        (false, true) => launcher.disable(),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!("cannot change starting at login: {e}");
    }
}

async fn check_for_update<R: Runtime>(app: AppHandle<R>) {
    use tauri_plugin_updater::UpdaterExt;
    let found = match app.updater() {
        Ok(updater) => updater.check().await,
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(update)) => {
            let _ = app.emit(UPDATE_EVENT, update.version.clone());
        }
        Ok(None) => {}
        Err(e) => tracing::info!("update check skipped: {e}"),
    }
}

/// Downloads the newer version, checks its signature against the public key built into the
/// app (the updater refuses anything else), installs it and restarts.
pub async fn install_update<R: Runtime>(app: AppHandle<R>) -> Result<()> {
    use sportello_core::Error;
    use tauri_plugin_updater::UpdaterExt;
    let update = app
        .updater()
        .map_err(|e| Error::internal(e.to_string()))?
        .check()
        .await
        .map_err(|e| Error::new(sportello_core::ErrorCode::Network, e.to_string()))?
        .ok_or_else(|| Error::not_found("no newer version"))?;
    update
        .download_and_install(|_, _| {}, || {})
        .await
        .map_err(|e| {
            Error::new(
                sportello_core::ErrorCode::Rejected,
                format!("the update was not installed: {e}"),
            )
        })?;
    app.restart()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_overlay_badge_shows_the_count_in_white_on_red() {
        let white = |px: &[u8]| {
            px.chunks(4)
                .filter(|p| *p == [0xff, 0xff, 0xff, 0xff])
                .count()
        };
        let one = overlay_badge(1);
        let eight = overlay_badge(8);
        let many = overlay_badge(250);
        for px in [&one, &eight, &many] {
            assert_eq!(px.len(), (BADGE_SIZE * BADGE_SIZE * 4) as usize);
            // Corners transparent, centre-left edge red: a disc.
            assert_eq!(&px[..4], &[0, 0, 0, 0]);
            let mid = (BADGE_SIZE / 2 * BADGE_SIZE) as usize * 4;
            assert_eq!(&px[mid..mid + 4], &[0xd9, 0x30, 0x25, 0xff]);
        }
        // "1" lights 8 cells of its 3×5 glyph, "8" 13, "9+" 12 + 5; each cell is 2×2 pixels.
        assert_eq!(white(&one), 8 * 4);
        assert_eq!(white(&eight), 13 * 4);
        assert_eq!(white(&many), (12 + 5) * 4);
        assert_eq!(overlay_badge(10), many, "above nine it reads 9+");
    }

    #[test]
    fn quiet_hours_wrap_past_midnight() {
        let night = QuietHours {
            from: 22 * 60,
            to: 7 * 60,
        };
        assert!(night.contains(23 * 60));
        assert!(night.contains(0));
        assert!(night.contains(6 * 60 + 59));
        assert!(!night.contains(7 * 60));
        assert!(!night.contains(12 * 60));
        let lunch = QuietHours {
            from: 13 * 60,
            to: 14 * 60,
        };
        assert!(lunch.contains(13 * 60 + 30));
        assert!(!lunch.contains(14 * 60));
        assert!(!QuietHours { from: 60, to: 60 }.contains(60));
    }

    #[test]
    fn notifications_respect_mutes_quiet_hours_and_the_open_conversation() {
        let mut s = DesktopSettings::default();
        assert!(should_notify(&s, ChannelKind::Email, 1, None, 600));
        assert!(
            !should_notify(&s, ChannelKind::Email, 1, Some(1), 600),
            "already looking at it"
        );
        assert!(should_notify(&s, ChannelKind::Email, 1, Some(2), 600));
        s.muted_channels = vec![ChannelKind::Telegram];
        assert!(!should_notify(&s, ChannelKind::Telegram, 1, None, 600));
        assert!(should_notify(&s, ChannelKind::Email, 1, None, 600));
        s.quiet_hours = Some(QuietHours {
            from: 22 * 60,
            to: 7 * 60,
        });
        assert!(!should_notify(&s, ChannelKind::Email, 1, None, 23 * 60));
        assert!(should_notify(&s, ChannelKind::Email, 1, None, 600));
    }

    #[test]
    fn settings_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(load(&store), DesktopSettings::default());
        let wanted = DesktopSettings {
            close_to_tray: false,
            muted_channels: vec![
                ChannelKind::Telegram,
                ChannelKind::Email,
                ChannelKind::Email,
            ],
            quiet_hours: Some(QuietHours {
                from: 22 * 60,
                to: 9999,
            }),
            ..DesktopSettings::default()
        };
        let saved = save(&store, &wanted).unwrap();
        assert_eq!(
            saved.muted_channels,
            vec![ChannelKind::Email, ChannelKind::Telegram]
        );
        assert_eq!(
            saved.quiet_hours,
            Some(QuietHours {
                from: 22 * 60,
                to: 24 * 60 - 1
            })
        );
        assert_eq!(load(&store), saved);
    }
}
