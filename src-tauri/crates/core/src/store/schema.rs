//! Versioned migrations, guarded by `PRAGMA user_version`.
//!
//! Each migration runs once, in its own transaction. A database written by a newer Sportello
//! (a higher version than [`LATEST`]) is refused before anything is written to it.

use rusqlite::Connection;

use crate::{Error, ErrorCode, Result};

/// Migrations in order; the version of a migration is its index + 1. Never edit a landed one.
const MIGRATIONS: &[&str] = &[
    // 1: the foundation, shaped for every channel.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- A connected inbox. `settings` is channel-specific JSON and never holds a secret.
    CREATE TABLE accounts (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,
        name            TEXT NOT NULL,
        address         TEXT NOT NULL DEFAULT '',
        settings        TEXT NOT NULL DEFAULT '{}',
        enabled         INTEGER NOT NULL DEFAULT 1,
        created_at      INTEGER NOT NULL,
        sync_state      TEXT NOT NULL DEFAULT 'idle',
        last_sync_at    INTEGER,
        last_error      TEXT  -- JSON {code, message}
    );

    CREATE TABLE contacts (
        id              INTEGER PRIMARY KEY,
        display_name    TEXT NOT NULL DEFAULT '',
        notes           TEXT NOT NULL DEFAULT '',
        created_at      INTEGER NOT NULL,
        last_contact_at INTEGER
    );

    -- How a contact is reached: email address, E.164 phone, platform ids. One owner each.
    CREATE TABLE identities (
        id           INTEGER PRIMARY KEY,
        contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL,
        value        TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, value)
    );
    CREATE INDEX identities_contact ON identities(contact_id);

    CREATE TABLE conversations (
        id              INTEGER PRIMARY KEY,
        account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        contact_id      INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
        handle          TEXT NOT NULL DEFAULT '',
        subject         TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL DEFAULT 'open',
        snoozed_until   INTEGER,
        unread_count    INTEGER NOT NULL DEFAULT 0,
        message_count   INTEGER NOT NULL DEFAULT 0,
        last_message_at INTEGER NOT NULL DEFAULT 0,
        last_preview    TEXT NOT NULL DEFAULT '',
        last_direction  TEXT NOT NULL DEFAULT 'inbound',
        waiting_since   INTEGER,
        created_at      INTEGER NOT NULL
    );
    CREATE INDEX conversations_activity ON conversations(last_message_at DESC, id DESC);
    CREATE INDEX conversations_account ON conversations(account_id, last_message_at DESC);
    CREATE INDEX conversations_contact ON conversations(contact_id);

    -- Keys that tie messages to a conversation (Message-IDs, chat ids, address+subject).
    CREATE TABLE thread_keys (
        account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        key             TEXT NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        PRIMARY KEY (account_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX thread_keys_conversation ON thread_keys(conversation_id);

    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        direction       TEXT NOT NULL,
        external_id     TEXT NOT NULL,
        sender_name     TEXT NOT NULL DEFAULT '',
        sender_handle   TEXT NOT NULL DEFAULT '',
        recipients      TEXT NOT NULL DEFAULT '[]',
        subject         TEXT NOT NULL DEFAULT '',
        body_text       TEXT NOT NULL DEFAULT '',
        body_html       TEXT,
        remote_content  INTEGER NOT NULL DEFAULT 0,
        sent_at         INTEGER NOT NULL,
        received_at     INTEGER NOT NULL,
        delivery        TEXT NOT NULL DEFAULT 'received',
        delivery_error  TEXT,  -- JSON {code, message}
        is_read         INTEGER NOT NULL DEFAULT 0,
        parse_error     TEXT,
        meta            TEXT NOT NULL DEFAULT '{}',
        UNIQUE (account_id, external_id)
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, sent_at, id);

    -- The exact bytes received (the email source), kept for every message that had one.
    CREATE TABLE message_sources (
        message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        raw        BLOB NOT NULL
    );

    -- Where a message lives on the server (IMAP folder + UIDVALIDITY + UID).
    CREATE TABLE message_locations (
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        folder      TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid         INTEGER NOT NULL,
        message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        PRIMARY KEY (account_id, folder, uidvalidity, uid)
    ) WITHOUT ROWID;
    CREATE INDEX message_locations_message ON message_locations(message_id);

    -- Files are stored once, by content hash, under the data folder's blobs/.
    CREATE TABLE attachments (
        id           INTEGER PRIMARY KEY,
        message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        filename     TEXT NOT NULL,
        mime_type    TEXT NOT NULL,
        size         INTEGER NOT NULL,
        content_hash TEXT,
        content_id   TEXT,
        inline       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attachments_message ON attachments(message_id);

    -- Per-folder (or per-feed) sync position.
    CREATE TABLE sync_cursors (
        account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        folder         TEXT NOT NULL,
        uidvalidity    INTEGER NOT NULL DEFAULT 0,
        last_uid       INTEGER NOT NULL DEFAULT 0,
        highest_modseq INTEGER NOT NULL DEFAULT 0,
        extra          TEXT NOT NULL DEFAULT '{}',
        updated_at     INTEGER NOT NULL,
        PRIMARY KEY (account_id, folder)
    ) WITHOUT ROWID;

    -- Replies waiting to go out. A row is written before any attempt to send.
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        account_id      INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message_id      INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'queued', -- queued | sending | sent | failed
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
    );
    CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

    -- Full-text index over the messages table (accent- and case-insensitive, prefix queries).
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, body_text, sender_name, sender_handle,
        content = 'messages', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '2 3'
    );
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, subject, body_text, sender_name, sender_handle)
        VALUES (new.id, new.subject, new.body_text, new.sender_name, new.sender_handle);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, subject, body_text, sender_name, sender_handle)
        VALUES ('delete', old.id, old.subject, old.body_text, old.sender_name, old.sender_handle);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, body_text, sender_name, sender_handle
    ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, subject, body_text, sender_name, sender_handle)
        VALUES ('delete', old.id, old.subject, old.body_text, old.sender_name, old.sender_handle);
        INSERT INTO messages_fts(rowid, subject, body_text, sender_name, sender_handle)
        VALUES (new.id, new.subject, new.body_text, new.sender_name, new.sender_handle);
    END;
    "#,
    // 2: chat channels: media fetched after the message is stored, and the reply window.
    r#"
    -- Set while the file is still on the provider's server (content_hash is NULL until then).
    ALTER TABLE attachments ADD COLUMN remote_ref TEXT;
    CREATE INDEX attachments_pending ON attachments(remote_ref) WHERE remote_ref IS NOT NULL;
    -- When the customer last wrote (reply windows of WhatsApp and Messenger run from here).
    ALTER TABLE conversations ADD COLUMN last_inbound_at INTEGER;
    UPDATE conversations SET last_inbound_at = (SELECT MAX(sent_at) FROM messages m
        WHERE m.conversation_id = conversations.id AND m.direction = 'inbound');
    "#,
    // 3: changes to make on a server (IMAP flags, moves, copies to Sent), kept until done so
    // they survive going offline and restarts.
    r#"
    CREATE TABLE remote_ops (
        id          INTEGER PRIMARY KEY,
        account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        -- NULL for operations on no stored message (e.g. appending a sent reply).
        message_id  INTEGER REFERENCES messages(id) ON DELETE CASCADE,
        op          TEXT NOT NULL,   -- seen | unseen | answered | archive | append_sent
        data        BLOB,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX remote_ops_account ON remote_ops(account_id, id);
    "#,
    // 4: customer care: message kinds, pinning, closing times, tags, contact merges, phone
    // numbers seen in messages, saved views, canned replies.
    r#"
    -- normal | note (internal, never sent) | auto_reply
    ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'normal';
    ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    -- When the conversation was last closed (resolution time); NULL while it is not closed.
    ALTER TABLE conversations ADD COLUMN closed_at INTEGER;
    UPDATE conversations SET closed_at = last_message_at WHERE status = 'closed';
    -- A contact merged into another is kept (hidden) so the merge can be undone exactly.
    ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts(id);
    CREATE INDEX conversations_status ON conversations(status, last_message_at DESC);
    CREATE INDEX conversations_snoozed ON conversations(snoozed_until) WHERE status = 'snoozed';
    CREATE INDEX messages_sent ON messages(sent_at);

    CREATE TABLE tags (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        color      TEXT NOT NULL DEFAULT '#6b7280',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE conversation_tags (
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        tag_id          INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (conversation_id, tag_id)
    ) WITHOUT ROWID;
    CREATE INDEX conversation_tags_tag ON conversation_tags(tag_id);
    CREATE TABLE contact_tags (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        tag_id     INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (contact_id, tag_id)
    ) WITHOUT ROWID;

    -- E.164 numbers written in a customer's messages (email signatures): merge suggestions.
    CREATE TABLE phone_mentions (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        phone      TEXT NOT NULL,
        PRIMARY KEY (message_id, phone)
    ) WITHOUT ROWID;
    CREATE INDEX phone_mentions_phone ON phone_mentions(phone);

    -- What a merge moved (JSON), so undo restores exactly the state before it.
    CREATE TABLE contact_merges (
        id          INTEGER PRIMARY KEY,
        survivor_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        merged_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        snapshot    TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        undone_at   INTEGER
    );
    CREATE INDEX contact_merges_survivor ON contact_merges(survivor_id);
    -- "Not the same person": suggestions the user turned down (smaller id first).
    CREATE TABLE dismissed_suggestions (
        contact_a INTEGER NOT NULL,
        contact_b INTEGER NOT NULL,
        PRIMARY KEY (contact_a, contact_b)
    ) WITHOUT ROWID;

    CREATE TABLE saved_views (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        filter     TEXT NOT NULL DEFAULT '{}',
        position   INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    -- Templates: one text per language, JSON {"it": "...", "en": "..."}.
    CREATE TABLE canned_replies (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        shortcut   TEXT NOT NULL DEFAULT '',
        texts      TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    "#,
    // 5: merge suggestions for one contact look up only its likely matches: the contact's name
    // as a comparable key (case, accents and word order ignored; NULL when it says too little,
    // see `contacts::name_key`), filled in Rust right after this runs (`after_migration`).
    r#"
    ALTER TABLE contacts ADD COLUMN name_key TEXT;
    CREATE INDEX contacts_name_key ON contacts(name_key) WHERE name_key IS NOT NULL;
    CREATE INDEX dismissed_suggestions_b ON dismissed_suggestions(contact_b);
    "#,
    // 6: the window's first page and counts read indexes, not every conversation. The list is
    // ordered pinned first, then newest activity: each list index ends in that order, so a page
    // is a walk of the index with no sort (the old ones lacked `pinned`, which made every
    // page sort all the matching conversations). Unread conversations are few: a partial
    // index. The view counts read one narrow covering index. (IF [NOT] EXISTS: a data folder
    // set back by hand to an older version still migrates.)
    r#"
    DROP INDEX IF EXISTS conversations_activity;
    DROP INDEX IF EXISTS conversations_account;
    DROP INDEX IF EXISTS conversations_status;
    CREATE INDEX IF NOT EXISTS conversations_list ON conversations(pinned DESC, last_message_at DESC, id DESC);
    CREATE INDEX IF NOT EXISTS conversations_account_list
        ON conversations(account_id, pinned DESC, last_message_at DESC, id DESC);
    CREATE INDEX IF NOT EXISTS conversations_status_list
        ON conversations(status, pinned DESC, last_message_at DESC, id DESC);
    CREATE INDEX IF NOT EXISTS conversations_unread ON conversations(pinned DESC, last_message_at DESC, id DESC)
        WHERE unread_count > 0;
    CREATE INDEX IF NOT EXISTS conversations_counts ON conversations(status, account_id, waiting_since);
    "#,
    // 7: new message sources live in append-only pack files under sources/ (raw is then empty):
    // written once instead of through the WAL and again at each checkpoint. Older rows keep
    // their bytes in `raw`.
    r#"
    ALTER TABLE message_sources ADD COLUMN pack_id INTEGER;
    ALTER TABLE message_sources ADD COLUMN pack_offset INTEGER;
    ALTER TABLE message_sources ADD COLUMN pack_length INTEGER;
    "#,
    // 8: a file of a synced email is not copied out at sync: the row says which MIME part of
    // the kept source holds it, and the file under blobs/ is written when first needed
    // (content_hash is set at sync, so the window shows it as present).
    r#"
    ALTER TABLE attachments ADD COLUMN source_part INTEGER;
    "#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses a database from a newer Sportello. Must run before anything writes to the file.
pub fn check_not_newer(conn: &Connection) -> Result<()> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(Error::new(
            ErrorCode::DatabaseTooNew,
            format!(
                "this data folder was written by a newer Sportello (data version {found}; this \
                 version reads up to {LATEST}). Update Sportello to open it; nothing was changed."
            ),
        ));
    }
    Ok(())
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    check_not_newer(conn)?;
    let mut current = version(conn)?;
    while current < LATEST {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[current as usize])?;
        current += 1;
        after_migration(&tx, current)?;
        tx.pragma_update(None, "user_version", current)?;
        tx.commit()?;
        tracing::info!(version = current, "database migrated");
    }
    Ok(())
}

/// What a migration needs computed in Rust, in its own transaction.
fn after_migration(conn: &Connection, version: i64) -> Result<()> {
    if version == 5 {
        super::contacts::fill_name_keys(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(conn: &Connection) -> Vec<String> {
        conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// Migration 6 replaces the list indexes of a version-5 database, keeping its rows.
    #[test]
    fn migration_6_replaces_the_list_indexes() {
        let latest = {
            let mut fresh = Connection::open_in_memory().unwrap();
            migrate(&mut fresh).unwrap();
            indexes(&fresh)
        };
        // A database written by version 5 (the migrations up to it, as they ran then).
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS[..5].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            after_migration(&conn, i as i64 + 1).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO accounts(id, kind, name, address, created_at)
                 VALUES (1, 'email', 'Shop', 'shop@example.com', 0);
             INSERT INTO conversations(id, account_id, last_message_at, unread_count, created_at)
                 VALUES (1, 1, 10, 1, 0), (2, 1, 20, 0, 0);
             PRAGMA user_version = 5;",
        )
        .unwrap();
        assert!(
            indexes(&conn).iter().any(|i| i == "conversations_activity"),
            "version 5 had the old list index"
        );
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST);
        assert_eq!(indexes(&conn), latest);
        for old in [
            "conversations_activity",
            "conversations_account",
            "conversations_status",
        ] {
            assert!(!latest.iter().any(|i| i == old), "{old} is still there");
        }
        for new in [
            "conversations_list",
            "conversations_unread",
            "conversations_counts",
        ] {
            assert!(latest.iter().any(|i| i == new), "{new} is missing");
        }
        let unread: i64 = conn
            .query_row(
                "SELECT id FROM conversations INDEXED BY conversations_unread
                 WHERE unread_count > 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unread, 1);
    }
}
