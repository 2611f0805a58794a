//! A store in a temp folder with one email account and its channel, for tests that drive the
//! email channel directly against `mail`'s servers (the password is handed to the channel, so
//! no keyring is needed).

use sportello_core::Store;
use sportello_core::channel::{Channel, SyncContext, SyncReport};
use sportello_core::model::{Account, ChannelKind, Message};
use sportello_core::outbox::{self, Draft};
use sportello_core::store::ConversationQuery;
use sportello_email::{EmailAccountInput, EmailChannel};

pub struct Setup {
    pub data: tempfile::TempDir,
    pub store: Store,
    pub account: Account,
    pub channel: EmailChannel,
}

/// A new store in a temp folder with one account for `input`.
pub fn setup(input: &EmailAccountInput) -> Setup {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let settings = input.validate().unwrap();
    let account = store
        .add_account(
            ChannelKind::Email,
            &input.name,
            &input.address,
            &settings.to_json(),
        )
        .unwrap();
    let channel = EmailChannel::new(account.clone(), settings, input.password.clone());
    Setup {
        data,
        store,
        account,
        channel,
    }
}

impl Setup {
    /// The app restarted: the store and channel closed, a new store opened on the same folder
    /// with the account it kept, and a new channel for it.
    pub fn restart(self, input: &EmailAccountInput) -> Setup {
        let Setup {
            data,
            store,
            account,
            channel,
        } = self;
        drop(channel);
        drop(store);
        let store = Store::open(data.path()).unwrap();
        let account = store.account(account.id).unwrap();
        let channel = EmailChannel::new(
            account.clone(),
            input.validate().unwrap(),
            input.password.clone(),
        );
        Setup {
            data,
            store,
            account,
            channel,
        }
    }

    pub async fn sync(&self) -> SyncReport {
        self.try_sync()
            .await
            .unwrap_or_else(|e| panic!("sync failed: {} ({})", e.message, e.code))
    }

    pub async fn try_sync(&self) -> sportello_core::Result<SyncReport> {
        self.channel
            .sync(&SyncContext::new(self.store.clone(), self.account.clone()))
            .await
    }

    /// Every stored message, by conversation (newest conversation first).
    pub fn threads(&self) -> Vec<Vec<Message>> {
        let mut threads = Vec::new();
        loop {
            let page = self
                .store
                .conversations(&ConversationQuery {
                    offset: threads.len() as u32,
                    limit: 1000,
                    ..Default::default()
                })
                .unwrap();
            if page.items.is_empty() {
                return threads;
            }
            threads.extend(
                page.items
                    .iter()
                    .map(|c| self.store.conversation(c.id).unwrap().messages),
            );
        }
    }

    pub fn messages(&self) -> Vec<Message> {
        self.threads().into_iter().flatten().collect()
    }

    pub fn thread_of(&self, external_id: &str) -> Vec<Message> {
        self.threads()
            .into_iter()
            .find(|t| t.iter().any(|m| m.external_id == external_id))
            .unwrap_or_else(|| panic!("no conversation holds {external_id}"))
    }

    /// The conversation that holds the message `external_id`.
    pub fn conversation_of(&self, external_id: &str) -> i64 {
        self.thread_of(external_id)[0].conversation_id
    }

    pub fn count(&self) -> u64 {
        self.store.stats().unwrap().messages
    }

    /// Queues `text` (no quote) as a reply in `conversation`.
    pub fn reply(&self, conversation: i64, text: &str) -> Message {
        self.store
            .queue_reply(
                conversation,
                &Draft {
                    text: text.into(),
                    quote: false,
                },
            )
            .unwrap()
    }

    /// Sends what the outbox holds: (sent, failed).
    pub async fn flush(&self) -> (u32, u32) {
        outbox::flush(&self.store, &self.channel, &self.account)
            .await
            .unwrap()
    }
}
