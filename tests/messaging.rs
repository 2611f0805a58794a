//! Chat channels against local fakes of each provider's documented contract
//! (`support/fake_*.rs`): the WhatsApp webhook receiver (signatures, challenge, idempotency),
//! WhatsApp Cloud media/statuses/sending/templates, Telegram long polling, Twilio paging and
//! 63016, Messenger/Instagram polling and rate limits, and the CLI end to end (keyring).
//! No test reaches the internet.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use sportello_core::channel::{Channel, SyncContext};
use sportello_core::model::{
    Account, ChannelKind, Delivery, Direction, Identity, IdentityKind, IncomingMessage, Message,
};
use sportello_core::outbox::{Draft, OutgoingFile, ReplyExtras, flush};
use sportello_core::store::ConversationQuery;
use sportello_core::{ErrorCode, Store, now_ms};
use sportello_messaging::webhook::{Receiver, sign};
use sportello_messaging::{
    MetaChannel, ReplyWindow, TelegramChannel, TwilioChannel, WhatsAppChannel, whatsapp,
};
use tokio_util::sync::CancellationToken;

use crate::support::fake_graph::{self, FakeGraph};
use crate::support::fake_telegram::{self, FakeTelegram};
use crate::support::fake_twilio::{self, FakeTwilio};

const APP_SECRET: &str = "meta-app-secret";
const VERIFY_TOKEN: &str = "sportello-verify";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn whatsapp_account(store: &Store, base: &str) -> Account {
    store
        .add_account(
            ChannelKind::Whatsapp,
            "Bottega WhatsApp",
            "+390212345678",
            &json!({"provider": "cloud", "phone_number_id": fake_graph::PHONE_NUMBER_ID,
                    "waba_id": fake_graph::WABA_ID, "api_base": base}),
        )
        .unwrap()
}

/// A webhook receiver on a free port whose secrets come from a map, not the keyring.
async fn receiver(
    store: &Store,
    secrets: HashMap<(i64, &'static str), String>,
) -> (String, CancellationToken) {
    let cancel = CancellationToken::new();
    let secrets = Arc::new(secrets);
    let (addr, _) = Receiver::new(store.clone())
        .with_secrets(Arc::new(move |id, key| {
            secrets
                .iter()
                .find(|((i, k), _)| *i == id && *k == key)
                .map(|(_, v)| v.clone())
        }))
        .serve("127.0.0.1:0".parse().unwrap(), cancel.clone())
        .await
        .unwrap();
    (format!("http://{addr}"), cancel)
}

fn wa_secrets(account: i64) -> HashMap<(i64, &'static str), String> {
    HashMap::from([
        ((account, "app_secret"), APP_SECRET.to_string()),
        ((account, "verify_token"), VERIFY_TOKEN.to_string()),
    ])
}

/// The text-message example of Meta's webhook reference, for our number.
fn wa_payload(from: &str, id: &str, text: &str, ts: i64) -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": fake_graph::WABA_ID, "changes": [{
        "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "390212345678", "phone_number_id": fake_graph::PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Giulia Bianchi"}, "wa_id": from}],
            "messages": [{"from": from, "id": id, "timestamp": ts.to_string(), "type": "text", "text": {"body": text}}]},
        "field": "messages"}]}]})
    .to_string()
}

async fn post(url: &str, body: &str, signature: Option<&str>) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(sig) = signature {
        req = req.header("X-Hub-Signature-256", sig);
    }
    req.send().await.unwrap().status()
}

fn message_count(store: &Store) -> u64 {
    store.stats().unwrap().messages
}

fn only_conversation(store: &Store) -> i64 {
    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: None,
        })
        .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "expected one conversation: {:?}",
        page.items
    );
    page.items[0].id
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_webhook_valid_signature_is_stored_once() {
    let (_dir, store) = store();
    let account = whatsapp_account(&store, "http://127.0.0.1:9");
    let (base, cancel) = receiver(&store, wa_secrets(account.id)).await;
    let url = format!("{base}/webhooks/whatsapp");
    let body = wa_payload(
        "393471234567",
        "wamid.IN1",
        "Buongiorno, è disponibile in blu?",
        now_ms() / 1000,
    );
    let sig = sign(APP_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    // Meta retries a delivery it thinks failed: the same message must stay one message.
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    assert_eq!(message_count(&store), 1);
    let conv = store.conversation(only_conversation(&store)).unwrap();
    assert_eq!(conv.messages[0].text, "Buongiorno, è disponibile in blu?");
    assert_eq!(conv.conversation.contact_handle, "+393471234567");
    assert_eq!(conv.conversation.contact_name, "Giulia Bianchi");
    assert!(conv.conversation.last_inbound_at.is_some());
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_webhook_forged_missing_or_stale_signature_stores_nothing() {
    let (_dir, store) = store();
    let account = whatsapp_account(&store, "http://127.0.0.1:9");
    let (base, cancel) = receiver(&store, wa_secrets(account.id)).await;
    let url = format!("{base}/webhooks/whatsapp");
    let body = wa_payload("393471234567", "wamid.FORGED", "forged", now_ms() / 1000);
    // Missing header.
    assert_eq!(post(&url, &body, None).await, 401);
    // Signed with another secret (forged).
    let forged = sign(b"not-our-secret", body.as_bytes());
    assert_eq!(post(&url, &body, Some(&forged)).await, 401);
    // Stale: a signature made for an earlier body, replayed on a changed one.
    let earlier = wa_payload("393471234567", "wamid.OLD", "old", 1_700_000_000);
    let stale = sign(APP_SECRET.as_bytes(), earlier.as_bytes());
    assert_eq!(post(&url, &body, Some(&stale)).await, 401);
    // Garbage and the legacy SHA-1 header are refused too.
    assert_eq!(post(&url, &body, Some("sha256=zz")).await, 401);
    assert_eq!(post(&url, &body, Some(&sig_sha1_style(&forged))).await, 401);
    assert_eq!(message_count(&store), 0);
    cancel.cancel();
}

fn sig_sha1_style(sig: &str) -> String {
    sig.replace("sha256=", "sha1=")
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_webhook_verification_echoes_the_challenge() {
    let (_dir, store) = store();
    let account = whatsapp_account(&store, "http://127.0.0.1:9");
    let (base, cancel) = receiver(&store, wa_secrets(account.id)).await;
    let client = reqwest::Client::new();
    let ok = client
        .get(format!("{base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = client
        .get(format!("{base}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_ne!(wrong.text().await.unwrap(), "1158201444");
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_media_is_fetched_after_storing_and_expired_links_are_renewed() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = whatsapp_account(&store, &graph.base());
    let payload = json!({"entry": [{"changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": fake_graph::PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Giulia"}, "wa_id": "393471234567"}],
        "messages": [
            {"from": "393471234567", "id": "wamid.IMG", "timestamp": "1700000000", "type": "image",
             "image": {"caption": "Questa borsa", "mime_type": "image/jpeg", "sha256": "x", "id": "MEDIA_OK"}},
            {"from": "393471234567", "id": "wamid.OLDIMG", "timestamp": "1700000001", "type": "document",
             "document": {"filename": "fattura.pdf", "mime_type": "application/pdf", "sha256": "y", "id": "MEDIA_GONE"}}]}}]}]});
    for (_, batch) in whatsapp::parse_webhook(&payload) {
        whatsapp::ingest_webhook(&store, account.id, batch).unwrap();
    }
    assert_eq!(store.pending_attachments(account.id, 10).unwrap().len(), 2);
    let channel = WhatsAppChannel::new(&store, &account, fake_graph::TOKEN.into()).unwrap();
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    // The first download link had expired: a fresh one was asked for.
    assert_eq!(graph.state.media_urls.load(Ordering::SeqCst), 2);
    let conv = store.conversation(only_conversation(&store)).unwrap();
    let image = &conv.messages[0].attachments[0];
    let hash = image.content_hash.as_ref().expect("image downloaded");
    assert_eq!(
        std::fs::read(store.blob_path(hash)).unwrap(),
        fake_graph::MEDIA_BYTES
    );
    assert_eq!(image.pending, None);
    // A media id Meta no longer has is not retried forever.
    let gone = &conv.messages[1].attachments[0];
    assert_eq!(gone.filename, "fattura.pdf");
    assert!(gone.content_hash.is_none());
    // Shown as "no longer available" (neither downloaded nor pending); the message is kept.
    assert_eq!(gone.pending, None);
    assert_eq!(conv.messages[1].external_id, "wamid.OLDIMG");
    assert_eq!(conv.messages.len(), 2);
    assert!(
        store
            .pending_attachments(account.id, 10)
            .unwrap()
            .is_empty()
    );
}

/// Queues `text` as a reply in `conv` and flushes the outbox once: the reply as stored then.
async fn reply_now(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
    conv: i64,
    text: &str,
) -> Message {
    let r = store.queue_reply(conv, &draft(text)).unwrap();
    flush(store, channel, account).await.unwrap();
    store.message(r.id).unwrap()
}

async fn inbound(store: &Store, account: &Account, from: &str, id: &str, at_secs: i64) -> i64 {
    let payload: Value = serde_json::from_str(&wa_payload(from, id, "Ciao", at_secs)).unwrap();
    for (_, batch) in whatsapp::parse_webhook(&payload) {
        whatsapp::ingest_webhook(store, account.id, batch).unwrap();
    }
    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 50,
            account_id: None,
        })
        .unwrap();
    page.items
        .iter()
        .find(|c| c.contact_handle == format!("+{from}"))
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_send_text_template_and_documented_errors() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = whatsapp_account(&store, &graph.base());
    let channel = WhatsAppChannel::new(&store, &account, fake_graph::TOKEN.into()).unwrap();
    let now = now_ms() / 1000;

    // Inside the window: free text goes out and takes the wamid.
    let fresh = inbound(&store, &account, "393471234567", "wamid.A", now).await;
    assert!(matches!(
        sportello_messaging::conversation_window(&store, fresh).unwrap(),
        ReplyWindow::Open { .. }
    ));
    let sent = reply_now(&store, &channel, &account, fresh, "Sì, domani!").await;
    assert_eq!(sent.delivery, Delivery::Sent);
    assert_eq!(sent.external_id, "wamid.SENT1");
    let body = graph.server.calls("/messages")[0].json();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], "393471234567");
    assert_eq!(body["text"]["body"], "Sì, domani!");

    // Statuses from the webhook move it forward, never back.
    for (status, expected) in [
        ("delivered", Delivery::Delivered),
        ("read", Delivery::Read),
        ("sent", Delivery::Read),
    ] {
        let payload = json!({"entry": [{"changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": fake_graph::PHONE_NUMBER_ID},
            "statuses": [{"id": "wamid.SENT1", "status": status, "timestamp": "1700000000", "recipient_id": "393471234567"}]}}]}]});
        for (_, batch) in whatsapp::parse_webhook(&payload) {
            whatsapp::ingest_webhook(&store, account.id, batch).unwrap();
        }
        assert_eq!(
            store.message(sent.id).unwrap().delivery,
            expected,
            "after {status}"
        );
    }

    // 130429: throughput exceeded, kept queued for a later retry.
    let busy = inbound(&store, &account, fake_graph::BUSY_NUMBER, "wamid.B", now).await;
    let m = reply_now(&store, &channel, &account, busy, "x").await;
    assert_eq!(m.delivery, Delivery::Queued);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::RateLimited);

    // 131047: the API says the 24 hours are over: failed, shown as the window rule.
    let stale = inbound(&store, &account, fake_graph::STALE_NUMBER, "wamid.C", now).await;
    let m = reply_now(&store, &channel, &account, stale, "x").await;
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::OutsideWindow);

    // Our own record says the window closed: refused without calling the API...
    let old = inbound(
        &store,
        &account,
        "393489999999",
        "wamid.D",
        now - 2 * 86_400,
    )
    .await;
    assert_eq!(
        sportello_messaging::conversation_window(&store, old).unwrap(),
        ReplyWindow::TemplatesOnly
    );
    let calls = graph.server.calls("/messages").len();
    assert_eq!(
        reply_now(&store, &channel, &account, old, "x")
            .await
            .delivery_error
            .unwrap()
            .code,
        ErrorCode::OutsideWindow
    );
    assert_eq!(graph.server.calls("/messages").len(), calls);
    // ...but an approved template goes out.
    let extras = ReplyExtras {
        template: Some(
            json!({"name": "ordine_spedito", "language": "it", "params": ["Giulia", "A123"]}),
        ),
        files: Vec::new(),
    };
    let r = store
        .queue_reply_with(
            old,
            &Draft {
                text: "Ciao Giulia, il tuo ordine A123 è partito.".into(),
                quote: false,
            },
            &extras,
        )
        .unwrap();
    flush(&store, &channel, &account).await.unwrap();
    assert_eq!(store.message(r.id).unwrap().delivery, Delivery::Sent);
    let body = graph.server.calls("/messages").last().unwrap().json();
    assert_eq!(body["type"], "template");
    assert_eq!(body["template"]["name"], "ordine_spedito");
    assert_eq!(
        body["template"]["components"][0]["parameters"][0]["text"],
        "Giulia"
    );

    // The templates list follows Graph's paging.
    let templates = channel.templates().await.unwrap();
    let names: Vec<_> = templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["hello_world", "ordine_spedito"]);
    assert_eq!(templates[1].variables, 2);

    // An expired token is an authentication problem, not a network one.
    let expired = WhatsAppChannel::new(&store, &account, "old-token".into()).unwrap();
    assert_eq!(
        expired.test().await.unwrap_err().code,
        ErrorCode::AuthFailed
    );
    channel.test().await.unwrap();
}

/// A Telegram bot account talking to the fake Bot API `tg`.
fn telegram_account(store: &Store, tg: &FakeTelegram) -> Account {
    store
        .add_account(
            ChannelKind::Telegram,
            "Bottega bot",
            "@bottega_bot",
            &json!({"api_base": tg.server.base()}),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_updates_are_confirmed_by_offset_and_replies_sent() {
    let tg = FakeTelegram::start();
    let (_dir, store) = store();
    let account = telegram_account(&store, &tg);
    let channel = TelegramChannel::new(&store, &account, fake_telegram::TOKEN.into())
        .with_long_poll(Duration::from_secs(1));
    tg.push(FakeTelegram::text_update(
        500,
        1,
        "Ciao, avete la taglia M?",
    ));
    let mut photo = FakeTelegram::text_update(501, 2, "");
    photo["message"].as_object_mut().unwrap().remove("text");
    photo["message"]["caption"] = json!("questa");
    photo["message"]["photo"] = json!([{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                                       {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]);
    tg.push(photo);
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 2);
    // The next call confirms them with an offset above the last id, and stores nothing twice.
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    let offsets: Vec<Value> = tg
        .server
        .calls("/getUpdates")
        .iter()
        .map(|r| r.json()["offset"].clone())
        .collect();
    assert_eq!(offsets.last().unwrap(), &json!(502));
    assert!(tg.state.pending.lock().unwrap().is_empty());
    assert_eq!(message_count(&store), 2);
    // A one-shot sync never waits on the server; a worker's pass long-polls.
    assert!(
        tg.server
            .calls("/getUpdates")
            .iter()
            .all(|r| r.json()["timeout"] == 0)
    );
    let mut ctx = SyncContext::new(store.clone(), account.clone());
    ctx.long_poll = true;
    channel.sync(&ctx).await.unwrap();
    assert_eq!(
        tg.server.calls("/getUpdates").last().unwrap().json()["timeout"],
        1
    );

    let conv_id = only_conversation(&store);
    let conv = store.conversation(conv_id).unwrap();
    assert_eq!(conv.conversation.contact_name, "Mario Rossi");
    let hash = conv.messages[1].attachments[0]
        .content_hash
        .clone()
        .expect("photo downloaded");
    assert_eq!(
        std::fs::read(store.blob_path(&hash)).unwrap(),
        b"photo:photos/big.jpg"
    );

    // A 429 with retry_after is waited out, then the reply goes.
    tg.state.throttle_next.store(1, Ordering::SeqCst);
    let sent = reply_now(&store, &channel, &account, conv_id, "Sì, c'è!").await;
    assert_eq!(sent.delivery, Delivery::Sent, "{:?}", sent.delivery_error);
    assert_eq!(sent.external_id, "1111111:9001");
    let sends = tg.server.calls("/sendMessage");
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[1].json()["chat_id"], "1111111");
    assert_eq!(sends[1].json()["text"], "Sì, c'è!");
    assert_eq!(
        sportello_messaging::conversation_window(&store, conv_id).unwrap(),
        ReplyWindow::Always
    );

    let bad = TelegramChannel::new(&store, &account, "000:bad".into());
    assert_eq!(bad.test().await.unwrap_err().code, ErrorCode::AuthFailed);
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_poll_pages_dedupes_and_surfaces_63016() {
    let tw = FakeTwilio::start();
    let (_dir, store) = store();
    let account = store
        .add_account(ChannelKind::Whatsapp, "Bottega Twilio", "+14155238886",
            &json!({"provider": "twilio", "account_sid": fake_twilio::SID, "from": fake_twilio::FROM, "api_base": tw.server.base()}))
        .unwrap();
    let now = now_ms() / 1000;
    let date = |s: i64| {
        // RFC 2822 as Twilio writes it, computed from Unix seconds via the day names table.
        let days = s.div_euclid(86_400);
        let dow = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days.rem_euclid(7)) as usize];
        let (y, m, d) = civil(days);
        let mon = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][(m - 1) as usize];
        let t = s.rem_euclid(86_400);
        format!(
            "{dow}, {d:02} {mon} {y} {:02}:{:02}:{:02} +0000",
            t / 3600,
            t / 60 % 60,
            t % 60
        )
    };
    {
        let mut msgs = tw.state.messages.lock().unwrap();
        for i in 0..5 {
            msgs.push(FakeTwilio::message(
                &format!("SMin{i}"),
                "whatsapp:+393471234567",
                fake_twilio::FROM,
                &format!("messaggio {i}"),
                "inbound",
                "received",
                &date(now - 100 + i),
            ));
        }
        let mut failed = FakeTwilio::message(
            "SMout1",
            fake_twilio::FROM,
            "whatsapp:+393471234567",
            "risposta",
            "outbound-api",
            "undelivered",
            &date(now - 50),
        );
        failed["error_code"] = json!(63016);
        msgs.push(failed);
        let mut media = FakeTwilio::message(
            "SMimg",
            "whatsapp:+393471234567",
            fake_twilio::FROM,
            "",
            "inbound",
            "received",
            &date(now - 40),
        );
        media["num_media"] = json!("1");
        msgs.push(media);
    }
    let channel = TwilioChannel::new(&store, &account, fake_twilio::TOKEN.into()).unwrap();
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 7);
    // Pages of 2: followed through next_page_uri.
    assert!(tw.server.calls("/Messages.json").len() >= 4);
    // The day filter is re-read next time; SIDs dedupe.
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 0);
    assert_eq!(message_count(&store), 7);
    let days = tw.state.page_size_seen.lock().unwrap().clone();
    assert!(
        days.iter().all(|d| d.len() == 10 && d.starts_with("20")),
        "{days:?}"
    );

    let conv = store.conversation(only_conversation(&store)).unwrap();
    let out = conv
        .messages
        .iter()
        .find(|m| m.external_id == "SMout1")
        .unwrap();
    assert_eq!(out.direction, Direction::Outbound);
    assert_eq!(out.delivery, Delivery::Failed);
    assert_eq!(
        out.delivery_error.as_ref().unwrap().code,
        ErrorCode::OutsideWindow
    );
    let img = conv
        .messages
        .iter()
        .find(|m| m.external_id == "SMimg")
        .unwrap();
    let hash = img.attachments[0]
        .content_hash
        .clone()
        .expect("media downloaded");
    assert_eq!(
        std::fs::read(store.blob_path(&hash)).unwrap(),
        b"twilio media bytes"
    );

    // A reply inside the window goes through the Messages API.
    let sent = reply_now(&store, &channel, &account, conv.conversation.id, "Grazie!").await;
    assert_eq!(sent.delivery, Delivery::Sent, "{:?}", sent.delivery_error);
    assert_eq!(sent.external_id, "SMsent1");
    let post = tw
        .server
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.form("To").as_deref(), Some("whatsapp:+393471234567"));
    assert_eq!(post.form("From").as_deref(), Some(fake_twilio::FROM));

    // Twilio answering 63016 synchronously is the window rule too.
    {
        let mut msgs = tw.state.messages.lock().unwrap();
        msgs.push(FakeTwilio::message(
            "SMstale",
            fake_twilio::STALE,
            fake_twilio::FROM,
            "ciao",
            "inbound",
            "received",
            &date(now),
        ));
    }
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: None,
        })
        .unwrap();
    let stale = page
        .items
        .iter()
        .find(|c| c.contact_handle == "+393330063016")
        .unwrap();
    let m = reply_now(&store, &channel, &account, stale.id, "x").await;
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::OutsideWindow);
}

fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn iso(ms: i64) -> String {
    let s = ms / 1000;
    let (y, m, d) = civil(s.div_euclid(86_400));
    let t = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_poll_keeps_story_replies_and_backs_off_on_rate_limit() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = store
        .add_account(ChannelKind::Instagram, "Bottega (Instagram)", fake_graph::IG_ID,
            &json!({"page_id": fake_graph::PAGE_ID, "instagram_id": fake_graph::IG_ID, "platform": "instagram", "api_base": graph.base()}))
        .unwrap();
    let now = now_ms();
    *graph.state.conversations.lock().unwrap() =
        vec![json!({"id": "aWdfconv1", "updated_time": iso(now)})];
    graph.state.messages.lock().unwrap().push(("aWdfconv1".into(), vec![
        json!({"id": "aWdfmsg2", "created_time": iso(now), "from": {"username": "giulia.b", "id": "IGSID1"},
               "to": {"data": [{"username": "bottega", "id": fake_graph::IG_ID}]}, "message": "La voglio!",
               "story": {"reply_to": {"link": format!("{}/cdn/story.png", graph.base()), "id": "STORY1"}}}),
        json!({"id": "aWdfmsg1", "created_time": iso(now - 60_000), "from": {"username": "giulia.b", "id": "IGSID1"},
               "to": {"data": [{"username": "bottega", "id": fake_graph::IG_ID}]}, "message": "",
               "attachments": {"data": [{"id": "att1", "mime_type": "image/png", "name": "foto.png",
                   "image_data": {"url": format!("{}/cdn/foto.png", graph.base()), "width": 10, "height": 10}}]}}),
    ]));
    let channel = MetaChannel::new(&store, &account, fake_graph::TOKEN.into())
        .unwrap()
        .with_min_interval(Duration::from_millis(50));

    // Three rate-limit answers in a row: the pass gives up as rate_limited (the worker backs
    // off) instead of hammering, and stores nothing half-way.
    graph.state.rate_limit_next.store(3, Ordering::SeqCst);
    let e = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    assert!(e.code.is_transient());
    assert_eq!(message_count(&store), 0);

    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 2);
    let conv = store.conversation(only_conversation(&store)).unwrap();
    assert_eq!(conv.conversation.contact_name, "giulia.b");
    let story = conv
        .messages
        .iter()
        .find(|m| m.external_id == "aWdfmsg2")
        .unwrap();
    assert!(story.text.contains("story"), "{}", story.text);
    assert!(story.text.contains("La voglio!"));
    let photo = conv
        .messages
        .iter()
        .find(|m| m.external_id == "aWdfmsg1")
        .unwrap();
    assert!(photo.attachments[0].content_hash.is_some());

    // Nothing changed since: the conversation's messages are not read again.
    let reads = graph.server.calls("/aWdfconv1").len();
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(graph.server.calls("/aWdfconv1").len(), reads);

    // Inside 24 hours: RESPONSE.
    assert_eq!(
        reply_now(
            &store,
            &channel,
            &account,
            conv.conversation.id,
            "Te la teniamo!"
        )
        .await
        .delivery,
        Delivery::Sent
    );
    let body = graph
        .server
        .calls(&format!("/{}/messages", fake_graph::PAGE_ID))[0]
        .json();
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert_eq!(body["recipient"]["id"], "IGSID1");
    assert_eq!(body["message"]["text"], "Te la teniamo!");
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_webhook_signed_delivery_is_stored() {
    let (_dir, store) = store();
    let account = store
        .add_account(ChannelKind::Messenger, "Bottega", fake_graph::PAGE_ID,
            &json!({"page_id": fake_graph::PAGE_ID, "platform": "messenger", "api_base": "http://127.0.0.1:9"}))
        .unwrap();
    let (base, cancel) = receiver(
        &store,
        HashMap::from([((account.id, "app_secret"), APP_SECRET.to_string())]),
    )
    .await;
    // The Messenger Platform's message webhook example.
    let body = json!({"object": "page", "entry": [{"id": fake_graph::PAGE_ID, "time": 1458692752478i64,
        "messaging": [{"sender": {"id": "PSID9"}, "recipient": {"id": fake_graph::PAGE_ID}, "timestamp": 1458692752478i64,
            "message": {"mid": "m_1457764197618:41d102a3e1ae206a38", "text": "hello, world!"}}]}]})
    .to_string();
    let url = format!("{base}/webhooks/meta");
    assert_eq!(
        post(&url, &body, Some(&sign(b"wrong", body.as_bytes()))).await,
        401
    );
    let sig = sign(APP_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    assert_eq!(message_count(&store), 1);
    let conv = store.conversation(only_conversation(&store)).unwrap();
    assert_eq!(conv.messages[0].text, "hello, world!");
    assert_eq!(conv.messages[0].sent_at, 1458692752478);
    assert_eq!(conv.conversation.contact_handle, "PSID9");
    cancel.cancel();
}

// ---- the CLI, end to end (tokens from the environment into the OS keyring) ----

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::support::cli_binary())
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env("TG_TOKEN", fake_telegram::TOKEN)
        .env("WA_TOKEN", fake_graph::TOKEN)
        .env("WA_SECRET", APP_SECRET)
        .env("WA_VERIFY", VERIFY_TOKEN)
        .env("META_VERIFY", "meta-verify-token")
        .env("TW_TOKEN", fake_twilio::TOKEN)
        .env_remove("SPORTELLO_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sportello-cli")
}

fn cli_ok(data: &std::path::Path, args: &[&str]) -> Value {
    let out = cli(data, args);
    assert!(
        out.status.success(),
        "sportello-cli {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn cli_chat_accounts_sync_reply_and_daemon_webhook() {
    if !crate::support::keyring_session("cli_chat_accounts_sync_reply_and_daemon_webhook") {
        return;
    }
    let tg = FakeTelegram::start();
    let graph = FakeGraph::start();
    let tw = FakeTwilio::start();
    let data = tempfile::tempdir().unwrap();
    let d = data.path();

    // A missing variable is a clear error, and nothing is added.
    let out = cli(
        d,
        &[
            "account",
            "add-telegram",
            "--name",
            "Bot",
            "--token-env",
            "NOPE_NOT_SET",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOPE_NOT_SET"));

    let added = cli_ok(
        d,
        &[
            "account",
            "add-telegram",
            "--name",
            "Bottega bot",
            "--token-env",
            "TG_TOKEN",
            "--api-base",
            &tg.server.base(),
        ],
    );
    assert_eq!(added[0]["address"], "@bottega_bot");
    let wa = cli_ok(
        d,
        &[
            "account",
            "add-whatsapp",
            "--name",
            "Bottega WA",
            "--phone-number-id",
            fake_graph::PHONE_NUMBER_ID,
            "--token-env",
            "WA_TOKEN",
            "--app-secret-env",
            "WA_SECRET",
            "--verify-token-env",
            "WA_VERIFY",
            "--waba-id",
            fake_graph::WABA_ID,
            "--api-base",
            &graph.base(),
        ],
    );
    assert_eq!(wa[0]["address"], "+390212345678");
    cli_ok(
        d,
        &[
            "account",
            "add-twilio",
            "--name",
            "Bottega Twilio",
            "--account-sid",
            fake_twilio::SID,
            "--from",
            fake_twilio::FROM,
            "--token-env",
            "TW_TOKEN",
            "--api-base",
            &tw.server.base(),
        ],
    );
    let meta = cli_ok(
        d,
        &[
            "account",
            "add-meta",
            "--name",
            "Bottega",
            "--page-id",
            fake_graph::PAGE_ID,
            "--instagram-id",
            fake_graph::IG_ID,
            "--token-env",
            "WA_TOKEN",
            "--app-secret-env",
            "WA_SECRET",
            "--verify-token-env",
            "META_VERIFY",
            "--api-base",
            &graph.base(),
        ],
    );
    assert_eq!(meta.as_array().unwrap().len(), 2);
    // A wrong token is refused at set-up with the provider's reason.
    let out = cli(
        d,
        &[
            "account",
            "add-twilio",
            "--name",
            "x",
            "--account-sid",
            "ACwrong",
            "--from",
            fake_twilio::FROM,
            "--token-env",
            "TW_TOKEN",
            "--api-base",
            &tw.server.base(),
        ],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("auth_failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    tg.push(FakeTelegram::text_update(7, 70, "Spedite in Sardegna?"));
    let synced = cli_ok(d, &["sync", "--once"]);
    assert_eq!(synced["accounts"].as_array().unwrap().len(), 5, "{synced}");
    let convs = cli_ok(d, &["conversations"]);
    let tg_conv = convs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "telegram")
        .unwrap();
    let id = tg_conv["id"].as_i64().unwrap().to_string();
    let reply = cli_ok(d, &["reply", &id, "--text", "Certo, in 3 giorni."]);
    assert_eq!(reply["delivery"], "sent");
    assert_eq!(
        tg.server.calls("/sendMessage")[0].json()["text"],
        "Certo, in 3 giorni."
    );
    let msgs = cli_ok(d, &["messages", &id]);
    assert_eq!(msgs.as_array().unwrap().len(), 2);
    let templates = cli_ok(d, &["templates", &wa[0]["id"].to_string()]);
    assert_eq!(templates.as_array().unwrap().len(), 2);

    // The daemon's webhook receiver stores a signed WhatsApp delivery and fetches its media.
    let port = crate::support::free_port();
    let mut daemon = std::process::Command::new(crate::support::cli_binary())
        .arg("--data-dir")
        .arg(d)
        .args(["daemon", "--webhook-port", &port.to_string()])
        .env_remove("SPORTELLO_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::support::wait_for_port(port, "the webhook receiver", Duration::from_secs(20));
    let challenge = reqwest::blocking_get(&format!(
        "http://127.0.0.1:{port}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
    ));
    assert_eq!(challenge, (200, "42".to_string()));
    // /webhooks/meta answers the token given with add-meta --verify-token-env (kept in the
    // keyring), not the WhatsApp account's.
    let meta_challenge = |token: &str| {
        reqwest::blocking_get(&format!(
            "http://127.0.0.1:{port}/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=43"
        ))
    };
    assert_eq!(meta_challenge("meta-verify-token"), (200, "43".to_string()));
    assert_eq!(meta_challenge(VERIFY_TOKEN).0, 403);
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": fake_graph::WABA_ID, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "390212345678", "phone_number_id": fake_graph::PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Giulia"}, "wa_id": "393471234567"}],
        "messages": [{"from": "393471234567", "id": "wamid.DAEMON", "timestamp": (now_ms() / 1000).to_string(), "type": "image",
            "image": {"caption": "questa", "mime_type": "image/jpeg", "sha256": "x", "id": "MEDIA_OK"}}]}}]}]}).to_string();
    let sig = sign(APP_SECRET.as_bytes(), body.as_bytes());
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(post(
            &format!("http://127.0.0.1:{port}/webhooks/whatsapp"),
            &body,
            Some(&sig)
        )),
        200
    );
    let wa_conv =
        crate::support::wait_until("the WhatsApp conversation", Duration::from_secs(20), || {
            let convs = cli_ok(d, &["conversations"]);
            convs
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["channel"] == "whatsapp" && c["contact_handle"] == "+393471234567")
                .cloned()
        });
    let wid = wa_conv["id"].to_string();
    crate::support::wait_until("the image download", Duration::from_secs(20), || {
        let msgs = cli_ok(d, &["messages", &wid]);
        msgs[0]["attachments"][0]["content_hash"]
            .as_str()
            .map(String::from)
    });
    let _ = std::process::Command::new("kill")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    let window = cli_ok(d, &["window", &wid]);
    assert_eq!(window["rule"], "open");
}

mod reqwest {
    pub use ::reqwest::*;

    /// A GET from a plain thread (the CLI test is not async).
    pub fn blocking_get(url: &str) -> (u16, String) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let r = ::reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }
}

// ---- media sending: each provider's multipart contract, checked by the fakes ----

fn file(name: &str, mime: &str, data: &[u8]) -> OutgoingFile {
    OutgoingFile {
        filename: name.into(),
        mime_type: mime.into(),
        data: data.to_vec(),
    }
}

fn with_files(files: Vec<OutgoingFile>) -> ReplyExtras {
    ReplyExtras {
        template: None,
        files,
    }
}

fn draft(text: &str) -> Draft {
    Draft {
        text: text.into(),
        quote: false,
    }
}

/// Checks `files` against the channel's limits, queues them with `text` as a reply in `conv`
/// and flushes the outbox: the reply as stored, which must have gone out.
async fn send_files(
    store: &Store,
    channel: &dyn Channel,
    account: &Account,
    conv: i64,
    text: &str,
    files: Vec<OutgoingFile>,
) -> Message {
    sportello_messaging::check_reply_files(store, conv, &files).unwrap();
    let r = store
        .queue_reply_with(conv, &draft(text), &with_files(files))
        .unwrap();
    flush(store, channel, account).await.unwrap();
    let sent = store.message(r.id).unwrap();
    assert_eq!(sent.delivery, Delivery::Sent, "{:?}", sent.delivery_error);
    sent
}

const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF fake picture";
const PDF: &[u8] = b"%PDF-1.4\n% fake receipt\n%%EOF\n";

#[tokio::test(flavor = "multi_thread")]
async fn whatsapp_media_reply_uploads_each_file_then_sends_it_by_id() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = whatsapp_account(&store, &graph.base());
    let channel = WhatsAppChannel::new(&store, &account, fake_graph::TOKEN.into()).unwrap();
    let conv = inbound(&store, &account, "393471234567", "wamid.M", now_ms() / 1000).await;
    let files = vec![
        file("borsa blu.jpg", "image/jpeg", JPEG),
        file("ricevuta è.pdf", "application/pdf", PDF),
    ];
    let sent = send_files(&store, &channel, &account, conv, "Ecco la foto", files).await;
    assert_eq!(sent.external_id, "wamid.SENT1");

    // Each file went to /PHONE_NUMBER_ID/media as multipart: messaging_product, type, file.
    let uploads = graph.state.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].field, "file");
    assert_eq!(uploads[0].filename, "borsa blu.jpg");
    assert_eq!(uploads[0].content_type, "image/jpeg");
    assert_eq!(uploads[0].data, JPEG);
    assert!(
        uploads[0]
            .fields
            .contains(&("messaging_product".into(), "whatsapp".into()))
    );
    assert!(
        uploads[0]
            .fields
            .contains(&("type".into(), "image/jpeg".into()))
    );
    assert_eq!(uploads[1].filename, "ricevuta è.pdf");
    assert_eq!(uploads[1].content_type, "application/pdf");
    assert_eq!(uploads[1].data, PDF);
    let upload_calls = graph
        .server
        .calls(&format!("/{}/media", fake_graph::PHONE_NUMBER_ID));
    assert!(
        upload_calls
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {}", fake_graph::TOKEN)))
    );

    // Then one message per file, by media id: the text is the picture's caption, the
    // document keeps its name, and no separate text message is sent.
    let sends: Vec<Value> = graph
        .server
        .calls(&format!("/{}/messages", fake_graph::PHONE_NUMBER_ID))
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[0]["type"], "image");
    assert_eq!(sends[0]["to"], "393471234567");
    assert_eq!(sends[0]["image"]["id"], uploads[0].id);
    assert_eq!(sends[0]["image"]["caption"], "Ecco la foto");
    assert_eq!(sends[1]["type"], "document");
    assert_eq!(sends[1]["document"]["id"], uploads[1].id);
    assert_eq!(sends[1]["document"]["filename"], "ricevuta è.pdf");
    assert!(sends[1]["document"]["caption"].is_null());

    // A picture over WhatsApp's 5 MB is refused before queueing, with the code the UI shows...
    let big = vec![file(
        "grande.jpg",
        "image/jpeg",
        &vec![0u8; 5 * 1024 * 1024 + 1],
    )];
    let e = sportello_messaging::check_reply_files(&store, conv, &big).unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
    assert!(e.message.contains("5 MB"), "{}", e.message);
    // ...and if it was queued anyway (an older queue), the send fails before any upload.
    let r = store
        .queue_reply_with(conv, &draft("grande"), &with_files(big))
        .unwrap();
    flush(&store, &channel, &account).await.unwrap();
    let m = store.message(r.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::FileTooLarge);
    assert_eq!(graph.state.uploads.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_media_reply_uses_send_photo_and_send_document_multipart() {
    let tg = FakeTelegram::start();
    let (_dir, store) = store();
    let account = telegram_account(&store, &tg);
    let channel = TelegramChannel::new(&store, &account, fake_telegram::TOKEN.into());
    tg.push(FakeTelegram::text_update(1, 1, "Avete la ricevuta?"));
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    let conv = only_conversation(&store);
    let big_picture = vec![7u8; 10 * 1024 * 1024 + 1];
    let files = vec![
        file("foto.jpg", "image/jpeg", JPEG),
        file("ricevuta è.pdf", "application/pdf", PDF),
        file("animazione.gif", "image/gif", b"GIF89a fake"),
        file("enorme.jpg", "image/jpeg", &big_picture),
    ];
    let sent = send_files(&store, &channel, &account, conv, "Eccola", files).await;
    assert_eq!(sent.external_id, "1111111:9001");

    let got = tg.state.files.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    // A picture by sendPhoto under `photo`, with the text as its caption.
    assert_eq!(got[0].method, "sendPhoto");
    assert_eq!(got[0].chat_id, "1111111");
    assert_eq!(got[0].filename, "foto.jpg");
    assert_eq!(got[0].content_type, "image/jpeg");
    assert_eq!(got[0].data, JPEG);
    assert_eq!(got[0].caption.as_deref(), Some("Eccola"));
    // Anything else by sendDocument under `document`, caption used once only.
    assert_eq!(got[1].method, "sendDocument");
    assert_eq!(got[1].filename, "ricevuta è.pdf");
    assert_eq!(got[1].content_type, "application/pdf");
    assert_eq!(got[1].data, PDF);
    assert_eq!(got[1].caption, None);
    assert_eq!(got[2].method, "sendDocument");
    assert_eq!(got[2].content_type, "image/gif");
    // A picture over sendPhoto's 10 MB goes as a document, whole.
    assert_eq!(got[3].method, "sendDocument");
    assert_eq!(got[3].data.len(), big_picture.len());
    assert!(tg.server.calls("/sendMessage").is_empty());

    // Over 50 MB: not for a bot.
    let e = sportello_messaging::check_reply_files(
        &store,
        conv,
        &[file(
            "video.mp4",
            "video/mp4",
            &vec![0u8; 50 * 1024 * 1024 + 1],
        )],
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
}

fn meta_account(store: &Store, kind: ChannelKind, base: &str, human_agent: bool) -> Account {
    let settings = if kind == ChannelKind::Instagram {
        json!({"page_id": fake_graph::PAGE_ID, "instagram_id": fake_graph::IG_ID, "platform": "instagram",
               "human_agent": human_agent, "api_base": base})
    } else {
        json!({"page_id": fake_graph::PAGE_ID, "platform": "messenger", "human_agent": human_agent,
               "api_base": base})
    };
    store
        .add_account(kind, "Bottega", fake_graph::PAGE_ID, &settings)
        .unwrap()
}

/// A customer message `age_ms` old in a Messenger/Instagram conversation; returns its id.
fn meta_inbound(store: &Store, account: &Account, customer: &str, id: &str, age_ms: i64) -> i64 {
    let owner = sportello_messaging::meta::owner_id(account)
        .unwrap()
        .to_string();
    let m = sportello_messaging::meta::to_incoming(
        account,
        json!({"id": id, "message": "Ciao", "from": {"id": customer, "name": "Giulia"},
               "to": {"data": [{"id": owner}]}, "created_time": iso(now_ms() - age_ms)}),
    );
    store
        .ingest(account.id, vec![m], None, Default::default())
        .unwrap();
    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 50,
            account_id: Some(account.id),
        })
        .unwrap();
    page.items
        .iter()
        .find(|c| c.contact_handle == customer)
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread")]
async fn messenger_media_reply_is_one_multipart_send() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = meta_account(&store, ChannelKind::Messenger, &graph.base(), false);
    let channel = MetaChannel::new(&store, &account, fake_graph::TOKEN.into())
        .unwrap()
        .with_min_interval(Duration::from_millis(10));
    let conv = meta_inbound(&store, &account, "PSID1", "m_in1", 60_000);
    let files = vec![
        file("borsa.png", "image/png", b"\x89PNG fake"),
        file("ricevuta.pdf", "application/pdf", PDF),
    ];
    let sent = send_files(&store, &channel, &account, conv, "Ecco", files).await;
    assert_eq!(sent.external_id, "m_sent1");

    let sends = graph.state.page_sends.lock().unwrap().clone();
    assert_eq!(sends.len(), 3, "{sends:?}");
    // The Send API with the file in the same multipart request: recipient and message as
    // JSON strings, the file as `filedata` with its name and type.
    assert_eq!(sends[0]["recipient"]["id"], "PSID1");
    assert_eq!(sends[0]["messaging_type"], "RESPONSE");
    assert_eq!(sends[0]["message"]["attachment"]["type"], "image");
    assert_eq!(sends[0]["filedata"]["filename"], "borsa.png");
    assert_eq!(sends[0]["filedata"]["content_type"], "image/png");
    assert_eq!(sends[1]["message"]["attachment"]["type"], "file");
    assert_eq!(sends[1]["filedata"]["filename"], "ricevuta.pdf");
    let uploads = graph.state.uploads.lock().unwrap().clone();
    assert_eq!(uploads[0].data, b"\x89PNG fake");
    assert_eq!(uploads[1].data, PDF);
    // The text after the files.
    assert_eq!(sends[2]["message"]["text"], "Ecco");

    let e = sportello_messaging::check_reply_files(
        &store,
        conv,
        &[file(
            "a.zip",
            "application/zip",
            &vec![0u8; 25 * 1024 * 1024 + 1],
        )],
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
}

#[tokio::test(flavor = "multi_thread")]
async fn instagram_media_reply_uploads_then_sends_the_attachment_id() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = meta_account(&store, ChannelKind::Instagram, &graph.base(), false);
    let channel = MetaChannel::new(&store, &account, fake_graph::TOKEN.into())
        .unwrap()
        .with_min_interval(Duration::from_millis(10));
    let conv = meta_inbound(&store, &account, "IGSID1", "ig_in1", 60_000);
    let files = vec![file("borsa.jpg", "image/jpeg", JPEG)];
    send_files(&store, &channel, &account, conv, "", files).await;

    let uploads = graph.state.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].field, "filedata");
    assert_eq!(uploads[0].filename, "borsa.jpg");
    assert_eq!(uploads[0].content_type, "image/jpeg");
    assert_eq!(uploads[0].data, JPEG);
    assert!(
        uploads[0]
            .fields
            .contains(&("platform".into(), "instagram".into()))
    );
    let sends = graph.state.page_sends.lock().unwrap().clone();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["recipient"]["id"], "IGSID1");
    assert_eq!(sends[0]["message"]["attachment"]["type"], "image");
    assert_eq!(
        sends[0]["message"]["attachment"]["payload"]["attachment_id"],
        uploads[0].id
    );

    // Instagram takes pictures up to 8 MB and, as files, only PDFs.
    let e = sportello_messaging::check_reply_files(
        &store,
        conv,
        &[file("a.png", "image/png", &vec![0u8; 8 * 1024 * 1024 + 1])],
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::FileTooLarge);
    let e = sportello_messaging::check_reply_files(
        &store,
        conv,
        &[file("listino.xlsx", "application/vnd.ms-excel", b"x")],
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::AttachmentNotSupported);
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_human_agent_tag_between_24_hours_and_7_days_else_window_closed() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let day = 86_400_000;

    // The app has the HUMAN_AGENT permission: 3 days after, the reply is tagged.
    let agent = meta_account(&store, ChannelKind::Messenger, &graph.base(), true);
    let channel = MetaChannel::new(&store, &agent, fake_graph::TOKEN.into())
        .unwrap()
        .with_min_interval(Duration::from_millis(10));
    let conv = meta_inbound(&store, &agent, "PSID3", "m_old3", 3 * day);
    let window = sportello_messaging::conversation_window(&store, conv).unwrap();
    let ReplyWindow::HumanAgent { closes_at } = window else {
        panic!("expected the HUMAN_AGENT rule, got {window:?}");
    };
    assert!((closes_at - (now_ms() + 4 * day)).abs() < 60_000);
    let r = store.queue_reply(conv, &draft("Scusi il ritardo")).unwrap();
    flush(&store, &channel, &agent).await.unwrap();
    let m = store.message(r.id).unwrap();
    assert_eq!(m.delivery, Delivery::Sent, "{:?}", m.delivery_error);
    let body = graph
        .state
        .page_sends
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "HUMAN_AGENT");
    assert_eq!(body["recipient"]["id"], "PSID3");
    // Inside 24 hours the same account answers with RESPONSE, untagged.
    let fresh = meta_inbound(&store, &agent, "PSID4", "m_new4", 60_000);
    store.queue_reply(fresh, &draft("Subito")).unwrap();
    flush(&store, &channel, &agent).await.unwrap();
    let body = graph
        .state
        .page_sends
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(body["messaging_type"], "RESPONSE");
    assert!(body["tag"].is_null());
    // After 7 days even a human may not answer.
    let gone = meta_inbound(&store, &agent, "PSID5", "m_old5", 8 * day);
    assert_eq!(
        sportello_messaging::conversation_window(&store, gone).unwrap(),
        ReplyWindow::Closed
    );

    // Without the permission, 3 days after is a closed window: refused without calling Meta.
    let (_dir2, store2) = self::store();
    let plain = meta_account(&store2, ChannelKind::Instagram, &graph.base(), false);
    let channel = MetaChannel::new(&store2, &plain, fake_graph::TOKEN.into())
        .unwrap()
        .with_min_interval(Duration::from_millis(10));
    let conv = meta_inbound(&store2, &plain, "IGSID3", "ig_old3", 3 * day);
    assert_eq!(
        sportello_messaging::conversation_window(&store2, conv).unwrap(),
        ReplyWindow::Closed
    );
    let calls = graph.server.calls("/messages").len();
    let r = store2.queue_reply(conv, &draft("Ciao")).unwrap();
    flush(&store2, &channel, &plain).await.unwrap();
    let m = store2.message(r.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(m.delivery_error.unwrap().code, ErrorCode::OutsideWindow);
    assert_eq!(graph.server.calls("/messages").len(), calls);
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_refuses_local_files_with_a_clear_code() {
    let tw = FakeTwilio::start();
    let (_dir, store) = store();
    let account = store
        .add_account(ChannelKind::Whatsapp, "Bottega Twilio", "+14155238886",
            &json!({"provider": "twilio", "account_sid": fake_twilio::SID, "from": fake_twilio::FROM, "api_base": tw.server.base()}))
        .unwrap();
    let channel = TwilioChannel::new(&store, &account, fake_twilio::TOKEN.into()).unwrap();
    let m = IncomingMessage {
        external_id: "SMin1".into(),
        direction: Some(Direction::Inbound),
        thread_keys: vec!["wa:+393471234567".into()],
        counterpart: Some(Identity {
            kind: IdentityKind::Whatsapp,
            value: "+393471234567".into(),
            display_name: String::new(),
        }),
        sender_handle: "+393471234567".into(),
        text: "Ciao".into(),
        sent_at: now_ms(),
        meta: json!({}),
        ..Default::default()
    };
    store
        .ingest(account.id, vec![m], None, Default::default())
        .unwrap();
    let conv = only_conversation(&store);
    let files = vec![file("foto.jpg", "image/jpeg", JPEG)];
    let e = sportello_messaging::check_reply_files(&store, conv, &files).unwrap_err();
    assert_eq!(e.code, ErrorCode::AttachmentNotSupported);
    assert!(e.message.contains("public web address"), "{}", e.message);
    // Queued anyway (an older queue): failed with the same code, nothing posted to Twilio.
    let r = store
        .queue_reply_with(conv, &draft("foto"), &with_files(files))
        .unwrap();
    flush(&store, &channel, &account).await.unwrap();
    let m = store.message(r.id).unwrap();
    assert_eq!(m.delivery, Delivery::Failed);
    assert_eq!(
        m.delivery_error.unwrap().code,
        ErrorCode::AttachmentNotSupported
    );
    assert!(tw.server.requests().iter().all(|r| r.method != "POST"));
    // Text alone still goes.
    let r = store.queue_reply(conv, &draft("Ciao")).unwrap();
    flush(&store, &channel, &account).await.unwrap();
    assert_eq!(store.message(r.id).unwrap().delivery, Delivery::Sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_webhook_has_its_own_verify_token_and_checks_signatures() {
    const META_SECRET: &str = "meta-page-app-secret";
    const META_VERIFY: &str = "meta-verify-token";
    let (_dir, store) = store();
    let wa = whatsapp_account(&store, "http://127.0.0.1:9");
    let messenger = meta_account(&store, ChannelKind::Messenger, "http://127.0.0.1:9", false);
    let instagram = meta_account(&store, ChannelKind::Instagram, "http://127.0.0.1:9", false);
    let mut secrets = wa_secrets(wa.id);
    for id in [messenger.id, instagram.id] {
        secrets.insert((id, "app_secret"), META_SECRET.to_string());
        secrets.insert((id, "verify_token"), META_VERIFY.to_string());
    }
    let (base, cancel) = receiver(&store, secrets).await;
    let client = reqwest::Client::new();
    let verify = |path: &str, token: &str| {
        let url =
            format!("{base}{path}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=31337");
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // /webhooks/meta answers its own token, and not a WhatsApp account's (nor the reverse).
    assert_eq!(
        verify("/webhooks/meta", META_VERIFY).await,
        (200, "31337".to_string())
    );
    assert_eq!(verify("/webhooks/meta", VERIFY_TOKEN).await.0, 403);
    assert_eq!(verify("/webhooks/whatsapp", META_VERIFY).await.0, 403);
    assert_eq!(verify("/webhooks/meta", "").await.0, 403);

    let body = json!({"object": "page", "entry": [{"id": fake_graph::PAGE_ID, "time": 1458692752478i64,
        "messaging": [{"sender": {"id": "PSID9"}, "recipient": {"id": fake_graph::PAGE_ID}, "timestamp": 1458692752478i64,
            "message": {"mid": "m_webhook1", "text": "hello, world!"}}]}]})
    .to_string();
    let url = format!("{base}/webhooks/meta");
    // Missing, forged, signed with the WhatsApp app's secret, stale (another body's).
    assert_eq!(post(&url, &body, None).await, 401);
    assert_eq!(
        post(&url, &body, Some(&sign(b"forged", body.as_bytes()))).await,
        401
    );
    assert_eq!(
        post(
            &url,
            &body,
            Some(&sign(APP_SECRET.as_bytes(), body.as_bytes()))
        )
        .await,
        401
    );
    let older = body.replace("hello, world!", "hello");
    assert_eq!(
        post(
            &url,
            &body,
            Some(&sign(META_SECRET.as_bytes(), older.as_bytes()))
        )
        .await,
        401
    );
    assert_eq!(message_count(&store), 0);
    // Signed with the Meta app secret: stored once, however often Meta delivers it.
    let sig = sign(META_SECRET.as_bytes(), body.as_bytes());
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    assert_eq!(post(&url, &body, Some(&sig)).await, 200);
    assert_eq!(message_count(&store), 1);

    // Instagram: a story mention and a story reply, each shown with the story it refers to.
    let ig = json!({"object": "instagram", "entry": [{"id": fake_graph::IG_ID, "time": 1700000000000i64, "messaging": [
        {"sender": {"id": "IGSID7"}, "recipient": {"id": fake_graph::IG_ID}, "timestamp": 1700000000000i64,
         "message": {"mid": "ig_mention1", "attachments": [{"type": "story_mention", "payload": {"url": "https://lookaside.example/story1"}}]}},
        {"sender": {"id": "IGSID7"}, "recipient": {"id": fake_graph::IG_ID}, "timestamp": 1700000001000i64,
         "message": {"mid": "ig_reply1", "text": "Che bella!", "reply_to": {"story": {"url": "https://lookaside.example/story2", "id": "ST2"}}}}
    ]}]})
    .to_string();
    let sig = sign(META_SECRET.as_bytes(), ig.as_bytes());
    assert_eq!(post(&url, &ig, Some(&sig)).await, 200);
    assert_eq!(post(&url, &ig, Some(&sig)).await, 200);
    assert_eq!(message_count(&store), 3);
    let conv = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: Some(instagram.id),
        })
        .unwrap()
        .items[0]
        .id;
    let details = sportello_messaging::display::conversation_details(&store, conv).unwrap();
    let stories: Vec<(String, String)> = details
        .iter()
        .filter_map(|d| d.story.as_ref())
        .map(|s| (s.kind.clone(), s.link.clone()))
        .collect();
    assert_eq!(
        stories,
        [
            (
                "mention".to_string(),
                "https://lookaside.example/story1".to_string()
            ),
            (
                "reply".to_string(),
                "https://lookaside.example/story2".to_string()
            )
        ]
    );
    let thread = store.conversation(conv).unwrap();
    assert!(thread.messages[1].text.contains("Che bella!"));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_edits_groups_and_other_update_kinds() {
    let tg = FakeTelegram::start();
    let (_dir, store) = store();
    let account = telegram_account(&store, &tg);
    let channel = TelegramChannel::new(&store, &account, fake_telegram::TOKEN.into());
    let anna = json!({"id": 222, "is_bot": false, "first_name": "Anna", "last_name": "Verdi"});
    let group = json!({"id": -1001234567890i64, "title": "Clienti Bottega", "type": "supergroup"});
    tg.push(FakeTelegram::text_update(10, 1, "Avete la taglia M?"));
    let mut edit = FakeTelegram::text_update(11, 1, "Avete la taglia L?");
    let m = edit["message"].take();
    edit.as_object_mut().unwrap().remove("message");
    edit["edited_message"] = m;
    edit["edited_message"]["edit_date"] = json!(1441645600);
    tg.push(edit);
    // Kinds Sportello does not show: skipped, but confirmed all the same.
    tg.push(
        json!({"update_id": 12, "callback_query": {"id": "4382", "from": anna, "data": "ok",
        "chat_instance": "1"}}),
    );
    tg.push(json!({"update_id": 13, "my_chat_member": {"chat": group, "from": anna, "date": 1441645600,
        "old_chat_member": {"status": "left", "user": {"id": 123456, "is_bot": true, "first_name": "Bottega"}},
        "new_chat_member": {"status": "member", "user": {"id": 123456, "is_bot": true, "first_name": "Bottega"}}}}));
    tg.push(
        json!({"update_id": 14, "message": {"message_id": 7, "date": 1441645610, "chat": group,
        "from": anna, "text": "Quando riaprite?"}}),
    );
    tg.push(
        json!({"update_id": 15, "message": {"message_id": 8, "date": 1441645620, "chat": group,
        "from": anna, "new_chat_members": [{"id": 333, "is_bot": false, "first_name": "Luca"}]}}),
    );
    tg.push(
        json!({"update_id": 16, "channel_post": {"message_id": 3, "date": 1441645630,
        "chat": {"id": -100999, "title": "Novità", "type": "channel"}, "text": "Saldi!"}}),
    );
    // An edit of a message never seen (older than what getUpdates keeps) is stored as is.
    let mut late = FakeTelegram::text_update(17, 5, "Grazie, arrivato");
    let m = late["message"].take();
    late.as_object_mut().unwrap().remove("message");
    late["edited_message"] = m;
    late["edited_message"]["edit_date"] = json!(1441645700);
    tg.push(late);

    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 3, "private, group, late edit");
    channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(
        tg.server.calls("/getUpdates").last().unwrap().json()["offset"],
        18,
        "the offset moves past every kind of update"
    );
    assert!(tg.state.pending.lock().unwrap().is_empty());
    assert_eq!(message_count(&store), 3);

    let page = store
        .conversations(&ConversationQuery {
            offset: 0,
            limit: 10,
            account_id: None,
        })
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let private = page
        .items
        .iter()
        .find(|c| c.contact_name == "Mario Rossi")
        .unwrap();
    let thread = store.conversation(private.id).unwrap();
    // The edit replaced the text and is marked (the thread shows "edited").
    let edited = thread
        .messages
        .iter()
        .find(|m| m.external_id == "1111111:1")
        .unwrap();
    assert_eq!(edited.text, "Avete la taglia L?");
    let details = sportello_messaging::display::conversation_details(&store, private.id).unwrap();
    let marked: Vec<(i64, Option<i64>)> = details
        .iter()
        .map(|d| (d.message_id, d.edited_at))
        .collect();
    assert!(
        marked.contains(&(edited.id, Some(1_441_645_600_000))),
        "{marked:?}"
    );
    let late = thread
        .messages
        .iter()
        .find(|m| m.external_id == "1111111:5")
        .unwrap();
    assert_eq!(late.text, "Grazie, arrivato");

    // The supergroup is one conversation named after it; each message says who wrote it.
    let group_conv = page
        .items
        .iter()
        .find(|c| c.contact_name == "Clienti Bottega")
        .unwrap();
    let thread = store.conversation(group_conv.id).unwrap();
    assert_eq!(thread.messages.len(), 1, "service messages are not stored");
    assert_eq!(thread.messages[0].sender_name, "Anna Verdi");
    assert_eq!(thread.messages[0].text, "Quando riaprite?");
    // A reply goes to the group.
    let r = store
        .queue_reply(group_conv.id, &draft("Domani alle 9"))
        .unwrap();
    flush(&store, &channel, &account).await.unwrap();
    assert_eq!(store.message(r.id).unwrap().delivery, Delivery::Sent);
    assert_eq!(
        tg.server.calls("/sendMessage").last().unwrap().json()["chat_id"],
        "-1001234567890"
    );

    // getUpdates answered 429 with retry_after: waited out, then the updates come.
    tg.state.throttle_updates_next.store(1, Ordering::SeqCst);
    tg.push(FakeTelegram::text_update(18, 9, "Ci siete?"));
    let started = std::time::Instant::now();
    let report = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap();
    assert_eq!(report.stored, 1);
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A long retry_after is not slept through inside the call: the pass ends rate-limited,
    // carrying the wait, and the worker stays away at least that long.
    tg.state.updates_retry_after.store(30, Ordering::SeqCst);
    tg.state.throttle_updates_next.store(1, Ordering::SeqCst);
    let calls = tg.server.calls("/getUpdates").len();
    let error = channel
        .sync(&SyncContext::new(store.clone(), account.clone()))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited, "{error:?}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        tg.server.calls("/getUpdates").len(),
        calls + 1,
        "asked once"
    );
    let wait = sportello_core::supervisor::failure_delay(1, Duration::from_secs(60), &error);
    assert!(wait >= Duration::from_secs(30), "{wait:?}");
}

/// Waits (async) until the account's status satisfies `check`.
async fn wait_state(
    store: &Store,
    account_id: i64,
    what: &str,
    check: impl Fn(&sportello_core::model::AccountStatus) -> bool,
) -> sportello_core::model::AccountStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = store.account(account_id).unwrap().status;
        if check(&status) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn meta_expired_token_revoked_permission_and_rate_limit_show_on_the_account() {
    use sportello_core::model::SyncState;
    use sportello_core::supervisor::Supervisor;

    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = meta_account(&store, ChannelKind::Messenger, &graph.base(), false);
    let now = now_ms();
    *graph.state.conversations.lock().unwrap() =
        vec![json!({"id": "t_conv1", "updated_time": iso(now)})];
    graph.state.messages.lock().unwrap().push((
        "t_conv1".into(),
        vec![json!({"id": "m_kept1", "created_time": iso(now), "message": "C'è ancora?",
               "from": {"id": "PSID8", "name": "Giulia"}, "to": {"data": [{"id": fake_graph::PAGE_ID}]}})],
    ));
    // The worker opens the channel as the app does, with the token the fake accepts.
    let opener: sportello_core::channel::OpenChannel =
        Arc::new(|store: &Store, account: &Account| {
            let channel = MetaChannel::new(store, account, fake_graph::TOKEN.into())?
                .with_min_interval(Duration::from_millis(10));
            Ok(Some(Arc::new(channel) as Arc<dyn Channel>))
        });
    let supervisor = Supervisor::new(store.clone(), opener, Duration::from_secs(3600));

    // Graph code 190 (expired token): the account needs attention, no retry storm.
    graph.state.fail_next.lock().unwrap().push((
        401,
        190,
        463,
        "Error validating access token: Session has expired".into(),
    ));
    supervisor.start(account.id);
    let status = wait_state(&store, account.id, "needs attention (190)", |s| {
        s.state == SyncState::NeedsAttention
    })
    .await;
    let error = status.last_error.unwrap();
    assert_eq!(error.code, ErrorCode::AuthFailed);
    assert!(error.message.contains("code 190"), "{}", error.message);
    let calls = graph.server.requests().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        graph.server.requests().len(),
        calls,
        "no retries until the user acts"
    );
    assert_eq!(message_count(&store), 0);

    // Codes 10 and 200 (permission revoked or missing): the same clear state.
    for (code, message) in [
        (
            10,
            "(#10) Application does not have permission for this action",
        ),
        (
            200,
            "(#200) Requires pages_messaging permission to manage the object",
        ),
    ] {
        graph
            .state
            .fail_next
            .lock()
            .unwrap()
            .push((403, code, 0, message.into()));
        supervisor.wake(Some(account.id));
        let status = wait_state(&store, account.id, "needs attention", |s| {
            s.state == SyncState::NeedsAttention
                && s.last_error
                    .as_ref()
                    .is_some_and(|e| e.message.contains(&format!("code {code}")))
        })
        .await;
        assert_eq!(status.last_error.unwrap().code, ErrorCode::AuthFailed);
    }

    // Rate limited (code 4) three times in a row: the pass gives up, the account shows it and
    // the worker backs off by itself; the next pass stores everything, nothing lost.
    graph.state.rate_limit_next.store(3, Ordering::SeqCst);
    supervisor.wake(Some(account.id));
    let status = wait_state(&store, account.id, "rate limited", |s| {
        s.last_error
            .as_ref()
            .is_some_and(|e| e.code == ErrorCode::RateLimited)
    })
    .await;
    assert_eq!(status.state, SyncState::Offline);
    wait_state(&store, account.id, "synced after the backoff", |s| {
        s.state == SyncState::Idle && s.last_error.is_none()
    })
    .await;
    assert_eq!(message_count(&store), 1);
    let conv = store.conversation(only_conversation(&store)).unwrap();
    assert_eq!(conv.messages[0].text, "C'è ancora?");
    supervisor.stop(account.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_that_failed_half_way_sends_only_the_rest_on_retry() {
    let graph = FakeGraph::start();
    let (_dir, store) = store();
    let account = whatsapp_account(&store, &graph.base());
    let channel = WhatsAppChannel::new(&store, &account, fake_graph::TOKEN.into()).unwrap();
    let conv = inbound(&store, &account, "393471234567", "wamid.H", now_ms() / 1000).await;
    let files = vec![
        file("uno.jpg", "image/jpeg", JPEG),
        file("due.pdf", "application/pdf", PDF),
    ];
    let r = store
        .queue_reply_with(conv, &draft("Ecco"), &with_files(files))
        .unwrap();
    // Upload 1, send 1, then the second upload is refused.
    *graph.state.fail_nth.lock().unwrap() = Some((
        3,
        (400, 100, 0, "(#100) Param file must be a file".to_string()),
    ));
    flush(&store, &channel, &account).await.unwrap();
    assert_eq!(store.message(r.id).unwrap().delivery, Delivery::Failed);
    assert_eq!(graph.state.uploads.lock().unwrap().len(), 1);
    // The user retries: the picture already delivered is not sent again.
    store.retry_message(r.id).unwrap();
    flush(&store, &channel, &account).await.unwrap();
    let m = store.message(r.id).unwrap();
    assert_eq!(m.delivery, Delivery::Sent, "{:?}", m.delivery_error);
    let uploads = graph.state.uploads.lock().unwrap().clone();
    let names: Vec<&str> = uploads.iter().map(|u| u.filename.as_str()).collect();
    assert_eq!(names, ["uno.jpg", "due.pdf"]);
    let sends: Vec<Value> = graph
        .server
        .calls(&format!("/{}/messages", fake_graph::PHONE_NUMBER_ID))
        .iter()
        .map(|r| r.json())
        .filter(|b| b["type"] != "text")
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[0]["image"]["caption"], "Ecco");
    assert!(sends[1]["document"]["caption"].is_null());
    // The message keeps the id of its first part, sent by the first attempt.
    assert_eq!(m.external_id, "wamid.SENT1");
}
