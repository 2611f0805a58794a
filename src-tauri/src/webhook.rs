//! Starts the webhook receiver of `sportello-messaging` with the window: WhatsApp's Cloud API
//! delivers only there, Messenger and Instagram optionally.
//!
//! It always listens, on loopback only, on the port in the settings (8787 unless changed):
//! nothing outside this computer reaches it except through the tunnel the shop sets up, and it
//! refuses every delivery that is not signed with the app secret of one of our accounts (it
//! looks accounts up on each request). Listening from the start means an account added in the
//! window receives at once, with no restart. If the port is taken (for example by
//! `sportello-cli daemon`), the app works on and the account dialog says why.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sportello_core::supervisor::Supervisor;
use sportello_core::{Error, Store};
use sportello_messaging::webhook::{META_PATH, Receiver, WHATSAPP_PATH};
use tokio_util::sync::{CancellationToken, DropGuard};
use ts_rs::TS;

/// Where Meta must deliver, for the account dialog.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct WebhookInfo {
    /// `http://127.0.0.1:PORT` once listening; `None` while starting or if it could not.
    pub url: Option<String>,
    pub port: u16,
    /// `/webhooks/whatsapp`, `/webhooks/meta`: appended to the tunnel's address.
    pub paths: Vec<String>,
    /// Why it is not listening (the port is taken...).
    pub error: Option<Error>,
}

/// The running receiver; dropping it stops listening.
pub struct Webhook {
    info: Mutex<WebhookInfo>,
    _stop: DropGuard,
}

impl Webhook {
    pub fn info(&self) -> WebhookInfo {
        self.info.lock().expect("webhook info").clone()
    }
}

/// Starts listening on loopback; a message stored from a delivery wakes its account's worker
/// (which downloads the media right away).
pub fn start(store: Store, supervisor: Arc<Supervisor>) -> Arc<Webhook> {
    let port = store.settings().unwrap_or_default().webhook_port;
    let cancel = CancellationToken::new();
    let webhook = Arc::new(Webhook {
        info: Mutex::new(WebhookInfo {
            url: None,
            port,
            paths: vec![WHATSAPP_PATH.into(), META_PATH.into()],
            error: None,
        }),
        _stop: cancel.clone().drop_guard(),
    });
    let running = webhook.clone();
    tauri::async_runtime::spawn(async move {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let served = Receiver::new(store)
            .on_stored(Arc::new(move |account| supervisor.wake(Some(account))))
            .serve(addr, cancel)
            .await;
        let mut info = running.info.lock().expect("webhook info");
        match served {
            Ok((bound, _server)) => {
                tracing::info!("webhook receiver on http://{bound}");
                info.url = Some(format!("http://{bound}"));
            }
            Err(e) => {
                tracing::warn!("no webhook receiver: {}", e.message);
                info.error = Some(e);
            }
        }
    });
    webhook
}
