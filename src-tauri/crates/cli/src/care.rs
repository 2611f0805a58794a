//! Customer-care commands: contacts, status, notes, tags, canned replies, views, care
//! settings, and the search benchmark.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use sportello_core::care::CareSettings;
use sportello_core::model::{ChannelKind, ConversationStatus};
use sportello_core::store::{CannedReplyInput, ConversationFilter, View};
use sportello_core::{Error, Store, now_ms};

use crate::out;

#[derive(Subcommand)]
pub enum ContactCommand {
    /// A contact's identities, conversations on every channel, notes, tags and merges.
    Show { id: i64 },
    /// Contacts that are probably the same person (for one contact, or everyone).
    Suggest { id: Option<i64> },
    /// Merge contact OTHER into SURVIVOR (undo with `contact unmerge MERGE_ID`).
    Merge { survivor: i64, other: i64 },
    /// Undo a merge: both contacts back exactly as they were.
    Unmerge { merge_id: i64 },
    /// Replace a contact's notes.
    Notes { id: i64, text: String },
    /// "Not the same person": stop suggesting this pair.
    Dismiss { a: i64, b: i64 },
}

#[derive(Args)]
pub struct StatusArgs {
    pub conversation_id: i64,
    /// open, pending, snoozed or closed.
    #[arg(value_parser = parse_status)]
    pub status: ConversationStatus,
    /// For snoozed: when it reopens ("2h", "30m", "3d", or ms since the epoch).
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Subcommand)]
pub enum TagCommand {
    List,
    Create {
        name: String,
        #[arg(long, default_value = "#6b7280")]
        color: String,
    },
    /// Put a tag on a conversation.
    Add {
        conversation_id: i64,
        tag_id: i64,
    },
    /// Take a tag off a conversation.
    Remove {
        conversation_id: i64,
        tag_id: i64,
    },
    Delete {
        tag_id: i64,
    },
}

#[derive(Subcommand)]
pub enum CannedCommand {
    List,
    /// Add a canned reply (give at least one of --it / --en).
    Add {
        name: String,
        #[arg(long, default_value = "")]
        shortcut: String,
        #[arg(long)]
        it: Option<String>,
        #[arg(long)]
        en: Option<String>,
    },
    /// Fill a canned reply's variables for a conversation.
    Render {
        id: i64,
        #[arg(long)]
        conversation: Option<i64>,
        #[arg(long)]
        lang: Option<String>,
    },
    Delete {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum CareCommand {
    /// The care settings (shop and agent names, SLA, hours, holidays, auto-reply) as JSON.
    Show,
    /// Replace the care settings with this JSON (missing fields take their defaults).
    Set { json: String },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Generate an inbox in a temporary folder, index it, time a fixed mix of searches.
    Search {
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// Times each query of the mix is run.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Build in this folder and keep it (default: a temporary folder, removed after).
        #[arg(long, conflicts_with = "reuse")]
        keep: Option<PathBuf>,
        /// Time the searches on a folder an earlier `--keep` built (no generation; its size
        /// wins over --messages).
        #[arg(long)]
        reuse: Option<PathBuf>,
        /// The read connection's mmap_size in MiB for this run (default: the app's).
        #[arg(long)]
        mmap_mb: Option<i64>,
    },
    /// Fill the empty data folder (--data-dir) with a generated shop inbox, indexed: for
    /// opening the app on a big mailbox (tests/bench/footprint.sh).
    Generate {
        #[arg(long, default_value_t = 100_000)]
        conversations: u64,
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
    },
}

#[derive(Args, Default)]
pub struct FilterArgs {
    /// inbox, waiting, pending, snoozed, closed, unread, all.
    #[arg(long, value_parser = parse_view)]
    pub view: Option<View>,
    #[arg(long, value_parser = parse_channel)]
    pub channel: Option<ChannelKind>,
    #[arg(long)]
    pub account: Option<i64>,
    #[arg(long)]
    pub tag: Option<i64>,
    #[arg(long)]
    pub unread: bool,
    /// Only conversations whose customer waits for our reply.
    #[arg(long)]
    pub waiting: bool,
}

impl FilterArgs {
    pub fn filter(&self) -> ConversationFilter {
        ConversationFilter {
            view: self.view,
            channel: self.channel,
            account_id: self.account,
            tag_id: self.tag,
            unread: self.unread,
            waiting: self.waiting,
            ..Default::default()
        }
    }
}

fn parse_status(s: &str) -> Result<ConversationStatus, String> {
    ConversationStatus::parse(s).ok_or_else(|| "expected open, pending, snoozed or closed".into())
}

fn parse_channel(s: &str) -> Result<ChannelKind, String> {
    ChannelKind::parse(s)
        .ok_or_else(|| "expected email, whatsapp, messenger, instagram or telegram".into())
}

fn parse_view(s: &str) -> Result<View, String> {
    serde_json::from_value(json!(s))
        .map_err(|_| "expected inbox, waiting, pending, snoozed, closed, unread or all".into())
}

/// "2h", "30m", "3d" from now, or an absolute time in ms.
fn parse_until(s: &str) -> Result<i64, Error> {
    let s = s.trim();
    let unit = |suffix: char, ms: i64| {
        s.strip_suffix(suffix)
            .and_then(|n| n.parse::<i64>().ok())
            .map(|n| now_ms() + n * ms)
    };
    unit('m', 60_000)
        .or_else(|| unit('h', 3_600_000))
        .or_else(|| unit('d', 86_400_000))
        .or_else(|| s.parse::<i64>().ok())
        .ok_or_else(|| Error::invalid(format!("{s:?} is not a time like 2h, 30m or 3d")))
}

pub fn contact(store: &Store, json: bool, cmd: ContactCommand) -> Result<(), Error> {
    match cmd {
        ContactCommand::Show { id } => {
            let d = store.contact_detail(id)?;
            out(json, json!(d), || {
                let mut s = format!(
                    "{} (contact {})\nidentities: {}\nconversations: {}\n",
                    d.contact.display_name,
                    d.contact.id,
                    d.contact
                        .identities
                        .iter()
                        .map(|i| format!("{} {}", i.kind.as_str(), i.value))
                        .collect::<Vec<_>>()
                        .join(", "),
                    d.conversations.len()
                );
                for m in &d.merges {
                    s.push_str(&format!("merge {}: {} merged in\n", m.id, m.merged_name));
                }
                for t in d.timeline.iter().take(20) {
                    s.push_str(&format!(
                        "{}\t{}\t{}\n",
                        t.conversation_id,
                        t.channel.as_str(),
                        t.preview
                    ));
                }
                s.trim_end().to_string()
            });
        }
        ContactCommand::Suggest { id } => {
            let v = store.contact_suggestions(id)?;
            out(json, json!(v), || {
                v.iter()
                    .map(|s| {
                        format!(
                            "{} {} <-> {} {}\t{:?}: {}",
                            s.contact_id,
                            s.contact_name,
                            s.other_id,
                            s.other_name,
                            s.reason,
                            s.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ContactCommand::Merge { survivor, other } => {
            let r = store.merge_contacts(survivor, other)?;
            out(json, json!(r), || {
                format!(
                    "merged {other} into {survivor} (undo: contact unmerge {})",
                    r.id
                )
            });
        }
        ContactCommand::Unmerge { merge_id } => {
            let r = store.undo_merge(merge_id)?;
            out(json, json!(r), || {
                format!("contact {} is separate again", r.merged_id)
            });
        }
        ContactCommand::Notes { id, text } => {
            store.set_contact_notes(id, &text)?;
            out(json, json!({"ok": true}), String::new);
        }
        ContactCommand::Dismiss { a, b } => {
            store.dismiss_suggestion(a, b)?;
            out(json, json!({"ok": true}), String::new);
        }
    }
    Ok(())
}

pub fn status(store: &Store, json: bool, a: StatusArgs) -> Result<(), Error> {
    let until = a.until.as_deref().map(parse_until).transpose()?;
    let s = store.set_status(a.conversation_id, a.status, until)?;
    out(json, json!(s), || {
        format!("conversation {} is {}", s.id, s.status.as_str())
    });
    Ok(())
}

pub fn tag(store: &Store, json: bool, cmd: TagCommand) -> Result<(), Error> {
    match cmd {
        TagCommand::List => {
            let tags = store.tags()?;
            out(json, json!(tags), || {
                tags.iter()
                    .map(|t| format!("{}\t{}\t{}", t.id, t.color, t.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        TagCommand::Create { name, color } => {
            let t = store.create_tag(&name, &color)?;
            out(json, json!(t), || format!("tag {} {}", t.id, t.name));
        }
        TagCommand::Add {
            conversation_id,
            tag_id,
        } => store.tag_conversation(conversation_id, tag_id, true)?,
        TagCommand::Remove {
            conversation_id,
            tag_id,
        } => store.tag_conversation(conversation_id, tag_id, false)?,
        TagCommand::Delete { tag_id } => store.delete_tag(tag_id)?,
    }
    Ok(())
}

pub fn canned(store: &Store, json: bool, cmd: CannedCommand) -> Result<(), Error> {
    match cmd {
        CannedCommand::List => {
            let v = store.canned_replies()?;
            out(json, json!(v), || {
                v.iter()
                    .map(|c| {
                        format!(
                            "{}\t/{}\t{}\t{}",
                            c.id,
                            c.shortcut,
                            c.name,
                            c.texts.keys().cloned().collect::<Vec<_>>().join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        CannedCommand::Add {
            name,
            shortcut,
            it,
            en,
        } => {
            let mut texts = BTreeMap::new();
            if let Some(t) = it {
                texts.insert("it".to_string(), t);
            }
            if let Some(t) = en {
                texts.insert("en".to_string(), t);
            }
            let c = store.save_canned_reply(
                None,
                &CannedReplyInput {
                    name,
                    shortcut,
                    texts,
                },
            )?;
            out(json, json!(c), || format!("template {} {}", c.id, c.name));
        }
        CannedCommand::Render {
            id,
            conversation,
            lang,
        } => {
            let r = store.render_canned_reply(id, conversation, lang.as_deref())?;
            out(json, json!(r), || {
                if r.missing.is_empty() {
                    r.text.clone()
                } else {
                    format!("{}\n(missing: {})", r.text, r.missing.join(", "))
                }
            });
        }
        CannedCommand::Delete { id } => store.delete_canned_reply(id)?,
    }
    Ok(())
}

pub fn care(store: &Store, json: bool, cmd: CareCommand) -> Result<(), Error> {
    let settings = match cmd {
        CareCommand::Show => store.care_settings()?,
        CareCommand::Set { json } => {
            let s: CareSettings = serde_json::from_str(&json)
                .map_err(|e| Error::invalid(format!("not valid care settings: {e}")))?;
            store.save_care_settings(&s)?
        }
    };
    let _ = json;
    println!("{}", serde_json::to_string_pretty(&settings)?);
    Ok(())
}

pub fn views(store: &Store, json: bool) -> Result<(), Error> {
    let c = store.view_counts()?;
    out(json, json!(c), || {
        format!(
            "inbox {}\nwaiting {}\noverdue {}\npending {}\nsnoozed {}\nclosed {}\nunread {}\nall {}",
            c.inbox, c.waiting, c.overdue, c.pending, c.snoozed, c.closed, c.unread, c.all
        )
    });
    Ok(())
}

/// Always prints JSON (it is for scripts and docs/benchmarks.md).
pub fn bench(cmd: BenchCommand, data_dir: PathBuf) -> Result<(), Error> {
    let (messages, rounds, keep, reuse, mmap_mb) = match cmd {
        BenchCommand::Search {
            messages,
            rounds,
            keep,
            reuse,
            mmap_mb,
        } => (messages, rounds, keep, reuse, mmap_mb),
        BenchCommand::Generate {
            conversations,
            messages,
        } => {
            refuse_existing(&data_dir)?;
            let report = sportello_core::bench::generate(&data_dir, conversations, messages)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            return Ok(());
        }
    };
    let mmap = mmap_mb.map(|mb| mb * 1024 * 1024);
    if let Some(dir) = reuse {
        if !dir.join(sportello_core::store::DB_FILE).exists() {
            return Err(Error::invalid(format!(
                "{} holds no database: build one with --keep first",
                dir.display()
            )));
        }
        let report = sportello_core::bench::search_bench(&dir, messages, rounds, true, mmap)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let (_tmp, dir) = match keep {
        Some(dir) => {
            refuse_existing(&dir)?;
            (None, dir)
        }
        None => {
            let tmp = std::env::temp_dir().join(format!(
                "sportello-bench-{}-{}",
                std::process::id(),
                now_ms()
            ));
            (Some(TempDir(tmp.clone())), tmp)
        }
    };
    let report = sportello_core::bench::search_bench(&dir, messages, rounds, false, mmap)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// A benchmark writes only into a folder without a database: never over real data.
fn refuse_existing(dir: &std::path::Path) -> Result<(), Error> {
    if dir.join(sportello_core::store::DB_FILE).exists() {
        return Err(Error::invalid(format!(
            "{} already holds a database; give an empty folder",
            dir.display()
        )));
    }
    Ok(())
}

/// Removes the benchmark's folder when done (or on error).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
