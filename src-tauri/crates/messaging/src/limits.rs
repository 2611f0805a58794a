//! What each chat channel accepts as an outgoing file, from the providers' documentation:
//!
//! - WhatsApp Cloud API (media reference): images JPEG/PNG up to 5 MB; video MP4/3GPP and
//!   audio AAC/AMR/MP3/MP4/OGG up to 16 MB; any other file goes as a document, up to 100 MB.
//! - Telegram Bot API: `sendPhoto` takes photos up to 10 MB; any file up to 50 MB goes by
//!   `sendDocument` (a bigger picture is sent as a document).
//! - Messenger Send API: attachments up to 25 MB.
//! - Instagram Messaging (attachment upload): images PNG/JPEG/GIF up to 8 MB; audio and video
//!   up to 25 MB; files only as PDF, up to 25 MB.
//! - Twilio: the Messages API takes only `MediaUrl`s on a public web server, so a file from
//!   this computer cannot be sent at all (`attachment_not_supported`).
//!
//! The same check runs before a reply is queued (the command and the CLI) and again in each
//! channel's send, before any upload, so a reply is never half sent.

use sportello_core::channel::{OutboxFile, OutboxItem};
use sportello_core::model::{Account, ChannelKind};
use sportello_core::{Error, ErrorCode, Result};

const MB: u64 = 1024 * 1024;

/// How a channel will send a file of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAs {
    Image,
    Video,
    Audio,
    /// A document / file.
    File,
}

fn base_mime(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// WhatsApp's message type for a file (types WhatsApp does not play go as documents).
pub fn whatsapp_kind(mime: &str) -> SendAs {
    match base_mime(mime).as_str() {
        "image/jpeg" | "image/png" => SendAs::Image,
        "video/mp4" | "video/3gpp" => SendAs::Video,
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => SendAs::Audio,
        _ => SendAs::File,
    }
}

/// Telegram: photos by `sendPhoto` (up to 10 MB), everything else by `sendDocument`.
pub fn telegram_kind(mime: &str, size: u64) -> SendAs {
    match base_mime(mime).as_str() {
        "image/jpeg" | "image/png" | "image/webp" if size <= 10 * MB => SendAs::Image,
        _ => SendAs::File,
    }
}

/// Messenger/Instagram attachment type.
pub fn meta_kind(mime: &str) -> SendAs {
    let m = base_mime(mime);
    if m.starts_with("image/") {
        SendAs::Image
    } else if m.starts_with("video/") {
        SendAs::Video
    } else if m.starts_with("audio/") {
        SendAs::Audio
    } else {
        SendAs::File
    }
}

impl SendAs {
    /// The name Graph uses (`image`, `video`, `audio`, `file`).
    pub fn graph_name(self) -> &'static str {
        match self {
            SendAs::Image => "image",
            SendAs::Video => "video",
            SendAs::Audio => "audio",
            SendAs::File => "file",
        }
    }
}

fn too_large(name: &str, size: u64, limit: u64, what: &str) -> Error {
    Error::new(
        ErrorCode::FileTooLarge,
        format!(
            "{name} is {:.1} MB: {what} takes at most {} MB",
            size as f64 / MB as f64,
            limit / MB
        ),
    )
}

/// Checks one outgoing file against what `account`'s channel accepts.
pub fn check_file(account: &Account, name: &str, mime: &str, size: u64) -> Result<()> {
    match account.kind {
        // Email limits belong to the email crate.
        ChannelKind::Email => Ok(()),
        ChannelKind::Whatsapp if crate::twilio::is_twilio(account) => Err(Error::new(
            ErrorCode::AttachmentNotSupported,
            "Twilio sends only files that are on a public web address, not files from this \
             computer: send the file by another channel or as a link",
        )),
        ChannelKind::Whatsapp => {
            let (limit, what) = match whatsapp_kind(mime) {
                SendAs::Image => (5 * MB, "WhatsApp (images)"),
                SendAs::Video => (16 * MB, "WhatsApp (video)"),
                SendAs::Audio => (16 * MB, "WhatsApp (audio)"),
                SendAs::File => (100 * MB, "WhatsApp (documents)"),
            };
            if size > limit {
                return Err(too_large(name, size, limit, what));
            }
            Ok(())
        }
        ChannelKind::Telegram => {
            if size > 50 * MB {
                return Err(too_large(name, size, 50 * MB, "a Telegram bot"));
            }
            Ok(())
        }
        ChannelKind::Messenger => {
            if size > 25 * MB {
                return Err(too_large(name, size, 25 * MB, "Messenger"));
            }
            Ok(())
        }
        ChannelKind::Instagram => {
            let m = base_mime(mime);
            let (limit, what) = match meta_kind(mime) {
                SendAs::Image if matches!(m.as_str(), "image/png" | "image/jpeg" | "image/gif") => {
                    (8 * MB, "Instagram (images)")
                }
                SendAs::Video | SendAs::Audio => (25 * MB, "Instagram (audio and video)"),
                SendAs::File if m == "application/pdf" => (25 * MB, "Instagram (PDF files)"),
                _ => {
                    return Err(Error::new(
                        ErrorCode::AttachmentNotSupported,
                        format!(
                            "Instagram does not take {name} ({m}): only PNG, JPEG or GIF \
                             pictures, audio, video and PDF files"
                        ),
                    ));
                }
            };
            if size > limit {
                return Err(too_large(name, size, limit, what));
            }
            Ok(())
        }
    }
}

/// Checks every file of a reply: `(name, mime type, size)`.
pub fn check_files<'a>(
    account: &Account,
    files: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
) -> Result<()> {
    for (name, mime, size) in files {
        check_file(account, name, mime, size)?;
    }
    Ok(())
}

/// Checks every file of a queued reply before the first upload (a reply is never half
/// sent). The files are the outbox's [`OutboxFile`]s — the same ones email sends, read from
/// the store's blobs at each attempt, so a retry after a restart still has them.
pub(crate) fn check_item<'a>(account: &Account, item: &'a OutboxItem) -> Result<&'a [OutboxFile]> {
    for f in &item.files {
        let size = std::fs::metadata(&f.path)
            .map_err(|e| {
                Error::storage(format!(
                    "the file {} of this reply is missing: {e}",
                    f.filename
                ))
            })?
            .len();
        check_file(account, &f.filename, &f.mime_type, size)?;
    }
    Ok(&item.files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::account;
    use serde_json::json;

    #[test]
    fn whatsapp_limits_follow_the_media_type() {
        let wa = account(ChannelKind::Whatsapp, json!({"provider": "cloud"}));
        check_file(&wa, "a.jpg", "image/jpeg", 5 * MB).unwrap();
        let e = check_file(&wa, "a.jpg", "image/jpeg", 5 * MB + 1).unwrap_err();
        assert_eq!(e.code, ErrorCode::FileTooLarge);
        assert!(e.message.contains("5 MB"), "{}", e.message);
        // A WebP picture is not a WhatsApp image: it goes as a document (100 MB).
        check_file(&wa, "a.webp", "image/webp", 50 * MB).unwrap();
        assert_eq!(
            check_file(&wa, "v.mp4", "video/mp4", 17 * MB)
                .unwrap_err()
                .code,
            ErrorCode::FileTooLarge
        );
        check_file(&wa, "d.pdf", "application/pdf", 100 * MB).unwrap();
        assert!(check_file(&wa, "d.pdf", "application/pdf", 100 * MB + 1).is_err());
    }

    #[test]
    fn twilio_takes_no_local_file() {
        let tw = account(ChannelKind::Whatsapp, json!({"provider": "twilio"}));
        assert_eq!(
            check_file(&tw, "a.jpg", "image/jpeg", 10).unwrap_err().code,
            ErrorCode::AttachmentNotSupported
        );
        check_files(&tw, []).unwrap();
    }

    #[test]
    fn telegram_messenger_instagram_limits() {
        let tg = account(ChannelKind::Telegram, json!({}));
        check_file(&tg, "a.zip", "application/zip", 50 * MB).unwrap();
        assert!(check_file(&tg, "a.zip", "application/zip", 50 * MB + 1).is_err());
        assert_eq!(telegram_kind("image/jpeg", 10 * MB), SendAs::Image);
        assert_eq!(telegram_kind("image/jpeg", 10 * MB + 1), SendAs::File);
        assert_eq!(telegram_kind("image/gif", 10), SendAs::File);
        let fb = account(ChannelKind::Messenger, json!({}));
        assert!(check_file(&fb, "a.zip", "application/zip", 26 * MB).is_err());
        let ig = account(ChannelKind::Instagram, json!({}));
        check_file(&ig, "a.png", "image/png", 8 * MB).unwrap();
        assert_eq!(
            check_file(&ig, "a.png", "image/png", 9 * MB)
                .unwrap_err()
                .code,
            ErrorCode::FileTooLarge
        );
        assert_eq!(
            check_file(&ig, "a.docx", mime_docx(), 10).unwrap_err().code,
            ErrorCode::AttachmentNotSupported
        );
        check_file(&ig, "a.pdf", "application/pdf", 10).unwrap();
    }

    fn mime_docx() -> &'static str {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    }
}
