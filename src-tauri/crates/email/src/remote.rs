//! Doing on the IMAP server what the user did in the app: read marks (`\Seen`), replies
//! (`\Answered`), archiving (`UID MOVE` to the archive folder) and copies of sent replies
//! (`APPEND` to Sent). Operations come from sportello-core's queue, so they survive going
//! offline; each is removed once done.

use std::collections::{BTreeMap, HashSet};

use futures::StreamExt;
use sportello_core::store::RemoteOpKind;
use sportello_core::{Error, ErrorCode, Result, Store};

use crate::imap::{Caps, FolderRole, MailFolder, Session, folder_with, imap_error, timed};
use crate::settings::EmailSettings;

#[derive(Default)]
struct FolderWork {
    seen: Vec<(u32, u32)>,
    unseen: Vec<(u32, u32)>,
    answered: Vec<(u32, u32)>,
    archive: Vec<(u32, u32)>,
    ops: HashSet<i64>,
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn store_flags(host: &str, session: &mut Session, uids: &[u32], change: &str) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let what = "changing flags";
    let mut answers = timed(host, what, session.uid_store(uid_set(uids), change))
        .await?
        .map_err(|e| imap_error(host, what, e))?;
    while let Some(item) = timed(host, what, answers.next()).await? {
        item.map_err(|e| imap_error(host, what, e))?;
    }
    Ok(())
}

/// Runs the account's queued operations on an open session. A lost connection stops here
/// (the operations wait for the next sync); a refused operation is retried a few times.
pub async fn apply_ops(
    store: &Store,
    account_id: i64,
    settings: &EmailSettings,
    session: &mut Session,
    folders: &[MailFolder],
    caps: Caps,
) -> Result<()> {
    let ops = store.remote_ops(account_id)?;
    if ops.is_empty() {
        return Ok(());
    }
    let host = settings.imap_host.as_str();
    let archive = folder_with(folders, FolderRole::Archive).map(str::to_string);
    let sent = folder_with(folders, FolderRole::Sent).map(str::to_string);
    let mut done = Vec::new();
    let mut work: BTreeMap<String, FolderWork> = BTreeMap::new();
    let mut appends = Vec::new();
    for op in &ops {
        match op.kind {
            RemoteOpKind::AppendSent => {
                match (&sent, &op.data) {
                    (Some(_), Some(_)) => appends.push(op),
                    // Nowhere to file it (or nothing to file): the reply went out anyway.
                    _ => done.push(op.id),
                }
                continue;
            }
            RemoteOpKind::Archive if archive.is_none() => {
                done.push(op.id);
                continue;
            }
            _ => {}
        }
        let mut queued = false;
        for loc in &op.locations {
            if op.kind == RemoteOpKind::Archive && Some(&loc.folder) == archive.as_ref() {
                continue;
            }
            let w = work.entry(loc.folder.clone()).or_default();
            let entry = (loc.uid, loc.uidvalidity);
            match op.kind {
                RemoteOpKind::Seen => w.seen.push(entry),
                RemoteOpKind::Unseen => w.unseen.push(entry),
                RemoteOpKind::Answered => w.answered.push(entry),
                RemoteOpKind::Archive => w.archive.push(entry),
                RemoteOpKind::AppendSent => {}
            }
            w.ops.insert(op.id);
            queued = true;
        }
        if !queued {
            done.push(op.id);
        }
    }

    let mut failed: Vec<(i64, Error)> = Vec::new();
    for (folder, w) in work {
        let result: Result<()> = async {
            let what = format!("opening folder {folder}");
            let mailbox = timed(host, &what, session.select(&folder))
                .await?
                .map_err(|e| imap_error(host, &what, e))?;
            let uidvalidity = mailbox.uid_validity.unwrap_or(0);
            // UIDs of an older UIDVALIDITY name nothing any more: the folder is re-read.
            let current = |list: &[(u32, u32)]| -> Vec<u32> {
                list.iter()
                    .filter(|(_, v)| *v == uidvalidity)
                    .map(|(u, _)| *u)
                    .collect()
            };
            store_flags(host, session, &current(&w.seen), "+FLAGS.SILENT (\\Seen)").await?;
            store_flags(host, session, &current(&w.unseen), "-FLAGS.SILENT (\\Seen)").await?;
            store_flags(
                host,
                session,
                &current(&w.answered),
                "+FLAGS.SILENT (\\Answered)",
            )
            .await?;
            let moving = current(&w.archive);
            if let (Some(archive), false) = (&archive, moving.is_empty()) {
                let what = format!("archiving to {archive}");
                let set = uid_set(&moving);
                if caps.mv {
                    timed(host, &what, session.uid_mv(&set, archive))
                        .await?
                        .map_err(|e| imap_error(host, &what, e))?;
                } else {
                    timed(host, &what, session.uid_copy(&set, archive))
                        .await?
                        .map_err(|e| imap_error(host, &what, e))?;
                    store_flags(host, session, &moving, "+FLAGS.SILENT (\\Deleted)").await?;
                    if caps.uidplus {
                        let gone = timed(host, &what, session.uid_expunge(&set))
                            .await?
                            .map_err(|e| imap_error(host, &what, e))?;
                        let mut gone = std::pin::pin!(gone);
                        while let Some(item) = timed(host, &what, gone.next()).await? {
                            item.map_err(|e| imap_error(host, &what, e))?;
                        }
                    }
                }
                for uid in moving {
                    store.forget_location(
                        account_id,
                        &sportello_core::model::RemoteLocation {
                            folder: folder.clone(),
                            uidvalidity,
                            uid,
                        },
                    )?;
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => done.extend(w.ops),
            Err(e) if e.code == ErrorCode::Network => {
                store.finish_remote_ops(&done)?;
                return Err(e);
            }
            Err(e) => failed.extend(w.ops.into_iter().map(|id| (id, e.clone()))),
        }
    }

    if let Some(sent) = &sent {
        for op in appends {
            let what = format!("filing the reply in {sent}");
            let data = op.data.as_deref().unwrap_or_default();
            let result = timed(
                host,
                &what,
                session.append(sent, Some("(\\Seen)"), None, data),
            )
            .await
            .and_then(|r| r.map_err(|e| imap_error(host, &what, e)));
            match result {
                Ok(()) => done.push(op.id),
                Err(e) if e.code == ErrorCode::Network => {
                    store.finish_remote_ops(&done)?;
                    return Err(e);
                }
                Err(e) => failed.push((op.id, e)),
            }
        }
    }
    store.finish_remote_ops(&done)?;
    for (id, e) in failed {
        tracing::warn!(account_id, id, "a server operation failed: {e}");
        store.fail_remote_op(id, &e)?;
    }
    Ok(())
}
