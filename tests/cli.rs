//! The `sportello-cli` binary as a script would use it: a temp `--data-dir`, `--json` output,
//! real Dovecot and SMTP servers. Build it first: `cargo build -p sportello-cli`.
//! Commands that save a password need the OS keyring (run inside `tests/session.sh`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sportello_email::{EmailAccountInput, Security};

use crate::support::mail::{
    MailServers, PASSWORD, USER, customer_mail, header, numbered_customer_mail,
};
use crate::support::{cli_binary, keyring_session};

const PASSWORD_VAR: &str = "SPORTELLO_TEST_PASSWORD";

/// One data folder and the CLI run against it.
struct Cli {
    data: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cli_binary());
        cmd.arg("--data-dir")
            .arg(self.data.path())
            .arg("--json")
            .args(args)
            .env(PASSWORD_VAR, PASSWORD)
            .env_remove("SPORTELLO_DATA_DIR")
            .env_remove("SPORTELLO_LOG")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run sportello-cli")
    }

    /// Runs a command that must succeed; returns its JSON output.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sportello-cli {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs a command that must fail; checks the one-line `{"code","message"}` on stderr and
    /// returns it.
    fn fails(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "sportello-cli {} succeeded: {stderr}",
            args.join(" ")
        );
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {stderr:?}");
        let error: Value = serde_json::from_str(lines[0]).unwrap();
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{error}"
        );
        error
    }

    /// Adds an email account for `input`, which must succeed; returns the account's JSON.
    fn add_email(&self, input: &EmailAccountInput) -> Value {
        self.ok(&add_email_args(input)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>())
    }

    fn stats(&self) -> Value {
        self.ok(&["stats"])
    }
}

fn security(s: Security) -> &'static str {
    match s {
        Security::Tls => "tls",
        Security::Starttls => "starttls",
        Security::Plain => "plain",
    }
}

fn add_email_args(input: &EmailAccountInput) -> Vec<String> {
    let mut args: Vec<String> = [
        "account",
        "add-email",
        "--name",
        &input.name,
        "--address",
        &input.address,
        "--imap-host",
        &input.imap_host,
        "--imap-port",
        &input.imap_port.to_string(),
        "--imap-security",
        security(input.imap_security),
        "--smtp-host",
        &input.smtp_host,
        "--smtp-port",
        &input.smtp_port.to_string(),
        "--smtp-security",
        security(input.smtp_security),
        "--password-env",
        PASSWORD_VAR,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(ca) = &input.ca_file {
        args.extend(["--ca-file".to_string(), ca.clone()]);
    }
    args
}

#[test]
fn cli_email_round_trip_add_sync_list_search_reply_stats() {
    if !keyring_session("cli_email_round_trip_add_sync_list_search_reply_stats") {
        return;
    }
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail(
            "Maria Rossi <maria.rossi@example.com>",
            "Ordine 1042 - spedizione",
            "q1042@example.com",
            "Buongiorno, quando arriva la spedizione?",
        ),
    );
    let cli = Cli::new();
    let account = cli.add_email(&servers.account_input_tls());
    let id = account["id"].as_i64().unwrap();
    assert_eq!(account["address"], USER);
    assert!(!account.to_string().contains(PASSWORD));

    let accounts = cli.ok(&["account", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["kind"], "email");
    assert_eq!(cli.ok(&["account", "test", &id.to_string()])["ok"], true);

    let sync = cli.ok(&["sync", "--once"]);
    assert_eq!(sync["accounts"][0]["fetched"], 1, "{sync}");
    assert_eq!(sync["accounts"][0]["stored"], 1, "{sync}");

    let conversations = cli.ok(&["conversations"]);
    assert_eq!(conversations.as_array().unwrap().len(), 1);
    assert_eq!(conversations[0]["contact_name"], "Maria Rossi");
    assert_eq!(conversations[0]["subject"], "Ordine 1042 - spedizione");
    let conversation = conversations[0]["id"].as_i64().unwrap().to_string();

    let messages = cli.ok(&["messages", &conversation]);
    assert_eq!(
        messages[0]["text"],
        "Buongiorno, quando arriva la spedizione?"
    );
    assert_eq!(messages[0]["direction"], "inbound");

    let hits = cli.ok(&["search", "spedizione"]);
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("[spedizione]"),
        "{hits}"
    );
    assert!(
        cli.ok(&["search", "inesistente"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let reply = cli.ok(&["reply", &conversation, "--text", "Arriva giovedì, grazie!"]);
    assert_eq!(reply["delivery"], "sent", "{reply}");
    let received = servers.wait_received(1, Duration::from_secs(10));
    let raw = String::from_utf8(received[0].clone()).unwrap();
    assert_eq!(
        header(&raw, "In-Reply-To"),
        Some("<q1042@example.com>"),
        "{raw}"
    );
    assert_eq!(
        header(&raw, "References"),
        Some("<q1042@example.com>"),
        "{raw}"
    );
    assert!(header(&raw, "From").unwrap().contains(USER), "{raw}");

    let messages = cli.ok(&["messages", &conversation]);
    assert_eq!(messages.as_array().unwrap().len(), 2);
    assert_eq!(messages[1]["direction"], "outbound");
    assert_eq!(messages[1]["delivery"], "sent");

    let stats = cli.stats();
    for (key, value) in [
        ("accounts", 1),
        ("conversations", 1),
        ("messages", 2),
        ("contacts", 1),
    ] {
        assert_eq!(stats[key], value, "{key} in {stats}");
    }

    // The reply was filed in Sent: the next pass reads that copy back as the same message,
    // stores nothing new and sends nothing again; the one after fetches nothing at all.
    let sync = cli.ok(&["sync", "--once"]);
    assert_eq!(sync["accounts"][0]["stored"], 0, "{sync}");
    assert_eq!(sync["accounts"][0]["sent"], 0, "{sync}");
    assert_eq!(cli.stats()["messages"], 2);
    let sync = cli.ok(&["sync", "--once"]);
    assert_eq!(sync["accounts"][0]["fetched"], 0, "{sync}");
    assert_eq!(sync["accounts"][0]["sent"], 0, "{sync}");
    assert_eq!(servers.received().len(), 1);

    // Forward the customer's message to the warehouse; a bad address is refused, nothing sent.
    let question = messages[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        cli.fails(&["forward", &question, "--to", "magazzino"])["code"],
        "invalid_input"
    );
    let forward = cli.ok(&[
        "forward",
        &question,
        "--to",
        "magazzino@example.org",
        "--text",
        "Controllate la spedizione?",
    ]);
    assert_eq!(forward["delivery"], "sent", "{forward}");
    assert_eq!(forward["subject"], "Fwd: Ordine 1042 - spedizione");
    let received = servers.wait_received(2, Duration::from_secs(10));
    assert_eq!(received.len(), 2);
    let raw = String::from_utf8(received[1].clone()).unwrap();
    assert_eq!(header(&raw, "To"), Some("magazzino@example.org"), "{raw}");
    assert_eq!(
        header(&raw, "Subject"),
        Some("Fwd: Ordine 1042 - spedizione"),
        "{raw}"
    );
    assert!(
        raw.contains("Controllate la spedizione?\r\n\r\n---------- Forwarded message ---------"),
        "{raw}"
    );
    let messages = cli.ok(&["messages", &conversation]);
    assert_eq!(messages.as_array().unwrap().len(), 3);
    assert_eq!(messages[2]["direction"], "outbound");
    assert_eq!(messages[2]["recipients"][0], "magazzino@example.org");
}

#[test]
fn cli_refuses_a_wrong_password_with_one_line_and_saves_nothing() {
    let servers = MailServers::start();
    let cli = Cli::new();
    let args = add_email_args(&servers.account_input_tls());
    let out = cli
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env(PASSWORD_VAR, "Sbagliata-7712")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let error: Value = serde_json::from_str(stderr.trim()).unwrap();
    assert_eq!(error["code"], "auth_failed", "{error}");
    assert!(!stderr.contains("Sbagliata-7712"), "{stderr}");
    assert!(cli.ok(&["account", "list"]).as_array().unwrap().is_empty());

    // Without --json the reason is one human line.
    let out = Command::new(cli_binary())
        .arg("--data-dir")
        .arg(cli.data.path())
        .args(&args)
        .env(PASSWORD_VAR, "Sbagliata-7712")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn cli_failures_exit_non_zero_with_a_one_line_reason() {
    let cli = Cli::new();
    assert_eq!(cli.fails(&["messages", "999"])["code"], "not_found");
    assert_eq!(
        cli.fails(&["reply", "999", "--text", "ciao"])["code"],
        "not_found"
    );
    assert_eq!(cli.fails(&["account", "test", "7"])["code"], "not_found");
    assert_eq!(
        cli.fails(&["import", "/nonexistent/sportello/mail.eml"])["code"],
        "invalid_input"
    );
    let remote_plain = EmailAccountInput {
        name: "Remoto".into(),
        address: "info@example.com".into(),
        imap_host: "imap.example.com".into(),
        imap_port: 143,
        imap_security: Security::Plain,
        smtp_host: "smtp.example.com".into(),
        smtp_port: 25,
        smtp_security: Security::Plain,
        username: None,
        password: String::new(),
        ca_file: None,
    };
    let args = add_email_args(&remote_plain);
    let error = cli.fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(error["code"], "invalid_input");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("imap.example.com"),
        "{error}"
    );
    // Nothing was stored by any of these.
    assert_eq!(cli.stats()["accounts"], 0);
}

#[test]
fn cli_stats_has_the_documented_keys() {
    let stats = Cli::new().stats();
    for key in ["accounts", "conversations", "messages", "contacts"] {
        assert_eq!(stats[key], 0, "{key} in {stats}");
    }
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[test]
fn cli_imports_eml_files_maildir_folders_and_mbox_files() {
    let files = tempfile::tempdir().unwrap();
    let f = |p: &str| files.path().join(p);
    write(
        &f("one.eml"),
        &customer_mail(
            "anna@example.com",
            "Fattura",
            "imp-1@example.com",
            "la fattura di marzo",
        ),
    );
    write(&f("empty.eml"), b"");
    write(
        &f("Maildir/cur/1700000000.1.host:2,S"),
        &customer_mail(
            "bruno@example.com",
            "Reso",
            "imp-2@example.com",
            "vorrei fare un reso",
        ),
    );
    write(
        &f("Maildir/new/1700000001.2.host"),
        &customer_mail(
            "carla@example.com",
            "Taglia",
            "imp-3@example.com",
            "taglia sbagliata",
        ),
    );
    std::fs::create_dir_all(f("Maildir/tmp")).unwrap();
    let mut mbox = Vec::new();
    for (i, who) in ["dario", "elena", "franco"].iter().enumerate() {
        mbox.extend_from_slice(
            format!("From {who}@example.com Mon Nov 23 09:00:00 2026\n").as_bytes(),
        );
        let mail = customer_mail(
            &format!("{who}@example.com"),
            &format!("Archivio {i}"),
            &format!("mbox-{i}@example.com"),
            "From the archive, with love",
        );
        // mbox escapes body lines starting with "From ".
        let mail = String::from_utf8(mail)
            .unwrap()
            .replace("\r\n", "\n")
            .replace("\nFrom ", "\n>From ");
        mbox.extend_from_slice(mail.as_bytes());
        mbox.push(b'\n');
    }
    write(&f("old.mbox"), &mbox);

    let cli = Cli::new();
    let paths: Vec<PathBuf> = vec![
        f("one.eml"),
        f("empty.eml"),
        f("Maildir"),
        f("old.mbox"),
        f("missing.eml"),
    ];
    let mut args = vec!["import".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = cli.ok(&args);
    assert_eq!(report["imported"], 6, "{report}");
    assert_eq!(report["failed"], 2, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");

    let stats = cli.stats();
    assert_eq!(stats["messages"], 6, "{stats}");
    assert_eq!(stats["accounts"], 1, "the local Imported account: {stats}");
    let hits = cli.ok(&["search", "archive"]);
    assert_eq!(hits.as_array().unwrap().len(), 3, "{hits}");
    // The mbox escaping is undone.
    let conversation = hits[0]["conversation_id"].to_string();
    let messages = cli.ok(&["messages", &conversation]);
    assert_eq!(messages[0]["text"], "From the archive, with love");

    // Importing again stores nothing twice.
    let again = cli.ok(&args);
    assert_eq!(
        (again["imported"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(6))
    );
    assert_eq!(cli.stats()["messages"], 6);
    // An imported conversation cannot be answered (there is no server to send through).
    assert_eq!(
        cli.fails(&["reply", &conversation, "--text", "x"])["code"],
        "invalid_input"
    );
}

fn stored_messages(data: &Path) -> u64 {
    let db = data.join(sportello_core::store::DB_FILE);
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))
        .unwrap_or(0) as u64
}

fn kill(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

#[test]
fn cli_sync_killed_half_way_then_rerun_loses_nothing_and_repeats_nothing() {
    if !keyring_session("cli_sync_killed_half_way_then_rerun_loses_nothing_and_repeats_nothing") {
        return;
    }
    const TOTAL: u64 = 3000;
    let servers = MailServers::start();
    let mail = numbered_customer_mail(TOTAL as u32, 97, "Ordine", "kill", |i| {
        format!("messaggio {i} {}", "testo di riempimento ".repeat(40))
    });
    servers.deliver_many("INBOX", &mail);
    let cli = Cli::new();
    cli.add_email(&servers.account_input());

    let mut child = cli
        .command(&["sync", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored_before = loop {
        let n = stored_messages(cli.data.path());
        if n > 0 {
            kill(&mut child);
            break stored_messages(cli.data.path());
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the sync ended ({status}) before any batch was seen");
        }
        assert!(Instant::now() < deadline, "no message stored in time");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        stored_before < TOTAL,
        "the sync finished before it could be killed"
    );

    let sync = cli.ok(&["sync", "--once"]);
    assert_eq!(
        sync["accounts"][0]["fetched"],
        TOTAL - stored_before,
        "{sync}"
    );
    assert_eq!(cli.stats()["messages"], TOTAL);
    let again = cli.ok(&["sync", "--once"]);
    assert_eq!(again["accounts"][0]["fetched"], 0, "{again}");
    // Every source reads back whole from the pack files, the killed run's included (its
    // unused tail, if any, is never read).
    let store = sportello_core::Store::open(cli.data.path()).unwrap();
    let ids: Vec<(i64, String)> = {
        let conn = rusqlite::Connection::open(cli.data.path().join(sportello_core::store::DB_FILE))
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT id, external_id FROM messages")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(ids.len() as u64, TOTAL);
    let lf = |b: &[u8]| String::from_utf8_lossy(b).replace("\r\n", "\n");
    for (id, external) in ids {
        let i: usize = external
            .trim_start_matches('<')
            .trim_start_matches("kill-")
            .trim_end_matches('>')
            .trim_end_matches("@example.com")
            .parse()
            .unwrap_or_else(|_| panic!("unexpected message id {external}"));
        let source = store.message_source(id).unwrap();
        assert!(
            lf(&source).contains(&lf(&mail[i])),
            "the source of message {i} differs"
        );
    }
}

#[test]
fn an_address_alone_is_enough_for_a_known_provider() {
    if !keyring_session("an_address_alone_is_enough_for_a_known_provider") {
        return;
    }
    let cli = Cli::new();
    let args = [
        "account",
        "add-email",
        "--address",
        "negozio.rossi@libero.it",
        "--password-env",
        PASSWORD_VAR,
        "--no-test",
    ];
    let account = cli.ok(&args);
    assert_eq!(account["name"], "negozio.rossi@libero.it");
    assert_eq!(account["settings"]["imap_host"], "imapmail.libero.it");
    assert_eq!(account["settings"]["smtp_port"], 465);
    let presets = cli.ok(&["account", "presets"]);
    assert!(
        presets
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "register")
    );
    // A hosting provider is picked by name for the shop's own domain.
    let account = cli.ok(&[
        "account",
        "add-email",
        "--address",
        "info@bottega-rossi.it",
        "--provider",
        "aruba",
        "--password-env",
        PASSWORD_VAR,
        "--no-test",
    ]);
    assert_eq!(account["settings"]["imap_host"], "imaps.aruba.it");
    let e = cli.fails(&[
        "account",
        "add-email",
        "--address",
        "info@sconosciuto.it",
        "--password-env",
        PASSWORD_VAR,
        "--no-test",
    ]);
    assert_eq!(e["code"], "invalid_input");
    assert!(e["message"].as_str().unwrap().contains("--provider"), "{e}");
}

#[test]
fn cli_daemon_json_prints_the_new_mail_pushed_by_idle() {
    if !keyring_session("cli_daemon_json_prints_the_new_mail_pushed_by_idle") {
        return;
    }
    use std::io::BufRead;
    let servers = MailServers::start();
    servers.deliver(
        "INBOX",
        &customer_mail(
            "luca@example.com",
            "Prima",
            "first@example.com",
            "Buongiorno",
        ),
    );
    let cli = Cli::new();
    cli.add_email(&servers.account_input());
    let mut daemon = cli
        .command(&["daemon", "--webhook-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = daemon.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let wait = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} from the daemon"),
            }
        }
    };
    // The first sync is summarised, not announced message by message.
    let synced = wait("synced event", &|v| v["event"] == "synced");
    assert_eq!(synced["new_messages"], 1, "{synced}");
    let idle = wait("idle account event", &|v| {
        v["event"] == "account" && v["state"] == "idle"
    });
    assert!(idle["at_ms"].as_i64().is_some(), "{idle}");
    // Its worker now waits in IDLE: a delivery is pushed, stored and announced.
    std::thread::sleep(Duration::from_millis(500));
    servers.deliver(
        "INBOX",
        &customer_mail(
            "maria@example.com",
            "Subito",
            "push@example.com",
            "Ci siete?",
        ),
    );
    let event = wait("new_message event", &|v| v["event"] == "new_message");
    assert_eq!(event["channel"], "email", "{event}");
    assert!(event["message_id"].as_i64().is_some(), "{event}");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    assert_eq!(cli.stats()["messages"], 2);
}
