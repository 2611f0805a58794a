//! IMAP: connecting (TLS, STARTTLS, plain to loopback), logging in, and the incremental sync
//! of INBOX and the Sent folder by UID cursor.
//!
//! One `UID FETCH last+1:*` streams the new messages; [`crate::sync_store`] parses them on
//! every core and stores them in batches while the next ones arrive. Each batch is stored
//! together with the cursor at its highest UID, so a sync stopped anywhere resumes with
//! nothing lost and nothing repeated.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_imap::types::NameAttribute;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sportello_core::channel::{FolderReport, SyncContext, SyncReport};
use sportello_core::model::{SyncCursor, SyncProgress, SyncState};
use sportello_core::{Error, ErrorCode, Result, Store};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ts_rs::TS;

use crate::oauth::Login;
use crate::settings::{EmailSettings, Security, is_loopback};
use crate::sync_store::{Batch, Fetched, Storing, store_batches};
use crate::tls;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence tolerated from the server in the middle of a command.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Common names of the archive folder, for servers without SPECIAL-USE.
const ARCHIVE_NAMES: &[&str] = &[
    "Archive",
    "Archives",
    "Archivio",
    "INBOX.Archive",
    "INBOX/Archive",
];

/// Common names of the trash folder, for servers without SPECIAL-USE.
const TRASH_NAMES: &[&str] = &[
    "Trash",
    "Deleted Items",
    "Deleted Messages",
    "Cestino",
    "Posta eliminata",
    "Elementi eliminati",
    "INBOX.Trash",
    "[Gmail]/Trash",
    "[Gmail]/Cestino",
];

/// Common names of the Sent folder, for servers without SPECIAL-USE.
const SENT_NAMES: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Posta inviata",
    "Inviati",
    "Elementi inviati",
    "INBOX.Sent",
    "INBOX/Sent",
    "INBOX.Posta inviata",
    "INBOX.Sent Items",
    "[Gmail]/Sent Mail",
    "[Gmail]/Posta inviata",
];

pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Stream for T {}

pub type Session = async_imap::Session<Box<dyn Stream>>;

/// How much one stored batch may hold.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub messages: usize,
    pub bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            messages: 200,
            bytes: 16 * 1024 * 1024,
        }
    }
}

fn network(host: &str, port: u16, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::Network,
        format!("cannot reach the IMAP server {host}:{port}: {e}"),
    )
}

/// Maps an IMAP error seen after login.
pub(crate) fn imap_error(host: &str, what: &str, e: async_imap::error::Error) -> Error {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) if tls::is_tls_io_error(&io) => tls::tls_error(host, &io),
        E::Io(io) => Error::new(
            ErrorCode::Network,
            format!("{what} failed: connection to {host} lost ({io})"),
        ),
        E::ConnectionLost => Error::new(
            ErrorCode::Network,
            format!("{what} failed: {host} closed the connection"),
        ),
        E::No(text) => Error::new(
            ErrorCode::Protocol,
            format!("{what} failed: {host} said no ({})", text.trim()),
        ),
        E::Bad(text) => Error::new(
            ErrorCode::Protocol,
            format!("{what} failed: {host} did not understand ({})", text.trim()),
        ),
        other => Error::new(ErrorCode::Protocol, format!("{what} failed: {other}")),
    }
}

pub(crate) async fn timed<T>(host: &str, what: &str, f: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(READ_TIMEOUT, f).await.map_err(|_| {
        Error::new(
            ErrorCode::Network,
            format!("{what}: {host} did not answer in time"),
        )
    })
}

async fn tls_wrap(settings: &EmailSettings, stream: Box<dyn Stream>) -> Result<Box<dyn Stream>> {
    let host = &settings.imap_host;
    let config = tls::client_config(settings.ca_file.as_deref())?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|_| Error::invalid(format!("\"{host}\" is not a valid server name")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| network(host, settings.imap_port, "the secure connection timed out"))?
        .map_err(|e| {
            if tls::is_tls_io_error(&e) {
                tls::tls_error(host, &e)
            } else {
                network(host, settings.imap_port, e)
            }
        })?;
    Ok(Box::new(tls))
}

/// Connects and logs in. Errors: Network, Tls, AuthFailed, Protocol; never the password.
pub async fn connect(settings: &EmailSettings, login: &Login) -> Result<Session> {
    Ok(connect_with_caps(settings, login).await?.0)
}

/// Connects, logs in and learns what the server offers: from the `[CAPABILITY ...]` code of
/// the LOGIN answer when the server sends one (Dovecot, Gmail and most others do), else by
/// asking (one more round trip).
pub async fn open(settings: &EmailSettings, login: &Login) -> Result<(Session, Caps)> {
    let (mut session, caps) = connect_with_caps(settings, login).await?;
    let caps = match caps {
        Some(caps) => caps,
        None => capabilities(settings, &mut session).await?,
    };
    Ok((session, caps))
}

async fn connect_with_caps(
    settings: &EmailSettings,
    login: &Login,
) -> Result<(Session, Option<Caps>)> {
    let host = settings.imap_host.as_str();
    let port = settings.imap_port;
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| network(host, port, "the connection timed out"))?
        .map_err(|e| network(host, port, e))?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Stream> = Box::new(tcp);
    match settings.imap_security {
        Security::Tls => stream = tls_wrap(settings, stream).await?,
        Security::Plain if !is_loopback(host) => {
            return Err(Error::invalid(format!(
                "an unencrypted IMAP connection to {host} is not allowed"
            )));
        }
        _ => {}
    }
    let mut client = async_imap::Client::new(stream);
    let greeting = timed(host, "connecting", client.read_response()).await?;
    match greeting {
        Ok(Some(_)) => {}
        Ok(None) => return Err(network(host, port, "the server closed the connection")),
        Err(e) if tls::is_tls_io_error(&e) => return Err(tls::tls_error(host, &e)),
        Err(e) => return Err(network(host, port, e)),
    }
    if settings.imap_security == Security::Starttls {
        timed(
            host,
            "STARTTLS",
            client.run_command_and_check_ok("STARTTLS", None),
        )
        .await?
        .map_err(|e| match e {
            async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => Error::new(
                ErrorCode::Tls,
                format!("{host} does not offer STARTTLS; choose TLS or ask your provider"),
            ),
            other => imap_error(host, "STARTTLS", other),
        })?;
        let stream = tls_wrap(settings, client.into_inner()).await?;
        client = async_imap::Client::new(stream);
    }
    let password = match login {
        Login::Password(p) => p.as_str(),
        Login::Bearer(token) => {
            let auth = crate::oauth::XOAuth2 {
                user: settings.username.clone(),
                token: token.clone(),
            };
            let result = timed(host, "signing in", client.authenticate("XOAUTH2", auth)).await?;
            return result.map(|s| (s, None)).map_err(|(e, _)| match e {
                async_imap::error::Error::No(text) | async_imap::error::Error::Bad(text) => {
                    Error::new(
                        ErrorCode::AuthFailed,
                        format!(
                            "the IMAP server {host} refused the sign-in of {} ({})",
                            settings.username,
                            text.trim()
                        ),
                    )
                }
                other => imap_error(host, "signing in", other),
            });
        }
    };
    let login = timed(
        host,
        "logging in",
        client.login_with_capabilities(&settings.username, password),
    )
    .await?;
    match login {
        Ok((session, caps)) => Ok((session, caps.map(|c| Caps::from(&c)))),
        Err((e, _)) => Err(match e {
            async_imap::error::Error::No(_) => Error::new(
                ErrorCode::AuthFailed,
                format!(
                    "the IMAP server {host} refused the user name or password for {}",
                    settings.username
                ),
            ),
            async_imap::error::Error::Validate(_) => Error::new(
                ErrorCode::AuthFailed,
                "the user name or password contains a line break, which IMAP cannot send",
            ),
            other => imap_error(host, "logging in", other),
        }),
    }
}

/// Logs in and out: the account's IMAP settings work.
pub async fn check(settings: &EmailSettings, login: &Login) -> Result<()> {
    let mut session = connect(settings, login).await?;
    let _ = timed(&settings.imap_host, "logging out", session.logout()).await;
    Ok(())
}

/// What a folder is for (RFC 6154 SPECIAL-USE, else its well-known name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FolderRole {
    Inbox,
    Sent,
    Archive,
    Trash,
    Drafts,
    Junk,
    All,
}

/// One folder of an email account, as listed for the account settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MailFolder {
    pub name: String,
    pub role: Option<FolderRole>,
    /// Its mail shows in Sportello's inbox (INBOX and Sent unless the user chose others).
    pub feeds_inbox: bool,
}

/// The selectable folders with their roles, in the server's order.
pub async fn list_folders(
    settings: &EmailSettings,
    session: &mut Session,
) -> Result<Vec<MailFolder>> {
    Ok(with_roles(settings, list_raw(settings, session).await?))
}

/// How long a sync trusts the folder list it saved before sending LIST again.
const RELIST_EVERY: Duration = Duration::from_secs(15 * 60);

/// The folder list as the server gave it, saved between syncs (and processes).
#[derive(Debug, Serialize, Deserialize)]
struct ListedFolders {
    host: String,
    user: String,
    at_ms: i64,
    folders: Vec<(String, Option<FolderRole>)>,
}

fn folders_key(account_id: i64) -> String {
    format!("email.folders.{account_id}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The account's folders: the list saved by a sync less than [`RELIST_EVERY`] ago, else
/// LIST (and the answer saved).
async fn known_folders(
    store: &Store,
    account_id: i64,
    settings: &EmailSettings,
    session: &mut Session,
) -> Result<Vec<MailFolder>> {
    let key = folders_key(account_id);
    let now = now_ms();
    let saved = store
        .get_setting(&key)?
        .and_then(|v| serde_json::from_str::<ListedFolders>(&v).ok())
        .filter(|l| {
            l.host == settings.imap_host
                && l.user == settings.username
                && l.at_ms <= now
                && now - l.at_ms < RELIST_EVERY.as_millis() as i64
        });
    if let Some(saved) = saved {
        return Ok(with_roles(settings, saved.folders));
    }
    let found = list_raw(settings, session).await?;
    let listed = ListedFolders {
        host: settings.imap_host.clone(),
        user: settings.username.clone(),
        at_ms: now,
        folders: found.clone(),
    };
    if let Ok(json) = serde_json::to_string(&listed)
        && let Err(e) = store.set_setting(&key, &json)
    {
        tracing::info!(account_id, "cannot save the folder list: {e}");
    }
    Ok(with_roles(settings, found))
}

/// The next sync lists the folders again (a folder was not found, or a pass failed).
fn forget_folders(store: &Store, account_id: i64) {
    let _ = store.set_setting(&folders_key(account_id), "");
}

async fn list_raw(
    settings: &EmailSettings,
    session: &mut Session,
) -> Result<Vec<(String, Option<FolderRole>)>> {
    let host = settings.imap_host.as_str();
    let mut found: Vec<(String, Option<FolderRole>)> = Vec::new();
    {
        let mut list = timed(host, "listing folders", session.list(Some(""), Some("*")))
            .await?
            .map_err(|e| imap_error(host, "listing folders", e))?;
        while let Some(item) = timed(host, "listing folders", list.next()).await? {
            let name = item.map_err(|e| imap_error(host, "listing folders", e))?;
            let attributes = name.attributes();
            if attributes
                .iter()
                .any(|a| matches!(a, NameAttribute::NoSelect))
            {
                continue;
            }
            let role = attributes.iter().find_map(|a| match a {
                NameAttribute::Sent => Some(FolderRole::Sent),
                NameAttribute::Archive => Some(FolderRole::Archive),
                NameAttribute::Trash => Some(FolderRole::Trash),
                NameAttribute::Drafts => Some(FolderRole::Drafts),
                NameAttribute::Junk => Some(FolderRole::Junk),
                NameAttribute::All => Some(FolderRole::All),
                _ => None,
            });
            found.push((name.name().to_string(), role));
        }
    }
    Ok(found)
}

/// Fills in roles the server did not mark (by well-known names) and which folders feed the
/// inbox.
fn with_roles(
    settings: &EmailSettings,
    mut found: Vec<(String, Option<FolderRole>)>,
) -> Vec<MailFolder> {
    for (name, role) in found.iter_mut() {
        if name.eq_ignore_ascii_case("INBOX") {
            *role = Some(FolderRole::Inbox);
        }
    }
    for (wanted, names) in [
        (FolderRole::Sent, SENT_NAMES),
        (FolderRole::Archive, ARCHIVE_NAMES),
        (FolderRole::Trash, TRASH_NAMES),
    ] {
        if found.iter().any(|(_, r)| *r == Some(wanted)) {
            continue;
        }
        let pick = names.iter().find_map(|want| {
            found
                .iter()
                .position(|(n, r)| r.is_none() && n.eq_ignore_ascii_case(want))
        });
        if let Some(i) = pick {
            found[i].1 = Some(wanted);
        }
    }
    let default_feed =
        |role: Option<FolderRole>| matches!(role, Some(FolderRole::Inbox) | Some(FolderRole::Sent));
    let mut sent_seen = false;
    found
        .into_iter()
        .map(|(name, role)| {
            let feeds_inbox = if settings.folders.is_empty() {
                // One Sent folder only, should a server mark two.
                let feeds = default_feed(role) && !(role == Some(FolderRole::Sent) && sent_seen);
                sent_seen |= role == Some(FolderRole::Sent);
                feeds
            } else {
                settings.folders.iter().any(|f| f == &name)
            };
            MailFolder {
                name,
                role,
                feeds_inbox,
            }
        })
        .collect()
}

/// The folder with a role, if any.
pub fn folder_with(folders: &[MailFolder], role: FolderRole) -> Option<&str> {
    folders
        .iter()
        .find(|f| f.role == Some(role))
        .map(|f| f.name.as_str())
}

/// Set in a folder's cursor once a first sync found it empty.
const SEEN_EMPTY: &str = "seen_empty";

/// The folders whose mail feeds the inbox, INBOX first.
pub fn feed_folders(settings: &EmailSettings, folders: &[MailFolder]) -> Vec<String> {
    if !settings.folders.is_empty() {
        return settings.folders.clone();
    }
    let mut feeds: Vec<String> = folders
        .iter()
        .filter(|f| f.feeds_inbox)
        .map(|f| f.name.clone())
        .collect();
    feeds.sort_by_key(|f| !f.eq_ignore_ascii_case("INBOX"));
    if !feeds.iter().any(|f| f.eq_ignore_ascii_case("INBOX")) {
        feeds.insert(0, "INBOX".to_string());
    }
    feeds
}

/// Sets a flag when dropped: a sync future that is cancelled stops its storing worker.
struct CancelOnDrop(Arc<AtomicBool>);
impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Syncs one folder from its cursor.
#[allow(clippy::too_many_arguments)]
async fn sync_folder(
    ctx: &SyncContext,
    settings: &EmailSettings,
    session: &mut Session,
    folder: &str,
    caps: Caps,
    tuning: &SyncTuning,
    memory: &SyncMemory,
    progress: &Arc<dyn Fn(u32) + Send + Sync>,
    selected: &mut Option<String>,
) -> Result<(FolderReport, u32)> {
    let limits = tuning.limits;
    // Returns the folder's report and how many fetched messages were already stored.
    let host = settings.imap_host.as_str();
    let store = &ctx.store;
    let account_id = ctx.account.id;
    let what = format!("opening folder {folder}");
    let select = async {
        if caps.condstore {
            session.select_condstore(folder).await
        } else {
            session.select(folder).await
        }
    };
    *selected = None;
    let mailbox = timed(host, &what, select)
        .await?
        .map_err(|e| imap_error(host, &what, e))?;
    *selected = Some(folder.to_string());
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    let mut report = FolderReport {
        folder: folder.to_string(),
        ..Default::default()
    };

    let cursor = store.cursor(account_id, folder)?;
    let previous_modseq = cursor
        .as_ref()
        .filter(|c| c.uidvalidity == uidvalidity)
        .map(|c| c.highest_modseq)
        .unwrap_or(0);
    // A first sync that was interrupted is still a first sync: one summary, not a flood. A
    // folder found empty has had its first sync: what arrives next is new mail, announced.
    let first_sync = cursor
        .as_ref()
        .is_none_or(|c| c.last_uid == 0 && c.extra.get(SEEN_EMPTY).is_none());
    let last_uid = match &cursor {
        Some(c) if c.uidvalidity == uidvalidity => c.last_uid,
        Some(c) => {
            tracing::info!(
                folder,
                old = c.uidvalidity,
                new = uidvalidity,
                "UIDVALIDITY changed: re-reading the folder"
            );
            store.reset_folder(account_id, folder, uidvalidity)?;
            report.resynced = true;
            0
        }
        None => {
            store.set_cursor(
                account_id,
                &SyncCursor {
                    folder: folder.to_string(),
                    uidvalidity,
                    ..Default::default()
                },
            )?;
            0
        }
    };
    let nothing_new =
        mailbox.exists == 0 || mailbox.uid_next.is_some_and(|next| next <= last_uid + 1);
    if nothing_new {
        sync_state(
            ctx,
            settings,
            session,
            folder,
            &mailbox,
            previous_modseq,
            caps,
            tuning,
            memory,
        )
        .await?;
        if first_sync
            && mailbox.exists == 0
            && let Some(mut seen) = store.cursor(account_id, folder)?
        {
            seen.extra = serde_json::json!({ SEEN_EMPTY: true });
            store.set_cursor(account_id, &seen)?;
        }
        remember_uid_next(store, account_id, folder, uidvalidity, mailbox.uid_next)?;
        return Ok((report, 0));
    }

    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_guard = CancelOnDrop(cancelled.clone());
    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let worker = {
        let storing = Storing {
            store: store.clone(),
            account_id,
            own_address: ctx.account.address.clone(),
            folder: folder.to_string(),
            summarize: first_sync || report.resynced,
            cancelled: cancelled.clone(),
            parse_threads: tuning.parse_threads,
        };
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || store_batches(storing, rx, |n| progress(n)))
    };

    let fetch_result: Result<()> = async {
        let what = format!("fetching new mail in {folder}");
        let mut fetches = timed(
            host,
            &what,
            session.uid_fetch(
                format!("{}:*", last_uid + 1),
                "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
            ),
        )
        .await?
        .map_err(|e| imap_error(host, &what, e))?;
        let mut batch: Vec<Fetched> = Vec::new();
        let mut bytes = 0usize;
        let mut max_uid = last_uid;
        let mut seen_uids = HashSet::new();
        while let Some(item) = timed(host, &what, fetches.next()).await? {
            let fetch = item.map_err(|e| imap_error(host, &what, e))?;
            // `N:*` names the last message even when N is above every UID: skip what we have.
            let Some(uid) = fetch.uid else { continue };
            if uid <= last_uid || !seen_uids.insert(uid) {
                continue;
            }
            let Some(body) = fetch.body() else {
                // A flags-only update the server sent on its own.
                continue;
            };
            bytes += body.len();
            batch.push(Fetched {
                uid,
                seen: fetch
                    .flags()
                    .any(|f| matches!(f, async_imap::types::Flag::Seen)),
                internal_date: fetch.internal_date().map(|d| d.timestamp_millis()),
                raw: body.to_vec(),
            });
            max_uid = max_uid.max(uid);
            if batch.len() >= limits.messages || bytes >= limits.bytes {
                let cursor = SyncCursor {
                    folder: folder.to_string(),
                    uidvalidity,
                    last_uid: max_uid,
                    ..Default::default()
                };
                if tx
                    .send(Batch {
                        messages: std::mem::take(&mut batch),
                        cursor,
                    })
                    .await
                    .is_err()
                {
                    // The worker stopped (a store error): its result says why.
                    return Ok(());
                }
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            let cursor = SyncCursor {
                folder: folder.to_string(),
                uidvalidity,
                last_uid: max_uid,
                ..Default::default()
            };
            let _ = tx
                .send(Batch {
                    messages: batch,
                    cursor,
                })
                .await;
        }
        Ok(())
    }
    .await;
    drop(tx);
    let stored = worker
        .await
        .map_err(|e| Error::internal(format!("the mail storing worker failed: {e}")))?;
    let (fetched, stored, duplicates) = stored?;
    fetch_result?;
    report.fetched = fetched;
    report.stored = stored;
    sync_state(
        ctx,
        settings,
        session,
        folder,
        &mailbox,
        previous_modseq,
        caps,
        tuning,
        memory,
    )
    .await?;
    remember_uid_next(store, account_id, folder, uidvalidity, mailbox.uid_next)?;
    Ok((report, duplicates))
}

/// Set in a folder's cursor: the UIDNEXT the server gave when everything below it was
/// fetched, so a STATUS with the same UIDNEXT means nothing new even when the newest
/// messages were deleted before we saw them.
const UID_NEXT: &str = "uid_next";

fn remember_uid_next(
    store: &Store,
    account_id: i64,
    folder: &str,
    uidvalidity: u32,
    uid_next: Option<u32>,
) -> Result<()> {
    let Some(next) = uid_next else {
        return Ok(());
    };
    if let Some(mut cursor) = store.cursor(account_id, folder)?
        && cursor.uidvalidity == uidvalidity
        && cursor.extra.get(UID_NEXT).and_then(|v| v.as_u64()) != Some(u64::from(next))
    {
        if !cursor.extra.is_object() {
            cursor.extra = serde_json::json!({});
        }
        cursor.extra[UID_NEXT] = serde_json::json!(next);
        store.set_cursor(account_id, &cursor)?;
    }
    Ok(())
}

/// What a pipelined `STATUS` said about a folder.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct FolderStatus {
    messages: Option<u32>,
    uid_next: Option<u32>,
    uid_validity: Option<u32>,
    highest_modseq: Option<u64>,
}

/// `STATUS` of every folder in one round trip (the commands are pipelined). A folder the
/// server refused is left out (the caller opens it and gets the error there).
async fn statuses(
    host: &str,
    session: &mut Session,
    folders: &[&str],
    condstore: bool,
) -> Result<HashMap<String, FolderStatus>> {
    use async_imap::imap_proto::types::{MailboxDatum, Response, StatusAttribute};
    let what = "checking folders";
    let items = if condstore {
        "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
    } else {
        "(MESSAGES UIDNEXT UIDVALIDITY)"
    };
    let mut waiting = Vec::new();
    for folder in folders {
        if folder.contains(['\r', '\n']) {
            continue;
        }
        let name = format!("\"{}\"", folder.replace('\\', "\\\\").replace('"', "\\\""));
        let tag = timed(
            host,
            what,
            session.run_command(format!("STATUS {name} {items}")),
        )
        .await?
        .map_err(|e| imap_error(host, what, e))?;
        waiting.push(tag);
    }
    let mut out = HashMap::new();
    while !waiting.is_empty() {
        let response = timed(host, what, session.read_response())
            .await?
            .map_err(|e| imap_error(host, what, e.into()))?
            .ok_or_else(|| imap_error(host, what, async_imap::error::Error::ConnectionLost))?;
        match response.parsed() {
            Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                let mut st = FolderStatus::default();
                for item in status {
                    match item {
                        StatusAttribute::Messages(n) => st.messages = Some(*n),
                        StatusAttribute::UidNext(n) => st.uid_next = Some(*n),
                        StatusAttribute::UidValidity(n) => st.uid_validity = Some(*n),
                        StatusAttribute::HighestModSeq(n) => st.highest_modseq = Some(*n),
                        _ => {}
                    }
                }
                let name = folders
                    .iter()
                    .find(|f| {
                        **f == mailbox.as_ref()
                            || (f.eq_ignore_ascii_case("INBOX")
                                && mailbox.eq_ignore_ascii_case("INBOX"))
                    })
                    .map(|f| f.to_string());
                if let Some(name) = name {
                    out.insert(name, st);
                }
            }
            Response::Done { tag, .. } => waiting.retain(|t| t != tag),
            // Unsolicited news about the selected folder: it is opened again anyway.
            _ => {}
        }
    }
    Ok(out)
}

/// Whether a folder's `STATUS` shows nothing new since the last pass: same UIDVALIDITY, no
/// UID past what we have, as many messages as we know of there, and (CONDSTORE) the same
/// HIGHESTMODSEQ, or (without CONDSTORE) no flag scan due.
fn unchanged(
    ctx: &SyncContext,
    folder: &str,
    st: &FolderStatus,
    caps: Caps,
    tuning: &SyncTuning,
    memory: &SyncMemory,
) -> Result<bool> {
    let store = &ctx.store;
    let Some(cursor) = store.cursor(ctx.account.id, folder)? else {
        return Ok(false);
    };
    if cursor.last_uid == 0 && cursor.extra.get(SEEN_EMPTY).is_none() {
        return Ok(false);
    }
    let (Some(validity), Some(next), Some(messages)) = (st.uid_validity, st.uid_next, st.messages)
    else {
        return Ok(false);
    };
    if validity != cursor.uidvalidity {
        return Ok(false);
    }
    let known_next = cursor.extra.get(UID_NEXT).and_then(|v| v.as_u64());
    if next > cursor.last_uid.saturating_add(1) && known_next != Some(u64::from(next)) {
        return Ok(false);
    }
    match (caps.condstore, st.highest_modseq) {
        (true, Some(m)) if m > 0 => {
            if m != cursor.highest_modseq {
                return Ok(false);
            }
        }
        _ => {
            if tuning_scan_due(memory, folder, tuning) {
                return Ok(false);
            }
        }
    }
    Ok(store.location_count(ctx.account.id, folder, validity)? == messages)
}

/// How a sync behaves; tests shorten the waits.
#[derive(Debug, Clone, Copy)]
pub struct SyncTuning {
    pub limits: BatchLimits,
    /// Without CONDSTORE, how often every flag of a folder is read again (a fresh channel,
    /// e.g. `sportello-cli sync --once`, always reads them).
    pub flag_scan_every: Duration,
    /// Longest IDLE before it is re-issued (RFC 2177: servers may drop an IDLE after 30
    /// minutes of inactivity).
    pub idle_for: Duration,
    /// Threads parsing fetched mail (the machine's cores by default).
    pub parse_threads: usize,
}

impl Default for SyncTuning {
    fn default() -> Self {
        SyncTuning {
            limits: BatchLimits::default(),
            flag_scan_every: Duration::from_secs(5 * 60),
            idle_for: Duration::from_secs(25 * 60),
            parse_threads: crate::sync_store::default_parse_threads(),
        }
    }
}

/// What a channel remembers between passes, in memory only.
#[derive(Debug, Default)]
pub struct SyncMemory {
    flag_scans: std::sync::Mutex<HashMap<String, Instant>>,
    /// The server offers IDLE (learned at the last connection).
    pub idle: AtomicBool,
    /// A background worker's logged-in connection, kept for its next pass.
    kept: Kept,
}

/// A logged-in connection, what its server offers, the folder it has selected and what it
/// signed in with.
#[derive(Default)]
struct Kept(tokio::sync::Mutex<Option<KeptSession>>);

/// The session, its server's capabilities, the selected folder, the sign-in it used.
type KeptSession = (Session, Caps, Option<String>, Login);

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kept")
    }
}

/// Where the timing of each pass is logged (`SPORTELLO_LOG=sportello_email::timing=debug`).
const TIMING: &str = "sportello_email::timing";

fn ms_since(at: Instant) -> f64 {
    at.elapsed().as_secs_f64() * 1000.0
}

impl SyncMemory {
    fn scan_due(&self, folder: &str, every: Duration) -> bool {
        let scans = self.flag_scans.lock().unwrap_or_else(|p| p.into_inner());
        scans.get(folder).is_none_or(|at| at.elapsed() >= every)
    }

    fn scanned(&self, folder: &str) {
        let mut scans = self.flag_scans.lock().unwrap_or_else(|p| p.into_inner());
        scans.insert(folder.to_string(), Instant::now());
    }
}

/// What the server offers, from CAPABILITY after login.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    pub condstore: bool,
    pub idle: bool,
    pub mv: bool,
    pub uidplus: bool,
}

impl From<&async_imap::types::Capabilities> for Caps {
    fn from(caps: &async_imap::types::Capabilities) -> Self {
        Caps {
            condstore: caps.has_str("CONDSTORE"),
            idle: caps.has_str("IDLE"),
            mv: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
        }
    }
}

pub async fn capabilities(settings: &EmailSettings, session: &mut Session) -> Result<Caps> {
    let host = settings.imap_host.as_str();
    let caps = timed(host, "asking capabilities", session.capabilities())
        .await?
        .map_err(|e| imap_error(host, "asking capabilities", e))?;
    Ok(Caps::from(&caps))
}

/// `(uid, seen)` for the messages `set` names (only those changed since `modseq`, if given).
async fn fetch_flags(
    host: &str,
    session: &mut Session,
    set: &str,
    changed_since: Option<u64>,
) -> Result<Vec<(u32, bool)>> {
    let what = "reading flags";
    let query = match changed_since {
        Some(m) => format!("(UID FLAGS) (CHANGEDSINCE {m})"),
        None => "(UID FLAGS)".to_string(),
    };
    let mut out = Vec::new();
    let mut fetches = timed(host, what, session.uid_fetch(set, &query))
        .await?
        .map_err(|e| imap_error(host, what, e))?;
    while let Some(item) = timed(host, what, fetches.next()).await? {
        let fetch = item.map_err(|e| imap_error(host, what, e))?;
        if let Some(uid) = fetch.uid {
            let seen = fetch
                .flags()
                .any(|f| matches!(f, async_imap::types::Flag::Seen));
            out.push((uid, seen));
        }
    }
    Ok(out)
}

/// Flags and expunges made elsewhere since the last pass.
#[allow(clippy::too_many_arguments)]
async fn sync_state(
    ctx: &SyncContext,
    settings: &EmailSettings,
    session: &mut Session,
    folder: &str,
    mailbox: &async_imap::types::Mailbox,
    previous_modseq: u64,
    caps: Caps,
    tuning: &SyncTuning,
    memory: &SyncMemory,
) -> Result<()> {
    let host = settings.imap_host.as_str();
    let store = &ctx.store;
    let account_id = ctx.account.id;
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    let server_modseq = mailbox.highest_modseq.filter(|_| caps.condstore);
    let last_uid = store
        .cursor(account_id, folder)?
        .map(|c| c.last_uid)
        .unwrap_or(0);
    let mut uids_known = false;
    match server_modseq {
        // CONDSTORE: nothing changed since the last pass, and the SELECT said so.
        Some(m) if m == previous_modseq => return Ok(()),
        Some(_) if previous_modseq > 0 && last_uid > 0 => {
            let changed = fetch_flags(
                host,
                session,
                &format!("1:{last_uid}"),
                Some(previous_modseq),
            )
            .await?;
            store.apply_remote_flags(account_id, folder, uidvalidity, &changed)?;
        }
        Some(_) => {}
        None if last_uid > 0 && tuning_scan_due(memory, folder, tuning) => {
            let all = fetch_flags(host, session, "1:*", None).await?;
            store.apply_remote_flags(account_id, folder, uidvalidity, &all)?;
            let present: HashSet<u32> = all.iter().map(|(uid, _)| *uid).collect();
            store.forget_expunged(account_id, folder, uidvalidity, &present)?;
            memory.scanned(folder);
            uids_known = true;
        }
        None => {}
    }
    // Expunged elsewhere: the folder holds fewer messages than we know of there.
    if !uids_known && store.location_count(account_id, folder, uidvalidity)? != mailbox.exists {
        let what = format!("listing the messages of {folder}");
        let present = timed(host, &what, session.uid_search("ALL"))
            .await?
            .map_err(|e| imap_error(host, &what, e))?;
        store.forget_expunged(account_id, folder, uidvalidity, &present)?;
    }
    if let Some(m) = server_modseq
        && let Some(mut cursor) = store.cursor(account_id, folder)?
        && cursor.uidvalidity == uidvalidity
    {
        cursor.highest_modseq = m;
        store.set_cursor(account_id, &cursor)?;
    }
    Ok(())
}

fn tuning_scan_due(memory: &SyncMemory, folder: &str, tuning: &SyncTuning) -> bool {
    memory.scan_due(folder, tuning.flag_scan_every)
}

/// What one pass works with, so that catching up reads the same after the first look and
/// after an IDLE wake.
struct Pass<'a> {
    ctx: &'a SyncContext,
    settings: &'a EmailSettings,
    folders: &'a [MailFolder],
    feeds: &'a [String],
    caps: Caps,
    tuning: &'a SyncTuning,
    memory: &'a SyncMemory,
}

impl Pass<'_> {
    /// Does what the app queued for the server (if anything), then brings the feeds up to date.
    async fn catch_up(
        &self,
        session: &mut Session,
        report: &mut SyncReport,
        selected: &mut Option<String>,
    ) -> Result<()> {
        let (store, account_id) = (&self.ctx.store, self.ctx.account.id);
        if store.has_remote_ops(account_id)? {
            *selected = None;
            crate::remote::apply_ops(
                store,
                account_id,
                self.settings,
                session,
                self.folders,
                self.caps,
            )
            .await?;
        }
        sync_feeds(
            self.ctx,
            self.settings,
            session,
            self.feeds,
            self.caps,
            self.tuning,
            self.memory,
            report,
            selected,
        )
        .await
    }
}

/// Syncs the feed folders on an open session.
#[allow(clippy::too_many_arguments)]
async fn sync_feeds(
    ctx: &SyncContext,
    settings: &EmailSettings,
    session: &mut Session,
    feeds: &[String],
    caps: Caps,
    tuning: &SyncTuning,
    memory: &SyncMemory,
    report: &mut SyncReport,
    selected: &mut Option<String>,
) -> Result<()> {
    // Folders already synced are checked first with one pipelined STATUS each (one round
    // trip for all); only those that changed are opened. The folder already selected (INBOX
    // after IDLE) is opened again rather than asked STATUS (RFC 3501 6.3.10), and last, so it
    // stays selected for the next IDLE.
    let host = settings.imap_host.as_str();
    let mut feeds: Vec<&String> = feeds.iter().collect();
    if let Some(sel) = selected.as_deref() {
        feeds.sort_by_key(|f| f.as_str() == sel);
    }
    let known: Vec<&str> = feeds
        .iter()
        .map(|f| f.as_str())
        .filter(|f| Some(*f) != selected.as_deref())
        .filter(|f| {
            ctx.store
                .cursor(ctx.account.id, f)
                .ok()
                .flatten()
                .is_some_and(|c| c.last_uid > 0 || c.extra.get(SEEN_EMPTY).is_some())
        })
        .collect();
    let checked = if known.is_empty() {
        HashMap::new()
    } else {
        statuses(host, session, &known, caps.condstore).await?
    };
    let mut unchanged_feeds = HashSet::new();
    for folder in &feeds {
        if let Some(st) = checked.get(folder.as_str())
            && unchanged(ctx, folder, st, caps, tuning, memory)?
        {
            unchanged_feeds.insert(folder.as_str());
        }
    }
    // Progress is shown only for a first (or re-)sync, which can be long.
    let first: Vec<bool> = feeds
        .iter()
        .map(|f| {
            if unchanged_feeds.contains(f.as_str()) {
                return Ok(false);
            }
            let cursor = ctx.store.cursor(ctx.account.id, f)?;
            Ok(cursor.is_none_or(|c| c.last_uid == 0 && c.extra.get(SEEN_EMPTY).is_none()))
        })
        .collect::<Result<_>>()?;
    let mut sizes = 0u32;
    for (folder, _) in feeds.iter().zip(&first).filter(|(_, first)| **first) {
        if let Ok(Ok(mailbox)) = timed(host, "counting", session.status(folder, "(MESSAGES)")).await
        {
            sizes += mailbox.exists;
        }
    }
    let total = Arc::new(std::sync::atomic::AtomicU32::new(sizes));
    let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
    for (folder, first_sync) in feeds.iter().zip(first) {
        if unchanged_feeds.contains(folder.as_str()) {
            report.add(FolderReport {
                folder: folder.to_string(),
                ..Default::default()
            });
            continue;
        }
        let progress: Arc<dyn Fn(u32) + Send + Sync> = if first_sync {
            let (total, done, callback) = (total.clone(), done.clone(), ctx.progress.clone());
            Arc::new(move |n| {
                let done = done.fetch_add(n, Ordering::SeqCst) + n;
                let total = total.load(Ordering::SeqCst).max(done);
                callback(SyncProgress { done, total });
            })
        } else {
            Arc::new(|_| {})
        };
        let (folder_report, duplicates) = sync_folder(
            ctx, settings, session, folder, caps, tuning, memory, &progress, selected,
        )
        .await?;
        report.duplicates += duplicates;
        report.add(folder_report);
    }
    Ok(())
}

/// Why an IDLE ended.
enum Woken {
    /// The server reported a change (new mail, an expunge, flags).
    Server,
    /// The app has something to do (a reply or a read mark was queued).
    App,
    /// Time to re-issue it.
    Timeout,
}

async fn wake_fired(wake: &Option<Arc<tokio::sync::Notify>>) {
    match wake {
        Some(w) => w.notified().await,
        None => std::future::pending().await,
    }
}

/// Waits in IDLE on INBOX until the server reports something, the app wakes us, or
/// `tuning.idle_for` passes.
async fn idle(
    ctx: &SyncContext,
    settings: &EmailSettings,
    session: Session,
    tuning: &SyncTuning,
) -> Result<(Session, Woken)> {
    let host = settings.imap_host.as_str();
    let mut handle = session.idle();
    timed(host, "starting IDLE", handle.init())
        .await?
        .map_err(|e| imap_error(host, "starting IDLE", e))?;
    let woken = {
        let (wait, _stop) = handle.wait_with_timeout(tuning.idle_for);
        tokio::select! {
            r = wait => match r.map_err(|e| imap_error(host, "waiting for new mail", e))? {
                async_imap::extensions::idle::IdleResponse::NewData(_) => Woken::Server,
                async_imap::extensions::idle::IdleResponse::Timeout => Woken::Timeout,
                async_imap::extensions::idle::IdleResponse::ManualInterrupt => Woken::App,
            },
            _ = wake_fired(&ctx.wake) => Woken::App,
            // The server's "still here" notes reset async-imap's own timer: bound it here.
            _ = tokio::time::sleep(tuning.idle_for) => Woken::Timeout,
        }
    };
    let session = timed(host, "ending IDLE", handle.done())
        .await?
        .map_err(|e| imap_error(host, "ending IDLE", e))?;
    Ok((session, woken))
}

/// Connects (or, for a background worker, reuses the connection kept from its last pass),
/// does what the app queued for the server, syncs every feed folder, and — for a background
/// worker on a server with IDLE — waits for the next change and syncs it too.
pub async fn sync(
    ctx: &SyncContext,
    settings: &EmailSettings,
    login: &Login,
    tuning: &SyncTuning,
    memory: &SyncMemory,
) -> Result<SyncReport> {
    let started = Instant::now();
    // A connection is kept only as long as what it signed in with is still current: an
    // OAuth2 access token that was refreshed (it expires within the hour) or a changed
    // password means signing in again, so a revoked sign-in is noticed then.
    let kept = memory
        .kept
        .0
        .lock()
        .await
        .take()
        .filter(|k| k.3.same_as(login))
        .map(|(session, caps, selected, _)| (session, caps, selected));
    let reused = kept.is_some();
    let (session, caps, selected) = match kept {
        Some(kept) => kept,
        None => {
            let (session, caps) = open(settings, login).await?;
            (session, caps, None)
        }
    };
    tracing::debug!(target: TIMING, account = ctx.account.id, ms = ms_since(started), reused, "signed in");
    let kept = (session, caps, selected);
    match pass(ctx, settings, kept, login, tuning, memory, started, reused).await {
        // The kept connection went stale (the server or the network dropped it): once more
        // on a new one.
        Err(e) if reused && e.code == ErrorCode::Network => {
            tracing::info!(
                account = ctx.account.id,
                "the kept IMAP connection failed ({}); connecting again",
                e.message
            );
            let started = Instant::now();
            let (session, caps) = open(settings, login).await?;
            let fresh = (session, caps, None);
            pass(ctx, settings, fresh, login, tuning, memory, started, false).await
        }
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
async fn pass(
    ctx: &SyncContext,
    settings: &EmailSettings,
    (mut session, caps, mut selected): (Session, Caps, Option<String>),
    login: &Login,
    tuning: &SyncTuning,
    memory: &SyncMemory,
    started: Instant,
    reused: bool,
) -> Result<SyncReport> {
    let store = &ctx.store;
    let account_id = ctx.account.id;
    memory.idle.store(caps.idle, Ordering::SeqCst);
    let result: Result<(SyncReport, Session)> = async {
        let folders = known_folders(store, account_id, settings, &mut session).await?;
        let feeds = feed_folders(settings, &folders);
        tracing::debug!(target: TIMING, account_id, ms = ms_since(started), "folders known");
        let mut report = SyncReport::default();
        let pass = Pass {
            ctx,
            settings,
            folders: &folders,
            feeds: &feeds,
            caps,
            tuning,
            memory,
        };
        pass.catch_up(&mut session, &mut report, &mut selected)
            .await?;
        tracing::debug!(
            target: TIMING,
            account_id,
            ms = ms_since(started),
            reused,
            fetched = report.fetched,
            "caught up"
        );
        if ctx.long_poll && caps.idle {
            let host = settings.imap_host.as_str();
            if !selected
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("INBOX"))
            {
                let what = "opening INBOX";
                selected = None;
                timed(host, what, session.select("INBOX"))
                    .await?
                    .map_err(|e| imap_error(host, what, e))?;
                selected = Some("INBOX".to_string());
            }
            // Caught up: the account is idle while we wait on the server.
            store.set_progress(account_id, None);
            store.set_account_state(account_id, SyncState::Idle, None, true)?;
            let (s, woken) = idle(ctx, settings, session, tuning).await?;
            session = s;
            match woken {
                Woken::Server => {
                    pass.catch_up(&mut session, &mut report, &mut selected)
                        .await?;
                }
                Woken::App => {
                    crate::remote::apply_ops(
                        store,
                        account_id,
                        settings,
                        &mut session,
                        &folders,
                        caps,
                    )
                    .await?;
                    selected = None;
                }
                Woken::Timeout => {}
            }
        }
        Ok((report, session))
    }
    .await;
    let (report, mut session) = match result {
        Ok(done) => done,
        Err(e) => {
            // A folder may have gone: list them again next time.
            forget_folders(store, account_id);
            return Err(e);
        }
    };
    if ctx.long_poll {
        *memory.kept.0.lock().await = Some((session, caps, selected, login.clone()));
    } else {
        // Said, not waited for: the server closes its side when it reads it.
        let _ = tokio::time::timeout(Duration::from_secs(1), session.run_command("LOGOUT")).await;
    }
    Ok(report)
}

/// Does what the app queued for the server now (after sending a reply), on its own
/// connection.
pub async fn apply_ops_now(
    store: &Store,
    account_id: i64,
    settings: &EmailSettings,
    login: &Login,
) -> Result<()> {
    if !store.has_remote_ops(account_id)? {
        return Ok(());
    }
    let (mut session, caps) = open(settings, login).await?;
    let folders = known_folders(store, account_id, settings, &mut session).await?;
    let result =
        crate::remote::apply_ops(store, account_id, settings, &mut session, &folders, caps).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[(&str, bool)]) -> Vec<(String, Option<FolderRole>)> {
        list.iter()
            .map(|(n, s)| (n.to_string(), s.then_some(FolderRole::Sent)))
            .collect()
    }

    fn sent_folder(list: &[(String, Option<FolderRole>)]) -> Option<String> {
        let folders = with_roles(&EmailSettings::local(), list.to_vec());
        folder_with(&folders, FolderRole::Sent).map(str::to_string)
    }

    #[test]
    fn inbox_and_sent_feed_the_inbox_by_default_and_roles_come_from_names_too() {
        let list = vec![
            ("INBOX".to_string(), None),
            ("Archivio".to_string(), None),
            ("Cestino".to_string(), None),
            ("Posta inviata".to_string(), None),
            ("Clienti".to_string(), None),
        ];
        let folders = with_roles(&EmailSettings::local(), list.clone());
        assert_eq!(folder_with(&folders, FolderRole::Archive), Some("Archivio"));
        assert_eq!(folder_with(&folders, FolderRole::Trash), Some("Cestino"));
        let settings = EmailSettings::local();
        assert_eq!(
            feed_folders(&settings, &folders),
            vec!["INBOX", "Posta inviata"]
        );
        let mut chosen = EmailSettings::local();
        chosen.folders = vec!["INBOX".into(), "Clienti".into()];
        let folders = with_roles(&chosen, list);
        assert!(
            folders
                .iter()
                .find(|f| f.name == "Clienti")
                .unwrap()
                .feeds_inbox
        );
        assert!(
            !folders
                .iter()
                .find(|f| f.name == "Posta inviata")
                .unwrap()
                .feeds_inbox
        );
        assert_eq!(feed_folders(&chosen, &folders), vec!["INBOX", "Clienti"]);
    }

    #[test]
    fn the_sent_folder_marked_special_use_wins() {
        let list = names(&[
            ("INBOX", false),
            ("Sent", false),
            ("Archivio/Inviata", true),
        ]);
        assert_eq!(sent_folder(&list).as_deref(), Some("Archivio/Inviata"));
    }

    #[test]
    fn without_special_use_well_known_names_are_used_italian_included() {
        let list = names(&[("INBOX", false), ("Bozze", false), ("Posta inviata", false)]);
        assert_eq!(sent_folder(&list).as_deref(), Some("Posta inviata"));
        let list = names(&[("INBOX", false), ("INBOX.sent", false)]);
        assert_eq!(sent_folder(&list).as_deref(), Some("INBOX.sent"));
        let list = names(&[("INBOX", false), ("[Gmail]/Posta inviata", false)]);
        assert_eq!(sent_folder(&list).as_deref(), Some("[Gmail]/Posta inviata"));
    }

    #[test]
    fn no_sent_folder_means_inbox_only() {
        assert_eq!(
            sent_folder(&names(&[("INBOX", false), ("Archive", false)])),
            None
        );
        // A server that marks INBOX itself as \Sent must not make INBOX count twice.
        assert_eq!(sent_folder(&names(&[("INBOX", true)])), None);
    }
}
