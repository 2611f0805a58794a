//! The real app window under Xvfb, driven through tauri-driver + WebKitWebDriver, end to end:
//! first launch shows onboarding → an email account on the local Dovecot is added through the
//! dialog → its messages appear → a new message delivered to the server shows in the list and
//! as a desktop notification in dunst → it opens → a reply goes out over SMTP with the right
//! threading headers → after a restart everything is still there. Each step is screenshotted
//! into tests/artifacts/ (the README's screenshot comes from this run).
//!
//! Needs the app built with `--features custom-protocol` and tauri-driver; `.ci/test` provides
//! both (SPORTELLO_APP, TAURI_DRIVER) and a D-Bus session with an unlocked keyring and a display.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::mail::{MailServers, PASSWORD, USER, customer_mail};
use crate::support::wait_until;

/// The W3C WebDriver key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

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
            // The first users are Italian: the window follows the OS language.
            .env("LANG", "it_IT.UTF-8")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tauri-driver ({driver}): {e}"));
        // Every WebDriver answer within a bound: a window that stops answering fails the test
        // with a message instead of hanging the run.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
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
            match attempt {
                Ok(resp) => {
                    let body: Value = resp.json().await.expect("session answer");
                    let id = body["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("tauri-driver refused the session: {body}"));
                    break id.to_string();
                }
                // Started but silent: the window never became ready for WebDriver.
                Err(e) if e.is_timeout() => panic!("no WebDriver session on {base}: {e}"),
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "tauri-driver did not answer on {base}: {e}"
                ),
            }
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
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("webdriver request {path}: {e}"));
        resp.json::<Value>()
            .await
            .unwrap_or_else(|e| panic!("webdriver answer to {path}: {e}"))["value"]
            .clone()
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
            if let Some(id) = v.get(ELEMENT_KEY).and_then(|v| v.as_str()) {
                return id.to_string();
            }
            // "no such element" means not yet; any other error (the app died) ends the test.
            if let Some(error) = v.get("error").and_then(|e| e.as_str())
                && error != "no such element"
            {
                panic!("webdriver error while looking for {xpath}: {v}");
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout").await;
                panic!(
                    "no element {xpath} after {timeout:?} (last answer {v}; screenshot: {})",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits for the XPath, then clicks it.
    async fn click_on(&self, xpath: &str) {
        let element = self.wait_for(xpath, Duration::from_secs(20)).await;
        self.click(&element).await;
    }

    /// Replaces the value of the input matched by `data-testid`.
    async fn fill(&self, testid: &str, text: &str) {
        let element = self
            .wait_for(
                &format!("//*[@data-testid='{testid}']"),
                Duration::from_secs(10),
            )
            .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
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

    /// Saves a screenshot of the window under tests/artifacts/ and returns its path.
    ///
    /// Taken from the X server (ImageMagick's `import`), not with WebDriver's screenshot:
    /// WebKitWebDriver's snapshot never answers when the page is drawn without GPU
    /// compositing, as Sportello draws it on Linux; and the display is what the user sees.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("window-{name}.png"));
        // The main window (found by its exact title: `import -window NAME` takes the tray
        // icon's window, also named "sportello"), the notifications over it included; the
        // whole display when there is no such window.
        let window = Command::new("xwininfo")
            .args(["-name", "Sportello"])
            .output()
            .ok()
            .and_then(|o| {
                let info = String::from_utf8_lossy(&o.stdout).into_owned();
                let id = info
                    .split("Window id: ")
                    .nth(1)?
                    .split_whitespace()
                    .next()?;
                Some(id.to_string())
            });
        let mut error = String::new();
        for window in window.iter().map(String::as_str).chain(["root"]) {
            let shot = Command::new("import")
                .args(["-window", window])
                .arg(&path)
                .output()
                .expect("ImageMagick's import (installed by .ci/setup test)");
            if shot.status.success() {
                return path;
            }
            error = String::from_utf8_lossy(&shot.stderr).into_owned();
        }
        panic!("import -window root {}: {error}", path.display())
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
            rt.block_on(async {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()?;
                http.delete(url).send().await
            })
        })
        .join();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Waits until the app started by a previous session has exited (one instance at a time).
fn wait_for_exit(app: &str) {
    wait_until(
        "the previous app process to exit",
        Duration::from_secs(20),
        || {
            let out = Command::new("pgrep").args(["-f", app]).output().ok()?;
            out.stdout.is_empty().then_some(())
        },
    );
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let prefix = format!("{}:", name.to_ascii_lowercase());
    text.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

/// dunst's history, asked over D-Bus with `dbus-send` (`dunstctl history` calls systemd's
/// `busctl`, which a machine without systemd lacks: a fresh Debian chroot has none).
fn notifications_shown() -> String {
    Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            "org.dunstproject.cmd0.NotificationListHistory",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// One app window at a time: Sportello is single-instance.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built app and tauri-driver under a display; run by .ci/test"]
async fn first_launch_to_reply_and_restart_in_the_real_window() {
    let _one = ONE_WINDOW.lock().await;
    let app = std::env::var("SPORTELLO_APP")
        .expect("SPORTELLO_APP must point at the app built with --features custom-protocol");
    assert!(
        std::env::var_os("SPORTELLO_TEST_SESSION").is_some(),
        "run inside tests/session.sh (display, D-Bus, keyring, dunst)"
    );
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        concat!(
            "From: Maria Rossi <maria.rossi@example.com>\r\n",
            "To: Negozio <negozio@localhost>\r\n",
            "Subject: Ordine 1042 - quando arriva?\r\n",
            "Message-ID: <ordine-1042@example.com>\r\n",
            "Date: Mon, 23 Nov 2026 09:15:00 +0100\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "\r\n",
            "Buongiorno, il mio ordine =C3=A8 partito? Grazie mille!\r\n"
        )
        .as_bytes(),
    );
    let input = servers.account_input();
    let data = tempfile::tempdir().unwrap();

    {
        let driver = Driver::start(&app, data.path()).await;
        // First launch: onboarding, then the account dialog.
        driver
            .wait_for("//*[@data-testid='welcome']", Duration::from_secs(30))
            .await;
        driver.screenshot("1-welcome").await;
        driver
            .click_on("(//*[@data-testid='welcome']//button)[1]")
            .await;
        driver.fill("account-address", USER).await;
        driver.fill("account-password", PASSWORD).await;
        driver
            .click_on("//select[@data-testid='account-imap-security']/option[@value='plain']")
            .await;
        driver
            .click_on("//select[@data-testid='account-smtp-security']/option[@value='plain']")
            .await;
        driver.fill("account-imap-host", &input.imap_host).await;
        driver
            .fill("account-imap-port", &input.imap_port.to_string())
            .await;
        driver.fill("account-smtp-host", &input.smtp_host).await;
        driver
            .fill("account-smtp-port", &input.smtp_port.to_string())
            .await;
        driver.click_on("//*[@data-testid='account-test']").await;
        driver
            .wait_for("//*[@data-result='ok']", Duration::from_secs(30))
            .await;
        driver.screenshot("2-account").await;
        driver.click_on("//*[@data-testid='account-save']").await;

        // The first sync brings Maria's message.
        driver
            .wait_for(
                "//*[@data-testid='conversation-row'][contains(., 'Maria Rossi')]",
                Duration::from_secs(60),
            )
            .await;
        driver.screenshot("3-inbox").await;

        // New mail on the server: it shows in the list and as a desktop notification.
        servers.deliver(
            "INBOX",
            &customer_mail(
                "Luca Bianchi <luca.bianchi@example.com>",
                "Reso taglia M",
                "reso-77@example.com",
                "Ciao, vorrei cambiare la taglia della felpa: è possibile?",
            ),
        );
        let row = driver
            .wait_for(
                "//*[@data-testid='conversation-row'][contains(., 'Luca Bianchi')]",
                Duration::from_secs(90),
            )
            .await;
        let shown = wait_until(
            "a notification for Luca's message",
            Duration::from_secs(20),
            || {
                let history = notifications_shown();
                history.contains("Luca Bianchi").then_some(history)
            },
        );
        assert!(
            shown.contains("cambiare la taglia"),
            "the preview is shown: {shown}"
        );
        driver.screenshot("4-new-message").await;

        // Open it and reply.
        driver.click(&row).await;
        driver
            .wait_for(
                "//*[@data-testid='thread']//*[contains(text(), 'cambiare la taglia')]",
                Duration::from_secs(20),
            )
            .await;
        driver
            .fill(
                "composer",
                "Certo! Ti mando subito l'etichetta per il reso.",
            )
            .await;
        driver.screenshot("5-conversation").await;
        driver.click_on("//*[@data-testid='send']").await;
        let received = servers.wait_received(1, Duration::from_secs(60));
        let reply = &received[0];
        assert_eq!(
            header(reply, "In-Reply-To").as_deref(),
            Some("<reso-77@example.com>")
        );
        assert!(
            header(reply, "References")
                .unwrap_or_default()
                .contains("<reso-77@example.com>")
        );
        assert!(
            header(reply, "Subject")
                .unwrap_or_default()
                .contains("Reso taglia M")
        );
        assert!(header(reply, "From").unwrap_or_default().contains(USER));
        assert!(String::from_utf8_lossy(reply).contains("etichetta per il reso"));
        driver
            .wait_for(
                "//*[@data-testid='thread']//*[contains(text(), 'etichetta per il reso')]",
                Duration::from_secs(20),
            )
            .await;
        // Delivered: the bubble says so (the window speaks Italian here).
        driver
            .wait_for(
                "//*[@data-testid='thread']//*[normalize-space(text())='Inviato']",
                Duration::from_secs(20),
            )
            .await;
        driver.screenshot("6-replied").await;
    }

    // Restart: the same data, nothing lost.
    wait_for_exit(&app);
    let driver = Driver::start(&app, data.path()).await;
    driver
        .wait_for(
            "//*[@data-testid='conversation-row'][contains(., 'Maria Rossi')]",
            Duration::from_secs(30),
        )
        .await;
    driver
        .click_on("//*[@data-testid='conversation-row'][contains(., 'Luca Bianchi')]")
        .await;
    driver
        .wait_for(
            "//*[@data-testid='thread']//*[contains(text(), 'etichetta per il reso')]",
            Duration::from_secs(20),
        )
        .await;
    let thread = driver
        .wait_for("//*[@data-testid='thread']", Duration::from_secs(5))
        .await;
    let text = driver.text(&thread).await;
    assert!(
        text.contains("cambiare la taglia") && text.contains("etichetta per il reso"),
        "{text}"
    );
    // It stays open (start-up refreshes must not close the conversation the user picked).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = driver
        .wait_for("//*[@data-testid='thread']", Duration::from_secs(1))
        .await;
    assert!(driver.text(&still).await.contains("etichetta per il reso"));
    driver.screenshot("7-after-restart").await;
    assert_eq!(
        servers.received().len(),
        1,
        "the reply was sent exactly once"
    );
    drop(driver);
    wait_for_exit(&app);

    // After the whole run, the password is nowhere in the data folder: not in the database
    // (nor its WAL), the blobs, or the logs. It lives only in the keyring.
    let logs = data.path().join("logs");
    assert!(
        logs.read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "the app logs"
    );
    let log: String = logs
        .read_dir()
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        log.contains("without GPU compositing"),
        "Linux draws the window in software:\n{log}"
    );
    assert!(
        log.contains("start-up after launch: page ") && log.contains("painted_unix_ms="),
        "the restarted window reported when it painted the inbox:\n{log}"
    );
    let mut scanned = 0;
    let mut stack = vec![data.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            scanned += 1;
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "the password is written in {}",
                path.display()
            );
        }
    }
    assert!(
        scanned >= 3,
        "the data folder holds the database and the logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the .deb installed with dpkg; run by .ci/test"]
async fn the_installed_deb_starts_and_shows_the_inbox() {
    let _one = ONE_WINDOW.lock().await;
    let app = std::env::var("SPORTELLO_INSTALLED_APP")
        .expect("SPORTELLO_INSTALLED_APP must point at the app installed from the .deb");
    assert!(
        app.starts_with("/usr/"),
        "{app} should be the packaged binary, not a build"
    );
    let package = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", "sportello"])
        .output()
        .expect("dpkg-query");
    let status = String::from_utf8_lossy(&package.stdout);
    assert!(
        status.starts_with("install ok installed"),
        "sportello package: {status}"
    );
    assert!(
        std::path::Path::new("/usr/share/applications/Sportello.desktop").exists(),
        "the package installs a menu entry"
    );

    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(&app, data.path()).await;
    driver
        .wait_for("//*[@data-testid='welcome']", Duration::from_secs(30))
        .await;
    let inbox = driver
        .wait_for("//nav | //aside", Duration::from_secs(5))
        .await;
    assert!(
        driver.text(&inbox).await.contains("In arrivo"),
        "the inbox view is shown"
    );
    driver.screenshot("deb-installed").await;
}
