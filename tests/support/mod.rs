//! What the integration tests share: real mail servers on loopback (`mail`), a store with one
//! email account driven against them (`email_setup`), a way to find the built CLI, and the
//! checks that say whether the desktop session (keyring) is there.

#![allow(dead_code)] // Each test module uses a different part of the harness.

pub mod email_setup;
pub mod fake_graph;
pub mod fake_http;
pub mod fake_oauth;
pub mod fake_telegram;
pub mod fake_twilio;
pub mod mail;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A port on 127.0.0.1 nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether the test runs inside `tests/session.sh` (D-Bus + unlocked gnome-keyring).
/// Outside it, tests that need the OS keyring are skipped with a note — except on CI, where a
/// missing session is a failure.
pub fn keyring_session(test: &str) -> bool {
    if std::env::var_os("SPORTELLO_TEST_SESSION").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs the OS keyring: run the tests inside tests/session.sh"
    );
    eprintln!("note: {test} skipped: it needs the OS keyring; run it inside tests/session.sh");
    false
}

/// The repository root (the root package's manifest folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built `sportello-cli`: `$SPORTELLO_CLI`, else `target/debug/sportello-cli` (build it with
/// `cargo build -p sportello-cli`; Cargo cannot hand another package's binary to this test).
pub fn cli_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SPORTELLO_CLI") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let path = target
        .join("debug")
        .join(format!("sportello-cli{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p sportello-cli` first (or set SPORTELLO_CLI)",
        path.display()
    );
    path
}
