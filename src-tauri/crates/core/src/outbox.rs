//! Replies go through the outbox: written (with their message row, shown as "queued") before
//! any attempt to send, retried with backoff on transient failures, and never sent twice — an
//! item is marked `sending` before the attempt, and one found `sending` after a crash is not
//! retried blindly: it waits for the user (or for the copy the server gives back).

use rusqlite::{OptionalExtension, params};

use crate::channel::{Channel, OutboundMessage, OutboxFile, OutboxItem};
use crate::events::Change;
use crate::model::{Account, ChannelKind, Direction, Message, MessageKind};
use crate::store::Store;
use crate::threading::normalize_message_id;
use crate::{Error, ErrorCode, Result, now_ms};

/// Attempts before a transiently failing reply is shown as failed (the user can retry).
pub const MAX_ATTEMPTS: u32 = 6;

/// Delay before attempt `n + 1` after `n` failures: 15 s, 30 s, 1 min, 2 min, 4 min...
pub fn backoff_ms(attempts: u32) -> i64 {
    15_000i64 * (1i64 << attempts.saturating_sub(1).min(8))
}

/// What the user wrote.
#[derive(Debug, Clone)]
pub struct Draft {
    pub text: String,
    /// Quote the message being answered under the reply (email).
    pub quote: bool,
}

/// What a reply carries besides its text (chat channels).
#[derive(Debug, Clone, Default)]
pub struct ReplyExtras {
    /// A channel-specific template to send instead of free text (WhatsApp: `{"name",
    /// "language", "params"}`; Twilio: `{"content_sid", "variables"}`), kept in the message's
    /// meta under `template`.
    pub template: Option<serde_json::Value>,
    /// Files sent with the reply (stored as the message's attachments).
    pub files: Vec<OutgoingFile>,
}

#[derive(Debug, Clone, Default)]
pub struct OutgoingFile {
    pub filename: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

/// The largest email Sportello sends: 25 MB as the server counts it, attachments encoded
/// (Gmail's limit, and within Outlook's and most providers'; see docs/channels.md, "Files
/// and forwarding by email").
pub const EMAIL_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// What `len` bytes of a file weigh in an email: base64 in lines of 76 characters + CRLF.
pub fn email_encoded_size(len: u64) -> u64 {
    len.div_ceil(57) * 78
}

/// Refuses, before anything is queued, files that would make an email too big to send.
fn check_email_files<'a>(sizes: impl IntoIterator<Item = (&'a str, u64)>) -> Result<()> {
    let mut total = 0u64;
    let mut names = Vec::new();
    for (name, len) in sizes {
        total += email_encoded_size(len);
        names.push(name);
    }
    if total + 64 * 1024 > EMAIL_MAX_BYTES {
        return Err(Error::new(
            ErrorCode::FileTooLarge,
            format!(
                "the attached files ({}) make the email about {} MB once encoded; an email may be \
                 at most 25 MB",
                names.join(", "),
                total.div_ceil(1024 * 1024)
            ),
        ));
    }
    Ok(())
}

/// Text made safe to put in HTML.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn reply_subject(subject: &str) -> String {
    let lower = subject.trim_start().to_lowercase();
    if subject.trim().is_empty() {
        String::new()
    } else if lower.starts_with("re:") || lower.starts_with("r:") {
        subject.trim().to_string()
    } else {
        format!("Re: {}", subject.trim())
    }
}

fn quoted(original: &Message, attribution: &str) -> String {
    let mut out = String::from("\n\n");
    out.push_str(attribution);
    out.push('\n');
    for line in original.text.lines() {
        out.push_str("> ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The line above a quoted message, as mail clients write it in the shop's language and time
/// zone: "Il giorno lun 23 nov 2026 alle ore 08:15 Maria <m@x.it> ha scritto:", "On Mon, 23 Nov
/// 2026 at 08:15, Maria <m@x.it> wrote:". The customer's client (and Sportello itself, see
/// `quotes`) recognises it and folds it with the quote.
fn attribution(original: &Message, language: &str, tz: &jiff::tz::TimeZone) -> String {
    let who = if original.sender_name.is_empty() {
        format!("<{}>", original.sender_handle)
    } else {
        format!("{} <{}>", original.sender_name, original.sender_handle)
    };
    attribution_line(&who, original.sent_at, language, tz)
}

fn attribution_line(who: &str, sent_at: i64, language: &str, tz: &jiff::tz::TimeZone) -> String {
    let english = language == "en";
    let Ok(at) = jiff::Timestamp::from_millisecond(sent_at) else {
        return if english {
            format!("{who} wrote:")
        } else {
            format!("{who} ha scritto:")
        };
    };
    let at = at.to_zoned(tz.clone());
    if english {
        // jiff's names are the English ones.
        return format!("{}, {who} wrote:", at.strftime("On %a, %-d %b %Y at %H:%M"));
    }
    const DAYS: [&str; 7] = ["lun", "mar", "mer", "gio", "ven", "sab", "dom"];
    const MONTHS: [&str; 12] = [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ];
    format!(
        "Il giorno {} {} {} {} alle ore {} {who} ha scritto:",
        DAYS[at.weekday().to_monday_zero_offset() as usize],
        at.day(),
        MONTHS[at.month() as usize - 1],
        at.year(),
        at.strftime("%H:%M"),
    )
}

/// A fresh id for an outgoing message, in the domain of the account's address.
fn new_external_id(account: &Account) -> String {
    let domain = account
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("sportello.local");
    let domain = if domain.is_empty() {
        "sportello.local"
    } else {
        domain
    };
    format!(
        "{}.{}@{}",
        now_ms(),
        hex::encode(rand::random::<[u8; 8]>()),
        domain
    )
}

/// What a new outbound message needs besides its own row, written in the same transaction:
/// its files (`(filename, mime type, size, hash)`, the bytes already kept under the hash), its
/// outbox entry, the thread key that lets answers to it join the conversation, and the
/// conversation's summary.
fn queue_outbound<'a>(
    tx: &rusqlite::Transaction,
    outbound: &OutboundMessage,
    account_id: i64,
    conversation_id: i64,
    message_id: i64,
    files: impl Iterator<Item = (&'a str, &'a str, usize, &'a str)>,
    now: i64,
) -> Result<()> {
    for (filename, mime_type, size, hash) in files {
        tx.execute(
            "INSERT INTO attachments(message_id, filename, mime_type, size, content_hash,
                                     inline)
             VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            params![message_id, filename, mime_type, size as i64, hash],
        )?;
    }
    tx.execute(
        "INSERT INTO outbox(account_id, conversation_id, message_id, payload, state,
                            next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5)",
        params![
            account_id,
            conversation_id,
            message_id,
            serde_json::to_string(outbound)?,
            now
        ],
    )?;
    tx.execute(
        "INSERT OR IGNORE INTO thread_keys(account_id, key, conversation_id)
         VALUES (?1, ?2, ?3)",
        params![account_id, outbound.external_id, conversation_id],
    )?;
    crate::store::refresh_conversation(tx, conversation_id)
}

impl Store {
    /// Queues a reply in a conversation: one transaction writes the message (delivery
    /// `queued`) and its outbox item. Returns the stored message.
    pub fn queue_reply(&self, conversation_id: i64, draft: &Draft) -> Result<Message> {
        self.queue_reply_with(conversation_id, draft, &ReplyExtras::default())
    }

    /// Like [`Store::queue_reply`], with a template or files (chat channels). The text may be
    /// empty when a template or a file is sent.
    pub fn queue_reply_with(
        &self,
        conversation_id: i64,
        draft: &Draft,
        extras: &ReplyExtras,
    ) -> Result<Message> {
        self.queue_outbound(conversation_id, draft, extras, MessageKind::Normal, None)
    }

    /// Queues a message of any sendable kind (a reply, or an automatic reply). It answers
    /// `answering` when given (an automatic reply names the message that triggered it, RFC 3834
    /// §3.1.5), else the thread's last message.
    pub(crate) fn queue_outbound(
        &self,
        conversation_id: i64,
        draft: &Draft,
        extras: &ReplyExtras,
        kind: MessageKind,
        answering: Option<i64>,
    ) -> Result<Message> {
        let text = draft.text.trim_end();
        if text.trim().is_empty() && extras.template.is_none() && extras.files.is_empty() {
            return Err(Error::invalid("the reply is empty"));
        }
        let detail = self.conversation(conversation_id)?;
        let conv = &detail.conversation;
        let account = self.account(conv.account_id)?;
        if account.kind == ChannelKind::Email {
            check_email_files(
                extras
                    .files
                    .iter()
                    .map(|f| (f.filename.as_str(), f.data.len() as u64)),
            )?;
        }
        let mut hashes = Vec::with_capacity(extras.files.len());
        for f in &extras.files {
            hashes.push(self.put_blob(&f.data)?);
        }
        if account.settings.get("local").and_then(|v| v.as_bool()) == Some(true) {
            return Err(Error::invalid(
                "this conversation was imported from a file; reply from a connected account",
            ));
        }
        if conv.contact_handle.is_empty() {
            return Err(Error::invalid(
                "this conversation has no address to reply to",
            ));
        }
        let last = answering
            .and_then(|id| detail.messages.iter().find(|m| m.id == id))
            .or(detail.messages.last());
        let last_inbound = detail
            .messages
            .iter()
            .rev()
            .find(|m| m.direction == Direction::Inbound);
        let mut references: Vec<String> = Vec::new();
        let mut in_reply_to = None;
        if let Some(last) = last {
            let meta: String = self.reader().query_row(
                "SELECT meta FROM messages WHERE id = ?1",
                [last.id],
                |r| r.get(0),
            )?;
            let meta: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
            if let Some(refs) = meta.get("references").and_then(|v| v.as_array()) {
                references.extend(refs.iter().filter_map(|r| r.as_str()).map(String::from));
            }
            if account.kind == ChannelKind::Email {
                let id = normalize_message_id(&last.external_id);
                if !references.contains(&id) {
                    references.push(id.clone());
                }
                in_reply_to = Some(id);
            }
        }
        let mut body = text.to_string();
        if draft.quote
            && let Some(original) = last_inbound
        {
            let care = self.care_settings()?;
            body.push_str(&quoted(
                original,
                &attribution(original, &care.default_language, &care.time_zone()),
            ));
        }
        let outbound = OutboundMessage {
            external_id: new_external_id(&account),
            to: vec![conv.contact_handle.clone()],
            subject: reply_subject(&conv.subject),
            text: body.clone(),
            html: None,
            in_reply_to,
            references,
            automatic: kind == MessageKind::AutoReply,
        };
        let now = now_ms();
        let message_id = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO messages(conversation_id, account_id, direction, external_id,
                                      sender_name, sender_handle, recipients, subject, body_text,
                                      sent_at, received_at, delivery, is_read, meta, kind)
                 VALUES (?1, ?2, 'outbound', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 'queued', 1, ?10,
                         ?11)",
                params![
                    conversation_id,
                    account.id,
                    outbound.external_id,
                    account.name,
                    account.address,
                    serde_json::to_string(&outbound.to)?,
                    outbound.subject,
                    body,
                    now,
                    {
                        let mut meta = serde_json::json!({
                            "in_reply_to": outbound.in_reply_to,
                            "references": outbound.references,
                        });
                        if let Some(t) = &extras.template {
                            meta["template"] = t.clone();
                        }
                        if kind == MessageKind::AutoReply {
                            // RFC 3834 §5: what the channel should say about the message.
                            meta["auto_submitted"] = "auto-replied".into();
                        }
                        meta.to_string()
                    },
                    kind.as_str(),
                ],
            )?;
            let message_id = tx.last_insert_rowid();
            let files = extras.files.iter().zip(&hashes).map(|(f, hash)| {
                (
                    f.filename.as_str(),
                    f.mime_type.as_str(),
                    f.data.len(),
                    hash.as_str(),
                )
            });
            queue_outbound(
                &tx,
                &outbound,
                account.id,
                conversation_id,
                message_id,
                files,
                now,
            )?;
            tx.commit()?;
            message_id
        };
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        self.message(message_id)
    }

    /// Queues a forward of an email (with its files) to another address: Subject "Fwd: …",
    /// the note on top, then the original under a "Forwarded message" header with its From,
    /// Date, Subject and To. Shown in the original's conversation as ours.
    pub fn queue_forward(&self, message_id: i64, to: &str, note: &str) -> Result<Message> {
        let original = self.message(message_id)?;
        let account = self.account(original.account_id)?;
        if account.kind != ChannelKind::Email {
            return Err(Error::invalid("only email messages can be forwarded"));
        }
        if account.settings.get("local").and_then(|v| v.as_bool()) == Some(true) {
            return Err(Error::invalid(
                "this message was imported from a file; forward it from a connected account",
            ));
        }
        let to = to.trim();
        let valid = to.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !domain.contains('@')
        }) && !to
            .chars()
            .any(|c| c.is_whitespace() || "<>,;\"".contains(c));
        if !valid {
            return Err(Error::invalid(format!(
                "\"{to}\" is not a valid email address"
            )));
        }
        // Every file of the original, read the way the window opens or saves one; refused
        // (file_too_large) before anything is queued when the email would be too big.
        check_email_files(
            original
                .attachments
                .iter()
                .map(|a| (a.filename.as_str(), a.size.max(0) as u64)),
        )?;
        let mut files = Vec::with_capacity(original.attachments.len());
        if !original.attachments.is_empty() {
            let dir = std::env::temp_dir().join(format!(
                "sportello-forward-{}",
                hex::encode(rand::random::<[u8; 8]>())
            ));
            let read = (|| -> Result<()> {
                for a in &original.attachments {
                    let path = self.export_attachment(a.id, &dir)?;
                    let data = std::fs::read(&path)?;
                    let _ = std::fs::remove_file(&path);
                    files.push((a, data));
                }
                Ok(())
            })();
            let _ = std::fs::remove_dir_all(&dir);
            read?;
            check_email_files(
                files
                    .iter()
                    .map(|(a, data)| (a.filename.as_str(), data.len() as u64)),
            )?;
        }
        let mut hashes = Vec::with_capacity(files.len());
        for (_, data) in &files {
            hashes.push(self.put_blob(data)?);
        }
        let from = if original.sender_name.is_empty() {
            original.sender_handle.clone()
        } else {
            format!("{} <{}>", original.sender_name, original.sender_handle)
        };
        let date = jiff::Timestamp::from_millisecond(original.sent_at)
            .ok()
            .and_then(|t| {
                jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::system())).ok()
            })
            .unwrap_or_default();
        let mut body = note.trim_end().to_string();
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        let to_line = original.recipients.join(", ");
        body.push_str(&format!(
            "---------- Forwarded message ---------\nFrom: {from}\nDate: {date}\n\
             Subject: {}\nTo: {to_line}\n\n{}",
            original.subject,
            original.text.trim_end()
        ));
        // The original's HTML (sanitised when it was stored: no scripts, no handlers) under
        // the same header block, as the HTML alternative.
        let html = original.html.as_ref().map(|original_html| {
            let note = note.trim_end();
            let mut html = String::from("<div dir=\"auto\">");
            if !note.is_empty() {
                html.push_str(&escape_html(note).replace('\n', "<br>\n"));
                html.push_str("<br><br>\n");
            }
            html.push_str(&format!(
                "<div class=\"forwarded-header\">---------- Forwarded message ---------<br>\n\
                 From: {}<br>\nDate: {}<br>\nSubject: {}<br>\nTo: {}<br>\n</div><br>\n",
                escape_html(&from),
                escape_html(&date),
                escape_html(&original.subject),
                escape_html(&to_line)
            ));
            html.push_str("<div class=\"forwarded-body\">");
            html.push_str(original_html);
            html.push_str("</div></div>");
            html
        });
        let subject = {
            let lower = original.subject.trim_start().to_lowercase();
            if ["fwd:", "fw:", "i:", "inoltro:"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                original.subject.trim().to_string()
            } else {
                format!("Fwd: {}", original.subject.trim())
            }
        };
        let outbound = OutboundMessage {
            external_id: new_external_id(&account),
            to: vec![to.to_string()],
            subject,
            text: body.clone(),
            html,
            in_reply_to: None,
            references: Vec::new(),
            automatic: false,
        };
        let conversation_id = original.conversation_id;
        let now = now_ms();
        let new_id = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO messages(conversation_id, account_id, direction, external_id,
                                      sender_name, sender_handle, recipients, subject, body_text,
                                      sent_at, received_at, delivery, is_read, meta, kind)
                 VALUES (?1, ?2, 'outbound', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 'queued', 1, ?10,
                         'normal')",
                params![
                    conversation_id,
                    account.id,
                    outbound.external_id,
                    account.name,
                    account.address,
                    serde_json::to_string(&outbound.to)?,
                    outbound.subject,
                    body,
                    now,
                    serde_json::json!({"forwarded_from": message_id}).to_string(),
                ],
            )?;
            let new_id = tx.last_insert_rowid();
            let files = files.iter().zip(&hashes).map(|((a, data), hash)| {
                (
                    a.filename.as_str(),
                    a.mime_type.as_str(),
                    data.len(),
                    hash.as_str(),
                )
            });
            queue_outbound(
                &tx,
                &outbound,
                account.id,
                conversation_id,
                new_id,
                files,
                now,
            )?;
            tx.commit()?;
            new_id
        };
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        self.message(new_id)
    }

    /// Items of an account due for an attempt now.
    pub fn due_outbox(&self, account_id: i64) -> Result<Vec<OutboxItem>> {
        let conn = self.writer();
        let mut stmt = conn.prepare_cached(
            "SELECT id, account_id, conversation_id, message_id, attempts, payload FROM outbox
             WHERE account_id = ?1 AND state = 'queued' AND next_attempt_at <= ?2
             ORDER BY id",
        )?;
        let items = stmt
            .query_map(params![account_id, now_ms()], |r| {
                let payload: String = r.get(5)?;
                Ok((
                    OutboxItem {
                        id: r.get(0)?,
                        account_id: r.get(1)?,
                        conversation_id: r.get(2)?,
                        message_id: r.get(3)?,
                        attempts: r.get(4)?,
                        message: OutboundMessage::default(),
                        files: Vec::new(),
                    },
                    payload,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut files = conn.prepare_cached(
            "SELECT filename, mime_type, content_hash FROM attachments
             WHERE message_id = ?1 AND content_hash IS NOT NULL ORDER BY id",
        )?;
        items
            .into_iter()
            .map(|(mut item, payload)| {
                item.message = serde_json::from_str(&payload)?;
                item.files = files
                    .query_map([item.message_id], |r| {
                        Ok(OutboxFile {
                            filename: r.get(0)?,
                            mime_type: r.get(1)?,
                            path: self.blob_path(&r.get::<_, String>(2)?),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(item)
            })
            .collect()
    }

    /// When the next queued item of an account is due (to sleep until then).
    pub fn next_outbox_due(&self, account_id: i64) -> Result<Option<i64>> {
        Ok(self.writer().query_row(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE account_id = ?1 AND state = 'queued'",
            [account_id],
            |r| r.get(0),
        )?)
    }

    /// Claims an item for one attempt. Returns false if it is no longer queued (another
    /// worker or process took it): then it must not be sent.
    fn claim_outbox(&self, item: &OutboxItem) -> Result<bool> {
        let claimed = {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1
                 WHERE id = ?1 AND state = 'queued'",
                [item.id],
            )?;
            if n == 1 {
                tx.execute(
                    "UPDATE messages SET delivery = 'sending' WHERE id = ?1",
                    [item.message_id],
                )?;
            }
            tx.commit()?;
            n == 1
        };
        if claimed {
            self.announce(Change {
                conversations: vec![item.conversation_id],
                ..Default::default()
            });
        }
        Ok(claimed)
    }

    fn finish_outbox(&self, item: &OutboxItem, outcome: Result<Option<String>>) -> Result<()> {
        {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            match &outcome {
                Ok(new_id) => {
                    tx.execute(
                        "UPDATE outbox SET state = 'sent', sent_at = ?2, last_error = NULL
                         WHERE id = ?1",
                        params![item.id, now_ms()],
                    )?;
                    tx.execute(
                        "UPDATE messages SET delivery = 'sent', delivery_error = NULL,
                                external_id = COALESCE(?2, external_id) WHERE id = ?1",
                        params![item.message_id, new_id],
                    )?;
                }
                Err(e) => {
                    let attempts = item.attempts + 1;
                    let retry = e.code.is_transient() && attempts < MAX_ATTEMPTS;
                    let error = serde_json::to_string(e)?;
                    tx.execute(
                        "UPDATE outbox SET state = ?2, next_attempt_at = ?3, last_error = ?4
                         WHERE id = ?1",
                        params![
                            item.id,
                            if retry { "queued" } else { "failed" },
                            now_ms() + backoff_ms(attempts),
                            error
                        ],
                    )?;
                    tx.execute(
                        "UPDATE messages SET delivery = ?2, delivery_error = ?3 WHERE id = ?1",
                        params![
                            item.message_id,
                            if retry { "queued" } else { "failed" },
                            error
                        ],
                    )?;
                }
            }
            tx.commit()?;
        }
        self.announce(Change {
            conversations: vec![item.conversation_id],
            ..Default::default()
        });
        Ok(())
    }

    /// The user asks to try a failed (or uncertain) reply again now.
    pub fn retry_message(&self, message_id: i64) -> Result<i64> {
        let (outbox_id, conversation_id, account_id): (i64, i64, i64) = self
            .writer()
            .query_row(
                "SELECT id, conversation_id, account_id FROM outbox WHERE message_id = ?1",
                [message_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| {
                Error::not_found(format!("message {message_id} is not in the outbox"))
            })?;
        {
            let mut conn = self.writer();
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?2
                 WHERE id = ?1 AND state = 'failed'",
                params![outbox_id, now_ms()],
            )?;
            if n == 0 {
                return Err(Error::invalid("this reply is not waiting for a retry"));
            }
            tx.execute(
                "UPDATE messages SET delivery = 'queued', delivery_error = NULL WHERE id = ?1",
                [message_id],
            )?;
            tx.commit()?;
        }
        self.announce(Change {
            conversations: vec![conversation_id],
            ..Default::default()
        });
        Ok(account_id)
    }

    /// At start-up: an item left `sending` by a crash may or may not have gone out. It is
    /// not retried automatically (that could send it twice); it shows as failed, and the
    /// copy in the Sent folder, if any, marks it sent on the next sync.
    pub fn recover_outbox(&self) -> Result<u32> {
        let error = serde_json::to_string(&Error::new(
            ErrorCode::Network,
            "Sportello stopped while sending this reply; it may or may not have gone out",
        ))?;
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE messages SET delivery = 'failed', delivery_error = ?1
             WHERE id IN (SELECT message_id FROM outbox WHERE state = 'sending')",
            [&error],
        )?;
        let n = tx.execute(
            "UPDATE outbox SET state = 'failed', last_error = ?1 WHERE state = 'sending'",
            [&error],
        )?;
        tx.commit()?;
        Ok(n as u32)
    }
}

/// Sends every due item of an account through its channel, one attempt each.
/// Returns how many were sent and how many failed this round.
pub async fn flush(store: &Store, channel: &dyn Channel, account: &Account) -> Result<(u32, u32)> {
    let mut sent = 0;
    let mut failed = 0;
    for item in store.due_outbox(account.id)? {
        if !store.claim_outbox(&item)? {
            continue;
        }
        let outcome = channel.send(account, &item).await;
        match &outcome {
            Ok(_) => sent += 1,
            Err(e) => {
                tracing::warn!(item = item.id, code = %e.code, "reply not sent: {}", e.message);
                failed += 1;
            }
        }
        store.finish_outbox(&item, outcome.map(|r| r.external_id))?;
    }
    Ok((sent, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subject_adds_one_prefix() {
        assert_eq!(reply_subject("Ordine 12"), "Re: Ordine 12");
        assert_eq!(reply_subject("Re: Ordine 12"), "Re: Ordine 12");
        assert_eq!(reply_subject("R: Ordine 12"), "R: Ordine 12");
        assert_eq!(reply_subject(""), "");
    }

    #[test]
    fn email_files_are_measured_as_sent() {
        assert_eq!(email_encoded_size(0), 0);
        assert_eq!(email_encoded_size(57), 78);
        assert_eq!(email_encoded_size(58), 156);
        assert!(check_email_files([("a.pdf", 10 * 1024 * 1024)]).is_ok());
        // 20 MB of files are about 27 MB encoded: refused with the code the UI translates.
        let e = check_email_files([("a.pdf", 10 * 1024 * 1024), ("b.zip", 10 * 1024 * 1024)])
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::FileTooLarge);
        assert!(e.message.contains("a.pdf, b.zip"), "{}", e.message);
    }

    #[test]
    fn the_quote_is_introduced_as_mail_clients_do_in_the_shops_language_and_time() {
        let rome = jiff::tz::TimeZone::get("Europe/Rome").unwrap();
        // Monday 23 November 2026, 07:15 UTC: 08:15 in Rome.
        let at = 1_795_418_100_000;
        let who = "Luca Bianchi <luca@example.com>";
        let it = attribution_line(who, at, "it", &rome);
        assert_eq!(
            it,
            "Il giorno lun 23 nov 2026 alle ore 08:15 Luca Bianchi <luca@example.com> ha scritto:"
        );
        let en = attribution_line(who, at, "en", &jiff::tz::TimeZone::UTC);
        assert_eq!(
            en,
            "On Mon, 23 Nov 2026 at 07:15, Luca Bianchi <luca@example.com> wrote:"
        );
        // No leading zero on the day, as mail clients write it.
        assert_eq!(
            attribution_line(who, 1000, "en", &jiff::tz::TimeZone::UTC),
            "On Thu, 1 Jan 1970 at 00:00, Luca Bianchi <luca@example.com> wrote:"
        );
        // The thread view folds the quote from that line (so does the customer's client).
        for line in [it, en] {
            let body = format!("Certo!\n\n{line}\n> Posso cambiare la taglia?\n");
            assert_eq!(crate::quotes::fold_line(&body), Some(2), "{body}");
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(1), 15_000);
        assert_eq!(backoff_ms(2), 30_000);
        assert_eq!(backoff_ms(3), 60_000);
        assert!(backoff_ms(50) <= 15_000 * 256);
    }
}
