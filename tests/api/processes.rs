//! Real `waviot-support-bot` processes: two workers sharing one Redis, and a worker
//! killed with SIGKILL at random moments. Both must deliver every request exactly once.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use waviot_support_bot::delivery::short_token;
use waviot_support_bot::storage::Store;
use waviot_support_bot::storage::outbox::{Entry, Outbox};

use crate::fake_omnidesk::{Behaviour, FakeOmnidesk};
use crate::fake_telegram::FakeTelegram;
use crate::helpers::{API_KEY, HOOK_SECRET, STAFF_EMAIL, redis_url};
use crate::sample::entry;

struct Rig {
    tg: FakeTelegram,
    od: FakeOmnidesk,
    prefix: String,
    config: tempfile::NamedTempFile,
    _keys: crate::helpers::PrefixGuard,
}

async fn rig(lease_secs: u32) -> Rig {
    rig_with(lease_secs, "").await
}

/// A rig whose `BOT_CONFIG` has `extra` lines too.
async fn rig_with(lease_secs: u32, extra: &str) -> Rig {
    let tg = FakeTelegram::start().await;
    let od = FakeOmnidesk::start(STAFF_EMAIL, API_KEY).await;
    // Throughput is the point here, not Omnidesk's per-minute budget.
    od.set_rate_limit(1_000_000);
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let repo = env!("CARGO_MANIFEST_DIR");
    let config = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("a temporary config file");
    std::fs::write(
        config.path(),
        format!(
            "redis-prefix = \"{prefix}\"\ndialogues-dir = \"{repo}/dialogues\"\nlocales-dir = \"{repo}/locales\"\n\
             delivery-lease-secs = {lease_secs}\ndelivery-retry-base-ms = 100\ndelivery-retry-cap-secs = 2\ntelegram-messages-per-sec = 1000\n\
             omnidesk-create-timeout-secs = 3\n{extra}"
        ),
    )
    .expect("config written");
    Rig {
        tg,
        od,
        _keys: crate::helpers::PrefixGuard::new(&prefix),
        prefix,
        config,
    }
}

impl Rig {
    /// The delivery-only process.
    fn worker(&self) -> Child {
        self.spawn("worker")
    }

    /// The whole bot (polling + delivery), as deployed.
    fn bot(&self) -> Child {
        self.spawn("run")
    }

    fn spawn(&self, command: &str) -> Child {
        self.spawn_serving(command, "127.0.0.1:0")
    }

    /// The whole bot, serving Omnidesk's webhooks on `webhook_port`.
    fn bot_with_hooks(&self, webhook_port: u16) -> Child {
        let mut command = self.command("run", "127.0.0.1:0");
        command
            .env("WEBHOOK_ADDR", format!("127.0.0.1:{webhook_port}"))
            .env("OMNIDESK_WEBHOOK_SECRET", HOOK_SECRET);
        command.spawn().expect("the binary starts")
    }

    /// A process serving `/metrics` on `http_addr`.
    fn spawn_serving(&self, command: &str, http_addr: &str) -> Child {
        self.command(command, http_addr)
            .spawn()
            .expect("the binary starts")
    }

    fn command(&self, command: &str, http_addr: &str) -> Command {
        let mut process = Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"));
        process
            .arg(command)
            .env("HTTP_ADDR", http_addr)
            .env("TELOXIDE_TOKEN", FakeTelegram::TOKEN)
            .env("TELEGRAM_API_URL", self.tg.api_url().as_str())
            .env("OMNIDESK_URL", self.od.base_url())
            .env("OMNIDESK_EMAIL", STAFF_EMAIL)
            .env("OMNIDESK_API_KEY", API_KEY)
            .env("REDIS_URL", redis_url())
            .env("BOT_CONFIG", self.config.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        process
    }

    async fn outbox(&self) -> Outbox {
        Store::connect(&redis_url(), &self.prefix, Duration::from_secs(60))
            .await
            .expect("redis")
            .outbox()
    }

    /// Cases per request token.
    fn cases_by_token(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for case in self.od.cases() {
            let subject = case
                .fields
                .get("subject")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let token = subject
                .rsplit_once('[')
                .map(|(_, t)| t.trim_end_matches(']').to_owned())
                .unwrap_or(subject);
            *counts.entry(token).or_insert(0) += 1;
        }
        counts
    }

    /// Asserts each entry has exactly one case and its user was told the number.
    fn assert_exactly_once(&self, entries: &[Entry]) {
        let counts = self.cases_by_token();
        let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(duplicates.is_empty(), "duplicate cases: {duplicates:?}");
        for e in entries {
            let token = short_token(e.id());
            assert_eq!(counts.get(&token), Some(&1), "{token}: exactly one case");
            let told = self
                .tg
                .messages_to(e.outgoing.chat_id)
                .iter()
                .any(|m| m.text.contains("664-"));
            assert!(told, "{token}: the user got the case number");
        }
        assert_eq!(
            self.od.cases().len(),
            entries.len(),
            "no case without a request"
        );
    }
}

/// Request count: the default, or `EXACTLY_ONCE_N` for a larger run.
fn count(default: usize) -> usize {
    std::env::var("EXACTLY_ONCE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn wait_delivered(rig: &Rig, outbox: &Outbox, n: usize, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if rig.od.cases().len() >= n
            && outbox
                .pending()
                .await
                .map(|p| p.is_empty())
                .unwrap_or(false)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_bot_and_a_worker_process_deliver_200_requests_with_no_duplicate_and_no_loss() {
    let rig = rig(5).await;
    let outbox = rig.outbox().await;
    let n = count(200);
    let entries: Vec<Entry> = (0..n).map(entry).collect();
    for (i, e) in entries.iter().enumerate() {
        outbox.enqueue(e).await.expect("enqueued");
        if i % 20 == 0 {
            rig.od.push_behaviour(Behaviour::ServiceUnavailable);
            rig.od.push_behaviour(Behaviour::CreateThenDropConnection);
        }
    }
    // As deployed: the polling bot plus an extra delivery process.
    let mut a = rig.bot();
    let mut b = rig.worker();
    let done = wait_delivered(&rig, &outbox, n, Duration::from_secs(90 + n as u64 / 10)).await;
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
    assert!(
        done,
        "all 200 delivered in time; cases: {}",
        rig.od.cases().len()
    );
    rig.assert_exactly_once(&entries);
}

#[tokio::test]
async fn the_bot_killed_with_sigkill_at_random_moments_delivers_each_request_exactly_once() {
    let rig = rig(1).await;
    let outbox = rig.outbox().await;
    let entries: Vec<Entry> = (0..count(40)).map(entry).collect();
    // Submissions arrive in waves while the bot is repeatedly killed at random moments;
    // every create takes 100–800 ms, so kills land before, during and after creates.
    let waves = 10;
    let per_wave = entries.len().div_ceil(waves);
    let mut kills = 0;
    for wave in entries.chunks(per_wave) {
        for e in wave {
            outbox.enqueue(e).await.expect("enqueued");
            rig.od
                .push_behaviour(Behaviour::Delay(Duration::from_millis(rand::random_range(
                    100..800,
                ))));
        }
        let mut child = rig.bot();
        let alive = Duration::from_millis(rand::random_range(150..900));
        tokio::time::sleep(alive).await;
        // Counted only when the bot was still running and the signal was sent.
        if matches!(child.try_wait(), Ok(None)) && child.kill().is_ok() {
            kills += 1;
        }
        let _ = child.wait();
    }
    let mut last = rig.bot();
    let final_wait = Duration::from_secs(60 + entries.len() as u64 / 4);
    let done = wait_delivered(&rig, &outbox, entries.len(), final_wait).await;
    let _ = last.kill();
    let _ = last.wait();
    assert!(
        kills >= waves.min(entries.len()),
        "the bot was killed at every wave"
    );
    assert!(done, "everything delivered after the last restart");
    rig.assert_exactly_once(&entries);
    println!(
        "SIGKILL test: {} requests, {kills} kills, {} cases",
        entries.len(),
        rig.od.cases().len()
    );
}

#[tokio::test]
async fn sigterm_mid_delivery_finishes_the_delivery_and_loses_nothing() {
    let rig = rig(5).await;
    let outbox = rig.outbox().await;
    let entries = vec![entry(0)];
    outbox.enqueue(&entries[0]).await.expect("enqueued");
    rig.od
        .push_behaviour(Behaviour::Delay(Duration::from_secs(2)));
    let mut child = rig.worker();
    assert!(
        rig.od.wait_for_requests(1, Duration::from_secs(20)).await,
        "the delivery started"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("status") {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the worker stops after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "a clean exit: {exit:?}");
    assert!(
        outbox.pending().await.expect("outbox").is_empty(),
        "the delivery in hand was finished"
    );
    rig.assert_exactly_once(&entries);
}

#[tokio::test]
async fn the_terminal_chat_with_omnidesk_configured_creates_a_real_case() {
    use std::io::Write;
    let rig = rig(5).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let shot = dir.path().join("screen.png");
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[9u8; 2048][..]].concat();
    std::fs::write(&shot, &png).expect("png");
    // Shortest kind: description, skip link (2 = Skip), attach, Done (1), identification,
    // skip additional info (2), Send (1).
    let script = format!(
        "7\nНужна форма отчёта по воде с разбивкой по подъездам\n2\n/attach {}\n1\na@b.ru\nООО Тест\ntest\n2\n1\n",
        shot.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
        .arg("chat")
        .env("BOT_CONFIG", rig.config.path())
        .env("OMNIDESK_URL", rig.od.base_url())
        .env("OMNIDESK_EMAIL", STAFF_EMAIL)
        .env("OMNIDESK_API_KEY", API_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chat starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("chat ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("664-245651"), "{stdout}");
    assert!(!stdout.contains("DRY-"), "not a dry run: {stdout}");
    let cases = rig.od.cases();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].attachments[0].bytes, png);
    assert_eq!(cases[0].fields["priority"], "low");
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A counter of a process's `/metrics`, 0 while it cannot be read.
async fn metric(port: u16, line_start: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name}");
}

/// Each user got the case number exactly once.
fn assert_told_once(rig: &Rig, entries: &[Entry]) {
    for e in entries {
        let told = rig
            .tg
            .messages_to(e.outgoing.chat_id)
            .iter()
            .filter(|m| m.text.contains("664-"))
            .count();
        assert_eq!(told, 1, "{}: the number was sent once", short_token(e.id()));
    }
}

#[tokio::test]
async fn three_processes_with_a_lease_shorter_than_each_create_make_one_case_per_request() {
    // Each create takes longer than the lease; the backlog is five claims' worth of one
    // process. Leases must be kept alive while held, and nobody may create twice.
    let rig = rig_with(2, "delivery-concurrency = 8\n").await;
    rig.od.set_create_delay(Duration::from_secs(3));
    let outbox = rig.outbox().await;
    let entries: Vec<Entry> = (0..count(40)).map(entry).collect();
    for e in &entries {
        outbox.enqueue(e).await.expect("enqueued");
    }
    let mut processes = [rig.bot(), rig.worker(), rig.worker()];
    let done = wait_delivered(&rig, &outbox, entries.len(), Duration::from_secs(120)).await;
    for p in &mut processes {
        let _ = p.kill();
        let _ = p.wait();
    }
    assert!(done, "all delivered; cases: {}", rig.od.cases().len());
    rig.assert_exactly_once(&entries);
    assert_told_once(&rig, &entries);
    println!(
        "contention: 3 processes × 8 slots, {} requests, lease 2 s, create 3 s: {} cases",
        entries.len(),
        rig.od.cases().len()
    );
}

#[tokio::test]
async fn a_worker_frozen_past_its_lease_writes_nothing_when_it_resumes() {
    let rig = rig_with(2, "delivery-concurrency = 8\n").await;
    rig.od.set_create_delay(Duration::from_millis(1500));
    let outbox = rig.outbox().await;
    let entries: Vec<Entry> = (0..8).map(entry).collect();
    for e in &entries {
        outbox.enqueue(e).await.expect("enqueued");
    }
    let frozen_port = free_port();
    let mut frozen = rig.spawn_serving("worker", &format!("127.0.0.1:{frozen_port}"));
    // Frozen with every create sent and unanswered.
    assert!(
        rig.od
            .wait_for_requests(entries.len(), Duration::from_secs(30))
            .await,
        "the first worker sent its creates"
    );
    signal(&frozen, "STOP");
    // Omnidesk creates the cases meanwhile; a second worker takes over once the leases
    // have run out, finds the cases and tells the users.
    let mut second = rig.worker();
    let done = wait_delivered(&rig, &outbox, entries.len(), Duration::from_secs(60)).await;
    assert!(
        done,
        "the second worker finished; cases: {}",
        rig.od.cases().len()
    );
    rig.assert_exactly_once(&entries);
    assert_told_once(&rig, &entries);
    // Resumed, the first worker finds every request is no longer its own.
    signal(&frozen, "CONT");
    let lost = r#"waviot_bot_deliveries_total{result="lost"}"#;
    let start = Instant::now();
    while metric(frozen_port, lost).await < entries.len() as f64 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the resumed worker dropped its copies"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for p in [&mut frozen, &mut second] {
        let _ = p.kill();
        let _ = p.wait();
    }
    rig.assert_exactly_once(&entries);
    assert_told_once(&rig, &entries);
    assert!(outbox.pending().await.expect("outbox").is_empty());
    for e in &entries {
        assert!(
            outbox.delivered(e.id()).await.expect("read").is_some(),
            "the number is recorded"
        );
    }
}

#[tokio::test]
async fn the_bot_killed_with_updates_of_several_chats_in_hand_applies_each_once_after_restart() {
    let rig = rig_with(5, "flood-max-updates = 1000\n").await;
    let users: Vec<crate::fake_telegram::TestUser> = (0..10)
        .map(|i| crate::fake_telegram::TestUser::ru(930_000 + i))
        .collect();
    let mut ids: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for round in 0..30 {
        for user in &users {
            let id = rig.tg.send_text(user, &format!("сообщение {round}"));
            ids.entry(user.chat_id()).or_default().push(id);
        }
    }
    let mut bot = rig.bot();
    // Killed as soon as it has answered anything: the rest is in hand or not yet fetched.
    assert!(
        rig.tg
            .wait_until(|tg| !tg.messages().is_empty(), Duration::from_secs(30))
            .await,
        "the bot started answering"
    );
    let _ = bot.kill();
    let _ = bot.wait();
    let answered_before = rig.tg.messages().len();
    let mut bot = rig.bot();
    let store = Store::connect(&redis_url(), &rig.prefix, Duration::from_secs(60))
        .await
        .expect("redis");
    let start = Instant::now();
    let all_applied = loop {
        let mut done = true;
        for user in &users {
            let read = store.load_chat(user.chat_id(), 0).await.expect("load");
            let applied = match read.session {
                waviot_support_bot::storage::LoadedSession::Found(s) => s.applied,
                _ => Vec::new(),
            };
            let unique: std::collections::BTreeSet<i64> = applied.iter().copied().collect();
            assert_eq!(
                unique.len(),
                applied.len(),
                "an update applied twice: {applied:?}"
            );
            if !ids[&user.chat_id()].iter().all(|id| unique.contains(id)) {
                done = false;
            }
        }
        if done {
            break true;
        }
        if start.elapsed() > Duration::from_secs(60) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = bot.kill();
    let _ = bot.wait();
    assert!(all_applied, "every update was applied after the restart");
    for user in &users {
        let replies = rig.tg.messages_to(user.chat_id()).len();
        assert!(replies <= 30, "no update answered twice: {replies} replies");
    }
    println!(
        "kill -9 with updates in hand: {} replies before the kill, {} in all",
        answered_before,
        rig.tg.messages().len()
    );
}

#[tokio::test]
async fn an_agent_reply_answered_200_just_before_a_sigkill_reaches_the_user_once() {
    use crate::fake_omnidesk::WebhookEncoding;
    use crate::fake_telegram::Failure;
    use waviot_support_bot::storage::CaseRecord;

    let rig = rig(2).await;
    let store = Store::connect(&redis_url(), &rig.prefix, Duration::from_secs(60))
        .await
        .expect("redis");
    let chat = 930_001;
    store
        .save_case(&CaseRecord {
            case_id: 5000,
            case_number: "664-500000".to_owned(),
            request_id: "r-930001".to_owned(),
            kind: "custom-development".to_owned(),
            user_id: 930_001,
            chat_id: chat,
            lang: "ru".to_owned(),
            sent_at_ms: waviot_support_bot::storage::outbox::now_ms(),
            first_reply_ms: None,
            reaction_due_ms: None,
            status: None,
        })
        .await
        .expect("case record");
    // Telegram refuses the first sends, so the reply is most likely still waiting when
    // the process dies (either way it must arrive once).
    rig.tg.fail_next(
        "sendMessage",
        3,
        Failure::BadRequest {
            description: "Bad Request: temporarily refused".to_owned(),
        },
    );
    let port = free_port();
    let mut first = rig.bot_with_hooks(port);
    let url = format!("http://127.0.0.1:{port}/omnidesk/{HOOK_SECRET}");
    let body = serde_json::json!({
        "message_id": 77_001, "case_id": 5000, "staff_id": 12,
        "custom_user_id": "930001", "content": "Ответ перед падением", "note": 0
    });
    let start = Instant::now();
    loop {
        let status = FakeOmnidesk::post_webhook(&url, WebhookEncoding::Form, &body).await;
        if status == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the bot serves the webhook"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&first, "KILL");
    let _ = first.wait();
    let mut second = rig.bot_with_hooks(free_port());
    let relay = store.relay();
    let start = Instant::now();
    while relay.depth().await.expect("relay") > 0
        || !rig
            .tg
            .messages_to(chat)
            .iter()
            .any(|m| m.text.contains("Ответ перед падением"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the reply arrives"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = second.kill();
    let _ = second.wait();
    let copies = rig
        .tg
        .messages_to(chat)
        .iter()
        .filter(|m| m.text.contains("Ответ перед падением"))
        .count();
    assert_eq!(copies, 1, "the reply reached the user exactly once");
}

#[tokio::test]
async fn a_follow_up_in_flight_when_the_bot_is_sigkilled_lands_in_the_case_once() {
    use crate::fake_telegram::{SentMessage, TestUser};
    use waviot_support_bot::storage::CaseRecord;

    let rig = rig(2).await;
    // A case the bot created earlier (made here straight in the fake).
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/cases.json", rig.od.base_url()))
        .basic_auth(STAFF_EMAIL, Some(API_KEY))
        .json(&serde_json::json!({"case": {
            "subject": "Модем не на связи [TG-1]", "content": "Модем 7A48AC не на связи",
            "user_email": "a@b.ru", "user_full_name": "Test"
        }}))
        .send()
        .await
        .expect("the fake answers")
        .json()
        .await
        .expect("a case");
    let case_id = created["case"]["case_id"].as_i64().expect("case_id");
    let number = created["case"]["case_number"]
        .as_str()
        .expect("case_number")
        .to_owned();
    let user = TestUser::ru(930_101);
    let store = Store::connect(&redis_url(), &rig.prefix, Duration::from_secs(60))
        .await
        .expect("redis");
    store
        .save_case(&CaseRecord {
            case_id,
            case_number: number.clone(),
            request_id: "r-930101".to_owned(),
            kind: "custom-development".to_owned(),
            user_id: 930_101,
            chat_id: user.chat_id(),
            lang: "ru".to_owned(),
            sent_at_ms: waviot_support_bot::storage::outbox::now_ms(),
            first_reply_ms: None,
            status: None,
            reaction_due_ms: None,
        })
        .await
        .expect("case record");
    // Omnidesk takes the message but holds its answer; the bot dies meanwhile.
    rig.od.hold();
    let mut first = rig.bot();
    let relayed = SentMessage {
        chat_id: user.chat_id(),
        message_id: 1,
        text: format!("💬 Ответ по обращению № {number}:\nПришлите фото."),
        reply_markup: None,
        parse_mode: None,
    };
    rig.tg.reply_to(
        &user,
        &relayed,
        serde_json::json!({"text": "Фото индикаторов: красный мигает"}),
    );
    let posted = rig
        .od
        .wait_until(
            |od| {
                od.requests()
                    .iter()
                    .any(|r| r.method == "POST" && r.uri.ends_with("/messages.json"))
            },
            Duration::from_secs(30),
        )
        .await;
    assert!(posted, "the follow-up was posted");
    signal(&first, "KILL");
    let _ = first.wait();
    rig.od.release();
    assert!(
        rig.od
            .wait_until(|od| !od.messages().is_empty(), Duration::from_secs(10))
            .await,
        "Omnidesk added it although the bot never heard back"
    );
    let mut second = rig.bot();
    let added = format!("Добавлено к обращению № {number}");
    let start = Instant::now();
    while store.relay().depth().await.expect("relay") > 0
        || !rig
            .tg
            .messages_to(user.chat_id())
            .iter()
            .any(|m| m.text.contains(&added))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the user is told"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = second.kill();
    let _ = second.wait();
    let copies = rig
        .od
        .messages()
        .iter()
        .filter(|m| {
            m.fields.get("content").and_then(|v| v.as_str())
                == Some("Фото индикаторов: красный мигает")
        })
        .count();
    assert_eq!(copies, 1, "the follow-up is in the case exactly once");
}
