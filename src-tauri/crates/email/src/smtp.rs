//! SMTP: building a reply (RFC 5322, threaded with In-Reply-To/References) and submitting it.
//!
//! Building and submitting are separate so the same bytes can later be APPENDed to the Sent
//! folder.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Severity;
use sportello_core::channel::{OutboundMessage, OutboxFile};
use sportello_core::model::Account;
use sportello_core::{Error, ErrorCode, Result};

use crate::oauth::Login;
use crate::settings::{EmailSettings, Security, is_loopback};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A reply ready to submit: its envelope and its RFC 5322 bytes.
pub struct BuiltMessage {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
}

fn bracket(id: &str) -> String {
    format!("<{}>", sportello_core::threading::normalize_message_id(id))
}

/// A header parameter value: as is when it is plain ASCII, else an RFC 2047 encoded word
/// (what older clients read in `Content-Type: …; name=`; `Content-Disposition` carries the
/// RFC 2231 form too).
fn encoded_word(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ');
    if plain {
        return value.to_string();
    }
    let mut out = String::from("=?UTF-8?Q?");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!*+-/".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('_');
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out.push_str("?=");
    out
}

/// One file as a MIME part: its type with a `name`, `Content-Disposition: attachment` with
/// the RFC 2231 file name, base64.
fn file_part(file: &OutboxFile) -> Result<SinglePart> {
    let data = std::fs::read(&file.path).map_err(|e| {
        Error::new(
            ErrorCode::Storage,
            format!("the attached file {} cannot be read: {e}", file.filename),
        )
    })?;
    let mime = if file.mime_type.contains('/') && !file.mime_type.contains(';') {
        file.mime_type.trim()
    } else {
        "application/octet-stream"
    };
    let content_type = ContentType::parse(&format!(
        "{mime}; name=\"{}\"",
        encoded_word(&file.filename)
    ))
    .or_else(|_| ContentType::parse("application/octet-stream"))
    .map_err(|e| Error::internal(format!("content type: {e}")))?;
    Ok(Attachment::new(file.filename.clone()).body(data, content_type))
}

/// `Auto-Submitted` (RFC 3834 §5): on automatic replies, so that the other side's
/// vacation responders and ticket systems do not answer them.
#[derive(Debug, Clone)]
struct AutoSubmitted(String);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(s.trim().to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Builds the reply: From = the account, `Message-ID: <external_id>`, In-Reply-To,
/// References, Date, `Auto-Submitted: auto-replied` on automatic replies, a UTF-8 text/plain
/// body (with an HTML alternative: multipart/alternative); with files, multipart/mixed with
/// the text (or the alternative) first.
pub fn build_reply(
    account: &Account,
    message: &OutboundMessage,
    files: &[OutboxFile],
) -> Result<BuiltMessage> {
    let from_address = account.address.trim().parse().map_err(|e| {
        Error::invalid(format!(
            "the account address \"{}\" is not usable: {e}",
            account.address
        ))
    })?;
    let mut builder = Message::builder()
        .from(Mailbox::new(
            Some(account.name.clone()).filter(|n| !n.is_empty()),
            from_address,
        ))
        .subject(message.subject.clone())
        .message_id(Some(bracket(&message.external_id)))
        .date_now()
        .user_agent("Sportello".to_string());
    if message.to.is_empty() {
        return Err(Error::new(
            ErrorCode::Rejected,
            "the reply has no recipient",
        ));
    }
    for to in &message.to {
        let mailbox: Mailbox = to.trim().parse().map_err(|e| {
            Error::new(
                ErrorCode::Rejected,
                format!("\"{to}\" is not a valid email address: {e}"),
            )
        })?;
        builder = builder.to(mailbox);
    }
    if let Some(parent) = &message.in_reply_to {
        builder = builder.in_reply_to(bracket(parent));
    }
    if !message.references.is_empty() {
        let refs: Vec<String> = message.references.iter().map(|r| bracket(r)).collect();
        builder = builder.references(refs.join(" "));
    }
    if message.automatic {
        builder = builder.header(AutoSubmitted("auto-replied".into()));
    }
    let text = message.text.replace("\r\n", "\n").replace('\n', "\r\n");
    let html = message
        .html
        .as_ref()
        .map(|h| h.replace("\r\n", "\n").replace('\n', "\r\n"));
    let email = match (html, files.is_empty()) {
        (None, true) => builder.header(ContentType::TEXT_PLAIN).body(text),
        (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
        (html, false) => {
            let mut parts = match html {
                Some(html) => {
                    MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html))
                }
                None => MultiPart::mixed().singlepart(SinglePart::plain(text)),
            };
            for file in files {
                parts = parts.singlepart(file_part(file)?);
            }
            builder.multipart(parts)
        }
    }
    .map_err(|e| Error::invalid(format!("the reply cannot be built: {e}")))?;
    Ok(BuiltMessage {
        envelope: email.envelope().clone(),
        bytes: email.formatted(),
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Connect,
    Auth,
    Send,
}

fn find_rustls_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(r) = err.downcast_ref::<tokio_rustls::rustls::Error>() {
            return Some(r.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = inner.downcast_ref::<tokio_rustls::rustls::Error>()
        {
            return Some(r.to_string());
        }
        current = err.source();
    }
    None
}

fn smtp_error(settings: &EmailSettings, stage: Stage, e: lettre::transport::smtp::Error) -> Error {
    let server = format!("{}:{}", settings.smtp_host, settings.smtp_port);
    if let Some(tls) = find_rustls_error(&e) {
        let hint = if tls.contains("UnknownIssuer") || tls.contains("unknown issuer") {
            " (the certificate is not signed by a trusted authority; for a self-hosted server, \
             add its CA certificate file)"
        } else {
            ""
        };
        return Error::new(
            ErrorCode::Tls,
            format!("secure connection to {server} failed: {tls}{hint}"),
        );
    }
    if e.is_tls() {
        return Error::new(
            ErrorCode::Tls,
            format!("secure connection to {server} failed: {e}"),
        );
    }
    if e.is_timeout() {
        return Error::new(
            ErrorCode::Network,
            format!("{server} did not answer in time"),
        );
    }
    if let Some(code) = e.status() {
        let code_num = code.to_string();
        let auth_code = matches!(code_num.as_str(), "530" | "534" | "535" | "538");
        return match code.severity {
            Severity::PermanentNegativeCompletion if stage == Stage::Auth || auth_code => {
                Error::new(
                    ErrorCode::AuthFailed,
                    format!(
                        "the SMTP server {server} refused the user name or password for {} ({e})",
                        settings.username
                    ),
                )
            }
            Severity::PermanentNegativeCompletion => Error::new(
                ErrorCode::Rejected,
                format!("the SMTP server {server} refused the message: {e}"),
            ),
            _ => Error::new(
                ErrorCode::Network,
                format!("the SMTP server {server} asked to try later: {e}"),
            ),
        };
    }
    if stage == Stage::Connect || e.is_transport_shutdown() {
        return Error::new(
            ErrorCode::Network,
            format!("cannot reach the SMTP server {server}: {e}"),
        );
    }
    if e.is_client() {
        return Error::new(
            ErrorCode::Protocol,
            format!("the SMTP server {server}: {e}"),
        );
    }
    Error::new(
        ErrorCode::Network,
        format!("the connection to the SMTP server {server} failed: {e}"),
    )
}

fn tls_parameters(settings: &EmailSettings) -> Result<TlsParameters> {
    let mut builder = TlsParameters::builder(settings.smtp_host.clone());
    if let Some(path) = settings.ca_file.as_deref().filter(|p| !p.is_empty()) {
        let pem = std::fs::read(path).map_err(|e| {
            Error::invalid(format!("cannot read the CA certificate file {path}: {e}"))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            Error::invalid(format!(
                "the CA certificate file {path} is not valid PEM: {e}"
            ))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| Error::new(ErrorCode::Tls, format!("TLS set-up failed: {e}")))
}

/// Connects (TLS / STARTTLS / plain to loopback) and authenticates.
async fn connect(settings: &EmailSettings, login: &Login) -> Result<AsyncSmtpConnection> {
    let host = settings.smtp_host.as_str();
    let hello = ClientId::default();
    let wrapper = match settings.smtp_security {
        Security::Tls => Some(tls_parameters(settings)?),
        Security::Starttls => None,
        Security::Plain => {
            if !is_loopback(host) {
                return Err(Error::invalid(format!(
                    "an unencrypted SMTP connection to {host} is not allowed"
                )));
            }
            None
        }
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (host, settings.smtp_port),
        Some(TIMEOUT),
        &hello,
        wrapper,
        None,
    )
    .await
    .map_err(|e| smtp_error(settings, Stage::Connect, e))?;
    if settings.smtp_security == Security::Starttls {
        if !conn.can_starttls() {
            conn.abort().await;
            return Err(Error::new(
                ErrorCode::Tls,
                format!("{host} does not offer STARTTLS; choose TLS or ask your provider"),
            ));
        }
        conn.starttls(tls_parameters(settings)?, &hello)
            .await
            .map_err(|e| smtp_error(settings, Stage::Connect, e))?;
    }
    let (mechanisms, secret): (&[Mechanism], &str) = match login {
        Login::Password(p) => (&[Mechanism::Plain, Mechanism::Login], p),
        Login::Bearer(token) => (&[Mechanism::Xoauth2], token),
    };
    let offers_auth = mechanisms
        .iter()
        .any(|m| conn.server_info().supports_auth_mechanism(*m));
    if offers_auth {
        let credentials = Credentials::new(settings.username.clone(), secret.to_string());
        if let Err(e) = conn.auth(mechanisms, &credentials).await {
            conn.abort().await;
            return Err(smtp_error(settings, Stage::Auth, e));
        }
    } else {
        tracing::warn!(
            host,
            "the SMTP server offers no password login; sending without it"
        );
    }
    Ok(conn)
}

/// Connects, authenticates and quits: the account's SMTP settings work.
pub async fn check(settings: &EmailSettings, login: &Login) -> Result<()> {
    let mut conn = connect(settings, login).await?;
    let _ = conn.quit().await;
    Ok(())
}

/// Submits a built message. Transient failures (network, 4xx) come back as `Network`.
pub async fn submit(settings: &EmailSettings, login: &Login, message: &BuiltMessage) -> Result<()> {
    let mut conn = connect(settings, login).await?;
    match conn.send(&message.envelope, &message.bytes).await {
        Ok(_) => {
            let _ = conn.quit().await;
            Ok(())
        }
        Err(e) => {
            conn.abort().await;
            Err(smtp_error(settings, Stage::Send, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: 1,
            kind: sportello_core::model::ChannelKind::Email,
            name: "Bottega Rossi".into(),
            address: "info@bottega.it".into(),
            settings: serde_json::json!({}),
            enabled: true,
            created_at: 0,
            status: sportello_core::model::AccountStatus {
                state: sportello_core::model::SyncState::Idle,
                last_sync_at: None,
                last_error: None,
                progress: None,
            },
        }
    }

    #[test]
    fn reply_carries_threading_headers_and_parses_back() {
        let out = OutboundMessage {
            external_id: "123.abc@bottega.it".into(),
            to: vec!["mario@example.com".into()],
            subject: "Re: Ordine 42 — già spedito?".into(),
            text: "Sì, è partito ieri.\nGrazie!".into(),
            html: None,
            in_reply_to: Some("q1@example.com".into()),
            references: vec!["q0@example.com".into(), "q1@example.com".into()],
            ..Default::default()
        };
        let built = build_reply(&account(), &out, &[]).unwrap();
        let text = String::from_utf8_lossy(&built.bytes);
        assert!(!text.contains("Auto-Submitted"), "{text}");
        assert!(text.contains("Message-ID: <123.abc@bottega.it>"), "{text}");
        assert!(text.contains("In-Reply-To: <q1@example.com>"), "{text}");
        assert!(
            text.contains("References: <q0@example.com> <q1@example.com>"),
            "{text}"
        );
        let m = crate::mime::parse_message(built.bytes.clone(), "info@bottega.it", None);
        assert_eq!(m.external_id, "123.abc@bottega.it");
        assert_eq!(
            m.direction,
            Some(sportello_core::model::Direction::Outbound)
        );
        assert_eq!(m.subject, "Re: Ordine 42 — già spedito?");
        assert_eq!(m.text, "Sì, è partito ieri.\nGrazie!");
        assert_eq!(m.counterpart.unwrap().value, "mario@example.com");
        assert_eq!(m.sender_name, "Bottega Rossi");
        assert_eq!(
            built.envelope.from().unwrap().to_string(),
            "info@bottega.it"
        );
    }

    #[test]
    fn automatic_replies_say_so_rfc_3834() {
        let out = OutboundMessage {
            external_id: "a1@bottega.it".into(),
            to: vec!["mario@example.com".into()],
            subject: "Re: Ordine 42".into(),
            text: "Siamo chiusi, rispondiamo domani.".into(),
            html: None,
            in_reply_to: Some("q1@example.com".into()),
            references: vec!["q1@example.com".into()],
            automatic: true,
        };
        let built = build_reply(&account(), &out, &[]).unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(&built.bytes[..])
            .unwrap();
        assert_eq!(
            parsed.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(parsed.in_reply_to().as_text(), Some("q1@example.com"));
        assert!(parsed.header_raw("Precedence").is_none());
    }

    #[test]
    fn files_go_as_multipart_mixed_with_encoded_names() {
        use mail_parser::MimeHeaders;
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("a");
        std::fs::write(&pdf, b"%PDF-1.4 fattura").unwrap();
        let photo = dir.path().join("b");
        let jpeg: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        std::fs::write(&photo, &jpeg).unwrap();
        let out = OutboundMessage {
            external_id: "m1@bottega.it".into(),
            to: vec!["mario@example.com".into()],
            subject: "Re: Fattura".into(),
            text: "In allegato.".into(),
            ..Default::default()
        };
        let files = [
            OutboxFile {
                filename: "fattura 42.pdf".into(),
                mime_type: "application/pdf".into(),
                path: pdf,
            },
            OutboxFile {
                filename: "foto però ñ.jpg".into(),
                mime_type: "image/jpeg".into(),
                path: photo,
            },
        ];
        let built = build_reply(&account(), &out, &files).unwrap();
        let raw = String::from_utf8_lossy(&built.bytes);
        assert!(raw.contains("multipart/mixed"), "{raw}");
        assert!(
            raw.contains("filename*0*=utf-8''foto%20per%C3%B2%20%C3%B1.jpg"),
            "RFC 2231 name: {raw}"
        );
        assert!(
            raw.contains("name=\"=?UTF-8?Q?foto_per=C3=B2_=C3=B1=2Ejpg?=\""),
            "{raw}"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&built.bytes[..])
            .unwrap();
        assert_eq!(parsed.body_text(0).unwrap().trim_end(), "In allegato.");
        let names: Vec<_> = parsed
            .attachments()
            .map(|a| {
                (
                    a.attachment_name().unwrap().to_string(),
                    a.content_type()
                        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap())),
                    a.contents().to_vec(),
                )
            })
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[0].0, "fattura 42.pdf");
        assert_eq!(names[0].1.as_deref(), Some("application/pdf"));
        assert_eq!(names[0].2, b"%PDF-1.4 fattura");
        assert_eq!(names[1].0, "foto però ñ.jpg");
        assert_eq!(names[1].1.as_deref(), Some("image/jpeg"));
        assert_eq!(names[1].2, jpeg);
    }

    #[test]
    fn a_missing_blob_fails_the_item_instead_of_sending_without_it() {
        let out = OutboundMessage {
            external_id: "m2@bottega.it".into(),
            to: vec!["mario@example.com".into()],
            text: "x".into(),
            ..Default::default()
        };
        let gone = [OutboxFile {
            filename: "x.pdf".into(),
            mime_type: "application/pdf".into(),
            path: "/nonexistent/sportello/blob".into(),
        }];
        let e = build_reply(&account(), &out, &gone).err().unwrap();
        assert_eq!(e.code, ErrorCode::Storage);
        assert!(!e.code.is_transient());
    }

    #[test]
    fn a_bad_recipient_is_rejected_not_retried() {
        let out = OutboundMessage {
            external_id: "1@bottega.it".into(),
            to: vec!["not an address".into()],
            text: "x".into(),
            ..Default::default()
        };
        let e = build_reply(&account(), &out, &[]).err().unwrap();
        assert_eq!(e.code, ErrorCode::Rejected);
    }
}
