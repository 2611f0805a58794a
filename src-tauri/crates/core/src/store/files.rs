//! Attachments leaving the store: copied out for the OS to open or for the user to keep, and
//! inline `cid:` images folded into the HTML for display.

use std::path::{Path, PathBuf};

use base64::Engine;
use rusqlite::OptionalExtension;

use super::Store;
use crate::model::ConversationDetail;
use crate::{Error, Result};

/// Inline images bigger than this stay as attachments instead of being inlined.
const MAX_INLINE_BYTES: i64 = 4 * 1024 * 1024;

/// A file name safe on every OS: no folders, no reserved characters, never empty.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').to_string();
    if cleaned.is_empty() {
        "allegato".to_string()
    } else {
        cleaned
    }
}

impl Store {
    /// The stored file of an attachment under blobs/. A synced email's file is written there
    /// the first time it is needed, extracted from the message's kept source (the part the
    /// sync recorded) and checked against the content hash stored at sync; data folders whose
    /// files were written at sync use them as they are.
    pub fn attachment_file(&self, attachment_id: i64) -> Result<PathBuf> {
        let (hash, message_id, part): (Option<String>, i64, Option<u32>) = self
            .reader()
            .query_row(
                "SELECT content_hash, message_id, source_part FROM attachments WHERE id = ?1",
                [attachment_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no attachment {attachment_id}")))?;
        let hash =
            hash.ok_or_else(|| Error::not_found("this attachment has not been downloaded yet"))?;
        let path = self.blob_path(&hash);
        if path.exists() {
            return Ok(path);
        }
        let Some(part) = part else {
            return Err(Error::storage(format!(
                "the file of attachment {attachment_id} is missing from the data folder"
            )));
        };
        let raw = self.message_source(message_id)?;
        let data = extract_part(&raw, part).ok_or_else(|| {
            Error::storage(format!(
                "attachment {attachment_id} is not in its message's source"
            ))
        })?;
        let written = self.put_blob(&data)?;
        if written != hash {
            return Err(Error::storage(format!(
                "attachment {attachment_id} extracted from its source differs from the one synced"
            )));
        }
        Ok(path)
    }

    /// Copies an attachment into `dir` under its own name (made unique); returns the path.
    pub fn export_attachment(&self, attachment_id: i64, dir: &Path) -> Result<PathBuf> {
        let att = self.attachment(attachment_id)?;
        let file = self.attachment_file(att.id)?;
        std::fs::create_dir_all(dir)?;
        let name = safe_file_name(&att.filename);
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.clone(), String::new()),
        };
        let mut target = dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{stem} ({n}){ext}"));
            n += 1;
        }
        std::fs::copy(file, &target)?;
        Ok(target)
    }

    /// A conversation ready for the thread view: inline `cid:` images become `data:` URLs so
    /// the sandboxed HTML frame can show them without any access to the store.
    pub fn conversation_for_display(&self, id: i64) -> Result<ConversationDetail> {
        let mut detail = self.conversation(id)?;
        for m in &mut detail.messages {
            let Some(html) = m.html.as_mut() else {
                continue;
            };
            if !html.contains("cid:") {
                continue;
            }
            for a in &m.attachments {
                let (Some(cid), Some(_)) = (&a.content_id, &a.content_hash) else {
                    continue;
                };
                if a.size > MAX_INLINE_BYTES {
                    continue;
                }
                let needle = format!("cid:{}", cid.trim_matches(['<', '>']));
                if !html.contains(&needle) {
                    continue;
                }
                let Ok(bytes) = self
                    .attachment_file(a.id)
                    .and_then(|f| Ok(std::fs::read(f)?))
                else {
                    continue;
                };
                let url = format!(
                    "data:{};base64,{}",
                    a.mime_type,
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                );
                *html = html.replace(&needle, &url);
            }
        }
        Ok(detail)
    }
}

/// The decoded content of MIME part `part` of a raw message, as `sportello-email` read it at
/// sync (same parser, same call).
pub(crate) fn extract_part(raw: &[u8], part: u32) -> Option<Vec<u8>> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    Some(msg.parts.get(part as usize)?.contents().to_vec())
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names_cannot_escape_the_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name("fattura:1?.pdf"), "fattura_1_.pdf");
        assert_eq!(safe_file_name("  "), "allegato");
        assert_eq!(safe_file_name("foto.jpg"), "foto.jpg");
    }
}
