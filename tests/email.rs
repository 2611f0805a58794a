//! The email channel against a real Dovecot (IMAP) and a real SMTP server on loopback: sync,
//! threading, UIDVALIDITY, interrupted syncs, replies through the outbox, TLS and errors.
//! Only `the_password_is_kept_in_the_keyring_only` needs the OS keyring; the others hand the
//! password to the channel directly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sportello_core::channel::{Channel, SyncContext, SyncReport};
use sportello_core::model::{Account, Delivery, Direction, Message, SyncState};
use sportello_core::outbox::{self, Draft};
use sportello_core::store::ConversationQuery;
use sportello_core::supervisor::Supervisor;
use sportello_core::{ErrorCode, Store};
use sportello_email::{BatchLimits, EmailAccountInput, EmailChannel, FolderRole, SyncTuning};

use crate::support::email_setup::{Setup, setup};
use crate::support::mail::{
    ARCHIVE, MailServers, PASSWORD, SENT, USER, customer_mail, header, numbered_customer_mail,
};

fn our_reply_in_sent(to: &str, subject: &str, id: &str, in_reply_to: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Negozio <{USER}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\n\
         In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {body}\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_sync_reads_inbox_and_sent_and_own_replies_join_their_thread() {
    let servers = MailServers::start();
    let question = customer_mail(
        "Maria Rossi <maria.rossi@example.com>",
        "Ordine 1042 - quando arriva?",
        "q1042@example.com",
        "Buongiorno, il mio ordine è partito?",
    );
    servers.deliver("INBOX", &question);
    servers.deliver(
        SENT,
        &our_reply_in_sent(
            "Maria Rossi <maria.rossi@example.com>",
            "Re: Ordine 1042 - quando arriva?",
            "r1042@localhost",
            "q1042@example.com",
            "Sì, è partito ieri.",
        ),
    );
    servers.deliver(
        "INBOX",
        &customer_mail(
            "luca@example.org",
            "Taglie",
            "taglie@example.org",
            "Avete la M?",
        ),
    );
    let s = setup(&servers.account_input());

    let report = s.sync().await;
    assert_eq!((report.fetched, report.stored), (3, 3), "{report:?}");
    let folders: Vec<&str> = report.folders.iter().map(|f| f.folder.as_str()).collect();
    assert_eq!(folders, ["INBOX", SENT]);

    assert_eq!(s.threads().len(), 2);
    let thread = s.thread_of("q1042@example.com");
    assert_eq!(thread.len(), 2, "{thread:#?}");
    assert_eq!(thread[0].direction, Direction::Inbound);
    assert_eq!(thread[0].sender_name, "Maria Rossi");
    assert_eq!(thread[0].text, "Buongiorno, il mio ordine è partito?");
    assert_eq!(thread[1].direction, Direction::Outbound);
    assert_eq!(thread[1].external_id, "r1042@localhost");
    assert_eq!(thread[1].text, "Sì, è partito ieri.");
    let summary = s
        .store
        .conversation_summary(thread[0].conversation_id)
        .unwrap();
    assert_eq!(summary.contact_handle, "maria.rossi@example.com");
    assert_eq!(summary.waiting_since, None, "our reply answered her");

    // The source is kept byte for byte.
    assert_eq!(s.store.message_source(thread[0].id).unwrap(), question);

    // Each folder's cursor holds its UIDVALIDITY and last UID.
    for (folder, last) in [("INBOX", 2), (SENT, 1)] {
        let cursor = s.store.cursor(s.account.id, folder).unwrap().unwrap();
        assert_eq!(cursor.uidvalidity, servers.uidvalidity(folder), "{folder}");
        assert_eq!(cursor.last_uid, last, "{folder}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_sync_fetches_only_new_mail() {
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Uno", "uno@example.com", "primo"),
    );
    let s = setup(&servers.account_input());
    assert_eq!(s.sync().await.fetched, 1);

    let nothing = s.sync().await;
    assert_eq!((nothing.fetched, nothing.stored), (0, 0), "{nothing:?}");

    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Re: Uno", "due@example.com", "secondo"),
    );
    servers.deliver(
        "INBOX",
        &customer_mail("b@example.com", "Altro", "tre@example.com", "terzo"),
    );
    let report = s.sync().await;
    assert_eq!(
        (report.fetched, report.stored, report.duplicates),
        (2, 2, 0),
        "{report:?}"
    );
    assert_eq!(s.count(), 3);
    // "Re: Uno" from the same person joins the first conversation by subject.
    assert_eq!(s.thread_of("uno@example.com").len(), 2);
    assert_eq!(
        s.store
            .cursor(s.account.id, "INBOX")
            .unwrap()
            .unwrap()
            .last_uid,
        3
    );
}

/// Every change published since `rx` was taken: (inbound notes, first-sync summaries).
fn drain(
    rx: &mut tokio::sync::broadcast::Receiver<sportello_core::events::Change>,
) -> (usize, usize) {
    let (mut inbound, mut summaries) = (0, 0);
    while let Ok(change) = rx.try_recv() {
        inbound += change.inbound.len();
        summaries += change.summaries.len();
    }
    (inbound, summaries)
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_arriving_after_a_first_sync_of_an_empty_inbox_is_announced_as_new() {
    let servers = MailServers::start();
    let s = setup(&servers.account_input());
    let mut rx = s.store.subscribe();
    assert_eq!(s.sync().await.fetched, 0);
    drain(&mut rx);

    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Prima domanda", "p1@example.com", "ciao"),
    );
    assert_eq!(s.sync().await.stored, 1);
    let (inbound, summaries) = drain(&mut rx);
    assert_eq!(
        (inbound, summaries),
        (1, 0),
        "the first customer mail in a new shop's inbox is a notification, not a summary"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_uidvalidity_resyncs_the_folder_without_duplicates() {
    let servers = MailServers::start();
    for i in 0..3 {
        servers.deliver(
            "INBOX",
            &customer_mail(
                "a@example.com",
                &format!("Msg {i}"),
                &format!("m{i}@example.com"),
                "x",
            ),
        );
    }
    // One without a Message-ID: recognised by its content.
    servers.deliver(
        "INBOX",
        b"From: c@example.com\r\nSubject: senza id\r\n\r\nciao\r\n",
    );
    let s = setup(&servers.account_input());
    assert_eq!(s.sync().await.stored, 4);

    let new_validity = servers.bump_uidvalidity("INBOX");
    servers.deliver(
        "INBOX",
        &customer_mail("d@example.com", "Nuovo", "nuovo@example.com", "y"),
    );
    let report = s.sync().await;
    let inbox = report.folders.iter().find(|f| f.folder == "INBOX").unwrap();
    assert!(inbox.resynced, "{report:?}");
    assert_eq!((inbox.fetched, inbox.stored), (5, 1), "{report:?}");
    assert_eq!(report.duplicates, 4);
    assert_eq!(s.count(), 5);
    let cursor = s.store.cursor(s.account.id, "INBOX").unwrap().unwrap();
    assert_eq!((cursor.uidvalidity, cursor.last_uid), (new_validity, 5));

    // And from there on it is incremental again.
    assert_eq!(s.sync().await.fetched, 0);
}

/// Starts a first sync in the background, storing batches of `batch` messages, and returns once
/// it has stored `at_least`: the running sync, and the channel to put back in the `Setup` once
/// that has ended.
fn sync_in_background(
    store: &Store,
    account: &Account,
    channel: EmailChannel,
    batch: usize,
    at_least: u32,
) -> (
    tokio::task::JoinHandle<sportello_core::Result<SyncReport>>,
    Arc<EmailChannel>,
) {
    let channel = Arc::new(channel.with_batch_limits(BatchLimits {
        messages: batch,
        bytes: 1 << 20,
    }));
    let done = Arc::new(AtomicU32::new(0));
    let mut ctx = SyncContext::new(store.clone(), account.clone());
    let seen = done.clone();
    ctx.progress = Arc::new(move |p| seen.store(p.done, Ordering::SeqCst));
    let running = {
        let channel = channel.clone();
        tokio::spawn(async move { channel.sync(&ctx).await })
    };
    crate::support::wait_until(
        &format!("{at_least} stored messages"),
        Duration::from_secs(60),
        || (done.load(Ordering::SeqCst) >= at_least).then_some(()),
    );
    (running, channel)
}

/// How many messages a stopped sync stored, checked against the INBOX cursor: it says exactly
/// what was committed (UIDs are 1..=n in a fresh folder).
fn stored_up_to_the_cursor(store: &Store, account: &Account) -> u32 {
    let stored = store.stats().unwrap().messages as u32;
    let cursor = store.cursor(account.id, "INBOX").unwrap().unwrap();
    assert_eq!(cursor.last_uid, stored);
    stored
}

/// Syncs again after a stopped sync that stored `stored_before` of `total`: it fetches just the
/// rest, and every message is there once.
async fn resume_without_loss_or_duplicates(s: &Setup, total: u32, stored_before: u32) {
    let report = s.sync().await;
    assert_eq!(report.fetched, total - stored_before, "{report:?}");
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert_eq!(s.count(), total as u64);
    let mut ids: Vec<String> = s.messages().into_iter().map(|m| m.external_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_interrupted_half_way_resumes_without_loss_or_duplicates() {
    const TOTAL: u32 = 300;
    let servers = MailServers::start();
    let mail = numbered_customer_mail(TOTAL, 17, "Domanda", "bulk", |i| {
        format!("testo numero {i} {}", "riempitivo ".repeat(50))
    });
    servers.deliver_many("INBOX", &mail);
    assert_eq!(servers.count("INBOX"), TOTAL);

    let mut s = setup(&servers.account_input());
    let (running, channel) = sync_in_background(&s.store, &s.account, s.channel, 5, 40);
    running.abort();
    let outcome = running.await;
    assert!(
        outcome.as_ref().is_err_and(|e| e.is_cancelled()),
        "the sync ended before the abort"
    );
    // The storing thread finishes the batch it holds, then stops.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stored_before = stored_up_to_the_cursor(&s.store, &s.account);
    assert!(
        (40..TOTAL).contains(&stored_before),
        "stored {stored_before}"
    );

    s.channel = Arc::try_unwrap(channel).unwrap();
    resume_without_loss_or_duplicates(&s, TOTAL, stored_before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_is_delivered_with_threading_headers_and_shows_as_sent() {
    let servers = MailServers::start();
    let question = "From: Maria Rossi <maria.rossi@example.com>\r\nTo: Negozio <negozio@localhost>\r\n\
        Subject: Re: Reso taglia\r\nMessage-ID: <q2@example.com>\r\nIn-Reply-To: <q1@example.com>\r\n\
        References: <q0@example.com> <q1@example.com>\r\nDate: Mon, 23 Nov 2026 09:15:00 +0100\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\nPosso cambiare la taglia?\r\nGrazie\r\n";
    servers.deliver("INBOX", question.as_bytes());
    let s = setup(&servers.account_input());
    s.sync().await;
    let conversation = s.thread_of("q2@example.com")[0].conversation_id;

    let queued = s
        .store
        .queue_reply(
            conversation,
            &Draft {
                text: "Certo, la spediamo lunedì.".into(),
                quote: true,
            },
        )
        .unwrap();
    assert_eq!(queued.delivery, Delivery::Queued);
    assert_eq!(s.flush().await, (1, 0));

    let received = servers.wait_received(1, Duration::from_secs(10));
    assert_eq!(received.len(), 1);
    let raw = String::from_utf8(received[0].clone()).unwrap();
    assert!(
        header(&raw, "From")
            .unwrap()
            .contains("<negozio@localhost>"),
        "{raw}"
    );
    assert_eq!(header(&raw, "To").unwrap(), "maria.rossi@example.com");
    assert_eq!(header(&raw, "Subject").unwrap(), "Re: Reso taglia");
    assert_eq!(header(&raw, "In-Reply-To").unwrap(), "<q2@example.com>");
    assert_eq!(
        header(&raw, "References").unwrap(),
        "<q0@example.com> <q1@example.com> <q2@example.com>"
    );
    assert_eq!(
        header(&raw, "Message-ID").unwrap(),
        format!("<{}>", queued.external_id)
    );
    let parsed = sportello_email::parse_message(received[0].clone(), USER, None);
    assert!(
        parsed.text.starts_with("Certo, la spediamo lunedì."),
        "{}",
        parsed.text
    );
    assert!(
        parsed.text.contains("> Posso cambiare la taglia?"),
        "{}",
        parsed.text
    );
    assert_eq!(
        servers.received_envelopes()[0],
        vec![USER.to_string(), "maria.rossi@example.com".to_string()]
    );

    let thread = s.thread_of("q2@example.com");
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].direction, Direction::Outbound);
    assert_eq!(thread[1].delivery, Delivery::Sent);
    assert_eq!(thread[1].id, queued.id);
    // Nothing more to send.
    assert_eq!(s.flush().await, (0, 0));

    // The copy a mail client or server files in Sent is recognised, not stored twice.
    servers.deliver(SENT, &received[0]);
    let report = s.sync().await;
    assert_eq!((report.stored, report.duplicates), (0, 1), "{report:?}");
    assert_eq!(s.thread_of("q2@example.com").len(), 2);
    assert_eq!(servers.received().len(), 1);
}

/// Makes every queued reply due now, as if its backoff had passed.
fn backoff_passes(s: &Setup) {
    let db = rusqlite::Connection::open(s.store.data_dir().join(sportello_core::store::DB_FILE))
        .unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE outbox SET next_attempt_at = 0 WHERE state = 'queued'",
        [],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_failure_is_retried_with_backoff_shown_failed_and_never_sent_twice() {
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Spedizione", "sp@example.com", "?"),
    );
    let s = setup(&servers.account_input());
    s.sync().await;
    let conversation = s.thread_of("sp@example.com")[0].conversation_id;

    // A temporary refusal: queued again with an error, not due until the backoff passes.
    servers.smtp_fail_with(Some("451 4.3.0 Mailbox temporarily unavailable"));
    let reply = s.reply(conversation, "Partito oggi");
    assert_eq!(s.flush().await, (0, 1));
    let m = s.store.message(reply.id).unwrap();
    assert_eq!(m.delivery, Delivery::Queued);
    let error = m.delivery_error.unwrap();
    assert_eq!(error.code, ErrorCode::Network);
    assert!(error.message.contains("451"), "{}", error.message);
    assert_eq!(s.flush().await, (0, 0), "retried before its backoff");

    // It keeps failing: after the last attempt it is shown as failed and not retried.
    for _ in 1..outbox::MAX_ATTEMPTS {
        backoff_passes(&s);
        assert_eq!(s.flush().await, (0, 1));
    }
    let m = s.store.message(reply.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    backoff_passes(&s);
    assert_eq!(s.flush().await, (0, 0));
    assert!(servers.received().is_empty());

    // The user retries once the server is fine: sent exactly once.
    servers.smtp_fail_with(None);
    s.store.retry_message(reply.id).unwrap();
    assert_eq!(s.flush().await, (1, 0));
    assert_eq!(s.store.message(reply.id).unwrap().delivery, Delivery::Sent);
    backoff_passes(&s);
    assert_eq!(s.flush().await, (0, 0));
    assert_eq!(servers.wait_received(1, Duration::from_secs(10)).len(), 1);

    // A permanent refusal fails at once, without retries.
    servers.smtp_fail_with(Some("550 5.1.1 No such user here"));
    let second = s.reply(conversation, "Altro messaggio");
    assert_eq!(s.flush().await, (0, 1));
    let m = s.store.message(second.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::Rejected);
    assert_eq!(servers.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_smtp_server_being_down_is_a_network_error_then_the_reply_goes_out() {
    let mut servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Ciao", "ciao@example.com", "?"),
    );
    let s = setup(&servers.account_input());
    s.sync().await;
    let conversation = s.thread_of("ciao@example.com")[0].conversation_id;
    servers.stop_smtp();
    let reply = s.reply(conversation, "Eccoci");
    assert_eq!(s.flush().await, (0, 1));
    let m = s.store.message(reply.id).unwrap();
    assert_eq!(m.delivery, Delivery::Queued);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::Network);

    servers.start_smtp();
    backoff_passes(&s);
    assert_eq!(s.flush().await, (1, 0));
    assert_eq!(servers.wait_received(1, Duration::from_secs(10)).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_imap_server_being_down_is_a_network_error_and_sync_recovers() {
    let mut servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Uno", "uno@example.com", "x"),
    );
    let s = setup(&servers.account_input());
    servers.stop_imap();
    let e = s.try_sync().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Network, "{}", e.message);
    assert!(
        e.message.contains(&servers.imap_port.to_string()),
        "{}",
        e.message
    );
    servers.start_imap();
    assert_eq!(s.sync().await.stored, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_starttls_with_the_servers_own_ca() {
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "TLS", "tls@example.com", "sicuro"),
    );
    for input in [
        servers.account_input_tls(),
        servers.account_input_starttls(),
    ] {
        sportello_email::test_settings(&input)
            .await
            .unwrap_or_else(|e| panic!("{:?}: {}", input.imap_security, e.message));
        let s = setup(&input);
        assert_eq!(s.sync().await.stored, 1);
        let conversation = s.thread_of("tls@example.com")[0].conversation_id;
        s.reply(conversation, "ok");
        assert_eq!(s.flush().await, (1, 0), "{:?}", input.smtp_security);
    }
    assert_eq!(servers.wait_received(2, Duration::from_secs(10)).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_is_a_tls_error() {
    let servers = MailServers::start();
    for input in [
        servers.account_input_tls(),
        servers.account_input_starttls(),
    ] {
        let input = EmailAccountInput {
            ca_file: None,
            ..input
        };
        let e = sportello_email::test_settings(&input).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Tls, "{}", e.message);
        assert!(e.message.contains("CA certificate"), "{}", e.message);

        // SMTP alone (IMAP is checked first by test_settings).
        let s = setup(&input);
        servers.deliver(
            "INBOX",
            &customer_mail("a@example.com", "x", "x@example.com", "x"),
        );
        let e = s.try_sync().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Tls, "{}", e.message);
        let mut plain_imap = servers.account_input();
        plain_imap.smtp_host = input.smtp_host.clone();
        plain_imap.smtp_port = input.smtp_port;
        plain_imap.smtp_security = input.smtp_security;
        let s = setup(&plain_imap);
        s.sync().await;
        let conversation = s.thread_of("x@example.com")[0].conversation_id;
        let reply = s.reply(conversation, "x");
        assert_eq!(s.flush().await, (0, 1));
        let m = s.store.message(reply.id).unwrap();
        assert_eq!(
            m.delivery,
            Delivery::Failed,
            "a certificate problem is not retried"
        );
        let e = m.delivery_error.unwrap();
        assert_eq!(e.code, ErrorCode::Tls, "{}", e.message);
    }
    assert!(servers.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_auth_failed_and_never_shown() {
    const WRONG: &str = "Sbagliata-Password-9931";
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "x", "x@example.com", "x"),
    );
    for input in [servers.account_input(), servers.account_input_tls()] {
        let input = EmailAccountInput {
            password: WRONG.into(),
            ..input
        };
        let e = sportello_email::test_settings(&input).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
        assert!(e.message.contains(USER), "names the user: {}", e.message);
        assert!(!e.message.contains(WRONG), "{}", e.message);
        let s = setup(&input);
        let e = s.try_sync().await.unwrap_err();
        assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
        assert!(!e.message.contains(WRONG), "{}", e.message);
    }

    // SMTP alone refuses: the reply fails at once (no retry storm with a bad password).
    let mut good_imap = servers.account_input();
    let s = setup(&good_imap);
    s.sync().await;
    good_imap.password = WRONG.into();
    let settings = good_imap.validate().unwrap();
    let bad = EmailChannel::new(s.account.clone(), settings, WRONG.into());
    let conversation = s.thread_of("x@example.com")[0].conversation_id;
    let reply = s.reply(conversation, "x");
    assert_eq!(
        outbox::flush(&s.store, &bad, &s.account).await.unwrap(),
        (0, 1)
    );
    let m = s.store.message(reply.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    let e = m.delivery_error.unwrap();
    assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
    assert!(!e.message.contains(WRONG), "{}", e.message);
    assert!(!e.message.contains(PASSWORD));
    assert!(servers.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_message_is_stored_raw_with_an_error_flag() {
    let servers = MailServers::start();
    let garbage: &[u8] = b"\x00\x01\x02\x03 questo non \xe8 un messaggio \xff\xfe\r\n\x00\x00\r\n";
    servers.deliver("INBOX", garbage);
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Normale", "ok@example.com", "ok"),
    );
    let s = setup(&servers.account_input());
    let report = s.sync().await;
    assert_eq!(report.stored, 2, "{report:?}");
    let broken: Vec<Message> = s
        .messages()
        .into_iter()
        .filter(|m| m.parse_error.is_some())
        .collect();
    assert_eq!(broken.len(), 1);
    assert!(broken[0].has_raw);
    // Dovecot stores NUL bytes as 0x80 (IMAP literals cannot carry NULs); the rest is kept.
    let as_served: Vec<u8> = garbage
        .iter()
        .map(|&b| if b == 0 { 0x80 } else { b })
        .collect();
    assert_eq!(s.store.message_source(broken[0].id).unwrap(), as_served);
    // A second sync does not store it again.
    assert_eq!(s.sync().await.stored, 0);
    assert_eq!(s.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_is_kept_in_the_keyring_only() {
    if !crate::support::keyring_session("the_password_is_kept_in_the_keyring_only") {
        return;
    }
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("a@example.com", "Ciao", "k@example.com", "x"),
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let account = sportello_email::add_account(&store, &servers.account_input()).unwrap();
    assert!(!account.settings.to_string().contains(PASSWORD));

    let channel = sportello_email::open(&store, &account)
        .unwrap()
        .expect("a syncing channel");
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
    channel.test().await.unwrap();

    // Nothing in the data folder holds the password.
    drop(channel);
    drop(store);
    for entry in std::fs::read_dir(data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "{} holds the password",
                path.display()
            );
        }
    }
}

// ---- Two-way state: flags, expunges, moves, archive, Sent copies, IDLE ----

fn setup_two_way(servers: &MailServers, tuning: SyncTuning) -> Setup {
    let mut s = setup(&servers.account_input());
    s.channel = s.channel.with_store(s.store.clone()).with_tuning(tuning);
    s
}

fn quick() -> SyncTuning {
    SyncTuning {
        flag_scan_every: Duration::ZERO,
        idle_for: Duration::from_secs(20),
        ..Default::default()
    }
}

fn unread(s: &Setup, external_id: &str) -> u32 {
    s.store
        .conversation_summary(s.conversation_of(external_id))
        .unwrap()
        .unread_count
}

async fn flags_both_ways(servers: &MailServers) {
    servers.deliver(
        "INBOX",
        &customer_mail(
            "maria@example.com",
            "Taglia",
            "f1@example.com",
            "Che taglia?",
        ),
    );
    servers.deliver(
        "INBOX",
        &customer_mail(
            "luca@example.com",
            "Spedizione",
            "f2@example.com",
            "Quando?",
        ),
    );
    let s = setup_two_way(servers, quick());
    s.sync().await;
    assert_eq!(unread(&s, "f1@example.com"), 1);

    // Read here → \Seen there.
    s.store
        .mark_conversation_read(s.conversation_of("f1@example.com"))
        .unwrap();
    s.sync().await;
    assert!(servers.flags_of("INBOX", &["uid", "1"])[0].contains("\\Seen"));
    assert!(!servers.flags_of("INBOX", &["uid", "2"])[0].contains("\\Seen"));

    // Read elsewhere → read here; marked unread elsewhere → unread here.
    servers.flags("add", "\\Seen", "INBOX", &["uid", "2"]);
    servers.flags("remove", "\\Seen", "INBOX", &["uid", "1"]);
    s.sync().await;
    assert_eq!(unread(&s, "f2@example.com"), 0);
    assert_eq!(unread(&s, "f1@example.com"), 1);

    // A reply sets \Answered on what it answers and is filed in Sent.
    s.reply(s.conversation_of("f2@example.com"), "Domani.");
    assert_eq!(s.flush().await, (1, 0));
    assert!(servers.flags_of("INBOX", &["uid", "2"])[0].contains("\\Answered"));
    assert_eq!(servers.count(SENT), 1);
    let before = s.count();
    s.sync().await;
    assert_eq!(
        s.count(),
        before,
        "the copy in Sent is our reply, not a new message"
    );
    assert!(!s.store.has_remote_ops(s.account.id).unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_go_both_ways_with_condstore() {
    let servers = MailServers::start();
    flags_both_ways(&servers).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn flags_go_both_ways_without_condstore_by_flag_scan() {
    let servers = MailServers::start_basic();
    flags_both_ways(&servers).await;
}

async fn expunges_and_moves(servers: &MailServers) {
    servers.deliver(
        "INBOX",
        &customer_mail("spam@example.com", "Offerta", "x1@example.com", "Compra!"),
    );
    servers.deliver(
        "INBOX",
        &customer_mail(
            "maria@example.com",
            "Reso",
            "x2@example.com",
            "Vorrei un reso",
        ),
    );
    servers.deliver(
        "INBOX",
        &customer_mail(
            "luca@example.com",
            "Fattura",
            "x3@example.com",
            "La fattura?",
        ),
    );
    let s = setup_two_way(servers, quick());
    s.sync().await;
    assert_eq!(s.count(), 3);
    s.reply(s.conversation_of("x2@example.com"), "Certo.");
    assert_eq!(s.flush().await, (1, 0));
    s.sync().await;

    // Another client deletes everything in INBOX.
    servers.expunge("INBOX", &["all"]);
    s.sync().await;
    let ids: Vec<String> = s.messages().into_iter().map(|m| m.external_id).collect();
    assert!(!ids.contains(&"x1@example.com".to_string()), "{ids:?}");
    assert!(!ids.contains(&"x3@example.com".to_string()), "{ids:?}");
    assert!(
        ids.contains(&"x2@example.com".to_string()),
        "a message we replied to is kept: {ids:?}"
    );

    // Moved by another client into a folder that feeds the inbox: still there, once.
    servers.deliver(
        "INBOX",
        &customer_mail(
            "anna@example.com",
            "Colore",
            "x4@example.com",
            "Avete il blu?",
        ),
    );
    s.sync().await;
    servers.move_to(SENT, "INBOX", &["all"]);
    s.sync().await;
    assert_eq!(s.thread_of("x4@example.com").len(), 1);
    // ...and into one that does not: gone.
    servers.move_to(ARCHIVE, SENT, &["header", "Message-ID", "x4@example.com"]);
    s.sync().await;
    assert!(
        !s.messages()
            .iter()
            .any(|m| m.external_id == "x4@example.com")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expunged_and_moved_mail_disappears_unless_we_replied() {
    let servers = MailServers::start();
    expunges_and_moves(&servers).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expunged_and_moved_mail_disappears_unless_we_replied_without_condstore() {
    let servers = MailServers::start_basic();
    expunges_and_moves(&servers).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn archiving_a_conversation_moves_its_mail_to_the_archive_folder() {
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("maria@example.com", "Grazie", "a1@example.com", "Tutto ok"),
    );
    let s = setup_two_way(&servers, quick());
    s.sync().await;
    let c = s.conversation_of("a1@example.com");
    assert_eq!(s.store.archive_conversation(c).unwrap(), 1);
    s.sync().await;
    assert_eq!(servers.count("INBOX"), 0);
    assert_eq!(servers.count(ARCHIVE), 1);
    // Archived here, so it stays here even though INBOX no longer holds it.
    s.sync().await;
    assert_eq!(s.thread_of("a1@example.com").len(), 1);
    assert!(!s.store.has_remote_ops(s.account.id).unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn folders_are_listed_with_roles_and_the_inbox_feeds_can_be_chosen() {
    let servers = MailServers::start();
    servers.doveadm(&["mailbox", "create", "-u", USER, "Clienti"], None);
    servers.deliver(
        "Clienti",
        &customer_mail("maria@example.com", "Ordine", "c1@example.com", "Ciao"),
    );
    let s = setup_two_way(&servers, quick());
    let folders = sportello_email::list_folders_with(
        s.channel.settings(),
        &sportello_email::Login::Password(PASSWORD.into()),
    )
    .await
    .unwrap();
    let role = |name: &str| folders.iter().find(|f| f.name == name).unwrap().role;
    assert_eq!(role("INBOX"), Some(FolderRole::Inbox));
    assert_eq!(role(SENT), Some(FolderRole::Sent));
    assert_eq!(role(ARCHIVE), Some(FolderRole::Archive));
    assert_eq!(role("Trash"), Some(FolderRole::Trash));
    let feeds: Vec<&str> = folders
        .iter()
        .filter(|f| f.feeds_inbox)
        .map(|f| f.name.as_str())
        .collect();
    let mut feeds = feeds;
    feeds.sort();
    assert_eq!(feeds, vec!["INBOX", SENT]);
    s.sync().await;
    assert_eq!(s.count(), 0);

    sportello_email::set_inbox_folders(&s.store, s.account.id, &["INBOX".into(), "Clienti".into()])
        .unwrap();
    let account = s.store.account(s.account.id).unwrap();
    let s = Setup {
        channel: EmailChannel::new(
            account.clone(),
            sportello_email::EmailSettings::from_json(&account.settings).unwrap(),
            PASSWORD.into(),
        ),
        account,
        ..s
    };
    s.sync().await;
    assert_eq!(s.count(), 1);
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_pushes_new_mail_and_wakes_for_local_changes_and_survives_an_outage() {
    let mut servers = MailServers::start();
    let s = setup_two_way(&servers, quick());
    let settings = s.channel.settings().clone();
    let open: sportello_core::channel::OpenChannel = Arc::new(move |store, account| {
        let channel = EmailChannel::new(account.clone(), settings.clone(), PASSWORD.into())
            .with_store(store.clone())
            .with_tuning(quick());
        Ok(Some(Arc::new(channel) as Arc<dyn Channel>))
    });
    let supervisor = Supervisor::new(s.store.clone(), open, Duration::from_secs(60));
    supervisor.start(s.account.id);
    let account = s.account.id;
    let idle = |store: &Store| {
        let a = store.account(account).unwrap();
        (a.status.state == SyncState::Idle && a.status.last_sync_at.is_some()).then_some(())
    };
    wait_for("the first sync", Duration::from_secs(10), || idle(&s.store));
    // Give the worker a moment to enter IDLE.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let start = std::time::Instant::now();
    servers.deliver(
        "INBOX",
        &customer_mail("maria@example.com", "Subito", "p1@example.com", "Ci siete?"),
    );
    wait_for("pushed mail", Duration::from_secs(5), || {
        (s.count() == 1).then_some(())
    });
    let latency = start.elapsed();
    eprintln!("new mail stored {latency:?} after delivery (IDLE)");
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    // Reading in the app wakes the worker out of IDLE and marks the mail read there.
    s.store
        .mark_conversation_read(s.conversation_of("p1@example.com"))
        .unwrap();
    supervisor.wake(Some(account));
    wait_for("\\Seen on the server", Duration::from_secs(5), || {
        servers.flags_of("INBOX", &["uid", "1"])[0]
            .contains("\\Seen")
            .then_some(())
    });

    // The server goes away: offline with the error shown, then back by itself.
    servers.stop_imap();
    wait_for("offline", Duration::from_secs(10), || {
        let a = s.store.account(account).unwrap();
        (a.status.state == SyncState::Offline).then_some(a.status.last_error)
    })
    .expect("the last error is kept");
    servers.start_imap();
    servers.deliver(
        "INBOX",
        &customer_mail("luca@example.com", "Dopo", "p2@example.com", "Eccomi"),
    );
    wait_for(
        "caught up after the outage",
        Duration::from_secs(20),
        || (s.count() == 2).then_some(()),
    );
    wait_for("idle again", Duration::from_secs(10), || idle(&s.store));
    supervisor.stop(account);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_imap_server_stopped_mid_sync_then_restarted_resumes_without_loss_or_duplicates() {
    // ~60 MB: far more than the socket buffers and the pipeline's queues hold, so Dovecot is
    // still streaming the one big UID FETCH when it is stopped.
    const TOTAL: u32 = 2000;
    let mut servers = MailServers::start();
    let mail = numbered_customer_mail(TOTAL, 23, "Ordine", "stop", |i| {
        format!("{}\r\nfine {i}", "testo della richiesta ".repeat(1400))
    });
    servers.deliver_many("INBOX", &mail);
    assert_eq!(servers.count("INBOX"), TOTAL);

    let mut s = setup(&servers.account_input());
    let (running, channel) = sync_in_background(&s.store, &s.account, s.channel, 10, 100);
    servers.stop_imap();
    let e = running
        .await
        .unwrap()
        .expect_err("the sync cannot finish with the server gone");
    assert_eq!(e.code, ErrorCode::Network, "{}", e.message);
    let stored_before = stored_up_to_the_cursor(&s.store, &s.account);
    assert!(
        (100..TOTAL).contains(&stored_before),
        "stored {stored_before} of {TOTAL}"
    );

    servers.start_imap();
    s.channel = Arc::try_unwrap(channel).unwrap();
    resume_without_loss_or_duplicates(&s, TOTAL, stored_before).await;
    assert_eq!(s.sync().await.fetched, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_tried_once_not_in_a_retry_storm() {
    const WRONG: &str = "Sbagliata-Password-5520";
    let servers = MailServers::start();
    let input = EmailAccountInput {
        password: WRONG.into(),
        ..servers.account_input()
    };
    let s = setup(&input);
    let settings = s.channel.settings().clone();
    let open: sportello_core::channel::OpenChannel = Arc::new(move |store, account| {
        let channel = EmailChannel::new(account.clone(), settings.clone(), WRONG.into())
            .with_store(store.clone())
            .with_tuning(quick());
        Ok(Some(Arc::new(channel) as Arc<dyn Channel>))
    });
    // A 200 ms poll: a worker that retried refused logins would log in many times below.
    let supervisor = Supervisor::new(s.store.clone(), open, Duration::from_millis(200));
    let account = s.account.id;
    supervisor.start(account);
    let error = wait_for(
        "the account to need attention",
        Duration::from_secs(20),
        || {
            let a = s.store.account(account).unwrap();
            (a.status.state == SyncState::NeedsAttention).then_some(a.status.last_error)
        },
    )
    .expect("the error is kept for the account");
    assert_eq!(error.code, ErrorCode::AuthFailed, "{}", error.message);
    assert!(
        error.message.contains(USER),
        "names the user: {}",
        error.message
    );
    assert!(!error.message.contains(WRONG), "{}", error.message);
    wait_for(
        "Dovecot to log the refused login",
        Duration::from_secs(10),
        || (servers.refused_logins() >= 1).then_some(()),
    );
    // Twenty poll intervals, and longer than Dovecot's 2 s delay after a failed login.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(servers.refused_logins(), 1, "{}", servers.imap_log());
    assert_eq!(
        s.store.account(account).unwrap().status.state,
        SyncState::NeedsAttention
    );

    // "Sync now" (or new settings) tries again, once.
    supervisor.wake(Some(account));
    wait_for("the second attempt", Duration::from_secs(10), || {
        (servers.refused_logins() >= 2).then_some(())
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(servers.refused_logins(), 2, "{}", servers.imap_log());
    supervisor.stop(account);
}

/// Third-party test corpora of real-world and malformed mail that ship in packages: the
/// mail-parser crate's `resources/eml` (unpacked by cargo with the crate) and CPython's
/// `test_email/data` (Debian `libpython3.X-testsuite`, installed by `.ci/setup test`).
fn third_party_corpora() -> Vec<std::path::PathBuf> {
    fn walk(
        dir: &std::path::Path,
        keep: &dyn Fn(&std::path::Path) -> bool,
        out: &mut Vec<std::path::PathBuf>,
    ) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, keep, out);
            } else if keep(&path) {
                out.push(path);
            }
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let mut mail_parser: Vec<std::path::PathBuf> =
        std::fs::read_dir(cargo_home.join("registry/src"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .flat_map(|index| std::fs::read_dir(index.path()).into_iter().flatten())
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("mail-parser-0.11")
            })
            .map(|e| e.path().join("resources/eml"))
            .filter(|p| p.is_dir())
            .collect();
    mail_parser.sort();
    let mail_parser = mail_parser
        .pop()
        .expect("mail-parser's resources/eml is missing: run `cargo fetch`");
    let mut python: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("test/test_email/data"))
        .filter(|p| p.is_dir())
        .collect();
    python.sort();
    let python = python.pop().expect(
        "CPython's test_email/data is missing: install libpython3.X-testsuite (.ci/setup test)",
    );
    let mut files = Vec::new();
    walk(
        &mail_parser,
        &|p| p.extension().is_some_and(|e| e == "eml"),
        &mut files,
    );
    let before = files.len();
    walk(
        &python,
        &|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("msg_") && name.ends_with(".txt")
        },
        &mut files,
    );
    assert!(before > 50, "only {before} mail-parser messages");
    assert!(
        files.len() - before > 30,
        "only {} CPython messages",
        files.len() - before
    );
    files
}

/// What IMAP can carry of a message: Dovecot serves line ends as CRLF and NUL bytes as 0x80.
fn as_imap_serves(raw: &[u8]) -> Vec<u8> {
    raw.iter()
        .filter(|&&b| b != b'\r')
        .map(|&b| if b == 0 { 0x80 } else { b })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_message_of_third_party_corpora_is_stored_with_its_source_by_sync_and_import() {
    let files = third_party_corpora();
    let raws: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let own_id =
        |raw: &[u8]| sportello_email::mime::parse_message(raw.to_vec(), USER, None).external_id;

    // Through the real server: every message reaches the store with its source.
    let servers = MailServers::start();
    servers.deliver_many("INBOX", &raws);
    assert_eq!(servers.count("INBOX"), files.len() as u32);
    let s = setup(&servers.account_input());
    let report = s.sync().await;
    assert_eq!(report.fetched, files.len() as u32, "{report:?}");
    assert_eq!(
        report.stored + report.duplicates,
        report.fetched,
        "{report:?}"
    );
    assert_eq!(s.sync().await.fetched, 0);
    let stored = s.messages();
    assert_eq!(stored.len() as u32, report.stored);
    let sources: std::collections::HashSet<Vec<u8>> = stored
        .iter()
        .map(|m| {
            assert!(m.has_raw, "{} lost its source", m.external_id);
            as_imap_serves(&s.store.message_source(m.id).unwrap())
        })
        .collect();
    let ids: std::collections::HashSet<&str> =
        stored.iter().map(|m| m.external_id.as_str()).collect();
    for (path, raw) in files.iter().zip(&raws) {
        // Stored as itself, or a duplicate of a stored message with the same Message-ID.
        assert!(
            sources.contains(&as_imap_serves(raw)) || ids.contains(own_id(raw).as_str()),
            "{} is not stored",
            path.display()
        );
    }

    // By import (no server: the exact bytes), into a fresh store.
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let report = sportello_email::import_paths(&store, &files).unwrap();
    assert_eq!(report.failed, 0, "{:?}", report.errors);
    assert!(
        report.imported + report.duplicates >= files.len() as u32,
        "{report:?}"
    );
    let account = sportello_email::imported_account(&store).unwrap();
    let page = store
        .conversations(&ConversationQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    let imported: Vec<Message> = page
        .items
        .iter()
        .flat_map(|c| store.conversation(c.id).unwrap().messages)
        .collect();
    assert!(imported.iter().all(|m| m.account_id == account.id));
    let sources: std::collections::HashSet<Vec<u8>> = imported
        .iter()
        .map(|m| store.message_source(m.id).unwrap())
        .collect();
    let ids: std::collections::HashSet<&str> =
        imported.iter().map(|m| m.external_id.as_str()).collect();
    for (path, raw) in files.iter().zip(&raws) {
        // Files that start with "From " are read as mbox (the separator line is not mail).
        if raw.starts_with(b"From ") {
            continue;
        }
        assert!(
            sources.contains(raw) || ids.contains(own_id(raw).as_str()),
            "{} is not imported byte for byte",
            path.display()
        );
    }
}

/// RFC 3834: the out-of-hours acknowledgement goes out once, marked
/// `Auto-Submitted: auto-replied` and threaded to the message that triggered it; a reply a
/// person writes afterwards is not marked.
#[tokio::test(flavor = "multi_thread")]
async fn an_out_of_hours_message_gets_one_auto_reply_marked_auto_submitted() {
    use sportello_core::care::{CareSettings, OpeningHours};
    let servers = MailServers::start();
    let s = setup(&servers.account_input());
    // The first sync is a backlog, never answered automatically.
    servers.deliver(
        "INBOX",
        &customer_mail(
            "Luca <luca@example.com>",
            "Vecchia",
            "old@example.com",
            "Ciao",
        ),
    );
    s.sync().await;
    // Open one minute a week: every message is out of hours.
    let mut care = CareSettings {
        shop_name: "Bottega".into(),
        business_hours: vec![OpeningHours {
            weekday: 1,
            open: "00:00".into(),
            close: "00:01".into(),
        }],
        ..Default::default()
    };
    care.auto_reply.enabled = true;
    care.auto_reply.text = "Siamo chiusi, rispondiamo domani. {{shop.name}}".into();
    s.store.save_care_settings(&care).unwrap();

    let now = chrono::Utc::now().to_rfc2822();
    let fresh = |id: &str, body: &str| {
        format!(
            "From: Maria Rossi <maria.rossi@example.com>\r\nTo: Negozio <{USER}>\r\n\
             Subject: Ordine 42\r\nMessage-ID: <{id}>\r\nDate: {now}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    };
    servers.deliver("INBOX", &fresh("late1@example.com", "Ci siete?"));
    s.sync().await;
    // A second message in the same conversation within the hours gets none.
    let mut again = String::from_utf8(fresh("late2@example.com", "Rispondete?")).unwrap();
    again = again.replace(
        "Date:",
        "In-Reply-To: <late1@example.com>\r\nReferences: <late1@example.com>\r\nDate:",
    );
    servers.deliver("INBOX", again.as_bytes());
    s.sync().await;
    assert_eq!(s.flush().await, (1, 0));

    let received = servers.wait_received(1, Duration::from_secs(10));
    assert_eq!(received.len(), 1);
    let raw = String::from_utf8(received[0].clone()).unwrap();
    assert_eq!(
        header(&raw, "Auto-Submitted"),
        Some("auto-replied"),
        "{raw}"
    );
    assert_eq!(header(&raw, "In-Reply-To"), Some("<late1@example.com>"));
    assert_eq!(header(&raw, "References"), Some("<late1@example.com>"));
    assert_eq!(header(&raw, "Precedence"), None);
    assert_eq!(header(&raw, "To"), Some("maria.rossi@example.com"));
    let thread = s.thread_of("late1@example.com");
    let autos: Vec<_> = thread
        .iter()
        .filter(|m| m.kind == sportello_core::model::MessageKind::AutoReply)
        .collect();
    assert_eq!(autos.len(), 1, "{thread:?}");
    assert_eq!(autos[0].delivery, Delivery::Sent);
    assert_eq!(thread.len(), 3, "{thread:?}");

    // A reply a person writes is not automatic.
    s.reply(thread[0].conversation_id, "Eccoci, il pacco parte oggi.");
    assert_eq!(s.flush().await, (1, 0));
    let received = servers.wait_received(2, Duration::from_secs(10));
    assert_eq!(received.len(), 2);
    let manual = String::from_utf8(received[1].clone()).unwrap();
    assert!(manual.contains("Eccoci, il pacco parte oggi."), "{manual}");
    assert_eq!(header(&manual, "Auto-Submitted"), None, "{manual}");
    assert_eq!(servers.received().len(), 2);
}

/// A loopback proxy in front of Dovecot's IMAP port: records the command of every line the
/// client sends (`LOGIN`, `STATUS`, `UID FETCH`...), counts connections, and can cut them.
struct ImapProxy {
    port: u16,
    commands: Arc<std::sync::Mutex<Vec<String>>>,
    connections: Arc<AtomicU32>,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl ImapProxy {
    fn start(to: u16) -> ImapProxy {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let commands = Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicU32::new(0));
        let open = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (log, count, streams) = (commands.clone(), connections.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = std::net::TcpStream::connect(("127.0.0.1", to)).unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                streams.lock().unwrap().push(client.try_clone().unwrap());
                streams.lock().unwrap().push(server.try_clone().unwrap());
                let (mut from_server, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Both);
                });
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(client);
                    let mut to_server = server;
                    let mut line = Vec::new();
                    while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                        let text = String::from_utf8_lossy(&line).to_string();
                        let words: Vec<&str> = text.split_whitespace().collect();
                        let command = match words.as_slice() {
                            [_, "UID", c, ..] | [_, "uid", c, ..] => {
                                format!("UID {}", c.to_ascii_uppercase())
                            }
                            [_, c, ..] => c.to_ascii_uppercase(),
                            [c] => c.to_ascii_uppercase(),
                            [] => String::new(),
                        };
                        log.lock().unwrap().push(command);
                        if to_server.write_all(&line).is_err() {
                            break;
                        }
                        line.clear();
                    }
                    let _ = to_server.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        ImapProxy {
            port,
            commands,
            connections,
            open,
        }
    }

    /// The commands sent since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.commands.lock().unwrap())
    }

    /// Drops every open connection, as a NAT timeout or a restarted server would.
    fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resync_with_nothing_new_asks_status_only_and_a_worker_reuses_its_connection() {
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail("maria@example.com", "Ordine", "r1@example.com", "Ciao"),
    );
    let proxy = ImapProxy::start(servers.account_input().imap_port);
    let input = EmailAccountInput {
        imap_port: proxy.port,
        ..servers.account_input()
    };
    let mut s = setup(&input);
    s.channel = s
        .channel
        .with_store(s.store.clone())
        .with_tuning(SyncTuning {
            idle_for: Duration::from_millis(300),
            ..Default::default()
        });
    assert_eq!(s.sync().await.fetched, 1);
    let first = proxy.take();
    assert!(first.contains(&"LIST".to_string()), "{first:?}");

    // Nothing new: the capabilities came with LOGIN, the folder list is the saved one, and
    // both folders are checked with one pipelined STATUS each; none is opened.
    let report = s.sync().await;
    assert_eq!(report.fetched, 0);
    assert_eq!(report.folders.len(), 2, "{report:?}");
    // (LOGOUT is sent without waiting for the answer: it may not have reached the proxy.)
    let commands: Vec<String> = proxy.take().into_iter().filter(|c| c != "LOGOUT").collect();
    assert_eq!(
        commands,
        ["LOGIN", "STATUS", "STATUS"],
        "a re-sync with nothing new"
    );

    // New mail: STATUS shows a new UIDNEXT, so INBOX is opened and the mail fetched.
    servers.deliver(
        "INBOX",
        &customer_mail("luca@example.com", "Reso", "r2@example.com", "Un reso"),
    );
    assert_eq!(s.sync().await.fetched, 1);
    let commands = proxy.take();
    assert!(commands.contains(&"SELECT".to_string()), "{commands:?}");
    assert!(commands.contains(&"UID FETCH".to_string()), "{commands:?}");
    assert_eq!(s.count(), 2);

    // Read elsewhere: HIGHESTMODSEQ moved, so INBOX is opened and the flag read.
    servers.flags("add", "\\Seen", "INBOX", &["all"]);
    s.sync().await;
    assert_eq!(unread(&s, "r1@example.com"), 0);
    // Deleted elsewhere: MESSAGES no longer matches, so the expunge is seen.
    servers.expunge("INBOX", &["header", "Message-ID", "r2@example.com"]);
    s.sync().await;
    assert!(
        !s.messages()
            .iter()
            .any(|m| m.external_id == "r2@example.com")
    );
    assert_eq!(s.sync().await.fetched, 0);
    proxy.take();

    // A background worker keeps its connection: its next pass signs in no more.
    let before = proxy.connections.load(Ordering::SeqCst);
    let mut ctx = SyncContext::new(s.store.clone(), s.account.clone());
    ctx.long_poll = true;
    s.channel.sync(&ctx).await.unwrap();
    let pass1: Vec<String> = proxy.take().into_iter().filter(|c| c != "LOGOUT").collect();
    assert_eq!(
        pass1.first().map(String::as_str),
        Some("LOGIN"),
        "{pass1:?}"
    );
    assert!(pass1.contains(&"IDLE".to_string()), "{pass1:?}");
    s.channel.sync(&ctx).await.unwrap();
    let pass2 = proxy.take();
    assert!(!pass2.contains(&"LOGIN".to_string()), "{pass2:?}");
    assert!(!pass2.contains(&"LIST".to_string()), "{pass2:?}");
    assert!(pass2.contains(&"IDLE".to_string()), "{pass2:?}");
    assert_eq!(proxy.connections.load(Ordering::SeqCst), before + 1);

    // The kept connection is cut: the next pass signs in again and carries on.
    proxy.cut();
    servers.deliver(
        "INBOX",
        &customer_mail("anna@example.com", "Colore", "r3@example.com", "Il blu?"),
    );
    let report = s.channel.sync(&ctx).await.unwrap();
    assert_eq!(report.fetched, 1);
    assert_eq!(proxy.connections.load(Ordering::SeqCst), before + 2);
    assert!(proxy.take().contains(&"LOGIN".to_string()));
}
