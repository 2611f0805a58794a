//! The real app window under Xvfb, driven through tauri-driver + WebKitWebDriver: an email
//! account on the local Dovecot syncs and its conversation shows in the window.
//!
//! Needs the app built with `--features custom-protocol` and tauri-driver; `.ci/test` provides
//! both (SPORTELLO_APP, TAURI_DRIVER) and a D-Bus session with an unlocked keyring and a display.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::mail::MailServers;

/// A minimal W3C WebDriver client: just what these tests use.
struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    process: Child,
}

impl Driver {
    async fn start(app: &str, data_dir: &std::path::Path) -> Driver {
        let driver = std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into());
        let port = 4444 + (std::process::id() % 1000) as u16;
        let native_port = port + 1000;
        let process = Command::new(&driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("SPORTELLO_DATA_DIR", data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tauri-driver ({driver}): {e}"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let session = loop {
            let attempt = http
                .post(format!("{base}/session"))
                .json(&json!({"capabilities": {"alwaysMatch": {
                    "tauri:options": {"application": app}
                }}}))
                .send()
                .await;
            if let Ok(resp) = attempt {
                let body: Value = resp.json().await.expect("session answer");
                let id = body["value"]["sessionId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("tauri-driver refused the session: {body}"));
                break id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not answer on {base}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Driver {
            http,
            base,
            session,
            process,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("webdriver request");
        resp.json::<Value>().await.expect("webdriver answer")["value"].clone()
    }

    /// Waits until an element matching the XPath exists; returns its id.
    async fn wait_for(&self, xpath: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "xpath", "value": xpath})),
                )
                .await;
            if let Some(id) = v
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|v| v.as_str())
            {
                return id.to_string();
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "no element {xpath} after {timeout:?} (screenshot: {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Saves a screenshot under tests/artifacts/ and returns its path.
    async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_default();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("window-{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // WebKitWebDriver allows one session: always end it, then stop the driver.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { reqwest::Client::new().delete(url).send().await })
        })
        .join();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built app and tauri-driver under a display; run by .ci/test"]
async fn the_window_shows_a_conversation_synced_from_dovecot() {
    let app = std::env::var("SPORTELLO_APP")
        .expect("SPORTELLO_APP must point at the app built with --features custom-protocol");
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        concat!(
            "From: Maria Rossi <maria.rossi@example.com>\r\n",
            "To: Negozio <negozio@localhost>\r\n",
            "Subject: Ordine 1042 - quando arriva?\r\n",
            "Message-ID: <ordine-1042@example.com>\r\n",
            "Date: Mon, 23 Nov 2026 09:15:00 +0100\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "\r\n",
            "Buongiorno, il mio ordine =C3=A8 partito? Grazie mille!\r\n"
        )
        .as_bytes(),
    );
    let data = tempfile::tempdir().unwrap();
    {
        let store = sportello_core::Store::open(data.path()).unwrap();
        sportello_email::add_account(&store, &servers.account_input()).unwrap();
    }

    let driver = Driver::start(&app, data.path()).await;
    let row = driver
        .wait_for(
            "//*[@data-testid='conversation-row'][contains(., 'Maria Rossi')]",
            Duration::from_secs(60),
        )
        .await;
    driver.screenshot("1-inbox").await;
    driver.click(&row).await;
    let body = driver
        .wait_for(
            "//*[contains(text(), 'il mio ordine è partito')]",
            Duration::from_secs(20),
        )
        .await;
    assert!(driver.text(&body).await.contains("Grazie mille"));
    driver.screenshot("2-conversation").await;
}
