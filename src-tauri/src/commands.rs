//! Commands the window may call: one-line adapters over the core. Errors reach the UI as
//! `{code, message}` (sportello_core::Error); the UI branches on `code` only.
//!
//! The calls the window waits on before its first paint (app info, settings, accounts, the first
//! page, counts, tags...) and opening a conversation are `async`: Tauri runs those on its async
//! runtime's threads, so they neither queue behind each other on the main thread nor hold up
//! the event loop that drives the window. Synchronous commands run on the main thread.

use serde::{Deserialize, Serialize};
use sportello_core::care::CareSettings;
use sportello_core::model::{
    Account, ConversationDetail, ConversationStatus, ConversationSummary, Message, SearchHit,
};
use sportello_core::outbox::{Draft, ReplyExtras};
use sportello_core::settings::Settings;
use sportello_core::store::{
    CannedReply, CannedReplyInput, CareReport, ConversationFilter, ConversationPage,
    ConversationQuery, SavedView, ViewCounts,
};
use sportello_core::store::{ContactDetail, ContactSuggestion, MergeRecord, Tag};
use sportello_core::templates::RenderedTemplate;
use sportello_core::{Error, Result};
use sportello_email::{
    EmailAccountInput, OAuthAccountInput, OAuthClientInput, OAuthClientSettings, ProviderPreset,
};
use sportello_messaging::display::ChatDetails;
use sportello_messaging::{
    MetaInput, ReplyWindow, TelegramInput, Template, TwilioInput, WhatsAppInput,
};
use tauri::{AppHandle, Manager, Runtime, State};
use ts_rs::TS;

use crate::desktop::{self, DesktopSettings};
use crate::webhook::WebhookInfo;
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
pub async fn app_info<R: Runtime>(app: AppHandle<R>) -> AppInfo {
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
pub async fn list_accounts(app: State<'_, App>) -> Result<Vec<Account>> {
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

/// Ends a browser sign-in that is waiting (the dialog was closed).
static SIGN_IN_CANCEL: std::sync::LazyLock<tokio::sync::Notify> =
    std::sync::LazyLock::new(tokio::sync::Notify::new);

/// Opens the provider's page in the system browser and waits for it to come back.
async fn browser_sign_in(
    flow: sportello_email::BrowserSignIn,
) -> Result<sportello_email::SignedIn> {
    let open = |url: &str| {
        open::that_detached(url)
            .map_err(|e| Error::internal(format!("cannot open the browser: {e}")))
    };
    sportello_email::run_browser_sign_in(flow, open, SIGN_IN_CANCEL.notified()).await
}

/// Adds a Gmail or Microsoft account by signing in in the browser (OAuth2); returns when the
/// browser comes back, the sign-in is cancelled, or it times out.
#[tauri::command]
pub async fn email_oauth_sign_in(app: State<'_, App>, input: OAuthAccountInput) -> Result<Account> {
    let signed =
        browser_sign_in(sportello_email::start_oauth_sign_in(&app.store, &input).await?).await?;
    let account = sportello_email::add_oauth_account(&app.store, &input, None, &signed)?;
    app.supervisor.start(account.id);
    Ok(account)
}

/// Signs an OAuth2 account in again after its sign-in was revoked or expired; the account
/// and its mail stay, and it syncs at once.
#[tauri::command]
pub async fn email_sign_in_again(app: State<'_, App>, account_id: i64) -> Result<()> {
    let account = app.store.account(account_id)?;
    let flow = sportello_email::start_sign_in_again(&app.store, &account).await?;
    let signed = browser_sign_in(flow).await?;
    sportello_email::finish_sign_in_again(&app.store, &account, &signed)?;
    app.supervisor.wake(Some(account_id));
    Ok(())
}

#[tauri::command]
pub fn cancel_email_sign_in() {
    SIGN_IN_CANCEL.notify_waiters();
}

/// The installation's own Google and Microsoft sign-in clients (settings, Advanced).
#[tauri::command]
pub fn get_oauth_clients(app: State<App>) -> Result<Vec<OAuthClientSettings>> {
    sportello_email::oauth_clients(&app.store)
}

/// Saves one provider's sign-in client; its secret goes to the keyring only.
#[tauri::command]
pub fn set_oauth_client(app: State<App>, input: OAuthClientInput) -> Result<OAuthClientSettings> {
    sportello_email::set_oauth_client(&app.store, &input)
}

/// What a connection test found: the number, Page or bot the credentials serve.
#[tauri::command]
pub async fn test_whatsapp_account(input: WhatsAppInput) -> Result<String> {
    sportello_messaging::whatsapp::test_settings(&input).await
}

#[tauri::command]
pub async fn test_twilio_account(input: TwilioInput) -> Result<String> {
    sportello_messaging::twilio::test_settings(&input)
        .await
        .map(|()| input.from.trim().to_string())
}

#[tauri::command]
pub async fn test_meta_accounts(input: MetaInput) -> Result<String> {
    sportello_messaging::meta::test_settings(&input).await
}

#[tauri::command]
pub async fn test_telegram_account(input: TelegramInput) -> Result<String> {
    sportello_messaging::telegram::test_settings(&input).await
}

/// Adds the account (after a connection test unless `test` is false) and starts its worker.
#[tauri::command]
pub async fn add_whatsapp_account(
    app: State<'_, App>,
    input: WhatsAppInput,
    test: Option<bool>,
) -> Result<Account> {
    let account =
        sportello_messaging::whatsapp::add_account(&app.store, &input, test.unwrap_or(true))
            .await?;
    app.supervisor.start(account.id);
    Ok(account)
}

#[tauri::command]
pub async fn add_twilio_account(
    app: State<'_, App>,
    input: TwilioInput,
    test: Option<bool>,
) -> Result<Account> {
    let account =
        sportello_messaging::twilio::add_account(&app.store, &input, test.unwrap_or(true)).await?;
    app.supervisor.start(account.id);
    Ok(account)
}

/// Adds the Page's Messenger account and, with an Instagram id, its Instagram account.
#[tauri::command]
pub async fn add_meta_accounts(
    app: State<'_, App>,
    input: MetaInput,
    test: Option<bool>,
) -> Result<Vec<Account>> {
    let accounts =
        sportello_messaging::meta::add_accounts(&app.store, &input, test.unwrap_or(true)).await?;
    for account in &accounts {
        app.supervisor.start(account.id);
    }
    Ok(accounts)
}

#[tauri::command]
pub async fn add_telegram_account(
    app: State<'_, App>,
    input: TelegramInput,
    test: Option<bool>,
) -> Result<Account> {
    let account =
        sportello_messaging::telegram::add_account(&app.store, &input, test.unwrap_or(true))
            .await?;
    app.supervisor.start(account.id);
    Ok(account)
}

/// Where Meta must deliver (the local receiver; the shop's tunnel points at it).
#[tauri::command]
pub fn webhook_info(app: State<App>) -> WebhookInfo {
    app.webhook.info()
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
pub async fn get_conversation(
    app: State<'_, App>,
    conversation_id: i64,
) -> Result<ConversationDetail> {
    app.store.conversation_for_display(conversation_id)
}

/// Which reply the conversation allows now (24-hour window, human agent, templates only).
#[tauri::command]
pub async fn reply_window(app: State<'_, App>, conversation_id: i64) -> Result<ReplyWindow> {
    sportello_messaging::conversation_window(&app.store, conversation_id)
}

/// The approved (and pending) message templates of a WhatsApp Cloud API account.
#[tauri::command]
pub async fn whatsapp_templates(app: State<'_, App>, account_id: i64) -> Result<Vec<Template>> {
    let account = app.store.account(account_id)?;
    sportello_messaging::WhatsAppChannel::open(&app.store, &account)?
        .templates()
        .await
}

/// Reactions, locations, shared contacts, story replies and templates of a chat thread.
#[tauri::command]
pub async fn message_details(
    app: State<'_, App>,
    conversation_id: i64,
) -> Result<Vec<ChatDetails>> {
    sportello_messaging::display::conversation_details(&app.store, conversation_id)
}

#[tauri::command]
pub fn mark_read(app: State<App>, conversation_id: i64) -> Result<()> {
    let account_id = app.store.conversation_summary(conversation_id)?.account_id;
    app.store.mark_conversation_read(conversation_id)?;
    // The worker carries the read flag to the server.
    app.supervisor.wake(Some(account_id));
    Ok(())
}

/// Open, pending, snoozed (until `snoozed_until`, ms) or closed.
#[tauri::command]
pub fn set_status(
    app: State<App>,
    conversation_id: i64,
    status: ConversationStatus,
    snoozed_until: Option<i64>,
) -> Result<ConversationSummary> {
    app.store.set_status(conversation_id, status, snoozed_until)
}

#[tauri::command]
pub fn set_pinned(app: State<App>, conversation_id: i64, pinned: bool) -> Result<()> {
    app.store.set_pinned(conversation_id, pinned)
}

/// An internal note: stays in Sportello, never sent.
#[tauri::command]
pub fn add_note(app: State<App>, conversation_id: i64, text: String) -> Result<Message> {
    app.store.add_note(conversation_id, &text)
}

#[tauri::command]
pub async fn view_counts(app: State<'_, App>) -> Result<ViewCounts> {
    app.store.view_counts()
}

#[tauri::command]
pub async fn list_conversations_filtered(
    app: State<'_, App>,
    offset: u32,
    limit: u32,
    filter: ConversationFilter,
) -> Result<ConversationPage> {
    let query = ConversationQuery {
        offset,
        limit,
        account_id: None,
    };
    app.store.find_conversations(&query, &filter)
}

#[tauri::command]
pub async fn list_saved_views(app: State<'_, App>) -> Result<Vec<SavedView>> {
    app.store.saved_views()
}

/// Creates (`id` null) or renames/changes a saved view.
#[tauri::command]
pub fn save_view(
    app: State<App>,
    id: Option<i64>,
    name: String,
    filter: ConversationFilter,
) -> Result<SavedView> {
    app.store.save_view(id, &name, &filter)
}

#[tauri::command]
pub fn delete_view(app: State<App>, id: i64) -> Result<()> {
    app.store.delete_view(id)
}

/// Shop name, time zone, business hours, holidays, response-time target, auto-replies.
#[tauri::command]
pub async fn get_care_settings(app: State<'_, App>) -> Result<CareSettings> {
    app.store.care_settings()
}

#[tauri::command]
pub fn update_care_settings(app: State<App>, settings: CareSettings) -> Result<CareSettings> {
    app.store.save_care_settings(&settings)
}

/// Response times of the conversations begun in `[from, to)` (ms).
#[tauri::command]
pub fn care_report(app: State<App>, from: i64, to: i64) -> Result<CareReport> {
    app.store.care_report(from, to)
}

/// Writes the report as CSV to `path` (chosen in the save dialog); resolves with the path.
#[tauri::command]
pub fn export_report_csv(app: State<App>, from: i64, to: i64, path: String) -> Result<String> {
    sportello_core::store::write_report_csv(&app.store.care_report(from, to)?, path.as_ref())
}

/// The contact panel of a conversation (`null`: the conversation has no contact).
#[tauri::command]
pub fn conversation_contact(
    app: State<App>,
    conversation_id: i64,
) -> Result<Option<ContactDetail>> {
    app.store.conversation_contact(conversation_id)
}

/// Contacts that are likely the same person: for one contact, or everyone (`null`).
#[tauri::command]
pub fn contact_suggestions(
    app: State<App>,
    contact_id: Option<i64>,
) -> Result<Vec<ContactSuggestion>> {
    app.store.contact_suggestions(contact_id)
}

/// "Not the same person": the pair is no longer suggested.
#[tauri::command]
pub fn dismiss_suggestion(app: State<App>, contact_id: i64, other_id: i64) -> Result<()> {
    app.store.dismiss_suggestion(contact_id, other_id)
}

/// Moves `merged_id`'s identities, conversations and tags to `survivor_id`; undoable.
#[tauri::command]
pub fn merge_contacts(app: State<App>, survivor_id: i64, merged_id: i64) -> Result<MergeRecord> {
    app.store.merge_contacts(survivor_id, merged_id)
}

/// Puts back exactly what a merge changed.
#[tauri::command]
pub fn undo_merge(app: State<App>, merge_id: i64) -> Result<MergeRecord> {
    app.store.undo_merge(merge_id)
}

#[tauri::command]
pub fn rename_contact(app: State<App>, contact_id: i64, name: String) -> Result<()> {
    app.store.rename_contact(contact_id, &name)
}

#[tauri::command]
pub fn set_contact_notes(app: State<App>, contact_id: i64, notes: String) -> Result<()> {
    app.store.set_contact_notes(contact_id, &notes)
}

#[tauri::command]
pub async fn list_tags(app: State<'_, App>) -> Result<Vec<Tag>> {
    app.store.tags()
}

/// Creates a tag (`#rrggbb` colour), or returns the existing one with that name.
#[tauri::command]
pub fn create_tag(app: State<App>, name: String, color: String) -> Result<Tag> {
    app.store.create_tag(&name, &color)
}

/// Renames and/or recolours a tag.
#[tauri::command]
pub fn update_tag(app: State<App>, id: i64, name: String, color: String) -> Result<Tag> {
    app.store.update_tag(id, &name, &color)
}

#[tauri::command]
pub fn delete_tag(app: State<App>, id: i64) -> Result<()> {
    app.store.delete_tag(id)
}

/// Puts a tag on a conversation (`on`) or takes it off.
#[tauri::command]
pub fn tag_conversation(
    app: State<App>,
    conversation_id: i64,
    tag_id: i64,
    on: bool,
) -> Result<()> {
    app.store.tag_conversation(conversation_id, tag_id, on)
}

/// Contacts whose name or identity contains `text` (to merge one the suggestions missed).
#[tauri::command]
pub fn find_contacts(app: State<App>, text: String) -> Result<Vec<sportello_core::model::Contact>> {
    app.store.find_contacts(&text, 20)
}

/// Puts a tag on a contact (`on`) or takes it off.
#[tauri::command]
pub fn tag_contact(app: State<App>, contact_id: i64, tag_id: i64, on: bool) -> Result<()> {
    app.store.tag_contact(contact_id, tag_id, on)
}

/// Closes the conversation and moves its mail to the account's archive folder (next sync).
#[tauri::command]
pub fn archive_conversation(app: State<App>, conversation_id: i64) -> Result<u32> {
    let account_id = app.store.conversation_summary(conversation_id)?.account_id;
    let queued = app.store.archive_conversation(conversation_id)?;
    app.supervisor.wake(Some(account_id));
    Ok(queued)
}

#[tauri::command]
pub fn list_canned_replies(app: State<App>) -> Result<Vec<CannedReply>> {
    app.store.canned_replies()
}

/// Creates (`id` null) or replaces a canned reply.
#[tauri::command]
pub fn save_canned_reply(
    app: State<App>,
    id: Option<i64>,
    input: CannedReplyInput,
) -> Result<CannedReply> {
    app.store.save_canned_reply(id, &input)
}

#[tauri::command]
pub fn delete_canned_reply(app: State<App>, id: i64) -> Result<()> {
    app.store.delete_canned_reply(id)
}

/// The canned reply's text for a conversation; `missing` lists variables with no value.
#[tauri::command]
pub fn render_canned_reply(
    app: State<App>,
    id: i64,
    conversation_id: Option<i64>,
    language: Option<String>,
) -> Result<RenderedTemplate> {
    app.store
        .render_canned_reply(id, conversation_id, language.as_deref())
}

/// Known mail providers (Gmail, Outlook...), for the account form.
#[tauri::command]
pub fn email_presets() -> Vec<ProviderPreset> {
    sportello_email::presets()
}

#[tauri::command]
pub fn email_preset_for_address(address: String) -> Option<ProviderPreset> {
    sportello_email::preset_for_address(&address)
}

/// A template to send instead of free text (outside WhatsApp's 24 hours).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum ReplyTemplate {
    /// An approved template of the WhatsApp Business Account, its `{{n}}` values in order.
    Whatsapp {
        name: String,
        language: String,
        params: Vec<String>,
    },
    /// A Twilio Content template by its SID (HX...), its variables in order.
    Twilio {
        content_sid: String,
        params: Vec<String>,
    },
}

impl ReplyTemplate {
    /// The shape the channels read from the message's meta (see `ReplyExtras::template`).
    fn into_meta(self) -> serde_json::Value {
        match self {
            ReplyTemplate::Whatsapp {
                name,
                language,
                params,
            } => serde_json::json!({"name": name, "language": language, "params": params}),
            ReplyTemplate::Twilio {
                content_sid,
                params,
            } => {
                let variables: serde_json::Map<String, serde_json::Value> = params
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| ((i + 1).to_string(), p.into()))
                    .collect();
                serde_json::json!({"content_sid": content_sid, "variables": variables})
            }
        }
    }
}

/// Queues a reply; chat channels may add a template and files (paths from the file picker).
#[tauri::command]
pub fn send_reply(
    app: State<App>,
    conversation_id: i64,
    text: String,
    quote: bool,
    template: Option<ReplyTemplate>,
    files: Option<Vec<String>>,
) -> Result<Message> {
    let extras = ReplyExtras {
        template: template.map(ReplyTemplate::into_meta),
        files: files
            .unwrap_or_default()
            .iter()
            .map(|p| sportello_messaging::outgoing_file(std::path::Path::new(p)))
            .collect::<Result<_>>()?,
    };
    // The chat channel's limits (file_too_large, attachment_not_supported): nothing queued.
    sportello_messaging::check_reply_files(&app.store, conversation_id, &extras.files)?;
    let message = app
        .store
        .queue_reply_with(conversation_id, &Draft { text, quote }, &extras)?;
    app.supervisor.wake(Some(message.account_id));
    Ok(message)
}

/// Forwards an email (with its files) to an address; shown in its conversation as ours.
#[tauri::command]
pub fn forward_message(
    app: State<App>,
    message_id: i64,
    to: String,
    text: String,
) -> Result<Message> {
    let message = app.store.queue_forward(message_id, &to, &text)?;
    app.supervisor.wake(Some(message.account_id));
    Ok(message)
}

/// A file the user picked or dropped on the composer: its name and size, for the chip.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct LocalFile {
    pub path: String,
    pub name: String,
    #[ts(type = "number")]
    pub size: u64,
}

/// Names and sizes of files about to be attached (no content is read).
#[tauri::command]
pub fn describe_files(paths: Vec<String>) -> Result<Vec<LocalFile>> {
    paths
        .into_iter()
        .map(|path| {
            let p = std::path::Path::new(&path);
            let meta = std::fs::metadata(p)
                .map_err(|e| Error::invalid(format!("cannot read {path}: {e}")))?;
            if !meta.is_file() {
                return Err(Error::invalid(format!("{path} is not a file")));
            }
            Ok(LocalFile {
                name: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.clone()),
                size: meta.len(),
                path,
            })
        })
        .collect()
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

/// Opens a web link from a message (a map, an Instagram story) in the browser.
#[tauri::command]
pub fn open_link(url: String) -> Result<()> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::invalid("only web links can be opened"));
    }
    open::that_detached(&url).map_err(|e| Error::internal(format!("cannot open the link: {e}")))
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
pub async fn get_settings(app: State<'_, App>) -> Result<Settings> {
    app.store.settings()
}

#[tauri::command]
pub fn update_settings(app: State<App>, settings: Settings) -> Result<Settings> {
    app.store.save_settings(&settings)
}

#[tauri::command]
pub async fn get_desktop_settings(app: State<'_, App>) -> Result<DesktopSettings> {
    Ok(desktop::load(&app.store))
}

#[tauri::command]
pub fn update_desktop_settings<R: Runtime>(
    handle: AppHandle<R>,
    app: State<App>,
    settings: DesktopSettings,
) -> Result<DesktopSettings> {
    let saved = desktop::save(&app.store, &settings)?;
    desktop::apply_start_at_login(&handle, saved.start_at_login);
    Ok(saved)
}

/// The conversation the window shows (`null` for none): its new messages do not notify.
#[tauri::command]
pub fn set_viewing(app: State<App>, conversation_id: Option<i64>) {
    *app.viewing.lock().unwrap_or_else(|p| p.into_inner()) = conversation_id;
}

/// The window's start-up marks (name, ms after the page's `time_origin`, ms since 1970): logged
/// once, as ms after launch, so a slow start can be read from the log.
#[tauri::command]
pub fn report_startup(time_origin: f64, marks: Vec<(String, f64)>) {
    crate::logs::startup(time_origin, &marks);
}

/// Installs the newer version announced by `sportello://update-available`, then restarts.
#[tauri::command]
pub async fn install_update<R: Runtime>(handle: AppHandle<R>) -> Result<()> {
    desktop::install_update(handle).await
}

/// The end of the app's log (today's and earlier files), for the settings screen.
#[tauri::command]
pub fn read_logs(app: State<App>) -> Result<String> {
    crate::logs::tail(app.store.data_dir(), 256 * 1024)
}
