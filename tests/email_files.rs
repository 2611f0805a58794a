//! Files leaving by email, against the real SMTP server and Dovecot: a reply with a file
//! (kept in the outbox across a restart), a forward carrying the original's files, and the
//! size limit refusing before anything is queued. What arrived is parsed back with the
//! email crate's parser (mail-parser) and compared byte for byte.

use std::time::Duration;

use base64::Engine;
use sportello_core::ErrorCode;
use sportello_core::model::{Delivery, Direction, Message};
use sportello_core::outbox::{Draft, OutgoingFile, ReplyExtras};

use crate::support::email_setup::{Setup, setup};
use crate::support::mail::{MailServers, SENT, USER, base64_lines, customer_mail, header};

/// Some bytes that are not text (every byte value), so a wrong encoding shows.
fn binary(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A store synced with `mail` in the INBOX, and the conversation that holds `external_id`.
async fn synced(servers: &MailServers, mail: &[u8], external_id: &str) -> (Setup, i64) {
    servers.deliver("INBOX", mail);
    let s = setup(&servers.account_input());
    s.sync().await;
    let conversation = s.conversation_of(external_id);
    (s, conversation)
}

/// Queues a reply (no quote) with `files`.
fn reply_with_files(
    s: &Setup,
    conversation: i64,
    text: &str,
    files: Vec<OutgoingFile>,
) -> sportello_core::Result<Message> {
    s.store.queue_reply_with(
        conversation,
        &Draft {
            text: text.into(),
            quote: false,
        },
        &ReplyExtras {
            files,
            ..Default::default()
        },
    )
}

fn pdf(filename: &str, data: &[u8]) -> OutgoingFile {
    OutgoingFile {
        filename: filename.into(),
        mime_type: "application/pdf".into(),
        data: data.to_vec(),
    }
}

/// Nothing waits in the outbox, a flush sends nothing, and the SMTP server got nothing.
async fn assert_nothing_goes_out(s: &Setup, servers: &MailServers) {
    assert!(s.store.due_outbox(s.account.id).unwrap().is_empty());
    assert_eq!(s.flush().await, (0, 0));
    assert!(servers.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_with_a_file_survives_a_restart_and_arrives_with_name_type_and_bytes() {
    let servers = MailServers::start();
    let (s, conversation) = synced(
        &servers,
        &customer_mail(
            "Maria Rossi <maria.rossi@example.com>",
            "Ricevuta ordine 42",
            "r42@example.com",
            "Mi mandate la ricevuta?",
        ),
        "r42@example.com",
    )
    .await;
    let pdf = binary(300_000, 7);
    let queued = reply_with_files(
        &s,
        conversation,
        "Eccola in allegato.",
        vec![self::pdf("ricevuta però n°42.pdf", &pdf)],
    )
    .unwrap();
    assert_eq!(queued.delivery, Delivery::Queued);
    assert_eq!(queued.attachments.len(), 1);
    assert_eq!(queued.attachments[0].size, pdf.len() as i64);
    // The app stops here, before the reply went out.

    // Restart: a new store on the same folder, as the app does at start-up.
    let s = s.restart(&servers.account_input());
    s.store.recover_outbox().unwrap();
    assert_eq!(s.flush().await, (1, 0));
    let received = servers.wait_received(1, Duration::from_secs(10));
    let raw = String::from_utf8_lossy(&received[0]).into_owned();
    assert!(
        header(&raw, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{raw}"
    );
    let parsed = sportello_email::parse_message(received[0].clone(), USER, None);
    assert_eq!(parsed.text.trim_end(), "Eccola in allegato.");
    assert_eq!(parsed.attachments.len(), 1, "{raw}");
    let file = &parsed.attachments[0];
    assert_eq!(file.filename, "ricevuta però n°42.pdf");
    assert_eq!(file.mime_type, "application/pdf");
    assert!(!file.inline);
    assert_eq!(file.data, pdf);

    let sent = s.store.message(queued.id).unwrap();
    assert_eq!(sent.delivery, Delivery::Sent);
    assert_eq!(sent.attachments.len(), 1);
    // Sent once: nothing left to send.
    assert_eq!(s.flush().await, (0, 0));
    assert_eq!(servers.received().len(), 1);
}

/// A mail from Maria Rossi to the shop: multipart/mixed with `boundary` around `parts` (each
/// opening with its own boundary line).
fn mail_from_maria(subject: &str, message_id: &str, boundary: &str, parts: &str) -> Vec<u8> {
    format!(
        "From: Maria Rossi <maria.rossi@example.com>\r\nTo: Negozio <{USER}>\r\n\
         Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Mon, 23 Nov 2026 09:15:00 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n{parts}--{boundary}--\r\n"
    )
    .into_bytes()
}

/// A file attached to a multipart/mixed with `boundary`, in base64.
fn file_part(boundary: &str, name: &str, mime: &str, bytes: &[u8]) -> String {
    format!(
        "--{boundary}\r\nContent-Type: {mime}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        base64_lines(bytes)
    )
}

fn mail_with_file(file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let text = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                Il pacco è arrivato rovinato, ecco la foto.\r\n";
    mail_from_maria(
        "Pacco rovinato",
        "danno@example.com",
        "b1",
        &(text.to_string() + &file_part("b1", file_name, "image/jpeg", bytes)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forward_carries_the_original_and_its_file_and_shows_as_ours() {
    let servers = MailServers::start();
    let photo = binary(120_000, 3);
    let (s, conversation) = synced(
        &servers,
        &mail_with_file("pacco.jpg", &photo),
        "danno@example.com",
    )
    .await;
    let original = s.store.conversation(conversation).unwrap().messages[0].clone();
    assert_eq!(original.attachments.len(), 1);

    // Not an address: refused at once, nothing queued.
    let e = s
        .store
        .queue_forward(original.id, "magazzino at example", "")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);

    let forward = s
        .store
        .queue_forward(
            original.id,
            "magazzino@example.org",
            "Potete controllare l'imballo?",
        )
        .unwrap();
    assert_eq!(forward.direction, Direction::Outbound);
    assert_eq!(forward.conversation_id, conversation);
    assert_eq!(
        forward.recipients,
        vec!["magazzino@example.org".to_string()]
    );
    assert_eq!(s.flush().await, (1, 0));

    let received = servers.wait_received(1, Duration::from_secs(10));
    let raw = String::from_utf8_lossy(&received[0]).into_owned();
    assert_eq!(header(&raw, "To").unwrap(), "magazzino@example.org");
    assert_eq!(header(&raw, "Subject").unwrap(), "Fwd: Pacco rovinato");
    assert_eq!(header(&raw, "In-Reply-To"), None);
    assert_eq!(
        servers.received_envelopes()[0],
        vec![USER.to_string(), "magazzino@example.org".to_string()]
    );
    let parsed = sportello_email::parse_message(received[0].clone(), USER, None);
    let text = parsed.text.replace("\r\n", "\n");
    assert!(
        text.starts_with(
            "Potete controllare l'imballo?\n\n---------- Forwarded message ---------\n\
             From: Maria Rossi <maria.rossi@example.com>\nDate: "
        ),
        "{text}"
    );
    assert!(text.contains("\nSubject: Pacco rovinato\n"), "{text}");
    assert!(text.contains(&format!("\nTo: {USER}\n")), "{text}");
    assert!(
        text.ends_with("Il pacco è arrivato rovinato, ecco la foto."),
        "{text}"
    );
    assert_eq!(parsed.attachments.len(), 1);
    assert_eq!(parsed.attachments[0].filename, "pacco.jpg");
    assert_eq!(parsed.attachments[0].mime_type, "image/jpeg");
    assert_eq!(parsed.attachments[0].data, photo);

    // In the thread as ours, sent; the copy in Sent joins it instead of a new conversation.
    let thread = s.store.conversation(conversation).unwrap().messages;
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].id, forward.id);
    assert_eq!(thread[1].delivery, Delivery::Sent);
    assert_eq!(thread[1].subject, "Fwd: Pacco rovinato");
    servers.deliver(SENT, &received[0]);
    s.sync().await;
    assert_eq!(
        s.store.conversation(conversation).unwrap().messages.len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_over_the_email_limit_are_refused_and_nothing_is_queued() {
    let servers = MailServers::start();
    let (s, conversation) = synced(
        &servers,
        &customer_mail(
            "a@example.com",
            "Catalogo",
            "cat@example.com",
            "Il catalogo?",
        ),
        "cat@example.com",
    )
    .await;
    let before = s.store.conversation(conversation).unwrap().messages.len();

    // 20 MB of files are about 27 MB once encoded: more than the 25 MB an email may be.
    let big = vec![0x55u8; 10 * 1024 * 1024];
    let e = reply_with_files(
        &s,
        conversation,
        "Ecco il catalogo.",
        vec![pdf("catalogo-1.pdf", &big), pdf("catalogo-2.pdf", &big)],
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
    assert!(e.message.contains("25 MB"), "{}", e.message);
    assert_eq!(
        s.store.conversation(conversation).unwrap().messages.len(),
        before
    );
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(&big));
    assert!(
        !s.store.blob_path(&hash).exists(),
        "no bytes kept for a refused reply"
    );
    assert_nothing_goes_out(&s, &servers).await;

    // One file under the limit goes.
    reply_with_files(
        &s,
        conversation,
        "Ecco la prima parte.",
        vec![pdf("catalogo-1.pdf", &big)],
    )
    .unwrap();
    assert_eq!(s.flush().await, (1, 0));
    let received = servers.wait_received(1, Duration::from_secs(20));
    let parsed = sportello_email::parse_message(received[0].clone(), USER, None);
    assert_eq!(parsed.attachments[0].data.len(), big.len());
}

/// A customer mail with a plain and an HTML alternative (the HTML holding a script and an
/// event handler a forward must not carry) and two files.
fn html_mail_with_files(files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut parts = String::from(
        "--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
         --b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Buongiorno, il pacco è arrivato rovinato.\r\n\
         --b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><p>Buongiorno, il pacco è <b>arrivato rovinato</b>.</p>\
         <script>alert('x')</script><p onclick=\"steal()\">Foto allegate.</p></body></html>\r\n\
         --b2--\r\n",
    );
    for (name, mime, bytes) in files {
        parts.push_str(&file_part("b1", name, mime, bytes));
    }
    mail_from_maria("Pacco <rovinato>", "danno-html@example.com", "b1", &parts)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forward_sends_the_html_alternative_and_every_file_byte_for_byte() {
    let servers = MailServers::start();
    let photo = binary(150_000, 7);
    let invoice = binary(70_001, 11);
    let (s, conversation) = synced(
        &servers,
        &html_mail_with_files(&[
            ("pacco.jpg", "image/jpeg", &photo),
            ("fattura n°12.pdf", "application/pdf", &invoice),
        ]),
        "danno-html@example.com",
    )
    .await;
    let original = s.store.conversation(conversation).unwrap().messages[0].clone();
    assert_eq!(original.attachments.len(), 2);
    assert!(original.html.is_some());

    s.store
        .queue_forward(
            original.id,
            "magazzino@example.org",
            "Controllate <subito> l'imballo?\nGrazie",
        )
        .unwrap();
    // What goes to the SMTP server: the stored (sanitised) HTML, never the raw original.
    let queued = s.store.due_outbox(s.account.id).unwrap();
    let sent_html = queued[0].message.html.clone().expect("an HTML alternative");
    assert!(
        sent_html.contains("<b>arrivato rovinato</b>"),
        "{sent_html}"
    );
    for raw_bit in ["<script", "alert(", "onclick", "steal()", "<html", "<body"] {
        assert!(!sent_html.contains(raw_bit), "{raw_bit} in {sent_html}");
    }
    assert_eq!(queued[0].files.len(), 2);
    assert_eq!(s.flush().await, (1, 0));
    let received = servers.wait_received(1, Duration::from_secs(10));
    let raw = String::from_utf8_lossy(&received[0]).into_owned();
    assert!(
        header(&raw, "Content-Type")
            .unwrap()
            .starts_with("multipart/mixed"),
        "{raw}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");

    let parsed = sportello_email::parse_message(received[0].clone(), USER, None);
    let text = parsed.text.replace("\r\n", "\n");
    assert!(
        text.starts_with("Controllate <subito> l'imballo?\nGrazie\n\n---------- Forwarded"),
        "{text}"
    );
    assert!(text.ends_with("il pacco è arrivato rovinato."), "{text}");
    // The HTML part: the note and the header block escaped, the original's HTML as stored
    // (sanitised: its script and handler gone).
    let html = parsed.html.expect("the forward has an HTML part");
    assert!(
        html.contains("Controllate &lt;subito&gt; l'imballo?<br>")
            || html.contains("Controllate &lt;subito&gt; l&#39;imballo?<br>"),
        "{html}"
    );
    assert!(
        html.contains("---------- Forwarded message ---------"),
        "{html}"
    );
    assert!(
        html.contains("From: Maria Rossi &lt;maria.rossi@example.com&gt;"),
        "{html}"
    );
    assert!(html.contains("Subject: Pacco &lt;rovinato&gt;"), "{html}");
    assert!(html.contains("<b>arrivato rovinato</b>"), "{html}");
    assert!(html.contains("Foto allegate."), "{html}");

    assert_eq!(parsed.attachments.len(), 2);
    assert_eq!(parsed.attachments[0].filename, "pacco.jpg");
    assert_eq!(parsed.attachments[0].mime_type, "image/jpeg");
    assert_eq!(parsed.attachments[0].data, photo);
    assert_eq!(parsed.attachments[1].filename, "fattura n°12.pdf");
    assert_eq!(parsed.attachments[1].mime_type, "application/pdf");
    assert_eq!(parsed.attachments[1].data, invoice);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forward_whose_files_exceed_the_email_limit_is_refused_and_nothing_is_queued() {
    let servers = MailServers::start();
    // Two 10 MB files: about 27 MB once encoded, more than the 25 MB an email may be.
    let big = binary(10 * 1024 * 1024, 5);
    let (s, conversation) = synced(
        &servers,
        &html_mail_with_files(&[
            ("catalogo-1.pdf", "application/pdf", &big),
            ("catalogo-2.pdf", "application/pdf", &big[..big.len() - 1]),
        ]),
        "danno-html@example.com",
    )
    .await;
    let original = s.store.conversation(conversation).unwrap().messages[0].clone();
    assert_eq!(original.attachments.len(), 2);

    let e = s
        .store
        .queue_forward(original.id, "magazzino@example.org", "")
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
    assert!(e.message.contains("25 MB"), "{}", e.message);
    assert!(e.message.contains("catalogo-1.pdf"), "{}", e.message);
    assert_eq!(
        s.store.conversation(conversation).unwrap().messages.len(),
        1
    );
    assert_nothing_goes_out(&s, &servers).await;
}

/// A synced email's files are not copied out at sync: they are extracted from the kept source
/// when first needed — saved byte for byte, and an inline `cid:` image shown as a data URL.
#[tokio::test(flavor = "multi_thread")]
async fn a_synced_file_is_extracted_from_the_source_when_first_opened_byte_for_byte() {
    let servers = MailServers::start();
    let photo = binary(90_000, 3);
    let invoice = binary(40_007, 5);
    let related = format!(
        "--m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
         --r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Ecco la foto:</p><img src=\"cid:danno1@example.com\">\r\n\
         --r\r\nContent-Type: image/jpeg\r\nContent-ID: <danno1@example.com>\r\n\
         Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --r--\r\n",
        base64_lines(&photo)
    );
    let mail = mail_from_maria(
        "Foto del danno",
        "foto-cid@example.com",
        "m",
        &(related + &file_part("m", "fattura.pdf", "application/pdf", &invoice)),
    );
    let (s, conversation) = synced(&servers, &mail, "foto-cid@example.com").await;
    let store = &s.store;
    // Nothing copied out by the sync.
    let blobs = store.blobs_dir();
    let files_under = |dir: &std::path::Path| -> usize {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_dir(e.path()).map(|d| d.count()).unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    };
    assert_eq!(files_under(&blobs), 0);

    let msg = store.conversation(conversation).unwrap().messages[0].clone();
    assert_eq!(msg.attachments.len(), 2, "{:?}", msg.attachments);
    let pdf = msg
        .attachments
        .iter()
        .find(|a| a.filename == "fattura.pdf")
        .unwrap();
    assert!(pdf.content_hash.is_some(), "the window shows it as present");
    assert_eq!(pdf.size, invoice.len() as i64);

    // Shown: the inline image becomes a data URL of exactly its bytes.
    let shown = store.conversation_for_display(conversation).unwrap();
    let html = shown.messages[0].html.clone().unwrap();
    let url = format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&photo)
    );
    assert!(html.contains(&url), "{}", &html[..html.len().min(300)]);
    assert!(!html.contains("cid:"));

    // Saved: byte for byte, from the source; the file is kept for the next time.
    let out = s.data.path().join("out");
    let saved = store.export_attachment(pdf.id, &out).unwrap();
    assert_eq!(std::fs::read(&saved).unwrap(), invoice);
    assert_eq!(files_under(&blobs), 2);
    let again = store.export_attachment(pdf.id, &out).unwrap();
    assert_ne!(again, saved);
    assert_eq!(std::fs::read(&again).unwrap(), invoice);
}
