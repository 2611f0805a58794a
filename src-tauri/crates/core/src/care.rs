//! The shop's customer-care rules, kept in the store beside the user's settings: names used
//! in templates, the response-time target, business hours and holidays, and the out-of-hours
//! automatic reply — with the pure decisions about them (open now? answer this automatically?).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::ChannelKind;
use crate::{Error, Result, Store};

const KEY: &str = "care_settings";
const HOUR_MS: i64 = 3_600_000;
/// WhatsApp's customer service window and Messenger/Instagram's standard messaging window.
pub const CHAT_WINDOW_MS: i64 = 24 * HOUR_MS;
/// An automatic reply is only for what arrived just now, never for a backlog found by a sync.
pub const AUTO_REPLY_MAX_AGE_MS: i64 = 2 * HOUR_MS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct CareSettings {
    /// `{{shop.name}}` in templates.
    pub shop_name: String,
    /// `{{agent.name}}` in templates: who answers.
    pub agent_name: String,
    /// The language of templates when the customer's is unknown ("it", "en").
    pub default_language: String,
    /// Response-time target (minutes): a waiting customer is late past it. Default 60.
    pub sla_minutes: u32,
    /// IANA time zone of the shop ("Europe/Rome"): business hours, weeks and hours of reports.
    pub timezone: String,
    /// When the shop answers. Empty: always open (no out-of-hours reply).
    pub business_hours: Vec<OpeningHours>,
    /// Closed days: "2025-12-25" (that day) or "12-25" (every year).
    pub holidays: Vec<String>,
    pub auto_reply: AutoReplySettings,
}

/// One opening range on a weekday (several per day for a lunch break).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OpeningHours {
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: u8,
    /// "09:00"
    pub open: String,
    /// "13:00" (exclusive)
    pub close: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(default)]
pub struct AutoReplySettings {
    pub enabled: bool,
    /// At most one automatic reply per conversation in this many hours. Default 12.
    pub every_hours: u32,
    /// The acknowledgement, with template variables (`{{shop.name}}`, `{{contact.first_name}}`).
    pub text: String,
    /// A different text for some channels; an empty text turns the reply off on that channel.
    pub per_channel: Vec<ChannelText>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChannelText {
    pub channel: ChannelKind,
    pub text: String,
}

impl Default for CareSettings {
    fn default() -> Self {
        CareSettings {
            shop_name: String::new(),
            agent_name: String::new(),
            default_language: "it".into(),
            sla_minutes: 60,
            timezone: "Europe/Rome".into(),
            business_hours: Vec::new(),
            holidays: Vec::new(),
            auto_reply: AutoReplySettings::default(),
        }
    }
}

impl Default for AutoReplySettings {
    fn default() -> Self {
        AutoReplySettings {
            enabled: false,
            every_hours: 12,
            text: "Ciao {{contact.first_name}}, grazie per averci scritto! In questo momento \
                   siamo chiusi: ti rispondiamo appena riapriamo. {{shop.name}}"
                .into(),
            per_channel: Vec::new(),
        }
    }
}

impl CareSettings {
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    pub fn sla_ms(&self) -> i64 {
        i64::from(self.sla_minutes.max(1)) * 60_000
    }

    /// Whether the shop is open at `at_ms` (always, when no hours are set).
    pub fn is_open_at(&self, at_ms: i64) -> bool {
        if self.business_hours.is_empty() {
            return true;
        }
        let Ok(ts) = jiff::Timestamp::from_millisecond(at_ms) else {
            return true;
        };
        let local = ts.to_zoned(self.time_zone());
        let date = local.date();
        let ymd = date.to_string();
        let md = format!("{:02}-{:02}", date.month(), date.day());
        if self.holidays.iter().any(|h| {
            let h = h.trim();
            h == ymd || h == md
        }) {
            return false;
        }
        let weekday = local.weekday().to_monday_one_offset() as u8;
        let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
        self.business_hours.iter().any(|r| {
            r.weekday == weekday
                && matches!((hhmm(&r.open), hhmm(&r.close)), (Some(o), Some(c)) if o <= minute && minute < c)
        })
    }

    /// The out-of-hours text for a channel; `None` when that channel gets none.
    pub fn auto_reply_text(&self, channel: ChannelKind) -> Option<&str> {
        let text = self
            .auto_reply
            .per_channel
            .iter()
            .find(|c| c.channel == channel)
            .map(|c| c.text.as_str())
            .unwrap_or(self.auto_reply.text.as_str());
        (!text.trim().is_empty()).then_some(text)
    }

    fn validate(mut self) -> Result<CareSettings> {
        if jiff::tz::TimeZone::get(&self.timezone).is_err() {
            return Err(Error::invalid(format!(
                "unknown time zone {:?} (use a name like Europe/Rome)",
                self.timezone
            )));
        }
        for r in &self.business_hours {
            let (Some(o), Some(c)) = (hhmm(&r.open), hhmm(&r.close)) else {
                return Err(Error::invalid(format!(
                    "opening hours must look like 09:00, not {:?}-{:?}",
                    r.open, r.close
                )));
            };
            if !(1..=7).contains(&r.weekday) || o >= c {
                return Err(Error::invalid(
                    "each opening range needs a weekday 1-7 and opens before it closes",
                ));
            }
        }
        for h in &self.holidays {
            let h = h.trim();
            let ok = h.parse::<jiff::civil::Date>().is_ok()
                || format!("2000-{h}").parse::<jiff::civil::Date>().is_ok();
            if !ok {
                return Err(Error::invalid(format!(
                    "holidays are dates like 2025-12-25 or 12-25, not {h:?}"
                )));
            }
        }
        if !matches!(self.default_language.as_str(), "it" | "en") {
            self.default_language = "it".into();
        }
        self.sla_minutes = self.sla_minutes.max(1);
        self.auto_reply.every_hours = self.auto_reply.every_hours.max(1);
        Ok(self)
    }
}

/// "09:30" as minutes since midnight ("24:00" allowed as the end of a day).
fn hhmm(s: &str) -> Option<i32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

impl Store {
    pub fn care_settings(&self) -> Result<CareSettings> {
        Ok(match self.get_setting(KEY)? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => CareSettings::default(),
        })
    }

    /// Saves the care settings; refuses unknown time zones, malformed hours and dates.
    pub fn save_care_settings(&self, settings: &CareSettings) -> Result<CareSettings> {
        let clean = settings.clone().validate()?;
        self.set_setting(KEY, &serde_json::to_string(&clean)?)?;
        Ok(clean)
    }
}

/// Why a message got no automatic reply (for tests and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAutoReply {
    Disabled,
    /// Not a fresh inbound message (a backlog, our own message, a note).
    NotFresh,
    ShopOpen,
    /// Mail sent by a machine (RFC 3834 and list headers, no-reply senders): answering could
    /// start a mail loop or spam a list.
    AutomaticMail(&'static str),
    /// The platform's messaging window is closed (or the customer never wrote).
    OutsideWindow,
    /// One was already sent in this conversation within `every_hours`.
    RecentlySent,
    NoTextForChannel,
    /// The account cannot send (imported mail).
    CannotSend,
}

/// What the decision looks at.
#[derive(Debug, Clone)]
pub struct AutoReplyCase<'a> {
    pub channel: ChannelKind,
    /// The message's channel facts (email: `auto_submitted`, `precedence`, `list_id`,
    /// `return_path`...).
    pub meta: &'a serde_json::Value,
    pub sender_handle: &'a str,
    pub message_at: i64,
    pub now: i64,
    /// When the customer last wrote in the conversation (the window's start).
    pub last_inbound_at: Option<i64>,
    /// When the conversation last got an automatic reply.
    pub last_auto_reply_at: Option<i64>,
}

/// Whether to answer this inbound message automatically, and with which (unrendered) text.
pub fn auto_reply_decision<'s>(
    settings: &'s CareSettings,
    case: &AutoReplyCase,
) -> std::result::Result<&'s str, NoAutoReply> {
    if !settings.auto_reply.enabled {
        return Err(NoAutoReply::Disabled);
    }
    if case.now - case.message_at > AUTO_REPLY_MAX_AGE_MS {
        return Err(NoAutoReply::NotFresh);
    }
    if settings.is_open_at(case.message_at) {
        return Err(NoAutoReply::ShopOpen);
    }
    if let Some(reason) = automatic_mail(case.meta, case.sender_handle) {
        return Err(NoAutoReply::AutomaticMail(reason));
    }
    if !window_open(case.channel, case.last_inbound_at, case.now) {
        return Err(NoAutoReply::OutsideWindow);
    }
    let every = i64::from(settings.auto_reply.every_hours.max(1)) * HOUR_MS;
    if case
        .last_auto_reply_at
        .is_some_and(|t| case.now - t < every)
    {
        return Err(NoAutoReply::RecentlySent);
    }
    settings
        .auto_reply_text(case.channel)
        .ok_or(NoAutoReply::NoTextForChannel)
}

/// Whether free text may be sent now on a channel whose customer last wrote at
/// `last_inbound_at` (WhatsApp, Messenger, Instagram: 24 hours; email, Telegram: always).
pub fn window_open(channel: ChannelKind, last_inbound_at: Option<i64>, now: i64) -> bool {
    match channel {
        ChannelKind::Email | ChannelKind::Telegram => true,
        ChannelKind::Whatsapp | ChannelKind::Messenger | ChannelKind::Instagram => {
            last_inbound_at.is_some_and(|t| now < t + CHAT_WINDOW_MS)
        }
    }
}

/// Why a message looks machine-sent, or `None` for a person's message.
///
/// RFC 3834 §2: never answer a message whose `Auto-Submitted` is anything but `no`; also mail
/// with `Precedence: bulk/list/junk`, a `List-Id` (mailing lists), an empty `Return-Path`
/// (bounces), `X-Autoreply`/`X-Autorespond`, and senders like noreply@ or mailer-daemon@.
pub fn automatic_mail(meta: &serde_json::Value, sender: &str) -> Option<&'static str> {
    let text = |k: &str| {
        meta.get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_ascii_lowercase())
    };
    if let Some(v) = text("auto_submitted") {
        let value = v.split(';').next().unwrap_or("").trim().to_string();
        if !value.is_empty() && value != "no" {
            return Some("auto_submitted");
        }
    }
    if let Some(v) = text("precedence")
        && matches!(v.as_str(), "bulk" | "list" | "junk")
    {
        return Some("precedence");
    }
    if text("list_id").is_some_and(|v| !v.is_empty()) {
        return Some("list_id");
    }
    if text("return_path").is_some_and(|v| v == "<>" || v.is_empty()) {
        return Some("empty_return_path");
    }
    if meta.get("auto_reply_header").and_then(|v| v.as_bool()) == Some(true) {
        return Some("x_autoreply");
    }
    let local = sender
        .trim()
        .rsplit_once('@')
        .map(|(l, _)| l)
        .unwrap_or("")
        .to_ascii_lowercase();
    let squashed: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if squashed.starts_with("noreply")
        || squashed.starts_with("donotreply")
        || squashed.starts_with("mailerdaemon")
        || squashed == "postmaster"
        || squashed.starts_with("bounce")
    {
        return Some("no_reply_sender");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn week_hours() -> CareSettings {
        let mut s = CareSettings::default();
        for d in 1..=5 {
            s.business_hours.push(OpeningHours {
                weekday: d,
                open: "09:00".into(),
                close: "13:00".into(),
            });
            s.business_hours.push(OpeningHours {
                weekday: d,
                open: "14:00".into(),
                close: "18:00".into(),
            });
        }
        s.holidays = vec!["12-25".into(), "2025-04-21".into()];
        s
    }

    /// Milliseconds of a local time in Rome.
    fn rome(s: &str) -> i64 {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn business_hours_follow_the_shop_time_zone_and_holidays() {
        let s = week_hours();
        assert!(s.is_open_at(rome("2025-03-05T10:00"))); // Wednesday morning
        assert!(!s.is_open_at(rome("2025-03-05T13:30"))); // lunch
        assert!(!s.is_open_at(rome("2025-03-05T18:00"))); // closing time is exclusive
        assert!(!s.is_open_at(rome("2025-03-08T10:00"))); // Saturday
        assert!(!s.is_open_at(rome("2025-12-25T10:00"))); // Christmas, a Thursday
        assert!(!s.is_open_at(rome("2025-04-21T10:00"))); // Easter Monday 2025
        // Summer time: 09:30 in Rome is 07:30 UTC.
        assert!(s.is_open_at(rome("2025-07-02T09:30")));
        assert!(CareSettings::default().is_open_at(rome("2025-03-08T03:00")));
    }

    #[test]
    fn rfc_3834_and_list_mail_is_automatic() {
        let person = "maria@example.com";
        assert_eq!(automatic_mail(&json!({}), person), None);
        assert_eq!(
            automatic_mail(&json!({"auto_submitted": "no"}), person),
            None
        );
        assert_eq!(
            automatic_mail(&json!({"auto_submitted": "No"}), person),
            None
        );
        for v in [
            "auto-replied",
            "auto-generated",
            "auto-notified; owner-email=x@y",
        ] {
            assert_eq!(
                automatic_mail(&json!({ "auto_submitted": v }), person),
                Some("auto_submitted"),
                "{v}"
            );
        }
        for v in ["bulk", "list", "junk", "Bulk"] {
            assert_eq!(
                automatic_mail(&json!({ "precedence": v }), person),
                Some("precedence")
            );
        }
        assert_eq!(
            automatic_mail(&json!({"precedence": "first-class"}), person),
            None
        );
        assert_eq!(
            automatic_mail(&json!({"list_id": "<news.shop.example>"}), person),
            Some("list_id")
        );
        assert_eq!(
            automatic_mail(&json!({"return_path": "<>"}), person),
            Some("empty_return_path")
        );
        assert_eq!(
            automatic_mail(&json!({"auto_reply_header": true}), person),
            Some("x_autoreply")
        );
        for sender in [
            "noreply@amazon.it",
            "no-reply@poste.it",
            "No_Reply@x.it",
            "do-not-reply@x.it",
            "MAILER-DAEMON@mx.example",
            "postmaster@example.com",
            "bounces+123@sendgrid.net",
        ] {
            assert_eq!(
                automatic_mail(&json!({}), sender),
                Some("no_reply_sender"),
                "{sender}"
            );
        }
        assert_eq!(automatic_mail(&json!({}), "noemi@example.com"), None);
    }

    #[test]
    fn chat_windows() {
        let now = 100 * HOUR_MS;
        assert!(window_open(ChannelKind::Email, None, now));
        assert!(window_open(ChannelKind::Telegram, None, now));
        for c in [
            ChannelKind::Whatsapp,
            ChannelKind::Messenger,
            ChannelKind::Instagram,
        ] {
            assert!(window_open(c, Some(now - HOUR_MS), now));
            assert!(!window_open(c, Some(now - 25 * HOUR_MS), now));
            assert!(!window_open(c, None, now));
        }
    }

    #[test]
    fn decision_rules() {
        let mut s = week_hours();
        s.auto_reply.enabled = true;
        s.auto_reply.per_channel = vec![ChannelText {
            channel: ChannelKind::Telegram,
            text: String::new(),
        }];
        let night = rome("2025-03-05T22:00");
        let meta = json!({});
        let case = AutoReplyCase {
            channel: ChannelKind::Whatsapp,
            meta: &meta,
            sender_handle: "+393471234567",
            message_at: night,
            now: night + 60_000,
            last_inbound_at: Some(night),
            last_auto_reply_at: None,
        };
        assert!(auto_reply_decision(&s, &case).is_ok());
        let day = AutoReplyCase {
            message_at: rome("2025-03-05T10:00"),
            now: rome("2025-03-05T10:01"),
            ..case.clone()
        };
        assert_eq!(auto_reply_decision(&s, &day), Err(NoAutoReply::ShopOpen));
        let recent = AutoReplyCase {
            last_auto_reply_at: Some(night - 11 * HOUR_MS),
            ..case.clone()
        };
        assert_eq!(
            auto_reply_decision(&s, &recent),
            Err(NoAutoReply::RecentlySent)
        );
        let long_ago = AutoReplyCase {
            last_auto_reply_at: Some(night - 13 * HOUR_MS),
            ..case.clone()
        };
        assert!(auto_reply_decision(&s, &long_ago).is_ok());
        let late = AutoReplyCase {
            now: night + 25 * HOUR_MS,
            message_at: night + 23 * HOUR_MS,
            ..case.clone()
        };
        // The customer last wrote more than 24 hours before now: the window is closed.
        assert_eq!(
            auto_reply_decision(&s, &late),
            Err(NoAutoReply::OutsideWindow)
        );
        let backlog = AutoReplyCase {
            now: night + 3 * HOUR_MS,
            ..case.clone()
        };
        assert_eq!(
            auto_reply_decision(&s, &backlog),
            Err(NoAutoReply::NotFresh)
        );
        let telegram = AutoReplyCase {
            channel: ChannelKind::Telegram,
            ..case.clone()
        };
        assert_eq!(
            auto_reply_decision(&s, &telegram),
            Err(NoAutoReply::NoTextForChannel)
        );
        s.auto_reply.enabled = false;
        assert_eq!(auto_reply_decision(&s, &case), Err(NoAutoReply::Disabled));
    }

    #[test]
    fn settings_are_validated() {
        let mut s = CareSettings {
            timezone: "Mars/Olympus".into(),
            ..Default::default()
        };
        assert!(s.clone().validate().is_err());
        s.timezone = "Europe/Rome".into();
        s.holidays = vec!["natale".into()];
        assert!(s.clone().validate().is_err());
        s.holidays = vec!["12-25".into(), "2025-01-06".into()];
        s.business_hours = vec![OpeningHours {
            weekday: 1,
            open: "18:00".into(),
            close: "09:00".into(),
        }];
        assert!(s.clone().validate().is_err());
        s.business_hours.clear();
        assert!(s.validate().is_ok());
    }
}
