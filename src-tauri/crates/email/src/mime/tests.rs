use std::path::{Path, PathBuf};

use sportello_core::model::Direction;
use sportello_core::store::IngestOptions;

use super::*;

const SHOP: &str = "negozio@bottega.it";

/// Builds a message from lines joined with CRLF.
fn eml(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s.into_bytes()
}

/// Like [`eml`] but with a body in raw bytes (for 8-bit charsets).
fn eml_bytes(headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = headers.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    out
}

fn parse(raw: Vec<u8>) -> IncomingMessage {
    parse_message(raw, SHOP, Some(1_700_000_000_000))
}

#[test]
fn encoded_words_in_subject_and_names_are_decoded() {
    let m = parse(eml(&[
        "From: =?UTF-8?Q?Niccol=C3=B2_Bianchi?= <Niccolo@Example.COM>",
        "To: Negozio <negozio@bottega.it>",
        "Subject: =?UTF-8?B?UmVzbyBkZWxsJ29yZGluZSDigJQgY2FtaWNpYSB0YWdsaWEgTQ==?=",
        "Message-ID: <reso-1@example.com>",
        "Date: Tue, 14 May 2024 10:00:00 +0200",
        "",
        "Salve",
    ]));
    assert_eq!(m.subject, "Reso dell'ordine — camicia taglia M");
    assert_eq!(m.sender_name, "Niccolò Bianchi");
    assert_eq!(m.sender_handle, "niccolo@example.com");
    let who = m.counterpart.unwrap();
    assert_eq!(who.value, "niccolo@example.com");
    assert_eq!(who.display_name, "Niccolò Bianchi");
    assert_eq!(m.direction, Some(Direction::Inbound));
    assert_eq!(m.sent_at, 1_715_673_600_000);
    assert!(m.parse_error.is_none());
}

#[test]
fn encoded_words_split_across_charsets_and_adjacent_words_join() {
    let m = parse(eml(&[
        "From: =?ISO-8859-1?Q?Jos=E9?= =?ISO-8859-1?Q?_Garc=EDa?= <jose@example.es>",
        "Subject: =?iso-8859-15?Q?Prezzo_=A4_50?= e =?windows-1252?Q?=93offerta=94?=",
        "",
        "x",
    ]));
    assert_eq!(m.sender_name, "José García");
    assert_eq!(m.subject, "Prezzo € 50 e “offerta”");
}

#[test]
fn windows_1252_body_is_decoded() {
    // 0x80 is the euro sign and 0x93/0x94 curly quotes in windows-1252 (not in latin-1).
    let m = parse(eml_bytes(
        &[
            "From: cliente@example.com",
            "Subject: prezzo",
            "Content-Type: text/plain; charset=windows-1252",
            "Content-Transfer-Encoding: 8bit",
        ],
        b"Costa 20 \x80, \x93spedizione gratuita\x94. Perch\xe8?",
    ));
    assert_eq!(m.text, "Costa 20 €, “spedizione gratuita”. Perchè?");
}

#[test]
fn iso_8859_15_and_koi8_r_bodies_are_decoded() {
    let m = parse(eml_bytes(
        &[
            "From: cliente@example.com",
            "Subject: euro",
            "Content-Type: text/plain; charset=\"ISO-8859-15\"",
            "Content-Transfer-Encoding: 8bit",
        ],
        b"Totale: 12 \xa4 - citt\xe0",
    ));
    assert_eq!(m.text, "Totale: 12 € - città");

    let m = parse(eml_bytes(
        &[
            "From: ivan@example.ru",
            "Subject: =?koi8-r?B?5MnXwc4=?=",
            "Content-Type: text/plain; charset=koi8-r",
            "Content-Transfer-Encoding: 8bit",
        ],
        // "Привет, заказ" in KOI8-R.
        b"\xf0\xd2\xc9\xd7\xc5\xd4, \xda\xc1\xcb\xc1\xda",
    ));
    assert_eq!(m.text, "Привет, заказ");
    assert_eq!(m.subject, "Диван");
}

#[test]
fn quoted_printable_italian_text_with_soft_breaks() {
    let m = parse(eml(&[
        "From: Maria <maria@example.it>",
        "Subject: Spedizione",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "Buongiorno, vorrei sapere se =C3=A8 gi=C3=A0 partito il pacco. Perch=C3=A9 =",
        "non ho ricevuto il codice di tracciamento? Citt=C3=A0: Forl=C3=AC.",
        "Grazie =3D)",
    ]));
    assert_eq!(
        m.text,
        "Buongiorno, vorrei sapere se è già partito il pacco. Perché non ho ricevuto il \
         codice di tracciamento? Città: Forlì.\nGrazie =)"
    );
}

#[test]
fn unknown_charset_still_gives_text() {
    let m = parse(eml_bytes(
        &[
            "From: a@example.com",
            "Subject: x",
            "Content-Type: text/plain; charset=x-no-such-charset",
        ],
        b"plain ascii survives",
    ));
    assert!(m.text.contains("plain ascii survives"), "{:?}", m.text);
    assert!(m.parse_error.is_none());
}

#[test]
fn html_only_mail_gets_text_and_sanitised_html() {
    let m = parse(eml(&[
        "From: shop-news@example.com",
        "Subject: Novità",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<html><body><p onclick=\"steal()\">Ciao <b>Mario</b></p>",
        "<script>alert(1)</script><img src=\"https://tracker.example.com/p.gif\">",
        "<a href=\"javascript:alert(1)\">x</a><form action=\"/x\"><input></form></body></html>",
    ]));
    let html = m.html.expect("html kept");
    assert!(!html.contains("script"), "{html}");
    assert!(!html.contains("onclick"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.contains("<form"), "{html}");
    assert!(html.contains("<b>Mario</b>"), "{html}");
    assert!(m.has_remote_content);
    assert!(m.text.contains("Ciao"), "{:?}", m.text);
    assert!(m.text.contains("Mario"), "{:?}", m.text);
    assert!(!m.text.contains("<p"), "{:?}", m.text);
}

#[test]
fn remote_content_is_detected_in_styles_and_backgrounds() {
    assert!(sanitize_html("<div style=\"background:url('https://x.example/a.png')\">a</div>").1);
    assert!(
        sanitize_html("<table background=\"http://x.example/bg.png\"><tr><td>a</td></tr></table>")
            .1
    );
    assert!(!sanitize_html("<p style=\"color:red\">a</p><img src=\"cid:logo@x\">").1);
    let (clean, remote) = sanitize_html("<img src=\"data:image/png;base64,AAAA\">");
    assert!(!remote);
    assert!(clean.contains("data:image/png"), "{clean}");
}

#[test]
fn cid_images_are_inline_attachments_and_stay_referenced() {
    let m = parse(eml(&[
        "From: Negozio Amico <amico@example.com>",
        "To: negozio@bottega.it",
        "Subject: Logo",
        "MIME-Version: 1.0",
        "Content-Type: multipart/related; boundary=\"REL\"",
        "",
        "--REL",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>Ecco il logo: <img src=\"cid:logo.123@example.com\" alt=\"logo\"></p>",
        "--REL",
        "Content-Type: image/png",
        "Content-Transfer-Encoding: base64",
        "Content-ID: <logo.123@example.com>",
        "",
        "iVBORw0KGgo=",
        "--REL--",
    ]));
    let html = m.html.unwrap();
    assert!(html.contains("cid:logo.123@example.com"), "{html}");
    assert!(!m.has_remote_content);
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert!(a.inline);
    assert_eq!(a.content_id.as_deref(), Some("logo.123@example.com"));
    assert_eq!(a.mime_type, "image/png");
    assert_eq!(a.data, b"\x89PNG\r\n\x1a\n");
    assert_eq!(a.filename, "attachment.png");
}

#[test]
fn attachments_with_encoded_names_are_kept_whole() {
    let m = parse(eml(&[
        "From: cliente@example.com",
        "To: negozio@bottega.it",
        "Subject: fattura",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"MIX\"",
        "",
        "preamble to ignore",
        "--MIX",
        "Content-Type: multipart/alternative; boundary=\"ALT\"",
        "",
        "--ALT",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "In allegato la fattura.",
        "--ALT",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>In allegato la <i>fattura</i>.</p>",
        "--ALT--",
        "--MIX",
        "Content-Type: application/pdf",
        "Content-Disposition: attachment; filename*=utf-8''fattura%20n%C2%B01%20%E2%80%94%20maggio.pdf",
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQKJeLjz9MK",
        "--MIX",
        "Content-Type: text/plain; name=\"=?UTF-8?Q?note_citt=C3=A0.txt?=\"",
        "Content-Disposition: attachment",
        "",
        "riga uno",
        "--MIX--",
    ]));
    assert_eq!(m.text, "In allegato la fattura.");
    assert!(m.html.unwrap().contains("<i>fattura</i>"));
    assert_eq!(m.attachments.len(), 2, "{:?}", m.attachments);
    let pdf = &m.attachments[0];
    assert_eq!(pdf.filename, "fattura n°1 — maggio.pdf");
    assert_eq!(pdf.mime_type, "application/pdf");
    assert!(!pdf.inline);
    assert_eq!(pdf.data, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let note = &m.attachments[1];
    assert_eq!(note.filename, "note città.txt");
    assert_eq!(note.data, b"riga uno");
}

#[test]
fn broken_mime_without_closing_boundary_keeps_the_text() {
    let m = parse(eml(&[
        "From: cliente@example.com",
        "Subject: rotto",
        "Content-Type: multipart/mixed; boundary=\"B\"",
        "",
        "--B",
        "Content-Type: text/plain",
        "",
        "Il testo c'è anche se il messaggio è troncato",
    ]));
    assert!(m.parse_error.is_none());
    assert!(m.text.contains("troncato"), "{:?}", m.text);
}

#[test]
fn multipart_without_boundary_parameter_is_not_lost() {
    let m = parse(eml(&[
        "From: cliente@example.com",
        "Subject: senza boundary",
        "Content-Type: multipart/mixed",
        "",
        "Testo qualsiasi",
    ]));
    assert!(m.parse_error.is_none());
    assert_eq!(m.subject, "senza boundary");
    assert!(m.raw.as_deref().unwrap().ends_with(b"Testo qualsiasi\r\n"));
}

#[test]
fn bad_base64_and_bad_qp_do_not_fail_the_message() {
    let m = parse(eml(&[
        "From: cliente@example.com",
        "Subject: codifiche",
        "Content-Type: multipart/mixed; boundary=\"B\"",
        "",
        "--B",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "prezzo =E2=82=AC 5 e un =ZZ sbagliato",
        "--B",
        "Content-Type: application/octet-stream",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment; filename=dati.bin",
        "",
        "!!!non base64!!!",
        "--B--",
    ]));
    assert!(m.parse_error.is_none());
    assert!(m.text.starts_with("prezzo € 5"), "{:?}", m.text);
    assert_eq!(m.attachments.len(), 1);
}

#[test]
fn garbage_is_stored_raw_with_an_error() {
    let raw = b"\x00\x01\x02 this is not an email \xff\xfe".to_vec();
    let m = parse(raw.clone());
    assert!(m.parse_error.is_some());
    assert_eq!(m.raw.as_deref(), Some(&raw[..]));
    assert!(m.external_id.starts_with("sha256:"));
    assert_eq!(m.sent_at, 1_700_000_000_000);
    // The same bytes give the same id (so a re-sync does not duplicate it).
    assert_eq!(parse(raw).external_id, m.external_id);

    let empty = parse(Vec::new());
    assert!(empty.parse_error.is_some());
}

#[test]
fn messages_without_message_id_get_a_stable_content_id() {
    let raw = eml(&["From: a@example.com", "Subject: senza id", "", "testo"]);
    let a = parse(raw.clone());
    let b = parse(raw);
    assert!(a.external_id.starts_with("sha256:"));
    assert_eq!(a.external_id, b.external_id);
    let other = parse(eml(&[
        "From: a@example.com",
        "Subject: senza id",
        "",
        "altro",
    ]));
    assert_ne!(a.external_id, other.external_id);
}

#[test]
fn threading_keys_come_from_message_id_in_reply_to_and_references() {
    let m = parse(eml(&[
        "From: Mario <mario@example.com>",
        "To: negozio@bottega.it",
        "Subject: R: Re: Ordine 42",
        "Message-ID: <c@example.com>",
        "In-Reply-To: <b@bottega.it>",
        "References: <a@example.com>\r\n <b@bottega.it>",
        "",
        "ok",
    ]));
    assert_eq!(m.external_id, "c@example.com");
    assert_eq!(
        m.thread_keys,
        vec!["c@example.com", "b@bottega.it", "a@example.com"]
    );
    assert_eq!(
        m.fallback_thread_key.as_deref(),
        Some("mario@example.com|ordine 42")
    );
    assert_eq!(m.meta["in_reply_to"], "b@bottega.it");
}

#[test]
fn own_mail_is_outbound_to_the_customer() {
    let m = parse(eml(&[
        "From: Negozio <NEGOZIO@bottega.it>",
        "To: Negozio <negozio@bottega.it>, Luca <luca@example.com>",
        "Subject: Re: taglie",
        "",
        "Ciao Luca",
    ]));
    assert_eq!(m.direction, Some(Direction::Outbound));
    assert_eq!(m.counterpart.unwrap().value, "luca@example.com");
}

#[test]
fn missing_or_absurd_dates_fall_back_to_the_server_date() {
    let m = parse(eml(&["From: a@example.com", "Subject: x", "", "y"]));
    assert_eq!(m.sent_at, 1_700_000_000_000);
    let m = parse(eml(&[
        "From: a@example.com",
        "Date: not a date at all",
        "Subject: x",
        "",
        "y",
    ]));
    assert_eq!(m.sent_at, 1_700_000_000_000);
    let m = parse(eml(&[
        "From: a@example.com",
        "Date: Mon, 1 Jan 2999 00:00:00 +0000",
        "",
        "y",
    ]));
    assert_eq!(m.sent_at, 1_700_000_000_000);
}

#[test]
fn lf_only_messages_parse_like_crlf_ones() {
    let m =
        parse(b"From: a@example.com\nSubject: lf\nMessage-ID: <lf@x>\n\nriga 1\nriga 2\n".to_vec());
    assert_eq!(m.subject, "lf");
    assert_eq!(m.text, "riga 1\nriga 2");
}

#[test]
fn attached_emails_are_attachments_not_the_body() {
    let m = parse(eml(&[
        "From: a@example.com",
        "Subject: inoltro",
        "Content-Type: multipart/mixed; boundary=\"B\"",
        "",
        "--B",
        "Content-Type: text/plain",
        "",
        "vedi sotto",
        "--B",
        "Content-Type: message/rfc822",
        "",
        "From: b@example.com",
        "Subject: originale",
        "",
        "testo originale",
        "--B--",
    ]));
    assert_eq!(m.text, "vedi sotto");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].mime_type, "message/rfc822");
}

/// Where cargo unpacked the mail-parser crate (its test messages ship with it).
fn mail_parser_eml_dir() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .ok()?
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
    found.sort();
    found.pop()
}

fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            eml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

#[test]
fn every_message_of_the_mail_parser_corpus_is_stored() {
    let Some(dir) = mail_parser_eml_dir() else {
        println!("note: mail-parser's resources/eml not found (run `cargo fetch`); skipped");
        return;
    };
    let mut files = Vec::new();
    eml_files(&dir, &mut files);
    assert!(
        files.len() > 50,
        "only {} messages in {}",
        files.len(),
        dir.display()
    );

    let data = tempfile::tempdir().unwrap();
    let store = sportello_core::Store::open(data.path()).unwrap();
    let account = crate::imported_account(&store).unwrap();
    let mut ids = std::collections::HashSet::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let m = std::panic::catch_unwind(|| parse_message(raw.clone(), SHOP, None))
            .unwrap_or_else(|_| panic!("parsing {} panicked", path.display()));
        assert_eq!(m.raw.as_deref(), Some(&raw[..]), "{}", path.display());
        assert!(!m.external_id.is_empty(), "{}", path.display());
        let fresh = ids.insert(m.external_id.clone());
        let report = store
            .ingest(account.id, vec![m], None, IngestOptions { summarize: true })
            .unwrap_or_else(|e| panic!("storing {} failed: {e}", path.display()));
        assert_eq!(report.stored, u32::from(fresh), "{}", path.display());
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.messages, ids.len() as u64);
    // Every stored message keeps its source.
    for page in store
        .conversations(&sportello_core::store::ConversationQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
        .items
    {
        for message in store.conversation(page.id).unwrap().messages {
            assert!(message.has_raw, "message {} lost its source", message.id);
        }
    }
    println!(
        "{} corpus messages stored as {} messages",
        files.len(),
        ids.len()
    );
}

#[test]
fn quote_markers_survive_sanitising_and_nothing_else_does() {
    let gmail = r#"<div dir="ltr">Grazie, arrivato!</div><br><div class="gmail_quote gmail_quote_container evil"><div dir="ltr" class="gmail_attr">Il giorno mar 14 mag 2024 alle ore 10:00 Negozio &lt;info@bottega.it&gt; ha scritto:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">Il pacco è partito.</blockquote></div>"#;
    let (clean, _) = sanitize_html(gmail);
    assert!(
        clean.contains("class=\"gmail_quote gmail_quote_container\""),
        "{clean}"
    );
    assert!(!clean.contains("evil"), "{clean}");
    assert!(sportello_core::quotes::html_folds(&clean));

    let apple = r#"<div>Ok</div><div><br><blockquote type="cite"><div>Quale taglia?</div></blockquote></div>"#;
    let (clean, _) = sanitize_html(apple);
    assert!(clean.contains("<blockquote type=\"cite\">"), "{clean}");
    assert!(sportello_core::quotes::html_folds(&clean));

    let outlook = r#"<div>Mi serve la fattura.</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><b>Da:</b> Negozio<br><b>Inviato:</b> martedì 14 maggio 2024 10:00</div><div id="x-other">Il pacco</div>"#;
    let (clean, _) = sanitize_html(outlook);
    assert!(clean.contains("id=\"divRplyFwdMsg\""), "{clean}");
    assert!(!clean.contains("x-other"), "{clean}");
    assert!(sportello_core::quotes::html_folds(&clean));

    let plain =
        r#"<p class="gmail_quote_not" id="main">Ordine <blockquote type="x">42</blockquote></p>"#;
    let (clean, _) = sanitize_html(plain);
    assert!(!sportello_core::quotes::html_folds(&clean), "{clean}");
}

#[test]
fn inline_cid_images_are_shown_as_data_urls_and_quotes_fold_once_stored() {
    use base64::Engine;
    let png: Vec<u8> = vec![0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0, 0, 13, 1, 2, 3];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let raw = eml(&[
        "From: Mario Rossi <mario@example.com>",
        "To: negozio@bottega.it",
        "Subject: Logo",
        "Message-ID: <logo@example.com>",
        "Date: Tue, 14 May 2024 10:00:00 +0200",
        "MIME-Version: 1.0",
        "Content-Type: multipart/alternative; boundary=\"alt\"",
        "",
        "--alt",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Ecco il logo.",
        "",
        "Il giorno lun 13 mag 2024 alle ore 09:00 Negozio <negozio@bottega.it> ha scritto:",
        "> Ci mandi il logo?",
        "--alt",
        "Content-Type: multipart/related; boundary=\"rel\"",
        "",
        "--rel",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<p>Ecco il <img src=\"cid:logo-1@example.com\" alt=\"logo\">.</p><div class=\"gmail_quote\"><blockquote class=\"gmail_quote\">Ci mandi il logo?</blockquote></div>",
        "--rel",
        "Content-Type: image/png",
        "Content-ID: <logo-1@example.com>",
        "Content-Disposition: inline",
        "Content-Transfer-Encoding: base64",
        "",
        &b64,
        "--rel--",
        "--alt--",
    ]);
    let data = tempfile::tempdir().unwrap();
    let store = sportello_core::Store::open(data.path()).unwrap();
    let account = crate::imported_account(&store).unwrap();
    let m = parse(raw);
    assert!(!m.has_remote_content);
    store
        .ingest(
            account.id,
            vec![m],
            None,
            IngestOptions { summarize: false },
        )
        .unwrap();
    let conversation = store
        .conversations(&sportello_core::store::ConversationQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .items[0]
        .id;
    let detail = store.conversation_for_display(conversation).unwrap();
    let message = &detail.messages[0];
    let html = message.html.as_deref().unwrap();
    assert!(!html.contains("cid:"), "{html}");
    assert!(
        html.contains(&format!("src=\"data:image/png;base64,{b64}\"")),
        "{html}"
    );
    // The inline image is not offered as a file to open.
    assert!(message.attachments[0].inline);
    // The text folds from the attribution line; the HTML has Gmail's quote markers.
    assert_eq!(message.fold_line, Some(2), "{:?}", message.text);
    assert!(message.html_folds);
}
