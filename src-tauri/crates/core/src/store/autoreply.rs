//! The out-of-hours acknowledgement: decided right after new messages are stored, queued in
//! the outbox like any reply (kind `auto_reply`, shown as automatic in the thread).

use std::collections::HashMap;

use rusqlite::OptionalExtension;

use super::Store;
use crate::care::{AutoReplyCase, auto_reply_decision};
use crate::model::{ChannelKind, MessageKind};
use crate::outbox::{Draft, ReplyExtras};
use crate::templates::{MissingVariable, first_name, render};
use crate::{Result, now_ms};

impl Store {
    /// Answers fresh inbound messages automatically where the care settings say so. Returns
    /// the ids of the automatic replies queued.
    pub(crate) fn auto_reply_to(
        &self,
        account_id: i64,
        channel: ChannelKind,
        messages: &[(i64, i64)],
    ) -> Result<Vec<i64>> {
        let settings = self.care_settings()?;
        if !settings.auto_reply.enabled {
            return Ok(Vec::new());
        }
        let account = self.account(account_id)?;
        if account.settings.get("local").and_then(|v| v.as_bool()) == Some(true) {
            return Ok(Vec::new());
        }
        let mut queued = Vec::new();
        for &(message_id, conversation_id) in messages {
            let facts = {
                let conn = self.reader();
                conn.query_row(
                    "SELECT m.meta, m.sender_handle, m.sent_at, c.last_inbound_at,
                            (SELECT MAX(sent_at) FROM messages a
                             WHERE a.conversation_id = c.id AND a.kind = 'auto_reply'),
                            COALESCE(NULLIF(k.display_name, ''), ''), c.subject
                     FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     LEFT JOIN contacts k ON k.id = c.contact_id
                     WHERE m.id = ?1",
                    [message_id],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, Option<i64>>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                        ))
                    },
                )
                .optional()?
            };
            let Some((meta, sender, sent_at, last_inbound_at, last_auto, name, subject)) = facts
            else {
                continue;
            };
            let meta: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
            let case = AutoReplyCase {
                channel,
                meta: &meta,
                sender_handle: &sender,
                message_at: sent_at,
                now: now_ms(),
                last_inbound_at,
                last_auto_reply_at: last_auto,
            };
            let text = match auto_reply_decision(&settings, &case) {
                Ok(text) => text,
                Err(why) => {
                    tracing::debug!(message_id, ?why, "no automatic reply");
                    continue;
                }
            };
            let values = HashMap::from([
                ("contact.first_name", first_name(&name).unwrap_or_default()),
                ("contact.name", name.clone()),
                ("shop.name", settings.shop_name.clone()),
                ("agent.name", settings.agent_name.clone()),
                ("conversation.subject", subject),
            ]);
            let rendered = render(
                text,
                &values,
                &settings.default_language,
                MissingVariable::Drop,
            );
            let message = self.queue_outbound(
                conversation_id,
                &Draft {
                    text: rendered.text,
                    quote: false,
                },
                &ReplyExtras::default(),
                MessageKind::AutoReply,
                Some(message_id),
            )?;
            queued.push(message.id);
        }
        Ok(queued)
    }
}
