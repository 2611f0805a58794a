//! `sportello-cli`: the headless command line over Sportello's core, for tests, benchmarks and
//! power users. Same store, same channels, same outbox as the desktop app; no GUI.
//!
//! Exit status is 0 on success; on failure a one-line reason goes to stderr (as JSON
//! `{"code","message"}` with `--json`) and the status is non-zero.

mod care;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sportello_core::model::Delivery;
use sportello_core::outbox::{Draft, OutgoingFile, ReplyExtras};
use sportello_core::store::{ConversationQuery, HIT_CLOSE, HIT_OPEN};
use sportello_core::supervisor::{self, Supervisor};
use sportello_core::{Error, ErrorCode, Store, paths};
use sportello_email::{EmailAccountInput, Security};

#[derive(Parser)]
#[command(
    name = "sportello-cli",
    version,
    about = "Sportello without the window"
)]
struct Cli {
    /// Data folder (default: $SPORTELLO_DATA_DIR, else the OS app-data folder).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list and test accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Fetch new messages for every account and send queued replies.
    Sync {
        /// One pass over every account, then exit (otherwise keep syncing until stopped).
        #[arg(long)]
        once: bool,
    },
    /// The unified conversation list, pinned first, then newest.
    Conversations {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        filter: care::FilterArgs,
    },
    /// The messages of one conversation.
    Messages { conversation_id: i64 },
    /// Full-text search over every channel; filters: from: channel: tag: status: after:
    /// before: (dates like 2025-03-01).
    Search { query: Vec<String> },
    /// Reply in a conversation (queued in the outbox, then sent).
    Reply {
        conversation_id: i64,
        #[arg(long, default_value = "")]
        text: String,
        /// Quote the message being answered.
        #[arg(long)]
        quote: bool,
        /// Send an approved WhatsApp template instead of free text (outside the 24 hours).
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// The template's language code.
        #[arg(long, default_value = "it", requires = "template")]
        lang: String,
        /// A template variable ({{1}}, {{2}}... in order); repeat for each.
        #[arg(long = "param", value_name = "TEXT")]
        params: Vec<String>,
        /// Twilio: send a Content template by its SID (HX...).
        #[arg(long, value_name = "SID", conflicts_with = "template")]
        content_sid: Option<String>,
        /// Attach a file (chat channels); repeat for several.
        #[arg(long = "file", value_name = "PATH")]
        files: Vec<PathBuf>,
    },
    /// Forward an email (with its files) to an address (queued in the outbox, then sent).
    Forward {
        message_id: i64,
        #[arg(long, value_name = "ADDR")]
        to: String,
        /// A note above the forwarded message.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Run every account's worker and the webhook receiver (/webhooks/whatsapp,
    /// /webhooks/meta) until stopped.
    Daemon {
        /// Local port of the webhook receiver (expose it with cloudflared or ngrok).
        #[arg(long, default_value_t = 8787)]
        webhook_port: u16,
        /// Address to listen on (keep 127.0.0.1 behind a tunnel).
        #[arg(long, default_value = "127.0.0.1")]
        webhook_bind: std::net::IpAddr,
    },
    /// The message templates of a WhatsApp Cloud account.
    Templates { account_id: i64 },
    /// Which reply a conversation allows now (24-hour window, human agent, templates only).
    Window { conversation_id: i64 },
    /// Import .eml files, Maildir folders or mbox files into the local "Imported" account.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Counts of what is stored, and response times (first response, resolution, volume,
    /// busiest hours) of the last days.
    Stats {
        /// The response-time report as CSV instead.
        #[arg(long)]
        csv: bool,
        /// The report covers conversations begun in this many days up to now.
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Contacts across channels: show, suggestions, merge, unmerge.
    #[command(subcommand)]
    Contact(care::ContactCommand),
    /// Set a conversation's status (open, pending, snoozed --until 2h, closed).
    Status(care::StatusArgs),
    /// Write an internal note in a conversation (never sent).
    Note {
        conversation_id: i64,
        #[arg(long)]
        text: String,
    },
    /// Pin a conversation to the top of the list (--off to unpin).
    Pin {
        conversation_id: i64,
        #[arg(long)]
        off: bool,
    },
    /// Coloured tags on conversations.
    #[command(subcommand)]
    Tag(care::TagCommand),
    /// Canned replies with {{variables}}, one text per language.
    #[command(subcommand)]
    Canned(care::CannedCommand),
    /// How many conversations each view holds (inbox, waiting, pending, ...).
    Views,
    /// Shop name, agent name, SLA, business hours, holidays, automatic reply.
    #[command(subcommand)]
    Care(care::CareCommand),
    /// Benchmarks (JSON output).
    #[command(subcommand)]
    Bench(care::BenchCommand),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add an IMAP + SMTP account (the password goes to the OS keyring only).
    AddEmail(AddEmail),
    /// Add a WhatsApp Business number of Meta's Cloud API (messages arrive by webhook).
    AddWhatsapp(AddWhatsapp),
    /// Add a WhatsApp (or SMS) sender on Twilio (polled).
    AddTwilio(AddTwilio),
    /// Add a Facebook Page's Messenger inbox (and its Instagram Direct with --instagram-id).
    AddMeta(AddMeta),
    /// Add a Telegram bot.
    AddTelegram(AddTelegram),
    List,
    /// Connect and log in with an account's saved settings.
    Test {
        id: i64,
    },
    /// Remove an account, what was synced from it and its saved password.
    Remove {
        id: i64,
    },
    /// The known email providers (for --provider).
    Presets,
    /// Sign an OAuth2 (Gmail, Microsoft) account in again in the browser, keeping the account
    /// and its mail (after "sign in again": the sign-in was revoked or expired).
    SignIn {
        id: i64,
        /// Only print the sign-in address; do not try to open a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// An email account's server folders; with --inbox, choose which feed the inbox.
    Folders {
        id: i64,
        /// Comma-separated folder names (empty: INBOX and Sent).
        #[arg(long, value_delimiter = ',')]
        inbox: Option<Vec<String>>,
    },
}

#[derive(Args)]
struct AddEmail {
    /// Shown in the inbox (default: the address).
    #[arg(long)]
    name: Option<String>,
    /// Required with a password; with --oauth, it pre-fills the provider's sign-in page and
    /// the account gets the address the provider signed in.
    #[arg(long, required_unless_present = "oauth")]
    address: Option<String>,
    /// Sign in in the browser instead of a password: google or microsoft (OAuth2 with PKCE,
    /// a loopback redirect; the tokens go to the OS keyring only). The address to open is
    /// printed, and opened in the default browser unless --no-browser.
    #[arg(long, value_parser = parse_oauth, conflicts_with_all = ["password_env", "password_stdin"])]
    oauth: Option<sportello_email::AuthKind>,
    /// With --oauth: the provider's sign-in server (`{URL}/authorize`, `{URL}/token`), for
    /// tests and proxies. Also SPORTELLO_GOOGLE_AUTH_BASE / SPORTELLO_MICROSOFT_AUTH_BASE.
    #[arg(long, value_name = "URL", requires = "oauth")]
    auth_base: Option<String>,
    /// With --oauth: the OAuth2 client id instead of the built-in one.
    #[arg(long, value_name = "ID", requires = "oauth")]
    client_id: Option<String>,
    /// With --oauth: read the (Google desktop) client secret from this environment variable.
    #[arg(long, value_name = "VAR", requires = "oauth")]
    client_secret_env: Option<String>,
    /// With --oauth: only print the sign-in address; do not try to open a browser.
    #[arg(long, requires = "oauth")]
    no_browser: bool,
    /// A known provider (`sportello-cli account presets`); by default the address's domain
    /// picks one, and the server options below override it.
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    imap_host: Option<String>,
    #[arg(long)]
    imap_port: Option<u16>,
    #[arg(long, value_parser = parse_security)]
    imap_security: Option<Security>,
    #[arg(long)]
    smtp_host: Option<String>,
    #[arg(long)]
    smtp_port: Option<u16>,
    #[arg(long, value_parser = parse_security)]
    smtp_security: Option<Security>,
    /// Login name, when it differs from the address.
    #[arg(long)]
    username: Option<String>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    password_env: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    /// An extra CA certificate (PEM) to trust, for self-hosted servers.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Save without testing the connection first.
    #[arg(long)]
    no_test: bool,
}

#[derive(Args)]
struct AddWhatsapp {
    #[arg(long)]
    name: String,
    #[arg(long)]
    phone_number_id: String,
    /// Environment variable holding the access token.
    #[arg(long, value_name = "VAR")]
    token_env: String,
    /// Environment variable holding the Meta app secret (verifies webhook signatures).
    #[arg(long, value_name = "VAR")]
    app_secret_env: String,
    /// Environment variable holding the webhook verify token.
    #[arg(long, value_name = "VAR")]
    verify_token_env: String,
    /// The WhatsApp Business Account id (to list templates).
    #[arg(long)]
    waba_id: Option<String>,
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    /// Save without testing the token first.
    #[arg(long)]
    no_test: bool,
}

#[derive(Args)]
struct AddTwilio {
    #[arg(long)]
    name: String,
    #[arg(long)]
    account_sid: String,
    /// The sender, e.g. whatsapp:+14155238886.
    #[arg(long)]
    from: String,
    /// Environment variable holding the auth token.
    #[arg(long, value_name = "VAR")]
    token_env: String,
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    #[arg(long)]
    no_test: bool,
}

#[derive(Args)]
struct AddMeta {
    #[arg(long)]
    name: String,
    #[arg(long)]
    page_id: String,
    /// The Instagram professional account linked to the Page (adds an Instagram account).
    #[arg(long)]
    instagram_id: Option<String>,
    /// Environment variable holding the Page access token.
    #[arg(long, value_name = "VAR")]
    token_env: String,
    /// Environment variable holding the Meta app secret (to receive webhooks too).
    #[arg(long, value_name = "VAR")]
    app_secret_env: Option<String>,
    /// Environment variable holding the verify token typed into the Meta app's webhook
    /// settings for /webhooks/meta (needs --app-secret-env).
    #[arg(long, value_name = "VAR", requires = "app_secret_env")]
    verify_token_env: Option<String>,
    /// The app has the HUMAN_AGENT permission: allow replies up to 7 days.
    #[arg(long)]
    human_agent: bool,
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    #[arg(long)]
    no_test: bool,
}

#[derive(Args)]
struct AddTelegram {
    #[arg(long)]
    name: String,
    /// Environment variable holding the bot token from @BotFather.
    #[arg(long, value_name = "VAR")]
    token_env: String,
    #[arg(long, value_name = "URL")]
    api_base: Option<String>,
    #[arg(long)]
    no_test: bool,
}

fn env_secret(var: &str) -> Result<String, Error> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(format!("environment variable {var} is not set")))
}

fn print_accounts(json: bool, accounts: &[sportello_core::model::Account]) {
    out(json, json!(accounts), || {
        accounts
            .iter()
            .map(|a| format!("added account {} ({} {})", a.id, a.kind.as_str(), a.address))
            .collect::<Vec<_>>()
            .join("\n")
    });
}

fn mime_of(path: &std::path::Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("mp4") => "video/mp4",
        Some("ogg" | "opus") => "audio/ogg",
        Some("mp3") => "audio/mpeg",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

fn parse_security(s: &str) -> Result<Security, String> {
    match s {
        "tls" => Ok(Security::Tls),
        "starttls" => Ok(Security::Starttls),
        "plain" => Ok(Security::Plain),
        _ => Err("expected tls, starttls or plain".into()),
    }
}

fn parse_oauth(s: &str) -> Result<sportello_email::AuthKind, String> {
    match s {
        "google" | "gmail" => Ok(sportello_email::AuthKind::Google),
        "microsoft" | "outlook" => Ok(sportello_email::AuthKind::Microsoft),
        _ => Err("expected google or microsoft".into()),
    }
}

type CliResult = Result<(), Error>;

/// Prints the sign-in address, tries to open it in the browser, and waits for the browser
/// to come back (at most [`sportello_email::SIGN_IN_TIMEOUT`]; Ctrl+C cancels).
async fn browser_sign_in(
    flow: sportello_email::BrowserSignIn,
    no_browser: bool,
) -> Result<sportello_email::SignedIn, Error> {
    eprintln!(
        "Open this address in your browser to sign in:\n{}",
        flow.url()
    );
    if !no_browser {
        // ShellExecute on Windows, `open` on macOS, xdg-open (or gio, ...) elsewhere: no shell
        // in between, so the address's `&`s stay in it (`cmd /C start` would cut it there).
        let opened = open::that_detached(flow.url());
        if let Err(e) = opened {
            eprintln!("(could not open a browser: {e}; open the address yourself)");
        }
    }
    eprintln!("Waiting for the browser...");
    flow.finish(sportello_email::SIGN_IN_TIMEOUT).await
}

async fn add_oauth_email(
    store: &Store,
    a: &AddEmail,
    provider: sportello_email::AuthKind,
) -> Result<sportello_core::model::Account, Error> {
    let client_secret = match &a.client_secret_env {
        Some(var) => Some(env_secret(var)?),
        None => None,
    };
    let input = sportello_email::OAuthAccountInput {
        name: a.name.clone().unwrap_or_default(),
        provider,
        address: a.address.clone(),
        auth_base: a.auth_base.clone(),
        client_id: a.client_id.clone(),
        client_secret,
    };
    let mut servers = sportello_email::oauth_servers(provider)?;
    if let Some(v) = &a.imap_host {
        servers.imap_host = v.clone();
    }
    if let Some(v) = a.imap_port {
        servers.imap_port = v;
    }
    if let Some(v) = a.imap_security {
        servers.imap_security = v;
    }
    if let Some(v) = &a.smtp_host {
        servers.smtp_host = v.clone();
    }
    if let Some(v) = a.smtp_port {
        servers.smtp_port = v;
    }
    if let Some(v) = a.smtp_security {
        servers.smtp_security = v;
    }
    servers.ca_file = a.ca_file.as_ref().map(|p| p.display().to_string());
    let flow = sportello_email::start_oauth_sign_in(store, &input).await?;
    let signed = browser_sign_in(flow, a.no_browser).await?;
    let account = sportello_email::add_oauth_account(store, &input, Some(servers), &signed)?;
    if !a.no_test
        && let Err(e) = sportello_email::open(store, &account)?
            .expect("an OAuth account syncs")
            .test()
            .await
    {
        // Keep nothing half-working: the account and its tokens go again.
        let _ = sportello_channels::remove_account(store, account.id);
        return Err(e);
    }
    Ok(account)
}

/// When the process started (the timing lines of `SPORTELLO_LOG=sportello_email::timing=debug`).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

fn since_start_ms() -> f64 {
    STARTED
        .get()
        .map(|t| t.elapsed().as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

fn main() -> ExitCode {
    STARTED.get_or_init(std::time::Instant::now);
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SPORTELLO_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                eprintln!("{}", serde_json::to_string(&e).unwrap_or_default());
            } else {
                eprintln!("error: {}", e.message.replace('\n', " "));
            }
            ExitCode::FAILURE
        }
    }
}

/// Prints `value` as JSON, or `text` for people.
fn out(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        let t = text();
        if !t.is_empty() {
            println!("{t}");
        }
    }
}

fn read_password(a: &AddEmail) -> Result<String, Error> {
    if let Some(var) = &a.password_env {
        return std::env::var(var)
            .map_err(|_| Error::invalid(format!("environment variable {var} is not set")));
    }
    if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_string());
    }
    Err(Error::invalid(
        "give the password with --password-env VAR or --password-stdin",
    ))
}

async fn run(cli: Cli) -> CliResult {
    let command = match cli.command {
        Command::Bench(cmd) => return care::bench(cmd, paths::data_dir(cli.data_dir)),
        other => other,
    };
    let store = Store::open(&paths::data_dir(cli.data_dir))?;
    let json = cli.json;
    match command {
        Command::Bench(_) => unreachable!("handled above"),
        Command::Contact(cmd) => care::contact(&store, json, cmd)?,
        Command::Status(a) => care::status(&store, json, a)?,
        Command::Note {
            conversation_id,
            text,
        } => {
            let m = store.add_note(conversation_id, &text)?;
            out(json, json!(m), || format!("note {} added", m.id));
        }
        Command::Pin {
            conversation_id,
            off,
        } => store.set_pinned(conversation_id, !off)?,
        Command::Tag(cmd) => care::tag(&store, json, cmd)?,
        Command::Canned(cmd) => care::canned(&store, json, cmd)?,
        Command::Views => care::views(&store, json)?,
        Command::Care(cmd) => care::care(&store, json, cmd)?,
        Command::Account(AccountCommand::AddEmail(a)) if a.oauth.is_some() => {
            let provider = a.oauth.expect("checked");
            let account = add_oauth_email(&store, &a, provider).await?;
            out(json, json!(account), || {
                format!("added account {} ({})", account.id, account.address)
            });
        }
        Command::Account(AccountCommand::SignIn { id, no_browser }) => {
            let account = store.account(id)?;
            let flow = sportello_email::start_sign_in_again(&store, &account).await?;
            let signed = browser_sign_in(flow, no_browser).await?;
            sportello_email::finish_sign_in_again(&store, &account, &signed)?;
            out(json, json!({"account": id, "signed_in": true}), || {
                format!("account {id} ({}) is signed in again", account.address)
            });
        }
        Command::Account(AccountCommand::AddEmail(a)) => {
            let address = a.address.clone().unwrap_or_default();
            let preset = match &a.provider {
                Some(id) => Some(sportello_email::preset(id).ok_or_else(|| {
                    Error::invalid(format!(
                        "unknown provider \"{id}\" (see `sportello-cli account presets`)"
                    ))
                })?),
                None => sportello_email::preset_for_address(&address),
            };
            let name = a.name.clone().unwrap_or_else(|| address.clone());
            let password = read_password(&a)?;
            let mut input = match &preset {
                Some(p) => p.input(&name, &address, &password),
                None if a.imap_host.is_none() || a.smtp_host.is_none() => {
                    return Err(Error::invalid(format!(
                        "no known provider for {}: give --provider or the server options \
                         (--imap-host, --smtp-host...)",
                        address
                    )));
                }
                None => EmailAccountInput {
                    name,
                    address: address.clone(),
                    imap_host: String::new(),
                    imap_port: 993,
                    imap_security: Security::Tls,
                    smtp_host: String::new(),
                    smtp_port: 465,
                    smtp_security: Security::Tls,
                    username: None,
                    password,
                    ca_file: None,
                },
            };
            if let Some(v) = &a.imap_host {
                input.imap_host = v.clone();
            }
            if let Some(v) = a.imap_port {
                input.imap_port = v;
            }
            if let Some(v) = a.imap_security {
                input.imap_security = v;
            }
            if let Some(v) = &a.smtp_host {
                input.smtp_host = v.clone();
            }
            if let Some(v) = a.smtp_port {
                input.smtp_port = v;
            }
            if let Some(v) = a.smtp_security {
                input.smtp_security = v;
            }
            input.username = a.username.clone();
            input.ca_file = a.ca_file.as_ref().map(|p| p.display().to_string());
            if !a.no_test {
                sportello_email::test_settings(&input).await?;
            }
            let account = sportello_email::add_account(&store, &input)?;
            out(json, json!(account), || {
                format!("added account {} ({})", account.id, account.address)
            });
        }
        Command::Account(AccountCommand::AddWhatsapp(a)) => {
            let input = sportello_messaging::WhatsAppInput {
                name: a.name,
                phone_number_id: a.phone_number_id,
                waba_id: a.waba_id,
                access_token: env_secret(&a.token_env)?,
                app_secret: env_secret(&a.app_secret_env)?,
                verify_token: env_secret(&a.verify_token_env)?,
                api_base: a.api_base,
            };
            let account =
                sportello_messaging::whatsapp::add_account(&store, &input, !a.no_test).await?;
            print_accounts(json, &[account]);
        }
        Command::Account(AccountCommand::AddTwilio(a)) => {
            let input = sportello_messaging::TwilioInput {
                name: a.name,
                account_sid: a.account_sid,
                from: a.from,
                auth_token: env_secret(&a.token_env)?,
                api_base: a.api_base,
            };
            let account =
                sportello_messaging::twilio::add_account(&store, &input, !a.no_test).await?;
            print_accounts(json, &[account]);
        }
        Command::Account(AccountCommand::AddMeta(a)) => {
            let input = sportello_messaging::MetaInput {
                name: a.name,
                page_id: a.page_id,
                instagram_id: a.instagram_id,
                access_token: env_secret(&a.token_env)?,
                app_secret: a.app_secret_env.as_deref().map(env_secret).transpose()?,
                verify_token: a.verify_token_env.as_deref().map(env_secret).transpose()?,
                human_agent: a.human_agent,
                api_base: a.api_base,
            };
            let accounts =
                sportello_messaging::meta::add_accounts(&store, &input, !a.no_test).await?;
            print_accounts(json, &accounts);
        }
        Command::Account(AccountCommand::AddTelegram(a)) => {
            let input = sportello_messaging::TelegramInput {
                name: a.name,
                bot_token: env_secret(&a.token_env)?,
                api_base: a.api_base,
            };
            let account =
                sportello_messaging::telegram::add_account(&store, &input, !a.no_test).await?;
            print_accounts(json, &[account]);
        }
        Command::Daemon {
            webhook_port,
            webhook_bind,
        } => {
            if json {
                print_events(&store);
            }
            let supervisor = Supervisor::new(
                store.clone(),
                sportello_channels::opener(),
                supervisor::DEFAULT_POLL,
            );
            supervisor.start_all()?;
            let cancel = tokio_util::sync::CancellationToken::new();
            let wake = supervisor.clone();
            let (addr, server) = sportello_messaging::webhook::Receiver::new(store.clone())
                // Media announced by a webhook is fetched right away by the account's worker.
                .on_stored(std::sync::Arc::new(move |account| wake.wake(Some(account))))
                .serve((webhook_bind, webhook_port).into(), cancel.clone())
                .await?;
            out(
                json,
                json!({"webhook": format!("http://{addr}"), "paths": ["/webhooks/whatsapp", "/webhooks/meta"]}),
                || {
                    format!(
                        "webhook receiver on http://{addr} (/webhooks/whatsapp, /webhooks/meta); syncing every account; Ctrl+C to stop"
                    )
                },
            );
            shutdown_signal().await;
            cancel.cancel();
            let _ = server.await;
            drop(supervisor);
        }
        Command::Templates { account_id } => {
            let account = store.account(account_id)?;
            let channel = sportello_messaging::WhatsAppChannel::open(&store, &account)?;
            let templates = channel.templates().await?;
            out(json, json!(templates), || {
                templates
                    .iter()
                    .map(|t| {
                        format!(
                            "{}\t{}\t{}\t{} variable(s)\t{}",
                            t.name, t.language, t.status, t.variables, t.body
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Window { conversation_id } => {
            let window = sportello_messaging::conversation_window(&store, conversation_id)?;
            out(json, json!(window), || format!("{window:?}"));
        }
        Command::Account(AccountCommand::List) => {
            let accounts = store.accounts()?;
            out(json, json!(accounts), || {
                accounts
                    .iter()
                    .map(|a| {
                        format!(
                            "{}\t{}\t{}\t{}\t{:?}{}",
                            a.id,
                            a.kind.as_str(),
                            a.name,
                            a.address,
                            a.status.state,
                            a.status
                                .last_error
                                .as_ref()
                                .map(|e| format!("\t{}", e.message))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Account(AccountCommand::Test { id }) => {
            let account = store.account(id)?;
            let channel = sportello_channels::open(&store, &account)?
                .ok_or_else(|| Error::invalid("this account is local and has no server to test"))?;
            channel.test().await?;
            out(json, json!({"id": id, "ok": true}), || {
                format!("account {id}: connection ok")
            });
        }
        Command::Account(AccountCommand::Presets) => {
            let presets = sportello_email::presets();
            out(json, json!(presets), || {
                presets
                    .iter()
                    .map(|p| {
                        format!(
                            "{:<10} {:<28} IMAP {}:{}  SMTP {}:{}  {}",
                            p.id,
                            p.name,
                            p.imap_host,
                            p.imap_port,
                            p.smtp_host,
                            p.smtp_port,
                            p.domains.join(" ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Account(AccountCommand::Folders { id, inbox }) => {
            if let Some(inbox) = inbox {
                sportello_email::set_inbox_folders(&store, id, &inbox)?;
            }
            let account = store.account(id)?;
            let folders = sportello_email::list_folders(&store, &account).await?;
            out(json, json!(folders), || {
                folders
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {:<30} {}",
                            if f.feeds_inbox { "*" } else { " " },
                            f.name,
                            f.role.map(|r| format!("{r:?}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Account(AccountCommand::Remove { id }) => {
            sportello_channels::remove_account(&store, id)?;
            out(json, json!({"removed": id}), || {
                format!("removed account {id}")
            });
        }
        Command::Sync { once: true } => {
            let recovered = store.recover_outbox()?;
            if recovered > 0 {
                eprintln!(
                    "warning: {recovered} replies were interrupted while sending; see them as failed"
                );
            }
            let mut results = Vec::new();
            let mut first_error = None;
            for account in store.accounts()? {
                let Some(channel) = sportello_channels::open(&store, &account)? else {
                    continue;
                };
                tracing::debug!(
                    target: "sportello_email::timing",
                    account = account.id,
                    ms = since_start_ms(),
                    "process: store open, secret read"
                );
                match supervisor::run_pass(&store, channel.as_ref(), &account).await {
                    Ok((report, (sent, failed))) => {
                        store.set_account_state(
                            account.id,
                            sportello_core::model::SyncState::Idle,
                            None,
                            true,
                        )?;
                        tracing::debug!(
                            target: "sportello_email::timing",
                            account = account.id,
                            ms = since_start_ms(),
                            "process: pass done"
                        );
                        results.push(json!({
                            "account_id": account.id, "name": account.name,
                            "fetched": report.fetched, "stored": report.stored,
                            "folders": report.folders, "sent": sent, "send_failed": failed,
                        }));
                    }
                    Err(e) => {
                        store.set_account_state(
                            account.id,
                            if e.code == ErrorCode::AuthFailed {
                                sportello_core::model::SyncState::NeedsAttention
                            } else {
                                sportello_core::model::SyncState::Offline
                            },
                            Some(&e),
                            false,
                        )?;
                        results.push(
                            json!({"account_id": account.id, "name": account.name, "error": e}),
                        );
                        first_error.get_or_insert(Error::new(
                            e.code,
                            format!("account {} ({}): {}", account.id, account.name, e.message),
                        ));
                    }
                }
            }
            out(json, json!({"accounts": results}), || {
                results
                    .iter()
                    .map(|r| match r.get("error") {
                        Some(e) => format!("{}: failed: {}", r["name"], e["message"]),
                        None => format!(
                            "{}: fetched {} new message(s), stored {}, sent {} repl(ies)",
                            r["name"].as_str().unwrap_or(""),
                            r["fetched"],
                            r["stored"],
                            r["sent"]
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Command::Sync { once: false } => {
            // Same as `daemon` without the webhook receiver.
            let supervisor = Supervisor::new(
                store.clone(),
                sportello_channels::opener(),
                supervisor::DEFAULT_POLL,
            );
            supervisor.start_all()?;
            eprintln!("syncing every account; press Ctrl+C to stop");
            tokio::signal::ctrl_c().await?;
        }
        Command::Conversations { limit, filter } => {
            let page = store.find_conversations(
                &ConversationQuery {
                    offset: 0,
                    limit,
                    account_id: None,
                },
                &filter.filter(),
            )?;
            out(json, json!(page.items), || {
                page.items
                    .iter()
                    .map(|c| {
                        format!(
                            "{}\t{}\t{}\t{}\t{}{}",
                            c.id,
                            c.channel.as_str(),
                            c.contact_name,
                            c.subject,
                            c.last_preview,
                            if c.unread_count > 0 {
                                format!("\t({} unread)", c.unread_count)
                            } else {
                                String::new()
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Messages { conversation_id } => {
            let detail = store.conversation(conversation_id)?;
            out(json, json!(detail.messages), || {
                detail
                    .messages
                    .iter()
                    .map(|m| {
                        format!(
                            "#{} {} {} <{}> [{}]{}\n{}\n",
                            m.id,
                            if m.direction == sportello_core::model::Direction::Inbound {
                                "<-"
                            } else {
                                "->"
                            },
                            m.sender_name,
                            m.sender_handle,
                            m.delivery.as_str(),
                            m.parse_error
                                .as_ref()
                                .map(|e| format!(" (unreadable: {e})"))
                                .unwrap_or_default(),
                            m.text.trim_end()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Search { query } => {
            let query = query.join(" ");
            let hits = store.search(&query, 50)?;
            let plain = |s: &str| s.replace(HIT_OPEN, "[").replace(HIT_CLOSE, "]");
            let rows: Vec<_> = hits
                .iter()
                .map(|h| {
                    json!({
                        "message_id": h.message_id, "conversation_id": h.conversation_id,
                        "channel": h.channel, "contact_name": h.contact_name,
                        "subject": h.subject, "snippet": plain(&h.snippet), "sent_at": h.sent_at,
                    })
                })
                .collect();
            out(json, json!(rows), || {
                hits.iter()
                    .map(|h| {
                        format!(
                            "{}\t{}\t{}\t{}",
                            h.conversation_id,
                            h.message_id,
                            h.contact_name,
                            plain(&h.snippet)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Reply {
            conversation_id,
            text,
            quote,
            template,
            lang,
            params,
            content_sid,
            files,
        } => {
            let mut extras = ReplyExtras::default();
            if let Some(name) = template {
                extras.template = Some(json!({"name": name, "language": lang, "params": params}));
            } else if let Some(sid) = content_sid {
                let variables: serde_json::Map<String, serde_json::Value> = params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ((i + 1).to_string(), json!(p)))
                    .collect();
                extras.template = Some(json!({"content_sid": sid, "variables": variables}));
            }
            for path in &files {
                extras.files.push(OutgoingFile {
                    filename: path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into()),
                    mime_type: mime_of(path).into(),
                    data: std::fs::read(path).map_err(|e| {
                        Error::invalid(format!("cannot read {}: {e}", path.display()))
                    })?,
                });
            }
            // The chat channel's limits (file_too_large, attachment_not_supported).
            sportello_messaging::check_reply_files(&store, conversation_id, &extras.files)?;
            let message =
                store.queue_reply_with(conversation_id, &Draft { text, quote }, &extras)?;
            let account = store.account(message.account_id)?;
            let channel = sportello_channels::open(&store, &account)?
                .ok_or_else(|| Error::invalid("this account cannot send"))?;
            sportello_core::outbox::flush(&store, channel.as_ref(), &account).await?;
            let message = store.message(message.id)?;
            out(json, json!(message), || {
                format!(
                    "reply {} in conversation {}: {}",
                    message.id,
                    conversation_id,
                    message.delivery.as_str()
                )
            });
            if message.delivery != Delivery::Sent {
                let why = message
                    .delivery_error
                    .map(|e| e.message)
                    .unwrap_or_default();
                return Err(Error::new(
                    ErrorCode::Network,
                    format!(
                        "reply {} saved in the outbox but not sent ({}): {why}",
                        message.id,
                        message.delivery.as_str()
                    ),
                ));
            }
        }
        Command::Forward {
            message_id,
            to,
            text,
        } => {
            let message = store.queue_forward(message_id, &to, &text)?;
            let account = store.account(message.account_id)?;
            let channel = sportello_channels::open(&store, &account)?
                .ok_or_else(|| Error::invalid("this account cannot send"))?;
            sportello_core::outbox::flush(&store, channel.as_ref(), &account).await?;
            let message = store.message(message.id)?;
            out(json, json!(message), || {
                format!(
                    "forward {} to {to}: {}",
                    message.id,
                    message.delivery.as_str()
                )
            });
            if message.delivery != Delivery::Sent {
                let why = message
                    .delivery_error
                    .map(|e| e.message)
                    .unwrap_or_default();
                return Err(Error::new(
                    ErrorCode::Network,
                    format!(
                        "forward {} saved in the outbox but not sent ({}): {why}",
                        message.id,
                        message.delivery.as_str()
                    ),
                ));
            }
        }
        Command::Import { paths } => {
            let report = sportello_email::import_paths(&store, &paths)?;
            out(json, json!(report), || {
                format!(
                    "imported {} message(s), {} already present, {} failed",
                    report.imported, report.duplicates, report.failed
                )
            });
            if report.imported + report.duplicates == 0 && report.failed > 0 {
                return Err(Error::invalid(format!(
                    "nothing could be imported ({} failed)",
                    report.failed
                )));
            }
        }
        Command::Stats { csv, days } => {
            let stats = store.stats()?;
            let to = sportello_core::now_ms();
            let report = store.care_report(to - i64::from(days) * 86_400_000, to)?;
            if csv {
                print!("{}", sportello_core::store::report_csv(&report));
                return Ok(());
            }
            let mut value = json!(stats);
            value["response_times"] = json!(report);
            out(json, value, || {
                format!(
                    "accounts {}\nconversations {}\nmessages {}\ncontacts {}\nunread conversations {}\nreplies waiting {}\nreplies failed {}",
                    stats.accounts,
                    stats.conversations,
                    stats.messages,
                    stats.contacts,
                    stats.unread_conversations,
                    stats.outbox_pending,
                    stats.outbox_failed
                ) + &format!(
                    "\nfirst response (median) {}\nconversations waiting now {} ({} past the {} min target)",
                    report
                        .total
                        .first_response
                        .median_ms
                        .map(|ms| format!("{:.0} min", ms as f64 / 60_000.0))
                        .unwrap_or_else(|| "-".into()),
                    report.waiting_now,
                    report.overdue_now,
                    report.sla_minutes
                )
            });
        }
    }
    Ok(())
}

/// Ctrl+C, or SIGTERM on Unix (how a service manager or a test stops the daemon).
/// With `--json`, the daemon prints what the app's window and notifier would get, one JSON
/// line each, stamped with the time it was announced (`at_ms`): `{"event":"account",...}`
/// when an account's sync state changes, `{"event":"synced",...}` for a first sync's summary,
/// `{"event":"new_message",...}` for each new unread inbound message after it (what a desktop
/// notification is made from). The email benchmark times
/// delivery to the `new_message` line.
fn print_events(store: &Store) {
    let mut changes = store.subscribe();
    let store = store.clone();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let at_ms = sportello_core::now_ms();
            for id in &change.accounts {
                if let Ok(account) = store.account(*id) {
                    println!(
                        "{}",
                        json!({"event": "account", "account_id": id, "state": account.status.state, "at_ms": at_ms})
                    );
                }
            }
            for summary in &change.summaries {
                println!(
                    "{}",
                    json!({"event": "synced", "account_id": summary.account_id,
                           "new_messages": summary.new_messages, "at_ms": at_ms})
                );
            }
            for note in &change.inbound {
                println!(
                    "{}",
                    json!({"event": "new_message", "message_id": note.message_id,
                           "conversation_id": note.conversation_id, "channel": note.channel,
                           "at_ms": at_ms})
                );
            }
        }
    });
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
