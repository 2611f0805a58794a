//! Attachments leaving the store: copied out for the OS to open or for the user to keep, and
//! inline `cid:` images folded into the HTML for display.

use std::path::{Path, PathBuf};

use base64::Engine;

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
    /// Copies an attachment into `dir` under its own name (made unique); returns the path.
    pub fn export_attachment(&self, attachment_id: i64, dir: &Path) -> Result<PathBuf> {
        let att = self.attachment(attachment_id)?;
        let hash = att
            .content_hash
            .ok_or_else(|| Error::not_found("this attachment has not been downloaded yet"))?;
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
        std::fs::copy(self.blob_path(&hash), &target)?;
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
                let (Some(cid), Some(hash)) = (&a.content_id, &a.content_hash) else {
                    continue;
                };
                if a.size > MAX_INLINE_BYTES {
                    continue;
                }
                let needle = format!("cid:{}", cid.trim_matches(['<', '>']));
                if !html.contains(&needle) {
                    continue;
                }
                let Ok(bytes) = std::fs::read(self.blob_path(hash)) else {
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
