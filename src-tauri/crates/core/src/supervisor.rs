//! One worker per account: sync, send what is queued, wait for the next poll (or a wake-up),
//! back off with jitter while offline, and stop retrying when the credentials are refused.
//! Dropping a worker's handle (removing the account) cancels it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channel::{Channel, OpenChannel, SyncContext, SyncReport};
use crate::model::{Account, SyncState};
use crate::{ErrorCode, Result, Store, now_ms, outbox};

pub const DEFAULT_POLL: Duration = Duration::from_secs(60);

/// Runs one sync pass for an account: pull new messages, then send its due replies.
pub async fn run_pass(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
) -> Result<(SyncReport, (u32, u32))> {
    run_pass_with(store, channel, account, false).await
}

/// [`run_pass_with`] for a worker: `wake` (the worker's wake-up) lets a channel that waits on
/// its server end the wait early, e.g. when a reply or a read mark is queued.
pub async fn run_pass_woken(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
    wake: Arc<Notify>,
) -> Result<(SyncReport, (u32, u32))> {
    run_pass_inner(store, channel, account, true, Some(wake)).await
}

/// [`run_pass`] for a background worker, which lets the channel long-poll (`long_poll`).
pub async fn run_pass_with(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
    long_poll: bool,
) -> Result<(SyncReport, (u32, u32))> {
    run_pass_inner(store, channel, account, long_poll, None).await
}

async fn run_pass_inner(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
    long_poll: bool,
    wake: Option<Arc<Notify>>,
) -> Result<(SyncReport, (u32, u32))> {
    let id = account.id;
    let progress_store = store.clone();
    let mut ctx = SyncContext::new(store.clone(), account.clone());
    ctx.long_poll = long_poll;
    ctx.wake = wake;
    ctx.progress = Arc::new(move |p| progress_store.set_progress(id, Some(p)));
    let result = channel.sync(&ctx).await;
    store.set_progress(id, None);
    let report = result?;
    let sent = outbox::flush(store, channel, account).await?;
    Ok((report, sent))
}

struct Worker {
    cancel: CancellationToken,
    wake: Arc<Notify>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub struct Supervisor {
    store: Store,
    open: OpenChannel,
    poll: Duration,
    workers: Mutex<HashMap<i64, Worker>>,
    /// The runtime workers run on, so `start` also works when called from a plain thread (a
    /// desktop shell's synchronous command handler).
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    /// Stops the snooze timer when the supervisor goes.
    timers: CancellationToken,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.timers.cancel();
    }
}

impl Supervisor {
    pub fn new(store: Store, open: OpenChannel, poll: Duration) -> Arc<Self> {
        Arc::new(Supervisor {
            store,
            open,
            poll,
            workers: Mutex::new(HashMap::new()),
            runtime: Mutex::new(tokio::runtime::Handle::try_current().ok()),
            timers: CancellationToken::new(),
        })
    }

    /// Starts a worker for every account. Must run inside a Tokio runtime.
    pub fn start_all(self: &Arc<Self>) -> Result<()> {
        *self.runtime.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(tokio::runtime::Handle::current());
        let recovered = self.store.recover_outbox()?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "replies interrupted while sending are shown as failed"
            );
        }
        for account in self.store.accounts()? {
            self.start(account.id);
        }
        let (store, cancel) = (self.store.clone(), self.timers.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = snooze_timer(store) => {}
            }
        });
        Ok(())
    }

    /// Starts (or restarts) the worker of one account.
    pub fn start(self: &Arc<Self>, account_id: i64) {
        let cancel = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let worker = Worker {
            cancel: cancel.clone(),
            wake: wake.clone(),
        };
        // Replacing a previous handle cancels that worker.
        self.lock().insert(account_id, worker);
        let this = self.clone();
        let runtime = tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| {
                self.runtime
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            })
            .expect("Supervisor::start needs a Tokio runtime: call start_all inside one first");
        runtime.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = this.work(account_id, wake) => {}
            }
        });
    }

    pub fn stop(&self, account_id: i64) {
        self.lock().remove(&account_id);
    }

    /// Syncs now: one account, or all when `None`.
    pub fn wake(&self, account_id: Option<i64>) {
        for (id, w) in self.lock().iter() {
            if account_id.is_none() || account_id == Some(*id) {
                w.wake.notify_one();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Worker>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn work(&self, account_id: i64, wake: Arc<Notify>) {
        let mut failures: u32 = 0;
        // The channel of the last successful pass, reused while the account's settings stay
        // the same: it keeps what it learned (an email channel keeps its IMAP connection).
        let mut kept: Option<(serde_json::Value, Arc<dyn Channel>)> = None;
        loop {
            let Ok(account) = self.store.account(account_id) else {
                return;
            };
            let reuse = kept
                .take()
                .filter(|(settings, _)| *settings == account.settings);
            let channel = match reuse
                .map(|(_, c)| Ok(Some(c)))
                .unwrap_or_else(|| (self.open)(&self.store, &account))
            {
                Ok(Some(c)) => c,
                Ok(None) => {
                    let _ = self
                        .store
                        .set_account_state(account_id, SyncState::Local, None, false);
                    return;
                }
                Err(e) => {
                    let _ = self.store.set_account_state(
                        account_id,
                        SyncState::NeedsAttention,
                        Some(&e),
                        false,
                    );
                    wake.notified().await;
                    continue;
                }
            };
            let _ = self.store.set_account_state(
                account_id,
                SyncState::Syncing,
                account.status.last_error.as_ref(),
                false,
            );
            let delay = match run_pass_woken(&self.store, channel.as_ref(), &account, wake.clone())
                .await
            {
                Ok((report, (sent, failed))) => {
                    failures = 0;
                    tracing::info!(account_id, stored = report.stored, sent, failed, "synced");
                    let _ = self
                        .store
                        .set_account_state(account_id, SyncState::Idle, None, true);
                    let delay = channel.poll_interval().unwrap_or(self.poll);
                    kept = Some((account.settings.clone(), channel));
                    delay
                }
                Err(e)
                    if matches!(
                        e.code,
                        ErrorCode::AuthFailed | ErrorCode::SignInAgain | ErrorCode::Keyring
                    ) =>
                {
                    // A refused password will be refused again: wait for the user, no storm.
                    tracing::warn!(account_id, code = %e.code, "needs attention: {}", e.message);
                    let _ = self.store.set_account_state(
                        account_id,
                        SyncState::NeedsAttention,
                        Some(&e),
                        false,
                    );
                    wake.notified().await;
                    continue;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(account_id, code = %e.code, failures, "sync failed: {}", e.message);
                    let _ = self.store.set_account_state(
                        account_id,
                        SyncState::Offline,
                        Some(&e),
                        false,
                    );
                    failure_delay(failures, self.poll, &e)
                }
            };
            // Wake early for a reply whose retry falls due before the next poll.
            let delay = match self.store.next_outbox_due(account_id) {
                Ok(Some(due)) => delay.min(Duration::from_millis((due - now_ms()).max(0) as u64)),
                _ => delay,
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// Reopens snoozed conversations when their time comes (each announced with a `SnoozeNote`
/// for the notifier): checked at the next due time, and at least every 30 seconds so a snooze
/// set meanwhile is not missed by more than that.
pub async fn snooze_timer(store: Store) {
    loop {
        if let Err(e) = store.wake_snoozed(now_ms()) {
            tracing::warn!(code = %e.code, "snoozed conversations not woken: {}", e.message);
        }
        let wait = match store.next_snooze_due() {
            Ok(Some(due)) => (due - now_ms()).clamp(50, 30_000),
            _ => 30_000,
        };
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// Exponential backoff with jitter while a server is unreachable: 2 s, 4 s, 8 s... capped at
/// the poll interval, each shortened by up to a quarter at random so clients spread out.
pub fn retry_delay(failures: u32, cap: Duration) -> Duration {
    let base = Duration::from_secs(1u64 << failures.min(10)).min(cap);
    let jitter = rand::random::<f64>() * 0.25;
    base.mul_f64(1.0 - jitter)
}

/// How long the worker waits after a failed pass: the back-off, but never less than the wait
/// a rate-limited server asked for (capped at an hour, so a wrong answer cannot stall an
/// account for days).
pub fn failure_delay(failures: u32, cap: Duration, error: &crate::Error) -> Duration {
    let backoff = retry_delay(failures, cap);
    match error.retry_after() {
        Some(asked) => backoff.max(asked.min(Duration::from_secs(3600))),
        None => backoff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_server_is_left_alone_for_as_long_as_it_asked() {
        let cap = Duration::from_secs(60);
        let limited =
            crate::Error::new(ErrorCode::RateLimited, "Too Many Requests: retry after 30")
                .with_retry_after(Duration::from_secs(30));
        assert_eq!(failure_delay(1, cap, &limited), Duration::from_secs(30));
        let plain = crate::Error::new(ErrorCode::Network, "unreachable");
        assert!(failure_delay(1, cap, &plain) <= Duration::from_secs(2));
        let absurd = crate::Error::new(ErrorCode::RateLimited, "later")
            .with_retry_after(Duration::from_secs(86_400 * 7));
        assert_eq!(failure_delay(1, cap, &absurd), Duration::from_secs(3600));
        // The wait never reaches the window: errors cross IPC as {code, message} only.
        let json = serde_json::to_value(&limited).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 2, "{json}");
    }

    #[test]
    fn retry_delay_grows_and_stays_under_the_poll_interval() {
        let cap = Duration::from_secs(60);
        let first = retry_delay(1, cap);
        assert!(first <= Duration::from_secs(2) && first >= Duration::from_millis(1500));
        assert!(retry_delay(3, cap) > retry_delay(1, cap));
        assert!(retry_delay(30, cap) <= cap);
    }
}
