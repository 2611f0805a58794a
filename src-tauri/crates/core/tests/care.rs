//! Customer care, headless: contacts across channels, statuses and snoozes, notes, tags,
//! views, templates, automatic replies, search with filters and the response-time report.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use sportello_core::care::{CareSettings, ChannelText, OpeningHours};
use sportello_core::model::{
    Account, ChannelKind, ConversationStatus, Direction, Identity, IdentityKind, IncomingMessage,
    MessageKind,
};
use sportello_core::outbox::Draft;
use sportello_core::store::{
    CannedReplyInput, ConversationFilter, ConversationQuery, IngestOptions, SuggestionReason, View,
};
use sportello_core::{ErrorCode, Store, now_ms};

const HOUR: i64 = 3_600_000;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn account(store: &Store, kind: ChannelKind) -> Account {
    store
        .add_account(
            kind,
            kind.as_str(),
            "negozio@bottega.it",
            &serde_json::json!({}),
        )
        .unwrap()
}

fn msg(kind: IdentityKind, from: &str, name: &str, text: &str, at: i64) -> IncomingMessage {
    IncomingMessage {
        external_id: format!("{from}:{at}:{}", text.len()),
        direction: Some(Direction::Inbound),
        thread_keys: vec![format!("{}:{from}", kind.as_str())],
        counterpart: Some(Identity {
            kind,
            value: from.into(),
            display_name: name.into(),
        }),
        sender_name: name.into(),
        sender_handle: from.into(),
        subject: "Ordine 12".into(),
        text: text.into(),
        sent_at: at,
        meta: serde_json::json!({}),
        ..Default::default()
    }
}

fn ingest(store: &Store, account: &Account, m: IncomingMessage) -> i64 {
    store
        .ingest(account.id, vec![m], None, IngestOptions::default())
        .unwrap()
        .conversations[0]
}

fn reply_at(store: &Store, conversation: i64, at: i64) {
    let m = store
        .queue_reply(
            conversation,
            &Draft {
                text: "Eccoci".into(),
                quote: false,
            },
        )
        .unwrap();
    // Replies are stamped now; the fixed data set needs them at a given time.
    raw(store)
        .execute(
            "UPDATE messages SET sent_at = ?2 WHERE id = ?1",
            rusqlite::params![m.id, at],
        )
        .unwrap();
}

fn raw(store: &Store) -> Connection {
    Connection::open(store.data_dir().join("sportello.db")).unwrap()
}

// ---- contacts ----

#[test]
fn same_phone_on_two_channels_is_one_contact() {
    let (_d, store) = store();
    let wa = account(&store, ChannelKind::Whatsapp);
    let tw = account(&store, ChannelKind::Telegram);
    let c1 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393471234567", "Maria", "ciao", 1),
    );
    let c2 = ingest(
        &store,
        &tw,
        msg(IdentityKind::Phone, "+393471234567", "Maria R", "ciao", 2),
    );
    let a = store.conversation_summary(c1).unwrap().contact_id;
    let b = store.conversation_summary(c2).unwrap().contact_id;
    assert_eq!(a, b);
    assert_eq!(store.stats().unwrap().contacts, 1);
    let detail = store.contact_detail(a.unwrap()).unwrap();
    assert_eq!(detail.contact.identities.len(), 2);
    assert_eq!(detail.conversations.len(), 2);
    assert_eq!(detail.timeline.len(), 2);
}

#[test]
fn a_phone_in_an_email_signature_is_suggested_not_merged() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    let c1 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "maria@example.com",
            "Maria Rossi",
            "Il pacco?\n--\nMaria Rossi\nCell. 347 123 4567",
            1,
        ),
    );
    let c2 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393471234567", "Mery", "ciao", 2),
    );
    let a = store.conversation_summary(c1).unwrap().contact_id.unwrap();
    let b = store.conversation_summary(c2).unwrap().contact_id.unwrap();
    assert_ne!(a, b, "a number in a signature never merges by itself");
    let s = store.contact_suggestions(Some(a)).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].contact_id, s[0].other_id), (a, b));
    assert_eq!(s[0].reason, SuggestionReason::PhoneInMessage);
    assert_eq!(s[0].detail, "+393471234567");
    assert_eq!(store.contact_suggestions(Some(b)).unwrap()[0].contact_id, b);
    store.dismiss_suggestion(b, a).unwrap();
    assert!(store.contact_suggestions(None).unwrap().is_empty());
}

#[test]
fn same_name_and_company_domain_is_suggested() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "m.rossi@acme.it",
            "Mario Rossi",
            "a",
            1,
        ),
    );
    ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "mario@acme.it", "Rossi Mario", "b", 2),
    );
    // Same name at a webmail domain says nothing.
    ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "anna1@gmail.com",
            "Anna Bianchi",
            "c",
            3,
        ),
    );
    ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "anna2@gmail.com",
            "Anna Bianchi",
            "d",
            4,
        ),
    );
    let s = store.contact_suggestions(None).unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].reason, SuggestionReason::SameNameSameDomain);
    assert_eq!(s[0].detail, "acme.it");
}

/// The panel asks for one contact's suggestions at every conversation switch: among thousands
/// of contacts — hundreds with the same name, hundreds at the same company domain, numbers
/// written everywhere — exactly the likely matches come back, the same as the full pass, and a
/// rename is followed (the name key is kept with the name).
#[test]
fn one_contacts_suggestions_among_thousands_are_exactly_its_matches() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    let mut batch = Vec::new();
    for i in 0..3000 {
        let (from, name, text) = match i % 3 {
            // Same name as the customer, webmail, a number nobody else wrote.
            0 => (
                format!("giulia.ferri{i}@gmail.com"),
                "Giulia Ferri".to_string(),
                format!("Cell. 333 {:07}", 2_000_000 + i),
            ),
            // The customer's company domain, another name.
            1 => (
                format!("staff{i}@ferri-ceramiche.it"),
                format!("Persona Numero{}", (b'a' + (i % 26) as u8) as char),
                "buongiorno".to_string(),
            ),
            _ => (
                format!("cliente{i}@negozio{}.it", i % 40),
                format!("Cliente Qualunque{}", (b'a' + (i % 26) as u8) as char),
                format!("chiamami al 333 {:07}", 2_000_000 + i),
            ),
        };
        batch.push(msg(IdentityKind::Email, &from, &name, &text, i));
    }
    store
        .ingest(mail.id, batch, None, IngestOptions::default())
        .unwrap();
    let contact = |conversation: i64| {
        store
            .conversation_summary(conversation)
            .unwrap()
            .contact_id
            .unwrap()
    };
    // The customer wrote two numbers in a signature.
    let me = contact(ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "giulia@ferri-ceramiche.it",
            "Giulia Ferri",
            "Grazie\n--\nGiulia Ferri\nCell. 333 111 2223 - Uff. 333 999 8887",
            5000,
        ),
    ));
    // Uses the first number on WhatsApp.
    let phone_owner = contact(ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393331112223",
            "Giuly",
            "ciao",
            5001,
        ),
    ));
    // Same name, wrote the second number too.
    let same_phone = contact(ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "gf.privata@gmail.com",
            "Giulia Ferri",
            "ufficio: 333 999 8887",
            5002,
        ),
    ));
    // Same name in another order, same company.
    let same_domain = contact(ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "g.ferri@ferri-ceramiche.it",
            "Ferri Giulia",
            "ordine",
            5003,
        ),
    ));
    // Would match, but was turned down.
    let dismissed = contact(ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "amministrazione@ferri-ceramiche.it",
            "Giulia FERRI",
            "fattura",
            5004,
        ),
    ));
    store.dismiss_suggestion(dismissed, me).unwrap();
    assert!(store.stats().unwrap().contacts > 3000);

    let mine = |store: &Store| {
        store
            .contact_suggestions(Some(me))
            .unwrap()
            .into_iter()
            .map(|s| {
                assert_eq!(s.contact_id, me);
                (s.other_id, s.reason, s.detail)
            })
            .collect::<Vec<_>>()
    };
    let expected = vec![
        (
            phone_owner,
            SuggestionReason::PhoneInMessage,
            "+393331112223".to_string(),
        ),
        (
            same_phone,
            SuggestionReason::SameNameSamePhone,
            "+393339998887".to_string(),
        ),
        (
            same_domain,
            SuggestionReason::SameNameSameDomain,
            "ferri-ceramiche.it".to_string(),
        ),
    ];
    assert_eq!(mine(&store), expected);
    let names = store.contact_suggestions(Some(me)).unwrap();
    assert_eq!(names[0].contact_name, "Giulia Ferri");
    assert_eq!(names[0].other_name, "Giuly");

    // The same pairs as the pass over everyone.
    let mut everyone: Vec<_> = store
        .contact_suggestions(None)
        .unwrap()
        .into_iter()
        .filter(|s| s.contact_id == me || s.other_id == me)
        .map(|s| {
            let other = if s.contact_id == me {
                s.other_id
            } else {
                s.contact_id
            };
            (other, s.reason, s.detail)
        })
        .collect();
    everyone.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
    assert_eq!(everyone, expected);

    // Seen from the number's owner: the customer wrote its number.
    let theirs = store.contact_suggestions(Some(phone_owner)).unwrap();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(
        (theirs[0].contact_id, theirs[0].other_id, theirs[0].reason),
        (phone_owner, me, SuggestionReason::PhoneInMessage)
    );

    // A colleague at the company renamed to the customer's name becomes a match.
    let colleague = contact(ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "magazzino@ferri-ceramiche.it",
            "Magazzino",
            "spedito",
            5005,
        ),
    ));
    assert_eq!(mine(&store).len(), 3);
    store.rename_contact(colleague, "Giulià Ferri").unwrap();
    let after = mine(&store);
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(after.contains(&(
        colleague,
        SuggestionReason::SameNameSameDomain,
        "ferri-ceramiche.it".to_string()
    )));
    // Merged away, a match is no longer suggested; undone, it is again.
    let record = store.merge_contacts(me, same_domain).unwrap();
    assert!(!mine(&store).iter().any(|s| s.0 == same_domain));
    store.undo_merge(record.id).unwrap();
    assert!(mine(&store).iter().any(|s| s.0 == same_domain));
}

/// Contacts stored before the name key existed (data version 4) get theirs when the data
/// folder is opened, so their suggestions still show.
#[test]
fn name_keys_are_filled_for_contacts_stored_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let store = Store::open(dir.path()).unwrap();
        let mail = account(&store, ChannelKind::Email);
        let c1 = ingest(
            &store,
            &mail,
            msg(
                IdentityKind::Email,
                "m.rossi@acme.it",
                "Mario Rossi",
                "a",
                1,
            ),
        );
        let c2 = ingest(
            &store,
            &mail,
            msg(IdentityKind::Email, "mario@acme.it", "Rossi Mario", "b", 2),
        );
        let contact = |c| store.conversation_summary(c).unwrap().contact_id.unwrap();
        (contact(c1), contact(c2))
    };
    {
        let conn = Connection::open(dir.path().join("sportello.db")).unwrap();
        conn.execute_batch(
            "DROP INDEX contacts_name_key;
             DROP INDEX dismissed_suggestions_b;
             ALTER TABLE contacts DROP COLUMN name_key;
             ALTER TABLE message_sources DROP COLUMN pack_id;
             ALTER TABLE message_sources DROP COLUMN pack_offset;
             ALTER TABLE message_sources DROP COLUMN pack_length;
             ALTER TABLE attachments DROP COLUMN source_part;
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let conn = raw(&store);
    assert_eq!(
        sportello_core::store::schema::version(&conn).unwrap(),
        sportello_core::store::schema::LATEST
    );
    let keys: Vec<Option<String>> = conn
        .prepare("SELECT name_key FROM contacts ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            Some("mario rossi".to_string()),
            Some("mario rossi".to_string())
        ]
    );
    let s = store.contact_suggestions(Some(a)).unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (s[0].other_id, s[0].reason),
        (b, SuggestionReason::SameNameSameDomain)
    );
}

/// Everything about contacts a merge may touch, for before/after comparisons.
fn contact_state(store: &Store) -> Vec<String> {
    let conn = raw(store);
    let mut out = Vec::new();
    for sql in [
        "SELECT id || '|' || display_name || '|' || notes || '|' || created_at || '|' ||
                COALESCE(last_contact_at, '') || '|' || COALESCE(merged_into, '')
         FROM contacts ORDER BY id",
        "SELECT id || '|' || contact_id || '|' || kind || '|' || value FROM identities ORDER BY id",
        "SELECT id || '|' || COALESCE(contact_id, '') FROM conversations ORDER BY id",
        "SELECT contact_id || '|' || tag_id FROM contact_tags ORDER BY 1",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        out.extend(
            stmt.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(|r| r.unwrap()),
        );
    }
    out
}

#[test]
fn merge_then_undo_restores_the_exact_state() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    let c1 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "maria@example.com",
            "Maria Rossi",
            "a",
            10,
        ),
    );
    let c2 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393471234567", "", "b", 5),
    );
    let a = store.conversation_summary(c1).unwrap().contact_id.unwrap();
    let b = store.conversation_summary(c2).unwrap().contact_id.unwrap();
    let vip = store.create_tag("VIP", "#aa0000").unwrap();
    store.tag_contact(b, vip.id, true).unwrap();
    store.set_contact_notes(a, "preferisce email").unwrap();
    store.set_contact_notes(b, "chiama dopo le 18").unwrap();
    let before = contact_state(&store);

    let merge = store.merge_contacts(a, b).unwrap();
    let d = store.contact_detail(a).unwrap();
    assert_eq!(d.contact.identities.len(), 2);
    assert_eq!(d.conversations.len(), 2);
    assert_eq!(d.tag_ids, vec![vip.id]);
    assert_eq!(d.notes, "preferisce email\n\nchiama dopo le 18");
    assert_eq!(d.contact.first_seen_at, 5);
    assert_eq!(d.merges.len(), 1);
    assert_eq!(
        store.contact_detail(b).unwrap_err().code,
        ErrorCode::NotFound
    );
    assert_eq!(store.stats().unwrap().contacts, 1);

    store.undo_merge(merge.id).unwrap();
    assert_eq!(contact_state(&store), before);
    assert_eq!(
        store.undo_merge(merge.id).unwrap_err().code,
        ErrorCode::InvalidInput
    );
}

/// The panel beside a conversation asks by conversation: after a merge the conversation of
/// the merged contact shows the survivor (both identities, both conversations), and after the
/// undo its own contact again.
#[test]
fn the_contact_of_a_conversation_follows_merges_and_undo() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    let c1 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "anna@example.com",
            "Anna Neri",
            "a",
            10,
        ),
    );
    let c2 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393331112222", "Anna", "b", 20),
    );
    let a = store.conversation_contact(c1).unwrap().unwrap();
    let b = store.conversation_contact(c2).unwrap().unwrap();
    assert_ne!(a.contact.id, b.contact.id);
    assert_eq!(b.conversations.len(), 1);

    let merge = store.merge_contacts(a.contact.id, b.contact.id).unwrap();
    let after = store.conversation_contact(c2).unwrap().unwrap();
    assert_eq!(after.contact.id, a.contact.id);
    assert_eq!(after.contact.identities.len(), 2);
    let mut convs: Vec<i64> = after.conversations.iter().map(|c| c.id).collect();
    convs.sort_unstable();
    assert_eq!(convs, vec![c1, c2]);
    // The timeline holds both channels' messages, newest first.
    let timeline: Vec<(i64, ChannelKind)> = after
        .timeline
        .iter()
        .map(|t| (t.conversation_id, t.channel))
        .collect();
    assert_eq!(
        timeline,
        vec![(c2, ChannelKind::Whatsapp), (c1, ChannelKind::Email)]
    );
    assert_eq!(after.merges.len(), 1);

    store.undo_merge(merge.id).unwrap();
    let back = store.conversation_contact(c2).unwrap().unwrap();
    assert_eq!(back.contact.id, b.contact.id);
    assert_eq!(back.contact.identities.len(), 1);
    assert_eq!(
        store.conversation_contact(9999).unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn undo_of_an_earlier_merge_waits_for_the_later_one() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let ids: Vec<i64> = ["a@x.it", "b@x.it", "c@x.it"]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let c = ingest(
                &store,
                &mail,
                msg(IdentityKind::Email, f, "", "x", i as i64),
            );
            store.conversation_summary(c).unwrap().contact_id.unwrap()
        })
        .collect();
    let first = store.merge_contacts(ids[1], ids[0]).unwrap();
    let second = store.merge_contacts(ids[2], ids[1]).unwrap();
    assert_eq!(
        store.undo_merge(first.id).unwrap_err().code,
        ErrorCode::InvalidInput
    );
    store.undo_merge(second.id).unwrap();
    store.undo_merge(first.id).unwrap();
    assert_eq!(store.stats().unwrap().contacts, 3);
}

/// Property: over random sequences of merges and undos, no identity or conversation is ever
/// lost, every identity has exactly one visible owner, and undoing every merge (newest first)
/// gives back the exact starting state.
#[test]
fn random_merges_never_lose_an_identity_and_undo_is_exact() {
    for seed in 0..12u64 {
        let (_d, store) = store();
        let mail = account(&store, ChannelKind::Email);
        let wa = account(&store, ChannelKind::Whatsapp);
        let mut rng = StdRng::seed_from_u64(seed);
        let tags: Vec<i64> = (0..3)
            .map(|i| store.create_tag(&format!("t{i}"), "#123456").unwrap().id)
            .collect();
        for i in 0..8 {
            let m = if i % 2 == 0 {
                msg(
                    IdentityKind::Email,
                    &format!("c{i}@x.it"),
                    &format!("C {i}"),
                    "x",
                    i,
                )
            } else {
                msg(
                    IdentityKind::Whatsapp,
                    &format!("+3934712345{i:02}"),
                    "",
                    "y",
                    i,
                )
            };
            let conv = ingest(&store, if i % 2 == 0 { &mail } else { &wa }, m);
            let contact = store
                .conversation_summary(conv)
                .unwrap()
                .contact_id
                .unwrap();
            if rng.random_bool(0.5) {
                store
                    .tag_contact(contact, tags[rng.random_range(0..3)], true)
                    .unwrap();
            }
            if rng.random_bool(0.3) {
                store
                    .set_contact_notes(contact, &format!("note {i}"))
                    .unwrap();
            }
        }
        let start = contact_state(&store);
        let identities = |s: &Store| {
            raw(s)
                .query_row(
                    "SELECT COUNT(*) FROM identities i JOIN contacts k ON k.id = i.contact_id
                     WHERE k.merged_into IS NULL",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
        };
        let mut done: Vec<i64> = Vec::new();
        for _ in 0..20 {
            let visible: Vec<i64> = store
                .find_contacts("", 100)
                .unwrap()
                .iter()
                .map(|c| c.id)
                .collect();
            if rng.random_bool(0.65) && visible.len() > 1 {
                let a = visible[rng.random_range(0..visible.len())];
                let b = visible[rng.random_range(0..visible.len())];
                if a != b {
                    done.push(store.merge_contacts(a, b).unwrap().id);
                }
            } else if let Some(last) = done.pop() {
                store.undo_merge(last).unwrap();
            }
            assert_eq!(
                identities(&store),
                8,
                "seed {seed}: an identity lost its owner"
            );
            let orphans: i64 = raw(&store)
                .query_row(
                    "SELECT COUNT(*) FROM conversations c JOIN contacts k ON k.id = c.contact_id
                     WHERE k.merged_into IS NOT NULL",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                orphans, 0,
                "seed {seed}: a conversation points at a merged contact"
            );
        }
        while let Some(last) = done.pop() {
            store.undo_merge(last).unwrap();
        }
        assert_eq!(contact_state(&store), start, "seed {seed}");
    }
}

// ---- statuses, notes, tags, views ----

#[test]
fn status_transitions_and_reopening_when_the_customer_writes() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let c = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "A", "uno", 1),
    );
    for status in [ConversationStatus::Pending, ConversationStatus::Closed] {
        assert_eq!(store.set_status(c, status, None).unwrap().status, status);
        let mut again = msg(
            IdentityKind::Email,
            "a@x.it",
            "A",
            &format!("di nuovo {status:?}"),
            2,
        );
        again.external_id = format!("again-{status:?}");
        ingest(&store, &mail, again);
        assert_eq!(
            store.conversation_summary(c).unwrap().status,
            ConversationStatus::Open,
            "{status:?} reopens when the customer writes"
        );
    }
    // A snooze needs a future time.
    let err = store
        .set_status(c, ConversationStatus::Snoozed, Some(now_ms() - 1))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(
        store
            .set_status(999, ConversationStatus::Closed, None)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
}

#[test]
fn a_snoozed_conversation_wakes_by_itself_with_a_note() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let c = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "Anna", "uno", 1),
    );
    let until = now_ms() + HOUR;
    let s = store
        .set_status(c, ConversationStatus::Snoozed, Some(until))
        .unwrap();
    assert_eq!(
        (s.status, s.snoozed_until),
        (ConversationStatus::Snoozed, Some(until))
    );
    assert_eq!(store.next_snooze_due().unwrap(), Some(until));
    let mut changes = store.subscribe();
    assert!(store.wake_snoozed(until - 1).unwrap().is_empty());
    assert_eq!(store.wake_snoozed(until).unwrap(), vec![c]);
    let change = changes.try_recv().unwrap();
    assert_eq!(change.conversations, vec![c]);
    assert_eq!(change.woke.len(), 1);
    assert_eq!(change.woke[0].contact_name, "Anna");
    let s = store.conversation_summary(c).unwrap();
    assert_eq!(
        (s.status, s.snoozed_until),
        (ConversationStatus::Open, None)
    );
    assert_eq!(store.next_snooze_due().unwrap(), None);
}

#[tokio::test]
async fn the_snooze_timer_wakes_conversations() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let c = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "Anna", "uno", 1),
    );
    store
        .set_status(c, ConversationStatus::Snoozed, Some(now_ms() + 300))
        .unwrap();
    let mut changes = store.subscribe();
    let timer = tokio::spawn(sportello_core::supervisor::snooze_timer(store.clone()));
    let woke = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let change = changes.recv().await.unwrap();
            if !change.woke.is_empty() {
                return change;
            }
        }
    })
    .await
    .expect("the timer wakes the conversation");
    timer.abort();
    assert_eq!(woke.woke[0].conversation_id, c);
    assert_eq!(
        store.conversation_summary(c).unwrap().status,
        ConversationStatus::Open
    );
}

#[test]
fn notes_are_shown_but_never_sent_nor_an_answer() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let c = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "A", "dov'è il pacco?", 1000),
    );
    let before = store.conversation_summary(c).unwrap();
    let note = store.add_note(c, "Ho chiamato il corriere").unwrap();
    assert_eq!(note.kind, MessageKind::Note);
    let after = store.conversation_summary(c).unwrap();
    assert_eq!(after.waiting_since, Some(1000), "a note is not an answer");
    assert_eq!(after.last_preview, before.last_preview);
    assert_eq!(store.due_outbox(mail.id).unwrap().len(), 0);
    assert_eq!(store.stats().unwrap().outbox_pending, 0);
    let thread = store.conversation(c).unwrap().messages;
    assert_eq!(thread.last().unwrap().kind, MessageKind::Note);
    store.delete_note(note.id).unwrap();
    assert_eq!(store.conversation(c).unwrap().messages.len(), 1);
}

#[test]
fn filters_views_and_counts() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    let now = now_ms();
    let c1 = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "A", "uno", now - 3 * HOUR),
    );
    let c2 = ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393471234567",
            "B",
            "due",
            now - 60_000,
        ),
    );
    let c3 = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "c@x.it", "C", "tre", now - 2 * HOUR),
    );
    reply_at(&store, c3, now - HOUR);
    store.mark_conversation_read(c3).unwrap();
    let c4 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "d@x.it",
            "D",
            "quattro",
            now - 4 * HOUR,
        ),
    );
    store
        .set_status(c4, ConversationStatus::Closed, None)
        .unwrap();
    let tag = store.create_tag("Reso", "#00AA00").unwrap();
    assert_eq!(tag.color, "#00aa00");
    store.tag_conversation(c2, tag.id, true).unwrap();
    store.set_pinned(c3, true).unwrap();

    let q = ConversationQuery {
        offset: 0,
        limit: 50,
        account_id: None,
    };
    let ids = |f: ConversationFilter| -> Vec<i64> {
        store
            .find_conversations(&q, &f)
            .unwrap()
            .items
            .iter()
            .map(|c| c.id)
            .collect()
    };
    assert_eq!(ids(ConversationFilter::view(View::Inbox)), vec![c3, c2, c1]);
    assert_eq!(ids(ConversationFilter::view(View::Waiting)), vec![c2, c1]);
    assert_eq!(ids(ConversationFilter::view(View::Closed)), vec![c4]);
    let wa_only = ConversationFilter {
        channel: Some(ChannelKind::Whatsapp),
        ..Default::default()
    };
    assert_eq!(ids(wa_only.clone()), vec![c2]);
    let tagged = ConversationFilter {
        tag_id: Some(tag.id),
        ..Default::default()
    };
    assert_eq!(ids(tagged), vec![c2]);
    assert_eq!(
        store.conversation_summary(c2).unwrap().tag_ids,
        vec![tag.id]
    );
    let unread = ConversationFilter {
        unread: true,
        account_id: Some(mail.id),
        ..Default::default()
    };
    assert_eq!(ids(unread), vec![c1, c4]);

    let view = store.save_view(None, "WhatsApp", &wa_only).unwrap();
    let counts = store.view_counts().unwrap();
    assert_eq!(
        (
            counts.inbox,
            counts.waiting,
            counts.overdue,
            counts.closed,
            counts.unread,
            counts.all
        ),
        (3, 2, 1, 1, 3, 4)
    );
    let by = |ch| {
        counts
            .channels
            .iter()
            .find(|c| c.channel == ch)
            .unwrap()
            .count
    };
    assert_eq!((by(ChannelKind::Email), by(ChannelKind::Whatsapp)), (2, 1));
    assert_eq!(counts.tags[0].count, 1);
    assert_eq!(counts.saved[0].id, view.id);
    assert_eq!(counts.saved[0].count, 1);
    store.delete_tag(tag.id).unwrap();
    assert!(store.conversation_summary(c2).unwrap().tag_ids.is_empty());
}

/// Tag counts are open conversations only, one per tag in name order, zero included.
#[test]
fn tag_counts_list_every_tag_by_name_with_its_open_conversations() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let now = now_ms();
    let open = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "A", "uno", now - HOUR),
    );
    let closed = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "b@x.it", "B", "due", now - 2 * HOUR),
    );
    store
        .set_status(closed, ConversationStatus::Closed, None)
        .unwrap();
    let zeta = store.create_tag("Zeta", "#112233").unwrap();
    let alfa = store.create_tag("alfa", "#445566").unwrap();
    let unused = store.create_tag("Medio", "#778899").unwrap();
    store.tag_conversation(open, zeta.id, true).unwrap();
    store.tag_conversation(closed, zeta.id, true).unwrap();
    store.tag_conversation(closed, alfa.id, true).unwrap();
    let counts = store.view_counts().unwrap();
    let tags: Vec<(i64, u32)> = counts.tags.iter().map(|t| (t.id, t.count)).collect();
    assert_eq!(tags, vec![(alfa.id, 0), (unused.id, 0), (zeta.id, 1)]);
}

// ---- templates ----

#[test]
fn canned_replies_render_for_a_conversation_without_blank_greetings() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let named = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "giulia bianchi", "x", 1),
    );
    let nameless = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "b@x.it", "", "y", 2),
    );
    let care = CareSettings {
        shop_name: "Bottega Verde".into(),
        ..Default::default()
    };
    store.save_care_settings(&care).unwrap();
    let t = store
        .save_canned_reply(
            None,
            &CannedReplyInput {
                name: "Spedito".into(),
                shortcut: "/spedito".into(),
                texts: BTreeMap::from([
                    ("it".into(), "Ciao {{contact.first_name}}, il pacco è partito! {{agent.name}}\n{{shop.name}}".into()),
                    ("en".into(), "Hi {{contact.first_name}}, it shipped! {{shop.name}}".into()),
                ]),
            },
        )
        .unwrap();
    assert_eq!(t.shortcut, "spedito");
    let r = store.render_canned_reply(t.id, Some(named), None).unwrap();
    assert_eq!(
        r.text,
        "Ciao Giulia, il pacco è partito! [tuo nome]\nBottega Verde"
    );
    assert_eq!(r.missing, vec!["agent.name"]);
    let r = store
        .render_canned_reply(t.id, Some(nameless), Some("en"))
        .unwrap();
    assert_eq!(r.text, "Hi [first name], it shipped! Bottega Verde");
    assert_eq!(r.missing, vec!["contact.first_name"]);
    // A language the template lacks falls back to the shop's.
    assert_eq!(
        store
            .render_canned_reply(t.id, None, Some("de"))
            .unwrap()
            .language,
        "it"
    );
    assert_eq!(store.canned_replies().unwrap().len(), 1);
    assert!(
        store
            .save_canned_reply(
                None,
                &CannedReplyInput {
                    name: "x".into(),
                    ..Default::default()
                }
            )
            .is_err()
    );
    store.delete_canned_reply(t.id).unwrap();
    assert!(store.canned_replies().unwrap().is_empty());
}

// ---- automatic replies ----

/// Closed all week (no opening hours on any day but a Monday 00:00-00:01): every message is
/// out of hours.
fn always_closed(every_hours: u32) -> CareSettings {
    let mut s = CareSettings {
        shop_name: "Bottega".into(),
        business_hours: vec![OpeningHours {
            weekday: 1,
            open: "00:00".into(),
            close: "00:01".into(),
        }],
        ..Default::default()
    };
    s.auto_reply.enabled = true;
    s.auto_reply.every_hours = every_hours;
    s.auto_reply.text = "Ciao {{contact.first_name}}, siamo chiusi. {{shop.name}}".into();
    s.auto_reply.per_channel = vec![ChannelText {
        channel: ChannelKind::Telegram,
        text: String::new(),
    }];
    s
}

fn auto_replies(store: &Store, conversation: i64) -> Vec<String> {
    store
        .conversation(conversation)
        .unwrap()
        .messages
        .into_iter()
        .filter(|m| m.kind == MessageKind::AutoReply)
        .map(|m| m.text)
        .collect()
}

#[test]
fn out_of_hours_messages_get_one_automatic_reply_through_the_outbox() {
    let (_d, store) = store();
    store.save_care_settings(&always_closed(12)).unwrap();
    let mail = account(&store, ChannelKind::Email);
    let now = now_ms();
    let c = ingest(
        &store,
        &mail,
        msg(IdentityKind::Email, "a@x.it", "", "aiuto", now),
    );
    let replies = auto_replies(&store, c);
    assert_eq!(
        replies,
        vec!["Ciao, siamo chiusi. Bottega"],
        "no blank greeting"
    );
    let due = store.due_outbox(mail.id).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        store.message_meta(due[0].message_id).unwrap()["auto_submitted"],
        "auto-replied"
    );
    // An automatic reply is not an answer: the customer still waits.
    assert!(
        store
            .conversation_summary(c)
            .unwrap()
            .waiting_since
            .is_some()
    );
    // A second message within 12 hours gets none.
    let mut again = msg(IdentityKind::Email, "a@x.it", "", "ci siete?", now + 1);
    again.external_id = "again".into();
    ingest(&store, &mail, again);
    assert_eq!(auto_replies(&store, c).len(), 1);
}

#[test]
fn automatic_mail_never_gets_an_automatic_reply() {
    let (_d, store) = store();
    store.save_care_settings(&always_closed(12)).unwrap();
    let mail = account(&store, ChannelKind::Email);
    let now = now_ms();
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "a1@x.it",
            serde_json::json!({"auto_submitted": "auto-replied"}),
        ),
        (
            "a2@x.it",
            serde_json::json!({"auto_submitted": "auto-generated"}),
        ),
        ("a3@x.it", serde_json::json!({"precedence": "bulk"})),
        ("a4@x.it", serde_json::json!({"precedence": "list"})),
        ("a5@x.it", serde_json::json!({"precedence": "junk"})),
        ("a6@x.it", serde_json::json!({"list_id": "<news.x.it>"})),
        ("a7@x.it", serde_json::json!({"return_path": "<>"})),
        ("noreply@x.it", serde_json::json!({})),
        ("no-reply@x.it", serde_json::json!({})),
        ("mailer-daemon@x.it", serde_json::json!({})),
    ];
    for (from, meta) in cases {
        let mut m = msg(IdentityKind::Email, from, "", "automatico", now);
        m.meta = meta.clone();
        let c = ingest(&store, &mail, m);
        assert!(auto_replies(&store, c).is_empty(), "{from} {meta}");
    }
    // Auto-Submitted: no is a person.
    let mut m = msg(IdentityKind::Email, "person@x.it", "", "ciao", now);
    m.meta = serde_json::json!({"auto_submitted": "no"});
    let c = ingest(&store, &mail, m);
    assert_eq!(auto_replies(&store, c).len(), 1);
}

#[test]
fn automatic_replies_respect_windows_channels_backlogs_and_settings() {
    let (_d, store) = store();
    let wa = account(&store, ChannelKind::Whatsapp);
    let tg = account(&store, ChannelKind::Telegram);
    let now = now_ms();
    // Disabled by default.
    let c0 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393470000001", "", "x", now),
    );
    assert!(auto_replies(&store, c0).is_empty());
    store.save_care_settings(&always_closed(1)).unwrap();
    // A message found late by a sync (older than two hours) gets none; so does a message whose
    // 24-hour window has closed.
    let old = ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393470000002",
            "",
            "x",
            now - 25 * HOUR,
        ),
    );
    assert!(auto_replies(&store, old).is_empty());
    // A first sync (summarised) gets none.
    let summarized = store
        .ingest(
            wa.id,
            vec![msg(IdentityKind::Whatsapp, "+393470000003", "", "x", now)],
            None,
            IngestOptions { summarize: true },
        )
        .unwrap()
        .conversations[0];
    assert!(auto_replies(&store, summarized).is_empty());
    // Telegram has its text turned off.
    let t = ingest(
        &store,
        &tg,
        msg(IdentityKind::Telegram, "4242", "", "x", now),
    );
    assert!(auto_replies(&store, t).is_empty());
    // A fresh WhatsApp message inside the window gets one; an hour later, another.
    let c = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393470000004", "Luca", "x", now),
    );
    assert_eq!(
        auto_replies(&store, c),
        vec!["Ciao Luca, siamo chiusi. Bottega"]
    );
    raw(&store)
        .execute(
            "UPDATE messages SET sent_at = sent_at - 2 * 3600000 WHERE kind = 'auto_reply'",
            [],
        )
        .unwrap();
    let mut again = msg(
        IdentityKind::Whatsapp,
        "+393470000004",
        "Luca",
        "y",
        now + 5,
    );
    again.external_id = "again".into();
    ingest(&store, &wa, again);
    assert_eq!(auto_replies(&store, c).len(), 2);
}

// ---- search ----

#[test]
fn search_with_filters() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    // 2025-03-05 and 2025-04-10, noon UTC.
    let march = 1_741_176_000_000;
    let april = 1_744_286_400_000;
    let c1 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "maria@x.it",
            "Maria Rossi",
            "Perché la spedizione è in ritardo?",
            march,
        ),
    );
    let c2 = ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393471234567",
            "Luca Bianchi",
            "spedizione arrivata, grazie",
            april,
        ),
    );
    let c3 = ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "anna@x.it",
            "Anna Verdi",
            "vorrei un reso",
            april,
        ),
    );
    store
        .set_status(c3, ConversationStatus::Closed, None)
        .unwrap();
    let reso = store.create_tag("reso", "#ff0000").unwrap();
    store.tag_conversation(c3, reso.id, true).unwrap();

    let convs = |q: &str| -> Vec<i64> {
        store
            .search(q, 50)
            .unwrap()
            .iter()
            .map(|h| h.conversation_id)
            .collect()
    };
    // Accent- and case-insensitive, prefix.
    assert_eq!(convs("PERCHE"), vec![c1]);
    assert_eq!(convs("sped").len(), 2);
    assert_eq!(convs("sped channel:whatsapp"), vec![c2]);
    assert_eq!(convs("from:maria sped"), vec![c1]);
    assert_eq!(convs("from:\"Luca Bianchi\""), vec![c2]);
    assert_eq!(convs("sped after:2025-04-01"), vec![c2]);
    assert_eq!(convs("sped before:2025-04-01"), vec![c1]);
    assert_eq!(convs("tag:reso"), vec![c3]);
    assert_eq!(convs("status:closed"), vec![c3]);
    assert_eq!(convs("status:open sped channel:email"), vec![c1]);
    assert!(convs("zzz").is_empty());
    assert_eq!(
        store.search("channel:fax", 10).unwrap_err().code,
        ErrorCode::InvalidInput
    );
    let hit = &store.search("ritardo", 10).unwrap()[0];
    assert!(
        hit.snippet.contains("\u{E000}ritardo\u{E001}?"),
        "{}",
        hit.snippet
    );
    // Best first: the word in the subject and the body outranks the body alone.
    let mut subj = msg(IdentityKind::Email, "z@x.it", "", "fattura fattura", march);
    subj.subject = "Fattura".into();
    let best = ingest(&store, &mail, subj);
    ingest(
        &store,
        &mail,
        msg(
            IdentityKind::Email,
            "y@x.it",
            "",
            "mandate la fattura per favore, serve a me e a mia sorella per la dichiarazione",
            april,
        ),
    );
    assert_eq!(convs("fattura")[0], best);
}

// ---- report ----

#[test]
fn report_figures_on_a_fixed_data_set() {
    let (_d, store) = store();
    let mail = account(&store, ChannelKind::Email);
    let wa = account(&store, ChannelKind::Whatsapp);
    // Monday 2025-03-03 09:00 Rome = 08:00 UTC.
    let mon = 1_740_988_800_000;
    let min = 60_000;
    // Email: answered after 10, 30 and 120 minutes; one closed 5 hours after it began.
    let mut email = Vec::new();
    for (i, wait) in [10, 30, 120].iter().enumerate() {
        let c = ingest(
            &store,
            &mail,
            msg(
                IdentityKind::Email,
                &format!("e{i}@x.it"),
                "",
                "q",
                mon + i as i64 * HOUR,
            ),
        );
        reply_at(&store, c, mon + i as i64 * HOUR + wait * min);
        email.push(c);
    }
    raw(&store)
        .execute(
            "UPDATE conversations SET status = 'closed', closed_at = ?2 WHERE id = ?1",
            rusqlite::params![email[0], mon + 5 * HOUR],
        )
        .unwrap();
    // WhatsApp the next week: one answered after 5 minutes, one never answered.
    let next = mon + 7 * 24 * HOUR;
    let w1 = ingest(
        &store,
        &wa,
        msg(IdentityKind::Whatsapp, "+393470000001", "", "q", next),
    );
    reply_at(&store, w1, next + 5 * min);
    ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393470000002",
            "",
            "q",
            next + HOUR,
        ),
    );
    // A note and an automatic reply are not answers.
    let w3 = ingest(
        &store,
        &wa,
        msg(
            IdentityKind::Whatsapp,
            "+393470000003",
            "",
            "q",
            next + 2 * HOUR,
        ),
    );
    store.add_note(w3, "nota").unwrap();

    let r = store.care_report(mon - HOUR, next + 24 * HOUR).unwrap();
    assert_eq!(r.total.conversations, 6);
    assert_eq!(r.total.inbound_messages, 6);
    assert_eq!(r.total.unanswered, 2);
    assert_eq!(r.total.first_response.count, 4);
    // 5, 10, 30, 120 minutes: median 20, p90 120.
    assert_eq!(r.total.first_response.median_ms, Some(20 * min));
    assert_eq!(r.total.first_response.p90_ms, Some(120 * min));
    let email_fig = &r
        .channels
        .iter()
        .find(|c| c.channel == ChannelKind::Email)
        .unwrap()
        .figures;
    assert_eq!(email_fig.first_response.median_ms, Some(30 * min));
    assert_eq!(email_fig.resolution.count, 1);
    assert_eq!(email_fig.resolution.median_ms, Some(5 * HOUR));
    let wa_fig = &r
        .channels
        .iter()
        .find(|c| c.channel == ChannelKind::Whatsapp)
        .unwrap()
        .figures;
    assert_eq!((wa_fig.conversations, wa_fig.unanswered), (3, 2));
    assert_eq!(
        r.weeks.iter().map(|w| w.week.as_str()).collect::<Vec<_>>(),
        vec!["2025-W10", "2025-W11"]
    );
    assert_eq!(r.weeks[0].starts_at, 1_740_956_400_000); // Monday 00:00 in Rome
    assert_eq!(r.weeks[0].figures.conversations, 3);
    // Within the 60-minute target: 5, 10, 30; over: 120.
    assert_eq!((r.sla_minutes, r.within_sla, r.over_sla), (60, 3, 1));
    assert_eq!(r.busiest_hours.len(), 24);
    assert_eq!(r.busiest_hours[9].messages, 2); // 09:00 Monday and next Monday
    assert_eq!(r.busiest_hours[10].messages, 2);
    // The heat map: every message came on a Monday (09, 10, 11 in Rome, both weeks).
    assert_eq!(r.busiest_times.len(), 7);
    assert_eq!(r.busiest_times[0].weekday, 1);
    assert_eq!(r.busiest_times[0].hours.len(), 24);
    assert_eq!(&r.busiest_times[0].hours[8..13], &[0, 2, 2, 2, 0]);
    assert!(
        r.busiest_times[1..]
            .iter()
            .all(|d| d.hours.iter().all(|&n| n == 0))
    );
    let csv = sportello_core::store::report_csv(&r);
    assert!(csv.starts_with("section,key,conversations"));
    assert!(
        csv.contains("\ntotal,all,6,6,4,20.0,120.0,1,300.0,300.0,2\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\nchannel,email,3,3,3,30.0,120.0,1,300.0,300.0,0\n"),
        "{csv}"
    );
    assert!(csv.contains("\nhour,09,,2,"), "{csv}");
    assert!(csv.contains("\nweekday_hour,1-09,,2,"), "{csv}");
    assert!(!csv.contains("\nweekday_hour,2-"), "{csv}");
}
