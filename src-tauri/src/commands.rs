//! Commands the window may call: one-line adapters over the core. Errors reach the UI as
//! `{code, message}` (sportello_core::Error); the UI branches on `code` only.

use serde::Serialize;
use sportello_core::model::{Account, ConversationDetail, Message, SearchHit};
use sportello_core::outbox::Draft;
use sportello_core::settings::Settings;
use sportello_core::store::{ConversationPage, ConversationQuery};
use sportello_core::{Error, Result};
use sportello_email::EmailAccountInput;
use tauri::{AppHandle, Manager, Runtime, State};
use ts_rs::TS;

use crate::{App, StartupFailure};

#[derive(Serialize, TS)]
#[ts(export)]
pub struct AppInfo {
    pub version: String,
    pub os_locale: String,
    pub data_dir: String,
    /// Set when the data could not be opened (for example `database_too_new`): the window
    /// shows this instead of the inbox, and no other command works.
    pub startup_error: Option<Error>,
}

#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
    let (data_dir, startup_error) =
        match (app.try_state::<App>(), app.try_state::<StartupFailure>()) {
            (Some(state), _) => (state.store.data_dir().display().to_string(), None),
            (None, Some(failure)) => (
                failure.data_dir.display().to_string(),
                Some(failure.error.clone()),
            ),
            (None, None) => (
                String::new(),
                Some(Error::internal("Sportello is still starting")),
            ),
        };
    AppInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        os_locale: sys_locale::get_locale().unwrap_or_else(|| "it-IT".into()),
        data_dir,
        startup_error,
    }
}

#[tauri::command]
pub fn list_accounts(app: State<App>) -> Result<Vec<Account>> {
    app.store.accounts()
}

#[tauri::command]
pub async fn test_email_account(input: EmailAccountInput) -> Result<()> {
    sportello_email::test_settings(&input).await
}

#[tauri::command]
pub fn add_email_account(app: State<App>, input: EmailAccountInput) -> Result<Account> {
    let account = sportello_email::add_account(&app.store, &input)?;
    app.supervisor.start(account.id);
    Ok(account)
}

#[tauri::command]
pub fn remove_account(app: State<App>, account_id: i64) -> Result<()> {
    app.supervisor.stop(account_id);
    sportello_channels::remove_account(&app.store, account_id)
}

#[tauri::command]
pub fn refresh(app: State<App>, account_id: Option<i64>) {
    app.supervisor.wake(account_id)
}

#[tauri::command]
pub fn list_conversations(app: State<App>, offset: u32, limit: u32) -> Result<ConversationPage> {
    app.store.conversations(&ConversationQuery {
        offset,
        limit,
        account_id: None,
    })
}

#[tauri::command]
pub fn get_conversation(app: State<App>, conversation_id: i64) -> Result<ConversationDetail> {
    app.store.conversation_for_display(conversation_id)
}

#[tauri::command]
pub fn mark_read(app: State<App>, conversation_id: i64) -> Result<()> {
    app.store.mark_conversation_read(conversation_id).map(drop)
}

#[tauri::command]
pub fn send_reply(
    app: State<App>,
    conversation_id: i64,
    text: String,
    quote: bool,
) -> Result<Message> {
    let message = app
        .store
        .queue_reply(conversation_id, &Draft { text, quote })?;
    app.supervisor.wake(Some(message.account_id));
    Ok(message)
}

#[tauri::command]
pub fn retry_message(app: State<App>, message_id: i64) -> Result<()> {
    let account_id = app.store.retry_message(message_id)?;
    app.supervisor.wake(Some(account_id));
    Ok(())
}

#[tauri::command]
pub fn search(app: State<App>, query: String) -> Result<Vec<SearchHit>> {
    app.store.search(&query, 100)
}

#[tauri::command]
pub fn open_attachment(app: State<App>, attachment_id: i64) -> Result<()> {
    let path = app
        .store
        .export_attachment(attachment_id, &std::env::temp_dir().join("sportello"))?;
    open::that_detached(&path).map_err(|e| Error::internal(format!("cannot open the file: {e}")))
}

#[tauri::command]
pub fn save_attachment(app: State<App>, attachment_id: i64) -> Result<String> {
    let downloads = dirs::download_dir().unwrap_or_else(std::env::temp_dir);
    Ok(app
        .store
        .export_attachment(attachment_id, &downloads)?
        .display()
        .to_string())
}

#[tauri::command]
pub fn message_source(app: State<App>, message_id: i64) -> Result<String> {
    Ok(String::from_utf8_lossy(&app.store.message_source(message_id)?).into_owned())
}

#[tauri::command]
pub fn get_settings(app: State<App>) -> Result<Settings> {
    app.store.settings()
}

#[tauri::command]
pub fn update_settings(app: State<App>, settings: Settings) -> Result<Settings> {
    app.store.save_settings(&settings)
}
