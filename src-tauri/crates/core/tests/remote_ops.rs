//! The queue of server operations and what servers report back (flags, expunges), headless.

use std::collections::HashSet;

use sportello_core::Store;
use sportello_core::model::{
    ChannelKind, Direction, Identity, IdentityKind, IncomingMessage, RemoteLocation,
};
use sportello_core::store::{IngestOptions, RemoteOpKind};

fn mail(id: &str, uid: u32, direction: Direction) -> IncomingMessage {
    IncomingMessage {
        external_id: id.to_string(),
        direction: Some(direction),
        thread_keys: vec![id.to_string(), "root@x".into()],
        counterpart: Some(Identity {
            kind: IdentityKind::Email,
            value: "maria@example.com".into(),
            display_name: "Maria".into(),
        }),
        sender_handle: "maria@example.com".into(),
        subject: "Ordine".into(),
        text: format!("testo {id}"),
        sent_at: 1000 + uid as i64,
        location: Some(RemoteLocation {
            folder: if direction == Direction::Inbound {
                "INBOX"
            } else {
                "Sent"
            }
            .into(),
            uidvalidity: 7,
            uid,
        }),
        ..Default::default()
    }
}

fn setup() -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = store
        .add_account(ChannelKind::Email, "N", "n@x.it", &serde_json::json!({}))
        .unwrap();
    (dir, store, a.id)
}

fn conversation(store: &Store) -> i64 {
    store
        .conversations(&sportello_core::store::ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: None,
        })
        .unwrap()
        .items
        .first()
        .map(|c| c.id)
        .unwrap()
}

#[test]
fn reading_queues_seen_for_messages_on_a_server_and_server_flags_wait_for_it() {
    let (_d, store, a) = setup();
    let batch = vec![
        mail("1@x", 1, Direction::Inbound),
        mail("2@x", 2, Direction::Inbound),
    ];
    store
        .ingest(a, batch, None, IngestOptions::default())
        .unwrap();
    let c = conversation(&store);
    assert_eq!(store.mark_conversation_read(c).unwrap().len(), 2);
    let ops = store.remote_ops(a).unwrap();
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o.kind == RemoteOpKind::Seen));
    assert_eq!(ops[0].locations[0].folder, "INBOX");
    // The server still says unseen: the local change wins until it is pushed.
    assert_eq!(
        store
            .apply_remote_flags(a, "INBOX", 7, &[(1, false)])
            .unwrap(),
        0
    );
    store
        .finish_remote_ops(&ops.iter().map(|o| o.id).collect::<Vec<_>>())
        .unwrap();
    assert!(!store.has_remote_ops(a).unwrap());
    // Another client marks message 1 unread.
    assert_eq!(
        store
            .apply_remote_flags(a, "INBOX", 7, &[(1, false), (2, true)])
            .unwrap(),
        1
    );
    assert_eq!(store.conversation_summary(c).unwrap().unread_count, 1);
}

#[test]
fn expunged_mail_disappears_unless_we_replied_in_its_conversation() {
    let (_d, store, a) = setup();
    store
        .ingest(
            a,
            vec![mail("1@x", 1, Direction::Inbound)],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    assert_eq!(store.location_count(a, "INBOX", 7).unwrap(), 1);
    assert_eq!(
        store
            .forget_expunged(a, "INBOX", 7, &HashSet::new())
            .unwrap(),
        1
    );
    assert_eq!(store.stats().unwrap().conversations, 0);

    let batch = vec![
        mail("3@x", 3, Direction::Inbound),
        mail("4@x", 4, Direction::Outbound),
    ];
    store
        .ingest(a, batch, None, IngestOptions::default())
        .unwrap();
    assert_eq!(
        store
            .forget_expunged(a, "INBOX", 7, &HashSet::new())
            .unwrap(),
        0
    );
    assert_eq!(store.stats().unwrap().messages, 2);
    assert_eq!(store.location_count(a, "INBOX", 7).unwrap(), 0);
}

#[test]
fn archiving_closes_the_conversation_and_queues_moves() {
    let (_d, store, a) = setup();
    store
        .ingest(
            a,
            vec![mail("1@x", 1, Direction::Inbound)],
            None,
            IngestOptions::default(),
        )
        .unwrap();
    let c = conversation(&store);
    assert_eq!(store.archive_conversation(c).unwrap(), 1);
    let ops = store.remote_ops(a).unwrap();
    assert_eq!(ops[0].kind, RemoteOpKind::Archive);
    let e = sportello_core::Error::new(sportello_core::ErrorCode::Network, "down");
    for _ in 0..8 {
        store.fail_remote_op(ops[0].id, &e).unwrap();
    }
    assert!(
        !store.has_remote_ops(a).unwrap(),
        "dropped after too many failures"
    );
}
