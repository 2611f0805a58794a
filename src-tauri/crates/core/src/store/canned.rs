//! Canned replies (templates) kept in the store, one text per language, and their rendering
//! for a conversation.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Store;
use crate::templates::{MissingVariable, RenderedTemplate, first_name, render};
use crate::{Error, Result, now_ms};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CannedReply {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    /// Typed after `/` in the composer ("spedizione").
    pub shortcut: String,
    /// Language code ("it", "en") -> text with `{{variables}}`.
    pub texts: BTreeMap<String, String>,
    #[ts(type = "number")]
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CannedReplyInput {
    pub name: String,
    #[serde(default)]
    pub shortcut: String,
    pub texts: BTreeMap<String, String>,
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<CannedReply> {
    let texts: String = r.get(3)?;
    Ok(CannedReply {
        id: r.get(0)?,
        name: r.get(1)?,
        shortcut: r.get(2)?,
        texts: serde_json::from_str(&texts).unwrap_or_default(),
        updated_at: r.get(4)?,
    })
}

impl Store {
    pub fn canned_replies(&self) -> Result<Vec<CannedReply>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, shortcut, texts, updated_at FROM canned_replies
             ORDER BY name COLLATE NOCASE, id",
        )?;
        let v = stmt
            .query_map([], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(v)
    }

    pub fn canned_reply(&self, id: i64) -> Result<CannedReply> {
        self.reader()
            .query_row(
                "SELECT id, name, shortcut, texts, updated_at FROM canned_replies WHERE id = ?1",
                [id],
                from_row,
            )
            .optional()?
            .ok_or_else(|| Error::not_found(format!("no template {id}")))
    }

    /// Creates (`id` None) or replaces a canned reply. Needs a name and at least one text.
    pub fn save_canned_reply(
        &self,
        id: Option<i64>,
        input: &CannedReplyInput,
    ) -> Result<CannedReply> {
        let name = input.name.trim();
        if name.is_empty() {
            return Err(Error::invalid("a template needs a name"));
        }
        let texts: BTreeMap<String, String> = input
            .texts
            .iter()
            .map(|(l, t)| (l.trim().to_lowercase(), t.trim_end().to_string()))
            .filter(|(l, t)| !l.is_empty() && !t.trim().is_empty())
            .collect();
        if texts.is_empty() {
            return Err(Error::invalid(
                "a template needs a text in at least one language",
            ));
        }
        let shortcut = input.shortcut.trim().trim_start_matches('/').to_lowercase();
        let json = serde_json::to_string(&texts)?;
        let now = now_ms();
        let id = {
            let conn = self.writer();
            match id {
                Some(id) => {
                    let n = conn.execute(
                        "UPDATE canned_replies SET name = ?2, shortcut = ?3, texts = ?4,
                                updated_at = ?5 WHERE id = ?1",
                        params![id, name, shortcut, json, now],
                    )?;
                    if n == 0 {
                        return Err(Error::not_found(format!("no template {id}")));
                    }
                    id
                }
                None => {
                    conn.execute(
                        "INSERT INTO canned_replies(name, shortcut, texts, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?4)",
                        params![name, shortcut, json, now],
                    )?;
                    conn.last_insert_rowid()
                }
            }
        };
        self.canned_reply(id)
    }

    pub fn delete_canned_reply(&self, id: i64) -> Result<()> {
        let n = self
            .writer()
            .execute("DELETE FROM canned_replies WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(Error::not_found(format!("no template {id}")));
        }
        Ok(())
    }

    /// Renders a canned reply for a conversation (or with shop/agent names only). The text is
    /// in `language` when the template has it, else in the shop's default language, else the
    /// first it has. Missing variables show as `[nome]`-style markers listed in `missing`.
    pub fn render_canned_reply(
        &self,
        id: i64,
        conversation_id: Option<i64>,
        language: Option<&str>,
    ) -> Result<RenderedTemplate> {
        let reply = self.canned_reply(id)?;
        let settings = self.care_settings()?;
        let (lang, text) = [
            language.unwrap_or(""),
            settings.default_language.as_str(),
            "it",
            "en",
        ]
        .iter()
        .find_map(|l| reply.texts.get_key_value(*l))
        .or_else(|| reply.texts.iter().next())
        .map(|(l, t)| (l.clone(), t.clone()))
        .ok_or_else(|| Error::invalid("this template has no text"))?;
        let mut values: HashMap<&str, String> = HashMap::from([
            ("shop.name", settings.shop_name.clone()),
            ("agent.name", settings.agent_name.clone()),
        ]);
        if let Some(cid) = conversation_id {
            let c = self.conversation_summary(cid)?;
            // The list shows the handle when there is no name: that is not a name.
            let name = if c.contact_name == c.contact_handle {
                String::new()
            } else {
                c.contact_name
            };
            values.insert("contact.first_name", first_name(&name).unwrap_or_default());
            values.insert("contact.name", name);
            values.insert("conversation.subject", c.subject);
        }
        Ok(render(&text, &values, &lang, MissingVariable::Mark))
    }
}
