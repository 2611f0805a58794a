//! The Tauri shell: window, commands (one-line adapters over `sportello-core`), and the one
//! batched change event that feeds both the UI and the desktop notifier.
//!
//! No domain logic lives here: anything a test should check belongs in the core crates.

mod bridge;
mod commands;
mod desktop;
mod logs;
mod webhook;

use std::sync::Arc;

use sportello_core::supervisor::{self, Supervisor};
use sportello_core::{Store, paths};
use tauri::{Manager, Runtime};

/// What every command works on.
pub struct App {
    pub store: Store,
    pub supervisor: Arc<Supervisor>,
    pub webhook: Arc<webhook::Webhook>,
    /// The conversation open in the window, so its new messages do not notify.
    pub viewing: std::sync::Mutex<Option<i64>>,
}

/// Why the data could not be opened; the window shows it (see `commands::app_info`).
pub struct StartupFailure {
    pub data_dir: std::path::PathBuf,
    pub error: sportello_core::Error,
}

/// Builds the app on any runtime, so it can be driven by `tauri::test::mock_builder()`.
pub fn build_app<R: Runtime>(builder: tauri::Builder<R>, store: Store) -> tauri::Builder<R> {
    desktop::plugins(builder)
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let supervisor = Supervisor::new(
                store.clone(),
                sportello_channels::opener(),
                supervisor::DEFAULT_POLL,
            );
            let handle = app.handle().clone();
            let bridge_store = store.clone();
            let sup = supervisor.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = sup.start_all() {
                    tracing::error!("cannot start syncing: {}", e.message);
                }
                bridge::run(handle, bridge_store).await;
            });
            let webhook = webhook::start(store.clone(), supervisor.clone());
            desktop::setup(app.handle(), &store, bridge::italian(&store));
            app.manage(App {
                store,
                supervisor,
                webhook,
                viewing: Default::default(),
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::get_desktop_settings,
            commands::update_desktop_settings,
            commands::set_viewing,
            commands::report_startup,
            commands::read_logs,
            commands::set_status,
            commands::set_pinned,
            commands::add_note,
            commands::view_counts,
            commands::list_conversations_filtered,
            commands::list_saved_views,
            commands::save_view,
            commands::delete_view,
            commands::get_care_settings,
            commands::update_care_settings,
            commands::care_report,
            commands::export_report_csv,
            commands::archive_conversation,
            commands::conversation_contact,
            commands::contact_suggestions,
            commands::dismiss_suggestion,
            commands::merge_contacts,
            commands::undo_merge,
            commands::rename_contact,
            commands::set_contact_notes,
            commands::list_tags,
            commands::create_tag,
            commands::update_tag,
            commands::delete_tag,
            commands::tag_conversation,
            commands::tag_contact,
            commands::find_contacts,
            commands::list_canned_replies,
            commands::save_canned_reply,
            commands::delete_canned_reply,
            commands::render_canned_reply,
            commands::email_presets,
            commands::email_preset_for_address,
            commands::email_oauth_sign_in,
            commands::email_sign_in_again,
            commands::cancel_email_sign_in,
            commands::install_update,
            commands::list_accounts,
            commands::test_email_account,
            commands::add_email_account,
            commands::test_whatsapp_account,
            commands::add_whatsapp_account,
            commands::test_twilio_account,
            commands::add_twilio_account,
            commands::test_meta_accounts,
            commands::add_meta_accounts,
            commands::test_telegram_account,
            commands::add_telegram_account,
            commands::webhook_info,
            commands::remove_account,
            commands::refresh,
            commands::list_conversations,
            commands::get_conversation,
            commands::mark_read,
            commands::reply_window,
            commands::whatsapp_templates,
            commands::message_details,
            commands::send_reply,
            commands::retry_message,
            commands::forward_message,
            commands::describe_files,
            commands::search,
            commands::open_attachment,
            commands::save_attachment,
            commands::open_link,
            commands::message_source,
            commands::get_settings,
            commands::update_settings,
            commands::get_oauth_clients,
            commands::set_oauth_client,
        ])
}

pub fn run() {
    logs::LAUNCHED.get_or_init(std::time::SystemTime::now);
    let data_dir = paths::data_dir(None);
    logs::init(&data_dir);
    let builder = match Store::open(&data_dir) {
        Ok(store) => build_app(tauri::Builder::default(), store),
        Err(error) => {
            // Never touch the data (a newer version's database stays as it is): start the window
            // only to explain, with nothing but `app_info` available.
            tracing::error!(
                "cannot open the data in {}: {}",
                data_dir.display(),
                error.message
            );
            tauri::Builder::default()
                .manage(StartupFailure { data_dir, error })
                .invoke_handler(tauri::generate_handler![commands::app_info])
        }
    };
    builder
        .build(tauri::generate_context!())
        .expect("error while building Sportello")
        .run(|_app, _event| {
            // macOS: a click on the Dock icon brings back a window closed to the tray.
            #[cfg(target_os = "macos")]
            if let tauri::RunEvent::Reopen {
                has_visible_windows: false,
                ..
            } = _event
            {
                focus_main(_app);
            }
        });
}

/// Brings the main window to the front (a notification was clicked).
pub(crate) fn focus_main<R: Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}
