//! Store behaviour, headless, against a temporary data folder.

use sportello_core::channel::{Channel, OutboxItem, SendReceipt, SyncContext, SyncReport};
use sportello_core::model::{
    Account, ChannelKind, Delivery, Direction, Identity, IdentityKind, IncomingAttachment,
    IncomingMessage, RemoteLocation, SyncCursor,
};
use sportello_core::outbox::{self, Draft};
use sportello_core::store::{ConversationQuery, IngestOptions, schema};
use sportello_core::{Error, ErrorCode, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn email_account(store: &Store) -> Account {
    store
        .add_account(
            ChannelKind::Email,
            "Negozio",
            "negozio@example.it",
            &serde_json::json!({"imap_host": "localhost"}),
        )
        .unwrap()
}

fn mail(
    id: &str,
    from: &str,
    subject: &str,
    text: &str,
    refs: &[&str],
    at: i64,
) -> IncomingMessage {
    let mut keys = vec![id.to_string()];
    keys.extend(refs.iter().map(|r| r.to_string()));
    IncomingMessage {
        external_id: id.to_string(),
        direction: Some(Direction::Inbound),
        thread_keys: keys,
        fallback_thread_key: Some(format!(
            "{from}|{}",
            sportello_core::threading::normalize_subject(subject)
        )),
        counterpart: Some(Identity {
            kind: IdentityKind::Email,
            value: from.to_string(),
            display_name: "Maria Rossi".into(),
        }),
        sender_name: "Maria Rossi".into(),
        sender_handle: from.into(),
        recipients: vec!["negozio@example.it".into()],
        subject: subject.into(),
        text: text.into(),
        sent_at: at,
        raw: Some(format!("Subject: {subject}\r\n\r\n{text}").into_bytes()),
        meta: serde_json::json!({ "references": refs }),
        ..Default::default()
    }
}

#[test]
fn same_message_stored_twice_is_one_row() {
    let (_d, store) = store();
    let a = email_account(&store);
    let m = mail("a@x", "maria@example.com", "Ordine 12", "Ciao", &[], 1000);
    let r1 = store
        .ingest(a.id, vec![m.clone()], None, IngestOptions::default())
        .unwrap();
    let r2 = store
        .ingest(a.id, vec![m.clone(), m], None, IngestOptions::default())
        .unwrap();
    assert_eq!((r1.stored, r1.duplicates), (1, 0));
    assert_eq!((r2.stored, r2.duplicates), (0, 2));
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.messages, stats.conversations, stats.contacts),
        (1, 1, 1)
    );
}

#[test]
fn replies_join_their_thread_by_references_and_by_subject() {
    let (_d, store) = store();
    let a = email_account(&store);
    let first = mail(
        "1@x",
        "maria@example.com",
        "Ordine 12",
        "Dov'è il mio ordine?",
        &[],
        1000,
    );
    // References an id we know.
    let second = mail(
        "2@x",
        "maria@example.com",
        "Re: Ordine 12",
        "Ancora io",
        &["1@x"],
        2000,
    );
    // No references, but same person and subject.
    let third = mail(
        "3@x",
        "maria@example.com",
        "R: ordine 12",
        "Ciao?",
        &[],
        3000,
    );
    // Same person, another subject: another conversation.
    let other = mail(
        "4@x",
        "maria@example.com",
        "Reso",
        "Vorrei fare un reso",
        &[],
        4000,
    );
    store
        .ingest(
            a.id,
            vec![first, second, third, other],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: None,
        })
        .unwrap();
    assert_eq!(page.total, 2);
    let ordine = page
        .items
        .iter()
        .find(|c| c.subject == "Ordine 12")
        .unwrap();
    assert_eq!(ordine.message_count, 3);
    assert_eq!(ordine.unread_count, 3);
    assert_eq!(ordine.waiting_since, Some(1000));
    assert_eq!(ordine.last_preview, "Ciao?");
    assert_eq!(ordine.contact_name, "Maria Rossi");
    // Newest activity first.
    assert_eq!(page.items[0].subject, "Reso");
    // One contact for both conversations.
    assert_eq!(store.stats().unwrap().contacts, 1);
}

#[test]
fn a_reply_that_arrives_before_its_parent_still_threads_with_it() {
    let (_d, store) = store();
    let a = email_account(&store);
    let child = mail(
        "2@x",
        "luca@example.com",
        "Re: Taglia",
        "Va bene la M",
        &["1@x"],
        2000,
    );
    let parent = mail(
        "1@x",
        "luca@example.com",
        "Taglia",
        "Che taglia?",
        &[],
        1000,
    );
    store
        .ingest(a.id, vec![child], None, IngestOptions::default())
        .unwrap();
    store
        .ingest(a.id, vec![parent], None, IngestOptions::default())
        .unwrap();
    assert_eq!(store.stats().unwrap().conversations, 1);
}

#[test]
fn cursor_moves_with_the_batch_it_describes() {
    let (_d, store) = store();
    let a = email_account(&store);
    let cursor = SyncCursor {
        folder: "INBOX".into(),
        uidvalidity: 7,
        last_uid: 42,
        ..Default::default()
    };
    let mut m = mail("1@x", "maria@example.com", "Ciao", "testo", &[], 1000);
    m.location = Some(RemoteLocation {
        folder: "INBOX".into(),
        uidvalidity: 7,
        uid: 42,
    });
    store
        .ingest(a.id, vec![m], Some(&cursor), IngestOptions::default())
        .unwrap();
    assert_eq!(store.cursor(a.id, "INBOX").unwrap(), Some(cursor));
    store.reset_folder(a.id, "INBOX", 8).unwrap();
    let reset = store.cursor(a.id, "INBOX").unwrap().unwrap();
    assert_eq!((reset.uidvalidity, reset.last_uid), (8, 0));
    // Messages are kept across a UIDVALIDITY change.
    assert_eq!(store.stats().unwrap().messages, 1);
}

#[test]
fn raw_source_and_attachments_are_kept() {
    let (_d, store) = store();
    let a = email_account(&store);
    let mut m = mail("1@x", "maria@example.com", "Foto", "in allegato", &[], 1000);
    m.attachments = vec![
        IncomingAttachment {
            filename: "a.jpg".into(),
            mime_type: "image/jpeg".into(),
            data: b"JPEG".to_vec(),
            ..Default::default()
        },
        IncomingAttachment {
            filename: "copy.jpg".into(),
            mime_type: "image/jpeg".into(),
            data: b"JPEG".to_vec(),
            ..Default::default()
        },
    ];
    m.parse_error = Some("broken header".into());
    let report = store
        .ingest(a.id, vec![m], None, IngestOptions::default())
        .unwrap();
    let detail = store.conversation(report.conversations[0]).unwrap();
    let msg = &detail.messages[0];
    assert!(msg.has_raw);
    assert_eq!(msg.parse_error.as_deref(), Some("broken header"));
    assert_eq!(
        store.message_source(msg.id).unwrap(),
        b"Subject: Foto\r\n\r\nin allegato"
    );
    assert_eq!(msg.attachments.len(), 2);
    // Stored once by content hash.
    assert_eq!(
        msg.attachments[0].content_hash,
        msg.attachments[1].content_hash
    );
    let path = store.blob_path(msg.attachments[0].content_hash.as_deref().unwrap());
    assert_eq!(std::fs::read(path).unwrap(), b"JPEG");
}

#[test]
fn the_same_attachment_written_by_many_threads_at_once_is_one_file() {
    let (_d, store) = store();
    let a = email_account(&store);
    let data = vec![7u8; 256 * 1024];
    let prepared: Vec<sportello_core::store::Prepared> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let (store, data) = (&store, &data);
                scope.spawn(move || {
                    let mut m = mail(
                        &format!("{i}@x"),
                        "maria@example.com",
                        "Foto",
                        "x",
                        &[],
                        1000,
                    );
                    m.attachments = vec![IncomingAttachment {
                        filename: "foto.jpg".into(),
                        mime_type: "image/jpeg".into(),
                        data: data.clone(),
                        ..Default::default()
                    }];
                    let hashes = store.put_attachment_blobs(&m).unwrap();
                    sportello_core::store::Prepared {
                        message: m,
                        hashes,
                        source: None,
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let hash = prepared[0].hashes[0].clone();
    assert!(prepared.iter().all(|p| p.hashes == [hash.clone()]));
    let report = store
        .ingest_prepared(a.id, prepared, None, IngestOptions::default())
        .unwrap();
    assert_eq!(report.stored, 8);
    assert_eq!(std::fs::read(store.blob_path(&hash)).unwrap(), data);
    // No temporary file is left next to it.
    let dir = store.blob_path(&hash).parent().unwrap().to_path_buf();
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);
}

#[test]
fn search_ignores_accents_and_case_and_matches_prefixes() {
    let (_d, store) = store();
    let a = email_account(&store);
    store
        .ingest(
            a.id,
            vec![
                mail(
                    "1@x",
                    "maria@example.com",
                    "Spedizione",
                    "Quando arriverà il pacco? Perché è in ritardo",
                    &[],
                    1000,
                ),
                mail(
                    "2@x",
                    "luca@example.com",
                    "Reso",
                    "Vorrei restituire le scarpe",
                    &[],
                    2000,
                ),
            ],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let hits = store.search("PERCHE", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].snippet.contains('\u{E000}'));
    assert_eq!(store.search("arriv", 10).unwrap().len(), 1);
    assert_eq!(store.search("scarpe luca", 10).unwrap().len(), 1);
    // FTS syntax typed by a user is text, not an error.
    assert!(store.search("\"AND OR (", 10).unwrap().is_empty());
    assert!(store.search("   ", 10).unwrap().is_empty());
}

#[test]
fn a_database_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let path = dir.path().join("sportello.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(dir.path())
        .err()
        .expect("newer database must be refused");
    assert_eq!(err.code, ErrorCode::DatabaseTooNew);
    assert!(err.message.contains("newer Sportello"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn migrations_run_once_and_reopen_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = Store::open(dir.path()).unwrap();
        email_account(&store);
        store.installation_id().to_string()
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.installation_id(), id);
    assert_eq!(store.accounts().unwrap().len(), 1);
    let conn = rusqlite::Connection::open(dir.path().join("sportello.db")).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), schema::LATEST);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A channel that records what it was asked to send and fails on demand.
struct FakeChannel {
    sent: std::sync::Mutex<Vec<String>>,
    fail_with: std::sync::Mutex<Option<ErrorCode>>,
}

#[async_trait::async_trait]
impl Channel for FakeChannel {
    async fn sync(&self, _: &SyncContext) -> sportello_core::Result<SyncReport> {
        Ok(SyncReport::default())
    }
    async fn send(&self, _: &Account, item: &OutboxItem) -> sportello_core::Result<SendReceipt> {
        if let Some(code) = *self.fail_with.lock().unwrap() {
            return Err(Error::new(code, "refused"));
        }
        self.sent.lock().unwrap().push(item.message.text.clone());
        Ok(SendReceipt::default())
    }
    async fn test(&self) -> sportello_core::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_reply_is_queued_then_sent_exactly_once() {
    let (_d, store) = store();
    let a = email_account(&store);
    let r = store
        .ingest(
            a.id,
            vec![mail(
                "1@x",
                "maria@example.com",
                "Ordine",
                "Dov'è?",
                &["0@x"],
                1000,
            )],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let conversation = r.conversations[0];
    let msg = store
        .queue_reply(
            conversation,
            &Draft {
                text: "Arriva domani".into(),
                quote: true,
            },
        )
        .unwrap();
    assert_eq!(msg.delivery, Delivery::Queued);
    assert_eq!(msg.direction, Direction::Outbound);
    assert!(msg.text.contains("> Dov'è?"));
    // Introduced as mail clients do, in the shop's language (Italian by default) and time zone.
    assert!(
        msg.text.contains(
            "\nIl giorno gio 1 gen 1970 alle ore 01:00 Maria Rossi <maria@example.com> ha scritto:\n> Dov'è?"
        ),
        "{}",
        msg.text
    );
    let item = &store.due_outbox(a.id).unwrap()[0];
    assert_eq!(item.message.in_reply_to.as_deref(), Some("1@x"));
    assert_eq!(
        item.message.references,
        vec!["0@x".to_string(), "1@x".to_string()]
    );
    assert_eq!(item.message.subject, "Re: Ordine");
    assert_eq!(item.message.to, vec!["maria@example.com".to_string()]);

    let channel = FakeChannel {
        sent: Default::default(),
        fail_with: Default::default(),
    };
    assert_eq!(outbox::flush(&store, &channel, &a).await.unwrap(), (1, 0));
    assert_eq!(outbox::flush(&store, &channel, &a).await.unwrap(), (0, 0));
    assert_eq!(channel.sent.lock().unwrap().len(), 1);
    assert_eq!(store.message(msg.id).unwrap().delivery, Delivery::Sent);
    // The customer no longer waits.
    assert_eq!(
        store
            .conversation_summary(conversation)
            .unwrap()
            .waiting_since,
        None
    );
}

/// Maria's one order mail stored for `account`: its conversation.
fn one_order(store: &Store, account: &Account) -> i64 {
    store
        .ingest(
            account.id,
            vec![mail("1@x", "maria@example.com", "Ordine", "?", &[], 1000)],
            None,
            IngestOptions::default(),
        )
        .unwrap()
        .conversations[0]
}

/// A reply with `text` and no quote.
fn reply(text: &str) -> Draft {
    Draft {
        text: text.into(),
        quote: false,
    }
}

#[tokio::test]
async fn transient_failures_retry_later_and_permanent_ones_wait_for_the_user() {
    let (_d, store) = store();
    let a = email_account(&store);
    let conversation = one_order(&store, &a);
    let channel = FakeChannel {
        sent: Default::default(),
        fail_with: std::sync::Mutex::new(Some(ErrorCode::Network)),
    };
    let msg = store.queue_reply(conversation, &reply("Ok")).unwrap();
    assert_eq!(outbox::flush(&store, &channel, &a).await.unwrap(), (0, 1));
    let after = store.message(msg.id).unwrap();
    assert_eq!(after.delivery, Delivery::Queued);
    assert_eq!(after.delivery_error.unwrap().code, ErrorCode::Network);
    // Not due again until the backoff passes.
    assert!(store.due_outbox(a.id).unwrap().is_empty());
    assert!(store.next_outbox_due(a.id).unwrap().unwrap() > sportello_core::now_ms());

    let msg2 = store.queue_reply(conversation, &reply("Ok 2")).unwrap();
    *channel.fail_with.lock().unwrap() = Some(ErrorCode::Rejected);
    assert_eq!(outbox::flush(&store, &channel, &a).await.unwrap(), (0, 1));
    assert_eq!(store.message(msg2.id).unwrap().delivery, Delivery::Failed);
    *channel.fail_with.lock().unwrap() = None;
    store.retry_message(msg2.id).unwrap();
    assert_eq!(outbox::flush(&store, &channel, &a).await.unwrap(), (1, 0));
    assert_eq!(store.message(msg2.id).unwrap().delivery, Delivery::Sent);
}

#[tokio::test]
async fn a_reply_interrupted_while_sending_is_not_sent_again_blindly() {
    let (d, store) = store();
    let a = email_account(&store);
    let conversation = one_order(&store, &a);
    let msg = store.queue_reply(conversation, &reply("Ok")).unwrap();
    // Simulate a crash after the claim: the row is left 'sending'.
    {
        let conn = rusqlite::Connection::open(d.path().join("sportello.db")).unwrap();
        conn.execute("UPDATE outbox SET state = 'sending'", [])
            .unwrap();
    }
    assert_eq!(store.recover_outbox().unwrap(), 1);
    assert_eq!(store.message(msg.id).unwrap().delivery, Delivery::Failed);
    assert!(store.due_outbox(a.id).unwrap().is_empty());
    // The copy read back from the Sent folder proves it went out.
    let mut copy = mail(
        &msg.external_id,
        "negozio@example.it",
        "Re: Ordine",
        "Ok",
        &["1@x"],
        2000,
    );
    copy.direction = Some(Direction::Outbound);
    store
        .ingest(a.id, vec![copy], None, IngestOptions::default())
        .unwrap();
    assert_eq!(store.message(msg.id).unwrap().delivery, Delivery::Sent);
    assert_eq!(store.stats().unwrap().messages, 2);
}

#[test]
fn first_sync_announces_a_summary_not_one_note_per_message() {
    let (_d, store) = store();
    let a = email_account(&store);
    let mut rx = store.subscribe();
    let batch: Vec<_> = (0..50)
        .map(|i| {
            mail(
                &format!("{i}@x"),
                "maria@example.com",
                &format!("S{i}"),
                "t",
                &[],
                i,
            )
        })
        .collect();
    store
        .ingest(a.id, batch, None, IngestOptions { summarize: true })
        .unwrap();
    let change = rx.try_recv().unwrap();
    assert!(change.inbound.is_empty());
    assert_eq!(change.summaries[0].new_messages, 50);
    store
        .ingest(
            a.id,
            vec![mail("new@x", "maria@example.com", "Nuovo", "ciao", &[], 99)],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let change = rx.try_recv().unwrap();
    assert_eq!(change.inbound.len(), 1);
    assert_eq!(change.inbound[0].sender, "Maria Rossi");
}

#[test]
fn marking_read_clears_unread_and_reports_what_changed() {
    let (_d, store) = store();
    let a = email_account(&store);
    let r = store
        .ingest(
            a.id,
            vec![
                mail("1@x", "m@x.it", "A", "a", &[], 1),
                mail("2@x", "m@x.it", "A", "b", &["1@x"], 2),
            ],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let c = r.conversations[0];
    assert_eq!(store.mark_conversation_read(c).unwrap().len(), 2);
    assert_eq!(store.conversation_summary(c).unwrap().unread_count, 0);
    assert!(store.mark_conversation_read(c).unwrap().is_empty());
}

#[test]
fn removing_an_account_removes_its_conversations() {
    let (_d, store) = store();
    let a = email_account(&store);
    store
        .ingest(
            a.id,
            vec![mail("1@x", "m@x.it", "A", "a", &[], 1)],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    store.remove_account(a.id).unwrap();
    let s = store.stats().unwrap();
    assert_eq!((s.accounts, s.conversations, s.messages), (0, 0, 0));
    assert_eq!(
        store.remove_account(a.id).unwrap_err().code,
        ErrorCode::NotFound
    );
}

/// Sources are appended to pack files outside the database; bytes a crash left past the last
/// committed row (a torn tail) are never read, and later sources append after them.
#[test]
fn sources_live_in_pack_files_and_a_torn_tail_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let raw_of = |i: usize| -> Vec<u8> {
        let mut m = mail(
            &format!("{i}@x"),
            "maria@example.com",
            &format!("Ordine {i}"),
            &"testo del messaggio ".repeat(i * 50 + 1),
            &[],
            1000 + i as i64,
        );
        // Binary, not only text: a source is kept byte for byte.
        let mut raw = m.raw.take().unwrap();
        raw.extend((0..=255u8).cycle().take(i * 37));
        raw
    };
    let message = |i: usize| {
        let mut m = mail(
            &format!("{i}@x"),
            "maria@example.com",
            &format!("Ordine {i}"),
            "x",
            &[],
            1000 + i as i64,
        );
        m.raw = Some(raw_of(i));
        m
    };
    let ids = {
        let store = Store::open(dir.path()).unwrap();
        let a = email_account(&store);
        // Appended from several threads at once, as a sync's parse stage does.
        let prepared: Vec<sportello_core::store::Prepared> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|i| {
                    let store = &store;
                    scope.spawn(move || {
                        let m = message(i);
                        let source = Some(store.put_source(m.raw.as_deref().unwrap()).unwrap());
                        sportello_core::store::Prepared {
                            message: m,
                            hashes: vec![],
                            source,
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        store.flush_sources().unwrap();
        store
            .ingest_prepared(a.id, prepared, None, IngestOptions::default())
            .unwrap();
        // A batch appended and flushed whose transaction never committed (the crash).
        for i in 100..103 {
            store.put_source(&raw_of(i)).unwrap();
        }
        store.flush_sources().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("sportello.db")).unwrap();
        // The database holds where the bytes are, not the bytes.
        let (inline, packed): (i64, i64) = conn
            .query_row(
                "SELECT SUM(length(raw)), COUNT(pack_id) FROM message_sources",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((inline, packed), (0, 8));
        let ids: Vec<(i64, String)> = conn
            .prepare("SELECT id, external_id FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        ids
    };
    // And a torn write: half a source at the very end.
    let pack = std::fs::read_dir(dir.path().join("sources"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&pack)
            .unwrap();
        f.write_all(&raw_of(7)[..100]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(ids.len(), 8);
    for (id, external) in &ids {
        let i: usize = external.trim_end_matches("@x").parse().unwrap();
        assert_eq!(store.message_source(*id).unwrap(), raw_of(i), "message {i}");
    }
    // New sources append after the garbage and read back whole.
    let a = store.accounts().unwrap()[0].id;
    let report = store
        .ingest(
            a,
            vec![message(20), message(21)],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    assert_eq!(report.stored, 2);
    let detail = store.conversation(report.conversations[0]).unwrap();
    let m = detail
        .messages
        .iter()
        .find(|m| m.external_id == "20@x")
        .unwrap();
    assert!(m.has_raw);
    assert_eq!(store.message_source(m.id).unwrap(), raw_of(20));
    for (id, external) in &ids {
        let i: usize = external.trim_end_matches("@x").parse().unwrap();
        assert_eq!(store.message_source(*id).unwrap(), raw_of(i));
    }
}

/// A source stored in the database (before pack files, or handed over without one) still
/// reads back.
#[test]
fn a_source_kept_in_the_database_still_reads_back() {
    let (_d, store) = store();
    let a = email_account(&store);
    let m = mail("1@x", "maria@example.com", "Vecchio", "testo", &[], 1000);
    let report = store
        .ingest_prepared(
            a.id,
            vec![sportello_core::store::Prepared {
                message: m,
                hashes: vec![],
                source: None,
            }],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let detail = store.conversation(report.conversations[0]).unwrap();
    assert!(detail.messages[0].has_raw);
    assert_eq!(
        store.message_source(detail.messages[0].id).unwrap(),
        b"Subject: Vecchio\r\n\r\ntesto"
    );
    assert!(!store.sources_dir().exists());
}

/// A synced email's file is not written at sync: the row names the MIME part of the kept
/// source, and the file is extracted from it, byte for byte, when first opened.
#[test]
fn an_attachment_kept_in_the_source_is_extracted_byte_identical_when_first_opened() {
    use base64::Engine;
    let (dir, store) = store();
    let a = email_account(&store);
    let pdf: Vec<u8> = (0..70_001u32).map(|i| (i * 31 + 11) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let raw = format!(
        "From: maria@example.com\r\nSubject: Fattura\r\nMessage-ID: <f@x>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nin allegato\r\n\
         --b\r\nContent-Type: application/pdf; name=\"f.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    )
    .into_bytes();
    let mut m = mail(
        "f@x",
        "maria@example.com",
        "Fattura",
        "in allegato",
        &[],
        1000,
    );
    m.raw = Some(raw);
    // Part 0 is the multipart, 1 the text, 2 the file (as the email crate's parser numbers them).
    m.attachments = vec![IncomingAttachment {
        filename: "f.pdf".into(),
        mime_type: "application/pdf".into(),
        data: pdf.clone(),
        source_part: Some(2),
        ..Default::default()
    }];
    let hashes = store.hash_attachments_kept_in_source(&m).unwrap();
    let source = Some(store.put_source(m.raw.as_deref().unwrap()).unwrap());
    store.flush_sources().unwrap();
    let report = store
        .ingest_prepared(
            a.id,
            vec![sportello_core::store::Prepared {
                message: m,
                hashes: hashes.clone(),
                source,
            }],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    // Nothing under blobs/ yet, but the window sees the file as present.
    assert!(!store.blob_path(&hashes[0]).exists());
    let msg = store
        .conversation(report.conversations[0])
        .unwrap()
        .messages[0]
        .clone();
    assert_eq!(
        msg.attachments[0].content_hash.as_deref(),
        Some(&*hashes[0])
    );
    assert_eq!(msg.attachments[0].size, pdf.len() as i64);
    let out = dir.path().join("out");
    let saved = store
        .export_attachment(msg.attachments[0].id, &out)
        .unwrap();
    assert_eq!(std::fs::read(&saved).unwrap(), pdf);
    // Written once, then reused.
    assert_eq!(std::fs::read(store.blob_path(&hashes[0])).unwrap(), pdf);
    assert_eq!(
        store.attachment_file(msg.attachments[0].id).unwrap(),
        store.blob_path(&hashes[0])
    );

    // A part that does not hold the synced bytes is refused, never served as the file.
    let mut wrong = mail("g@x", "maria@example.com", "Altro", "x", &[], 2000);
    wrong.attachments = vec![IncomingAttachment {
        filename: "g.pdf".into(),
        mime_type: "application/pdf".into(),
        data: b"not what the source holds".to_vec(),
        source_part: Some(0),
        ..Default::default()
    }];
    let hashes = store.hash_attachments_kept_in_source(&wrong).unwrap();
    let report = store
        .ingest_prepared(
            a.id,
            vec![sportello_core::store::Prepared {
                message: wrong,
                hashes,
                source: None,
            }],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let msg = store
        .conversation(report.conversations[0])
        .unwrap()
        .messages[0]
        .clone();
    let err = store.attachment_file(msg.attachments[0].id).unwrap_err();
    assert_eq!(err.code, ErrorCode::Storage, "{err:?}");
}

/// Against the real keyring (inside `tests/session.sh`): what an add that the keyring refused
/// half-way leaves behind is taken back — the secrets it did save, then the account.
#[test]
fn a_half_added_account_is_removed_with_the_secrets_it_got() {
    if std::env::var_os("SPORTELLO_TEST_SESSION").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs the OS keyring: run it inside tests/session.sh"
        );
        eprintln!("note: skipped: needs the OS keyring (tests/session.sh)");
        return;
    }
    use sportello_core::secrets;
    let (_d, store) = store();
    let kept = email_account(&store);
    let half = store
        .add_account(
            ChannelKind::Telegram,
            "Bottega bot",
            "@bottega_bot",
            &serde_json::json!({}),
        )
        .unwrap();
    let id = store.installation_id();
    secrets::set(id, half.id, "bot_token", "123456:ABC").unwrap();
    secrets::set(id, kept.id, "password", "pw").unwrap();

    // "webhook_secret" was never saved: removing it is not an error.
    store.remove_half_added_account(half.id, &["bot_token", "webhook_secret"]);

    let left: Vec<i64> = store.accounts().unwrap().iter().map(|a| a.id).collect();
    assert_eq!(left, vec![kept.id]);
    assert_eq!(
        secrets::get_optional(id, half.id, "bot_token").unwrap(),
        None
    );
    assert_eq!(secrets::get(id, kept.id, "password").unwrap(), "pw");
    secrets::delete(id, kept.id, "password").unwrap();
}
