//! The one change stream: every committed write to the store is described by a [`Change`];
//! the desktop shell batches them into one UI event and the notifier reads the same stream.

use serde::Serialize;
use ts_rs::TS;

use crate::model::ChannelKind;

/// A new inbound message worth telling the user about.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct InboundNote {
    #[ts(type = "number")]
    pub message_id: i64,
    #[ts(type = "number")]
    pub conversation_id: i64,
    pub channel: ChannelKind,
    pub sender: String,
    pub preview: String,
}

/// Messages fetched by a first (or catch-up) sync: one summary instead of one note each.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SyncSummary {
    #[ts(type = "number")]
    pub account_id: i64,
    pub account_name: String,
    pub new_messages: u32,
}

/// What changed in one committed write (or, once batched, in several).
#[derive(Debug, Clone, Default, Serialize, TS)]
#[ts(export)]
pub struct Change {
    /// Conversations whose row or messages changed.
    #[ts(type = "number[]")]
    pub conversations: Vec<i64>,
    /// Accounts added, removed or whose status changed.
    #[ts(type = "number[]")]
    pub accounts: Vec<i64>,
    pub inbound: Vec<InboundNote>,
    pub summaries: Vec<SyncSummary>,
    /// Snoozed conversations that reopened by themselves (the shell notifies).
    #[ts(as = "Option<Vec<SnoozeNote>>", optional)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub woke: Vec<SnoozeNote>,
}

/// A snoozed conversation whose time came: it is open again.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct SnoozeNote {
    #[ts(type = "number")]
    pub conversation_id: i64,
    pub channel: ChannelKind,
    pub contact_name: String,
    /// The last message, as in the list.
    pub preview: String,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.accounts.is_empty()
            && self.inbound.is_empty()
            && self.summaries.is_empty()
            && self.woke.is_empty()
    }

    /// Folds `other` into `self`, keeping ids unique.
    pub fn merge(&mut self, other: Change) {
        for id in other.conversations {
            if !self.conversations.contains(&id) {
                self.conversations.push(id);
            }
        }
        for id in other.accounts {
            if !self.accounts.contains(&id) {
                self.accounts.push(id);
            }
        }
        self.inbound.extend(other.inbound);
        self.summaries.extend(other.summaries);
        self.woke.extend(other.woke);
    }
}
