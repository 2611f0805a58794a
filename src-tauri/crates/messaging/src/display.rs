//! What the thread shows of a chat message besides its text: a reaction, a location, shared
//! contacts, the Instagram story it answers, the template it was sent with. Read from what
//! each channel kept in the message's meta, so the window can render it in its own language
//! (the stored text is a plain-text fallback for search, notifications and the CLI).

use serde::Serialize;
use serde_json::Value;
use sportello_core::{Result, Store};
use ts_rs::TS;

#[derive(Debug, Clone, Default, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct ChatDetails {
    #[ts(type = "number")]
    pub message_id: i64,
    /// The customer reacted to one of the messages with this emoji (empty: took it back).
    pub reaction: Option<String>,
    pub location: Option<Location>,
    pub contacts: Vec<SharedContact>,
    pub story: Option<StoryRef>,
    /// The WhatsApp template name (or Twilio Content SID) a reply was sent with.
    pub template: Option<String>,
    /// The customer edited the message (Telegram) at this time; the text shown is the edit.
    #[ts(type = "number", optional)]
    pub edited_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub name: String,
    pub address: String,
    pub map_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct SharedContact {
    pub name: String,
    pub phones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[ts(export)]
pub struct StoryRef {
    /// The customer answered the shop's story, or mentioned the shop in theirs.
    #[ts(type = "\"reply\" | \"mention\"")]
    pub kind: String,
    pub link: String,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").trim().to_string()
}

/// The details of one message, `None` when it has nothing beyond its text.
pub fn details(message_id: i64, meta: &Value) -> Option<ChatDetails> {
    let mut d = ChatDetails {
        message_id,
        ..Default::default()
    };
    if let Some(r) = meta.get("reaction").filter(|r| r.is_object()) {
        d.reaction = Some(text(&r["emoji"]));
    }
    if let Some(l) = meta.get("location").filter(|l| l.is_object()) {
        let (latitude, longitude) = (
            l["latitude"].as_f64().unwrap_or(0.0),
            l["longitude"].as_f64().unwrap_or(0.0),
        );
        d.location = Some(Location {
            latitude,
            longitude,
            name: text(&l["name"]),
            address: text(&l["address"]),
            map_url: format!("https://maps.google.com/?q={latitude},{longitude}"),
        });
    }
    // WhatsApp shares vCards as a list; Telegram as one contact.
    for c in meta["contacts"].as_array().into_iter().flatten() {
        d.contacts.push(SharedContact {
            name: text(&c["name"]["formatted_name"]),
            phones: c["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| text(&p["phone"]))
                .filter(|p| !p.is_empty())
                .collect(),
        });
    }
    if let Some(c) = meta.get("contact").filter(|c| c.is_object()) {
        let name = format!("{} {}", text(&c["first_name"]), text(&c["last_name"]));
        d.contacts.push(SharedContact {
            name: name.trim().to_string(),
            phones: Some(text(&c["phone_number"]))
                .filter(|p| !p.is_empty())
                .into_iter()
                .collect(),
        });
    }
    if let Some(s) = meta.get("story").filter(|s| s.is_object()) {
        let link = text(&s["link"]);
        if !link.is_empty() {
            d.story = Some(StoryRef {
                kind: if s["kind"] == "mention" {
                    "mention".into()
                } else {
                    "reply".into()
                },
                link,
            });
        }
    }
    if let Some(t) = meta.get("template").filter(|t| t.is_object()) {
        let name = t["name"].as_str().or(t["content_sid"].as_str());
        d.template = name.map(String::from);
    }
    d.edited_at = meta.get("edited_at").and_then(Value::as_i64);
    let empty = d.reaction.is_none()
        && d.edited_at.is_none()
        && d.location.is_none()
        && d.contacts.is_empty()
        && d.story.is_none()
        && d.template.is_none();
    (!empty).then_some(d)
}

/// The details of every message of a conversation that has some.
pub fn conversation_details(store: &Store, conversation_id: i64) -> Result<Vec<ChatDetails>> {
    let detail = store.conversation(conversation_id)?;
    let mut out = Vec::new();
    for m in &detail.messages {
        if let Some(d) = details(m.id, &store.message_meta(m.id)?) {
            out.push(d);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_text_has_no_details() {
        assert_eq!(details(1, &json!({"wa_type": "text"})), None);
        assert_eq!(details(1, &json!(null)), None);
    }

    #[test]
    fn whatsapp_reaction_location_and_contacts() {
        let r = details(
            1,
            &json!({"reaction": {"emoji": "👍", "message_id": "wamid.X"}}),
        )
        .unwrap();
        assert_eq!(r.reaction.as_deref(), Some("👍"));
        let l = details(
            2,
            &json!({"location": {"latitude": 45.5, "longitude": 9.2, "name": "Negozio"}}),
        )
        .unwrap()
        .location
        .unwrap();
        assert_eq!(l.name, "Negozio");
        assert_eq!(l.map_url, "https://maps.google.com/?q=45.5,9.2");
        let c = details(
            3,
            &json!({"contacts": [{"name": {"formatted_name": "Anna Rossi"}, "phones": [{"phone": "+39 333 1"}]}]}),
        )
        .unwrap();
        assert_eq!(c.contacts[0].name, "Anna Rossi");
        assert_eq!(c.contacts[0].phones, vec!["+39 333 1"]);
    }

    #[test]
    fn telegram_contact_story_and_template() {
        let c = details(
            1,
            &json!({"contact": {"first_name": "Luca", "phone_number": "+391"}}),
        )
        .unwrap();
        assert_eq!(c.contacts[0].name, "Luca");
        let s = details(
            2,
            &json!({"story": {"kind": "mention", "link": "https://ig/s/1"}}),
        )
        .unwrap();
        assert_eq!(s.story.unwrap().kind, "mention");
        let t = details(
            3,
            &json!({"template": {"name": "ordine_spedito", "params": []}}),
        )
        .unwrap();
        assert_eq!(t.template.as_deref(), Some("ordine_spedito"));
    }
}
