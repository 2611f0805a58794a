//! OAuth2 sign-in (Gmail, Microsoft) against a local OAuth2 server (`support/fake_oauth`)
//! and a real Dovecot and SMTP server that accept XOAUTH2 by asking that server about the
//! token (RFC 7662 introspection). The test plays the browser: it GETs the authorize URL and
//! follows the redirect to the app's loopback address.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sportello_core::channel::SyncContext;
use sportello_core::model::{Account, SyncState};
use sportello_core::supervisor::Supervisor;
use sportello_core::{ErrorCode, Store, secrets};
use sportello_email::{
    ACCESS_TOKEN_KEY, AuthKind, EmailSettings, OAuthAccountInput, OAuthSession, REFRESH_TOKEN_KEY,
    Security, SignedIn,
};

use crate::support::fake_oauth::{self, CLIENT_ID, FakeOAuth};
use crate::support::mail::{MailServers, USER, customer_mail};
use crate::support::wait_until;

fn input(oauth: &FakeOAuth, provider: AuthKind) -> OAuthAccountInput {
    OAuthAccountInput {
        name: "Negozio".into(),
        provider,
        address: Some(USER.into()),
        auth_base: Some(oauth.base()),
        client_id: Some(CLIENT_ID.into()),
        client_secret: None,
    }
}

/// A store for a sign-in that saves nothing (its folder is removed at once; the input names
/// its client, so the store's settings are not read).
fn scratch_store() -> Store {
    let data = tempfile::tempdir().unwrap();
    Store::open(data.path()).unwrap()
}

/// The Dovecot/aiosmtpd servers in place of Gmail's (plain, loopback).
fn servers_settings(servers: &MailServers) -> EmailSettings {
    let mut s = sportello_email::oauth_servers(AuthKind::Google).unwrap();
    s.imap_host = "127.0.0.1".into();
    s.imap_port = servers.imap_port;
    s.imap_security = Security::Plain;
    s.smtp_host = "127.0.0.1".into();
    s.smtp_port = servers.smtp_port;
    s.smtp_security = Security::Plain;
    s
}

/// Runs a browser sign-in, the test following the provider's redirect like a browser.
async fn sign_in(flow: sportello_email::BrowserSignIn) -> sportello_core::Result<SignedIn> {
    let url = flow.url().to_string();
    let browser = tokio::spawn(async move { fake_oauth::browse(&url).await });
    let signed = flow.finish(Duration::from_secs(20)).await;
    let (status, page) = browser.await.unwrap();
    if signed.is_ok() {
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Sportello"), "{page}");
    }
    signed
}

/// Signs in with `input` in the browser and adds the account, reading its mail from
/// `servers`.
async fn signed_in_account(
    store: &Store,
    input: &OAuthAccountInput,
    servers: &MailServers,
) -> Account {
    let flow = sportello_email::start_oauth_sign_in(store, input)
        .await
        .unwrap();
    let signed = sign_in(flow).await.unwrap();
    sportello_email::add_oauth_account(store, input, Some(servers_settings(servers)), &signed)
        .unwrap()
}

/// The account's OAuth2 session, as its channel would make it.
fn session(store: &Store, account: &Account) -> OAuthSession {
    OAuthSession::new(
        store.installation_id(),
        account.id,
        EmailSettings::from_json(&account.settings)
            .unwrap()
            .oauth
            .unwrap(),
    )
}

/// Fails if a file under `dir` holds any of `secrets`.
fn assert_no_file_holds(dir: &std::path::Path, secrets: &[String]) {
    for path in files_under(dir) {
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a secret",
                path.display()
            );
        }
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_keeps_tokens_only_in_the_keyring_and_syncs_with_xoauth2() {
    if !crate::support::keyring_session("browser_sign_in_keeps_tokens_only_in_the_keyring") {
        return;
    }
    let oauth = FakeOAuth::start(USER);
    let servers = MailServers::start_oauth(&oauth.introspection_url());
    servers.deliver(
        "INBOX",
        &customer_mail("cliente@example.com", "Ordine 7", "o7@example.com", "Ciao"),
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let account = signed_in_account(&store, &input(&oauth, AuthKind::Google), &servers).await;
    assert_eq!(oauth.state.code_exchanges.load(Ordering::SeqCst), 1);
    assert_eq!(account.address, USER);

    // The tokens are in the keyring...
    let refresh = secrets::get(store.installation_id(), account.id, REFRESH_TOKEN_KEY).unwrap();
    assert_eq!(oauth.refresh_tokens(), vec![refresh.clone()]);
    let access = secrets::get(store.installation_id(), account.id, ACCESS_TOKEN_KEY).unwrap();
    assert!(access.contains(&oauth.access_tokens()[0]));

    // ...and IMAP (Dovecot's oauth2 passdb) and SMTP accept them as XOAUTH2.
    let channel = sportello_email::open(&store, &account).unwrap().unwrap();
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
    channel.test().await.unwrap();
    assert!(
        servers.imap_log().to_lowercase().contains("xoauth2")
            || servers.imap_log().contains("oauth2"),
        "Dovecot signed in with XOAUTH2: {}",
        servers.imap_log()
    );
    assert_eq!(oauth.refreshes(), 0, "a fresh token is not refreshed");

    // Nothing in the data folder holds a token.
    drop(channel);
    drop(store);
    let mut secrets_seen = oauth.refresh_tokens();
    secrets_seen.extend(oauth.access_tokens());
    assert_no_file_holds(data.path(), &secrets_seen);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_near_expiry_is_refreshed_before_connecting() {
    if !crate::support::keyring_session("a_token_near_expiry_is_refreshed_before_connecting") {
        return;
    }
    let oauth = FakeOAuth::start(USER);
    // Two minutes: less than the five-minute margin, so every connection refreshes first.
    oauth.state.expires_in.store(120, Ordering::SeqCst);
    let servers = MailServers::start_oauth(&oauth.introspection_url());
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let account = signed_in_account(&store, &input(&oauth, AuthKind::Microsoft), &servers).await;
    let first = oauth.access_tokens()[0].clone();
    // The provider forgets it: only a refreshed token gets in.
    oauth.expire_access_tokens();
    // Microsoft hands out a new refresh token with each refresh and retires the old one.
    oauth.state.rotate.store(true, Ordering::SeqCst);
    let first_refresh = oauth.refresh_tokens()[0].clone();

    let channel = sportello_email::open(&store, &account).unwrap().unwrap();
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert!(oauth.refreshes() >= 1);
    let stored = secrets::get(store.installation_id(), account.id, ACCESS_TOKEN_KEY).unwrap();
    assert!(
        !stored.contains(&first),
        "the refreshed token replaced the old one"
    );
    assert!(stored.contains(oauth.access_tokens().last().unwrap()));
    let refresh = secrets::get(store.installation_id(), account.id, REFRESH_TOKEN_KEY).unwrap();
    assert_ne!(refresh, first_refresh, "the rotated refresh token is kept");
    assert!(oauth.refresh_tokens().contains(&refresh));

    // A token with an hour left is used as it is.
    oauth.state.expires_in.store(3600, Ordering::SeqCst);
    let session = session(&store, &account);
    let before = oauth.refreshes();
    let a = session.access_token().await.unwrap(); // still the 2-minute one: refreshed
    assert_eq!(oauth.refreshes(), before + 1);
    let b = session.access_token().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(
        oauth.refreshes(),
        before + 1,
        "a fresh token is not refreshed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_sign_in_asks_to_sign_in_again_and_signing_in_keeps_the_account() {
    if !crate::support::keyring_session("a_revoked_sign_in_asks_to_sign_in_again") {
        return;
    }
    let oauth = FakeOAuth::start(USER);
    let mut servers = MailServers::start_oauth(&oauth.introspection_url());
    servers.deliver(
        "INBOX",
        &customer_mail("cliente@example.com", "Reso", "r1@example.com", "Ciao"),
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let account = signed_in_account(&store, &input(&oauth, AuthKind::Google), &servers).await;

    let open: sportello_core::channel::OpenChannel =
        Arc::new(|store: &Store, account: &_| sportello_email::open(store, account));
    let supervisor = Supervisor::new(store.clone(), open, Duration::from_millis(300));
    supervisor.start(account.id);
    wait_until("the first sync", Duration::from_secs(20), || {
        let a = store.account(account.id).unwrap();
        (a.status.state == SyncState::Idle && a.status.last_sync_at.is_some()).then_some(())
    });
    assert_eq!(store.stats().unwrap().messages, 1);

    // The user revokes Sportello's access: the provider refuses the refresh token and the
    // access token, long before its hour is up, and ends the IMAP session the worker keeps
    // (here: the server restarts). Signing in on a new connection is refused, which makes
    // Sportello refresh, and the refresh's invalid_grant asks the user to sign in again.
    oauth.revoke_all();
    oauth.expire_access_tokens();
    servers.stop_imap();
    servers.start_imap();
    supervisor.wake(Some(account.id));
    let error = wait_until(
        "the account to ask to sign in again",
        Duration::from_secs(20),
        || {
            let a = store.account(account.id).unwrap();
            (a.status.state == SyncState::NeedsAttention).then_some(a.status.last_error)
        },
    )
    .expect("the error is kept");
    assert_eq!(error.code, ErrorCode::SignInAgain, "{}", error.message);
    for token in oauth.refresh_tokens() {
        assert!(!error.message.contains(&token));
    }

    // Signing in again keeps the account and its mail.
    let messages_before = store.stats().unwrap().messages;
    let flow = sportello_email::start_sign_in_again(&store, &account)
        .await
        .unwrap();
    assert_eq!(
        fake_oauth::query(flow.url(), "login_hint").as_deref(),
        Some(USER)
    );
    let signed = sign_in(flow).await.unwrap();
    sportello_email::finish_sign_in_again(&store, &account, &signed).unwrap();
    supervisor.wake(Some(account.id));
    wait_until(
        "the sync after signing in again",
        Duration::from_secs(20),
        || {
            let a = store.account(account.id).unwrap();
            (a.status.state == SyncState::Idle && a.status.last_error.is_none()).then_some(())
        },
    );
    assert_eq!(store.accounts().unwrap().len(), 1);
    assert_eq!(store.stats().unwrap().messages, messages_before);
    assert_eq!(
        messages_before, 1,
        "the mail synced before the revocation is kept"
    );
    supervisor.stop(account.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_token_server_is_a_network_error_not_sign_in_again() {
    if !crate::support::keyring_session("an_unreachable_token_server_is_a_network_error") {
        return;
    }
    let oauth = FakeOAuth::start(USER);
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let mut input = input(&oauth, AuthKind::Google);
    let signed = sign_in(
        sportello_email::start_oauth_sign_in(&store, &input)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    // The account's sign-in server now points at a port nobody listens on.
    input.auth_base = Some(format!("http://127.0.0.1:{}", crate::support::free_port()));
    let account = sportello_email::add_oauth_account(&store, &input, None, &signed).unwrap();
    secrets::set(
        store.installation_id(),
        account.id,
        ACCESS_TOKEN_KEY,
        r#"{"token":"old","expires_at":0}"#,
    )
    .unwrap();
    let e = session(&store, &account).access_token().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Network, "{}", e.message);
    assert!(e.code.is_transient());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_state_is_refused() {
    let oauth = FakeOAuth::start(USER);
    let flow =
        sportello_email::start_oauth_sign_in(&scratch_store(), &input(&oauth, AuthKind::Google))
            .await
            .unwrap();
    let forged = format!("{}?code=stolen&state=not-ours", flow.redirect_uri());
    let browser = tokio::spawn(async move { fake_oauth::browse(&forged).await });
    let e = flow.finish(Duration::from_secs(20)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthFailed, "{}", e.message);
    assert!(e.message.contains("state"), "{}", e.message);
    assert_eq!(browser.await.unwrap().0, 400);
    assert_eq!(
        oauth.state.code_exchanges.load(Ordering::SeqCst),
        0,
        "no code was exchanged"
    );
    assert!(oauth.server.calls("/token").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_checks_the_pkce_verifier_and_the_flow_sends_it() {
    let oauth = FakeOAuth::start(USER);
    // A client that does not know the verifier (an intercepted code) is refused.
    let flow =
        sportello_email::start_oauth_sign_in(&scratch_store(), &input(&oauth, AuthKind::Google))
            .await
            .unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects.get(flow.url()).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    let code = fake_oauth::query(&location, "code").unwrap();
    let refused = no_redirects
        .post(format!("{}/token", oauth.base()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", CLIENT_ID),
            ("redirect_uri", flow.redirect_uri()),
            (
                "code_verifier",
                "a-wrong-verifier-that-is-long-enough-to-be-plausible-0123",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // The app's own exchange (with its verifier) succeeds.
    let flow =
        sportello_email::start_oauth_sign_in(&scratch_store(), &input(&oauth, AuthKind::Microsoft))
            .await
            .unwrap();
    let signed = sign_in(flow).await.unwrap();
    assert_eq!(signed.address.as_deref(), Some(USER));
    let exchange = oauth
        .server
        .calls("/token")
        .into_iter()
        .last()
        .expect("the app exchanged the code");
    assert_eq!(
        exchange.form("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert!(exchange.form("code_verifier").unwrap().len() >= 43);
}

/// Runs the CLI's browser sign-in: reads the printed address from its stderr, plays the
/// browser, and returns the CLI's JSON answer.
async fn cli_sign_in(data: &std::path::Path, args: &[String]) -> serde_json::Value {
    use std::io::BufRead;
    let mut child = std::process::Command::new(crate::support::cli_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env_remove("SPORTELLO_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the CLI printed no sign-in address: {said}"
        );
        said.push_str(&line);
        if line.starts_with("http") {
            break line.trim().to_string();
        }
    };
    let (status, page) = fake_oauth::browse(&url).await;
    assert_eq!(status, 200, "{page}");
    let out = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        (child.wait_with_output().unwrap(), rest)
    })
    .await
    .unwrap();
    let (output, rest) = out;
    assert!(output.status.success(), "{rest}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_adds_an_oauth_account_and_signs_it_in_again() {
    if !crate::support::keyring_session("the_cli_adds_an_oauth_account") {
        return;
    }
    let oauth = FakeOAuth::start(USER);
    let servers = MailServers::start_oauth(&oauth.introspection_url());
    servers.deliver(
        "INBOX",
        &customer_mail("cliente@example.com", "Taglia", "t1@example.com", "Ciao"),
    );
    let data = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "account",
        "add-email",
        "--oauth",
        "microsoft",
        "--address",
        USER,
        "--auth-base",
        &oauth.base(),
        "--client-id",
        CLIENT_ID,
        "--no-browser",
        "--imap-host",
        "127.0.0.1",
        "--imap-port",
        &servers.imap_port.to_string(),
        "--imap-security",
        "plain",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &servers.smtp_port.to_string(),
        "--smtp-security",
        "plain",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let account = cli_sign_in(data.path(), &args).await;
    assert_eq!(account["address"], USER);
    assert_eq!(account["settings"]["oauth"]["provider"], "microsoft");
    let id = account["id"].as_i64().unwrap();

    let sync = std::process::Command::new(crate::support::cli_binary())
        .arg("--data-dir")
        .arg(data.path())
        .args(["sync", "--once"])
        .output()
        .unwrap();
    assert!(
        sync.status.success(),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let store = Store::open(data.path()).unwrap();
    assert_eq!(store.stats().unwrap().messages, 1);

    // Revoked: `account sign-in ID` signs the same account in again.
    oauth.revoke_all();
    let again = cli_sign_in(
        data.path(),
        &["account", "sign-in", &id.to_string(), "--no-browser"].map(String::from),
    )
    .await;
    assert_eq!(again["signed_in"], true);
    let refresh = secrets::get(store.installation_id(), id, REFRESH_TOKEN_KEY).unwrap();
    assert_eq!(oauth.refresh_tokens().len(), 2);
    assert!(oauth.refresh_tokens().contains(&refresh));
    assert_eq!(store.accounts().unwrap().len(), 1);

    // Neither the database nor the CLI's logs hold a token.
    drop(store);
    let mut tokens = oauth.refresh_tokens();
    tokens.extend(oauth.access_tokens());
    assert_no_file_holds(data.path(), &tokens);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_set_in_the_settings_wins_and_its_secret_stays_in_the_keyring() {
    if !crate::support::keyring_session("the_client_set_in_the_settings_wins") {
        return;
    }
    const SECRET: &str = "GOCSPX-settings-secret-4471";
    let oauth = FakeOAuth::start(USER);
    oauth.state.expires_in.store(120, Ordering::SeqCst);
    let servers = MailServers::start_oauth(&oauth.introspection_url());
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    // The form names no client: the one from the settings window is used.
    let input = OAuthAccountInput {
        client_id: None,
        ..input(&oauth, AuthKind::Google)
    };
    let shown = sportello_email::set_oauth_client(
        &store,
        &sportello_email::OAuthClientInput {
            provider: AuthKind::Google,
            client_id: format!(" {CLIENT_ID} "),
            tenant: "ignored-for-google".into(),
            client_secret: Some(SECRET.into()),
        },
    )
    .unwrap();
    assert_eq!(shown.client_id, CLIENT_ID);
    assert_eq!(shown.tenant, "");
    assert!(shown.has_client_secret);
    assert_eq!(
        sportello_email::oauth_clients(&store).unwrap(),
        vec![
            shown.clone(),
            sportello_email::oauth_client(&store, AuthKind::Microsoft).unwrap()
        ]
    );

    let flow = sportello_email::start_oauth_sign_in(&store, &input)
        .await
        .unwrap();
    assert_eq!(
        fake_oauth::query(flow.url(), "client_id").as_deref(),
        Some(CLIENT_ID),
        "the settings' client id, not the build's default"
    );
    let signed = sign_in(flow).await.unwrap();
    let exchange = oauth.server.calls("/token").into_iter().last().unwrap();
    assert_eq!(exchange.form("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(exchange.form("client_secret").as_deref(), Some(SECRET));
    let account = sportello_email::add_oauth_account(
        &store,
        &input,
        Some(servers_settings(&servers)),
        &signed,
    )
    .unwrap();
    // The account keeps the client it signed in with, and its secret in the keyring.
    let settings = EmailSettings::from_json(&account.settings).unwrap();
    assert_eq!(
        settings.oauth.unwrap().client_id.as_deref(),
        Some(CLIENT_ID)
    );
    assert_eq!(
        secrets::get(
            store.installation_id(),
            account.id,
            sportello_email::CLIENT_SECRET_KEY
        )
        .unwrap(),
        SECRET
    );

    // A later change of the setting is for new sign-ins: this account still refreshes with
    // its own client (the fake server knows only that one).
    sportello_email::set_oauth_client(
        &store,
        &sportello_email::OAuthClientInput {
            provider: AuthKind::Google,
            client_id: "another-client".into(),
            tenant: String::new(),
            client_secret: None,
        },
    )
    .unwrap();
    assert!(
        sportello_email::oauth_client(&store, AuthKind::Google)
            .unwrap()
            .has_client_secret,
        "no secret given: the kept one stays"
    );
    let before = oauth.refreshes();
    let account = store.account(account.id).unwrap();
    let channel = sportello_email::open(&store, &account).unwrap().unwrap();
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert!(
        oauth.refreshes() > before,
        "the near-expiry token was refreshed"
    );
    let refresh = oauth.server.calls("/token").into_iter().last().unwrap();
    assert_eq!(refresh.form("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(refresh.form("client_id").as_deref(), Some(CLIENT_ID));

    // An empty secret removes it from the keyring.
    let cleared = sportello_email::set_oauth_client(
        &store,
        &sportello_email::OAuthClientInput {
            provider: AuthKind::Google,
            client_id: CLIENT_ID.into(),
            tenant: String::new(),
            client_secret: Some(String::new()),
        },
    )
    .unwrap();
    assert!(!cleared.has_client_secret);

    // A Microsoft tenant must look like one.
    let e = sportello_email::set_oauth_client(
        &store,
        &sportello_email::OAuthClientInput {
            provider: AuthKind::Microsoft,
            client_id: "ms-client".into(),
            tenant: "contoso.com/../x".into(),
            client_secret: None,
        },
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);

    // The secret is in no file of the data folder (the SQLite database, its WAL, blobs).
    drop(channel);
    drop(store);
    assert_no_file_holds(data.path(), &[SECRET.to_string()]);
}
