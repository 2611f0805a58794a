//! IMAP: connecting (TLS, STARTTLS, plain to loopback), logging in, and the incremental sync
//! of INBOX and the Sent folder by UID cursor.
//!
//! One `UID FETCH last+1:*` streams the new messages; a blocking worker parses and stores them
//! in batches while the next ones arrive. Each batch is stored together with the cursor at its
//! highest UID, so a sync stopped anywhere resumes with nothing lost and nothing repeated.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_imap::types::NameAttribute;
use futures::StreamExt;
use sportello_core::channel::{FolderReport, SyncContext, SyncReport};
use sportello_core::model::{RemoteLocation, SyncCursor, SyncProgress};
use sportello_core::store::IngestOptions;
use sportello_core::{Error, ErrorCode, Result, Store};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::mime;
use crate::settings::{EmailSettings, Security, is_loopback};
use crate::tls;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence tolerated from the server in the middle of a command.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

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
fn imap_error(host: &str, what: &str, e: async_imap::error::Error) -> Error {
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

async fn timed<T>(host: &str, what: &str, f: impl Future<Output = T>) -> Result<T> {
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
pub async fn connect(settings: &EmailSettings, password: &str) -> Result<Session> {
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
    let login = timed(
        host,
        "logging in",
        client.login(&settings.username, password),
    )
    .await?;
    match login {
        Ok(session) => Ok(session),
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
pub async fn check(settings: &EmailSettings, password: &str) -> Result<()> {
    let mut session = connect(settings, password).await?;
    let _ = timed(&settings.imap_host, "logging out", session.logout()).await;
    Ok(())
}

/// INBOX plus the Sent folder (SPECIAL-USE `\Sent`, else a well-known name), or the folders
/// the settings name.
pub async fn folders_to_sync(
    settings: &EmailSettings,
    session: &mut Session,
) -> Result<Vec<String>> {
    if !settings.folders.is_empty() {
        return Ok(settings.folders.clone());
    }
    let host = settings.imap_host.as_str();
    let mut names: Vec<(String, bool)> = Vec::new();
    {
        let mut list = timed(host, "listing folders", session.list(Some(""), Some("*")))
            .await?
            .map_err(|e| imap_error(host, "listing folders", e))?;
        while let Some(item) = timed(host, "listing folders", list.next()).await? {
            let name = item.map_err(|e| imap_error(host, "listing folders", e))?;
            let selectable = !name
                .attributes()
                .iter()
                .any(|a| matches!(a, NameAttribute::NoSelect));
            let sent = name
                .attributes()
                .iter()
                .any(|a| matches!(a, NameAttribute::Sent));
            if selectable {
                names.push((name.name().to_string(), sent));
            }
        }
    }
    let mut folders = vec!["INBOX".to_string()];
    folders.extend(sent_folder(&names));
    Ok(folders)
}

/// The Sent folder among `(name, has \Sent)`: the one the server marks (SPECIAL-USE), else
/// the first well-known name, in any case.
fn sent_folder(names: &[(String, bool)]) -> Option<String> {
    names
        .iter()
        .find(|(_, sent)| *sent)
        .map(|(n, _)| n.clone())
        .or_else(|| {
            SENT_NAMES.iter().find_map(|want| {
                names
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(want))
                    .map(|(n, _)| n.clone())
            })
        })
        .filter(|n| !n.eq_ignore_ascii_case("INBOX"))
}

/// One message as fetched, before parsing.
struct Fetched {
    uid: u32,
    seen: bool,
    internal_date: Option<i64>,
    raw: Vec<u8>,
}

struct Batch {
    messages: Vec<Fetched>,
    cursor: SyncCursor,
}

/// Sets a flag when dropped: a sync future that is cancelled stops its storing worker.
struct CancelOnDrop(Arc<AtomicBool>);
impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Where the storing side of one folder's sync puts what it is handed.
struct Storing {
    store: Store,
    account_id: i64,
    own_address: String,
    folder: String,
    /// A first sync (or a re-sync) announces one summary, not a note per message.
    summarize: bool,
    cancelled: Arc<AtomicBool>,
}

/// The storing side of one folder's sync, on a blocking thread.
fn store_batches(
    s: Storing,
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
    progress: impl Fn(u32),
) -> Result<(u32, u32, u32)> {
    let Storing {
        store,
        account_id,
        own_address,
        folder,
        summarize,
        cancelled,
    } = s;
    let (mut fetched, mut stored, mut duplicates) = (0u32, 0u32, 0u32);
    while let Some(batch) = rx.blocking_recv() {
        if cancelled.load(Ordering::SeqCst) {
            break;
        }
        let uidvalidity = batch.cursor.uidvalidity;
        let messages: Vec<_> = batch
            .messages
            .into_iter()
            .map(|f| {
                let mut m = mime::parse_message(f.raw, &own_address, f.internal_date);
                m.is_read = f.seen;
                m.location = Some(RemoteLocation {
                    folder: folder.clone(),
                    uidvalidity,
                    uid: f.uid,
                });
                m
            })
            .collect();
        let n = messages.len() as u32;
        let report = store.ingest(
            account_id,
            messages,
            Some(&batch.cursor),
            IngestOptions { summarize },
        )?;
        fetched += n;
        stored += report.stored;
        duplicates += report.duplicates;
        progress(n);
    }
    Ok((fetched, stored, duplicates))
}

/// Syncs one folder from its cursor.
async fn sync_folder(
    ctx: &SyncContext,
    settings: &EmailSettings,
    session: &mut Session,
    folder: &str,
    limits: BatchLimits,
    progress: &Arc<dyn Fn(u32) + Send + Sync>,
) -> Result<(FolderReport, u32)> {
    // Returns the folder's report and how many fetched messages were already stored.
    let host = settings.imap_host.as_str();
    let store = &ctx.store;
    let account_id = ctx.account.id;
    let what = format!("opening folder {folder}");
    let mailbox = timed(host, &what, session.select(folder))
        .await?
        .map_err(|e| imap_error(host, &what, e))?;
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    let mut report = FolderReport {
        folder: folder.to_string(),
        ..Default::default()
    };

    let cursor = store.cursor(account_id, folder)?;
    // A first sync that was interrupted is still a first sync: one summary, not a flood.
    let first_sync = cursor.as_ref().is_none_or(|c| c.last_uid == 0);
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
    Ok((report, duplicates))
}

/// Syncs every folder of the account.
pub async fn sync(
    ctx: &SyncContext,
    settings: &EmailSettings,
    password: &str,
    limits: BatchLimits,
) -> Result<SyncReport> {
    let mut session = connect(settings, password).await?;
    let folders = folders_to_sync(settings, &mut session).await?;

    // Progress is shown only for a first (or re-)sync, which can be long.
    let first: Vec<bool> = folders
        .iter()
        .map(|f| {
            let cursor = ctx.store.cursor(ctx.account.id, f)?;
            Ok(cursor.is_none_or(|c| c.last_uid == 0))
        })
        .collect::<Result<_>>()?;
    let mut sizes = 0u32;
    for (folder, _) in folders.iter().zip(&first).filter(|(_, first)| **first) {
        let host = settings.imap_host.as_str();
        if let Ok(Ok(mailbox)) = timed(host, "counting", session.status(folder, "(MESSAGES)")).await
        {
            sizes += mailbox.exists;
        }
    }
    let total = Arc::new(std::sync::atomic::AtomicU32::new(sizes));
    let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut report = SyncReport::default();
    for (folder, first_sync) in folders.iter().zip(first) {
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
        let (folder_report, duplicates) =
            sync_folder(ctx, settings, &mut session, folder, limits, &progress).await?;
        report.duplicates += duplicates;
        report.add(folder_report);
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), session.logout()).await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(n, s)| (n.to_string(), *s)).collect()
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
