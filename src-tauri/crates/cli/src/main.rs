//! `sportello-cli`: the headless command line over Sportello's core, for tests, benchmarks and
//! power users. Same store, same channels, same outbox as the desktop app; no GUI.
//!
//! Exit status is 0 on success; on failure a one-line reason goes to stderr (as JSON
//! `{"code","message"}` with `--json`) and the status is non-zero.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sportello_core::model::Delivery;
use sportello_core::outbox::Draft;
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
    /// The unified conversation list, newest first.
    Conversations {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// The messages of one conversation.
    Messages { conversation_id: i64 },
    /// Full-text search over every channel.
    Search { query: Vec<String> },
    /// Reply in a conversation (queued in the outbox, then sent).
    Reply {
        conversation_id: i64,
        #[arg(long)]
        text: String,
        /// Quote the message being answered.
        #[arg(long)]
        quote: bool,
    },
    /// Import .eml files, Maildir folders or mbox files into the local "Imported" account.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Counts of what is stored.
    Stats,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add an IMAP + SMTP account (the password goes to the OS keyring only).
    AddEmail(AddEmail),
    List,
    /// Connect and log in with an account's saved settings.
    Test {
        id: i64,
    },
    /// Remove an account, what was synced from it and its saved password.
    Remove {
        id: i64,
    },
}

#[derive(Args)]
struct AddEmail {
    #[arg(long)]
    name: String,
    #[arg(long)]
    address: String,
    #[arg(long)]
    imap_host: String,
    #[arg(long)]
    imap_port: u16,
    #[arg(long, value_parser = parse_security)]
    imap_security: Security,
    #[arg(long)]
    smtp_host: String,
    #[arg(long)]
    smtp_port: u16,
    #[arg(long, value_parser = parse_security)]
    smtp_security: Security,
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

fn parse_security(s: &str) -> Result<Security, String> {
    match s {
        "tls" => Ok(Security::Tls),
        "starttls" => Ok(Security::Starttls),
        "plain" => Ok(Security::Plain),
        _ => Err("expected tls, starttls or plain".into()),
    }
}

type CliResult = Result<(), Error>;

fn main() -> ExitCode {
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
    let store = Store::open(&paths::data_dir(cli.data_dir))?;
    let json = cli.json;
    match cli.command {
        Command::Account(AccountCommand::AddEmail(a)) => {
            let input = EmailAccountInput {
                name: a.name.clone(),
                address: a.address.clone(),
                imap_host: a.imap_host.clone(),
                imap_port: a.imap_port,
                imap_security: a.imap_security,
                smtp_host: a.smtp_host.clone(),
                smtp_port: a.smtp_port,
                smtp_security: a.smtp_security,
                username: a.username.clone(),
                password: read_password(&a)?,
                ca_file: a.ca_file.as_ref().map(|p| p.display().to_string()),
            };
            if !a.no_test {
                sportello_email::test_settings(&input).await?;
            }
            let account = sportello_email::add_account(&store, input)?;
            out(json, json!(account), || {
                format!("added account {} ({})", account.id, account.address)
            });
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
                match supervisor::run_pass(&store, channel.as_ref(), &account).await {
                    Ok((report, (sent, failed))) => {
                        store.set_account_state(
                            account.id,
                            sportello_core::model::SyncState::Idle,
                            None,
                            true,
                        )?;
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
            let supervisor = Supervisor::new(
                store.clone(),
                sportello_channels::opener(),
                supervisor::DEFAULT_POLL,
            );
            supervisor.start_all()?;
            eprintln!("syncing every account; press Ctrl+C to stop");
            tokio::signal::ctrl_c().await?;
        }
        Command::Conversations { limit } => {
            let page = store.conversations(&ConversationQuery {
                offset: 0,
                limit,
                account_id: None,
            })?;
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
        } => {
            let message = store.queue_reply(conversation_id, &Draft { text, quote })?;
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
        Command::Stats => {
            let stats = store.stats()?;
            out(json, json!(stats), || {
                format!(
                    "accounts {}\nconversations {}\nmessages {}\ncontacts {}\nunread conversations {}\nreplies waiting {}\nreplies failed {}",
                    stats.accounts,
                    stats.conversations,
                    stats.messages,
                    stats.contacts,
                    stats.unread_conversations,
                    stats.outbox_pending,
                    stats.outbox_failed
                )
            });
        }
    }
    Ok(())
}
