//! `spawn_app()` and intent-level helpers over the fakes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use intake_core::msg::Msg;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use waviot_support_bot::config::{
    BotFile, OmnideskSettings, RedisSettings, Settings, TelegramSettings,
};
use waviot_support_bot::i18n::Localizer;
use waviot_support_bot::startup::Application;

use crate::fake_omnidesk::FakeOmnidesk;
use crate::fake_telegram::{FakeTelegram, SentMessage, TestUser};

pub const STAFF_EMAIL: &str = "bot@waviot.test";
pub const API_KEY: &str = "omnidesk-test-api-key";
/// The secret path part of the bot's Omnidesk webhook in tests.
pub const HOOK_SECRET: &str = "omnidesk-hook-secret-0123456789";
/// How long a test waits for one expected reply before failing.
pub const WAIT: Duration = Duration::from_secs(10);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        waviot_support_bot::telemetry::init("debug,hyper=info,reqwest=info,h2=info");
    }
}

/// A running bot with its fakes.
pub struct TestApp {
    pub tg: FakeTelegram,
    pub od: FakeOmnidesk,
    pub prefix: String,
    pub i18n: Localizer,
    /// Where `/healthz` and `/metrics` are served.
    pub http_addr: std::net::SocketAddr,
    /// Where incoming webhooks are served (webhook mode).
    pub webhook_addr: Option<std::net::SocketAddr>,
    /// The store the bot handles updates with (its calls are counted).
    pub store: waviot_support_bot::storage::Store,
    settings: Settings,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    seen: Mutex<HashMap<i64, usize>>,
    keys: PrefixGuard,
}

pub fn settings(tg: &FakeTelegram, od: &FakeOmnidesk, prefix: &str) -> Settings {
    settings_with_redis(tg, od, prefix, redis_url())
}

fn settings_with_redis(
    tg: &FakeTelegram,
    od: &FakeOmnidesk,
    prefix: &str,
    redis: String,
) -> Settings {
    let bot = BotFile {
        redis_prefix: prefix.to_owned(),
        dialogues_dir: repo().join("dialogues"),
        locales_dir: repo().join("locales"),
        polling_timeout_secs: 1,
        omnidesk_timeout_secs: 5,
        delivery_retry_base_ms: 100,
        delivery_lease_secs: 3,
        telegram_messages_per_sec: 1000,
        telegram_chat_messages_per_sec: 1000,
        telegram_chat_burst: 1000,
        // Test drivers answer far faster than people; the flood tests set their own.
        flood_max_updates: 1000,
        ..BotFile::default()
    };
    Settings {
        telegram: TelegramSettings {
            token: FakeTelegram::TOKEN.to_owned().into(),
            api_url: Some(tg.api_url()),
        },
        omnidesk: OmnideskSettings {
            url: od.base_url().parse().expect("fake Omnidesk URL"),
            email: STAFF_EMAIL.to_owned(),
            api_key: API_KEY.to_owned().into(),
            webhook_secret: Some(HOOK_SECRET.to_owned().into()),
        },
        redis: RedisSettings {
            url: Some(redis.into()),
        },
        bot,
        http_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        webhook_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        webhook: None,
    }
}

/// Starts fresh fakes and the bot with a unique Redis key prefix.
pub async fn spawn_app() -> TestApp {
    init_logs();
    let tg = FakeTelegram::start().await;
    let od = FakeOmnidesk::start(STAFF_EMAIL, API_KEY).await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    start(tg, od, prefix).await
}

async fn start(tg: FakeTelegram, od: FakeOmnidesk, prefix: String) -> TestApp {
    start_with(tg, od, prefix, redis_url()).await
}

/// Starts the bot on given fakes, prefix and Redis.
pub async fn start_with(
    tg: FakeTelegram,
    od: FakeOmnidesk,
    prefix: String,
    redis: String,
) -> TestApp {
    let settings = settings_with_redis(&tg, &od, &prefix, redis);
    start_with_settings(tg, od, prefix, settings).await
}

/// Starts fresh fakes and the bot with settings adjusted by `adjust`.
pub async fn spawn_app_configured(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let tg = FakeTelegram::start().await;
    let od = FakeOmnidesk::start(STAFF_EMAIL, API_KEY).await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let mut settings = settings(&tg, &od, &prefix);
    adjust(&mut settings);
    start_with_settings(tg, od, prefix, settings).await
}

/// Starts fresh fakes and the bot on the embedded store in `file` (no Redis).
pub async fn spawn_app_on_file(file: &std::path::Path) -> TestApp {
    let path = file.to_owned();
    spawn_app_configured(move |s| {
        s.redis.url = None;
        s.bot.data_file = path;
    })
    .await
}

async fn start_with_settings(
    tg: FakeTelegram,
    od: FakeOmnidesk,
    prefix: String,
    settings: Settings,
) -> TestApp {
    init_logs();
    let prefix_for_guard = prefix.clone();
    let app = Application::build(settings.clone())
        .await
        .expect("the application builds");
    let http_addr = app.http_addr();
    let webhook_addr = app.webhook_addr();
    let store = app.store();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    let i18n = Localizer::load(&repo().join("locales")).expect("locales");
    TestApp {
        tg,
        od,
        prefix,
        i18n,
        http_addr,
        webhook_addr,
        store,
        settings,
        stop: Some(stop_tx),
        task: Some(task),
        seen: Mutex::new(HashMap::new()),
        keys: PrefixGuard(Some(prefix_for_guard)),
    }
}

/// Waits (event-driven, at most `timeout`) until `cond` holds, re-checking whenever
/// `changes` moves; the one waiting loop of both fakes. Returns whether it held.
pub async fn wait_for_change(
    mut changes: tokio::sync::watch::Receiver<u64>,
    mut cond: impl FnMut() -> bool,
    timeout: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => return cond(),
        }
    }
}

/// Deletes a test's Redis keys when dropped.
pub struct PrefixGuard(Option<String>);

impl PrefixGuard {
    /// Guards the keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self(Some(prefix.to_owned()))
    }
}

impl Drop for PrefixGuard {
    fn drop(&mut self) {
        if let Some(prefix) = self.0.take() {
            delete_prefix(&prefix);
        }
    }
}

/// Deletes every Redis key under `prefix` (a test's own keys).
pub fn delete_prefix(prefix: &str) {
    crate::keys::delete_prefix(&redis_url(), prefix);
}

impl TestApp {
    /// Stops the bot (as a process stop would) and starts a new one on the same fakes and
    /// Redis prefix.
    pub async fn restart(mut self) -> TestApp {
        // The keys stay for the restarted bot (its own guard deletes them at the end).
        self.keys.0 = None;
        self.stop_bot().await;
        let seen = std::mem::take(&mut *self.seen.lock().expect("lock"));
        let TestApp {
            tg,
            od,
            prefix,
            settings,
            ..
        } = self;
        let app = start_with_settings(tg, od, prefix, settings).await;
        *app.seen.lock().expect("lock") = seen;
        app
    }

    /// The bot's outbox (in its Redis, under its prefix).
    pub async fn outbox(&self) -> waviot_support_bot::storage::outbox::Outbox {
        waviot_support_bot::storage::Store::connect(
            &redis_url(),
            &self.prefix,
            Duration::from_secs(60),
        )
        .await
        .expect("redis")
        .outbox()
    }

    /// Waits until the outbox holds nothing (every request delivered, parked or given
    /// up), so that a check that nothing more happens is not a race.
    pub async fn drain_outbox(&self) {
        let outbox = self.outbox().await;
        let start = std::time::Instant::now();
        while !outbox.pending().await.expect("outbox").is_empty() {
            assert!(start.elapsed() < WAIT, "the outbox drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the bot and waits for it to finish.
    pub async fn stop_bot(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let finished = tokio::time::timeout(Duration::from_secs(15), task).await;
            let result = finished
                .expect("the bot stops within 15 s")
                .expect("the bot task joins");
            result.expect("the bot ran without error");
        }
    }

    /// Renders a message the way the bot does.
    pub fn t(&self, lang: &str, msg: &Msg) -> String {
        self.i18n.render(lang, msg)
    }

    /// Renders a message id without arguments.
    pub fn tx(&self, lang: &str, id: &str) -> String {
        self.i18n.text(lang, id)
    }

    /// Waits for the next bot message to `user` (after those already consumed) whose text
    /// contains `needle`, and consumes everything up to it.
    pub async fn expect(&self, user: &TestUser, needle: &str) -> SentMessage {
        let chat = user.chat_id();
        let from = *self.seen.lock().expect("lock").get(&chat).unwrap_or(&0);
        let mut position = 0;
        let found = self
            .tg
            .wait_until(
                |tg| {
                    let msgs = tg.messages_to(chat);
                    match msgs.iter().skip(from).position(|m| m.text.contains(needle)) {
                        Some(p) => {
                            position = from + p;
                            true
                        }
                        None => false,
                    }
                },
                WAIT,
            )
            .await;
        let msgs = self.tg.messages_to(chat);
        assert!(
            found,
            "no message to {chat} containing {needle:?}; messages after #{from}:\n{}",
            msgs.iter()
                .skip(from)
                .map(|m| format!("--- #{}: {}", m.message_id, m.text))
                .collect::<Vec<_>>()
                .join("\n")
        );
        self.seen.lock().expect("lock").insert(chat, position + 1);
        msgs[position].clone()
    }

    /// Like [`Self::expect`] with a rendered message id.
    pub async fn expect_msg(&self, user: &TestUser, lang: &str, msg: &Msg) -> SentMessage {
        let text = self.t(lang, msg);
        self.expect(user, &text).await
    }

    /// The user types text.
    pub fn says(&self, user: &TestUser, text: &str) -> i64 {
        if text.starts_with('/') {
            self.tg.send_command(user, text)
        } else {
            self.tg.send_text(user, text)
        }
    }

    /// The user presses the button labelled (partly) `label` on `message`.
    pub fn taps(&self, user: &TestUser, message: &SentMessage, label: &str) -> i64 {
        let current = self
            .tg
            .message(message.message_id)
            .unwrap_or_else(|| message.clone());
        let data = current.button_data(label).unwrap_or_else(|| {
            panic!(
                "no button {label:?} on message #{}: {:?}",
                current.message_id,
                current.inline_buttons()
            )
        });
        self.tg.press_button(user, current.message_id, &data)
    }

    /// Presses Skip on the optional step just asked (the last consumed message, or the
    /// next one).
    pub async fn skip(&self, user: &TestUser, lang: &str) {
        let chat = user.chat_id();
        {
            let mut seen = self.seen.lock().expect("lock");
            let entry = seen.entry(chat).or_insert(0);
            *entry = entry.saturating_sub(1);
        }
        let m = self.expect(user, &self.tx(lang, "step-optional")).await;
        let label = if m.button_data(&self.tx(lang, "btn-skip")).is_some() {
            self.tx(lang, "btn-skip")
        } else {
            self.tx(lang, "btn-skip-files")
        };
        self.taps(user, &m, &label);
    }

    /// Chooses a kind from the menu (through its group when it has one).
    pub async fn choose_kind(&self, user: &TestUser, lang: &str, group: Option<&str>, kind: &str) {
        let menu = self.expect(user, &self.tx(lang, "menu-title")).await;
        let kind_label = self.tx(lang, &format!("kind-{kind}"));
        match group {
            Some(g) => {
                self.taps(user, &menu, &self.tx(lang, &format!("group-{g}")));
                let tg = &self.tg;
                let id = menu.message_id;
                let ok = tg
                    .wait_until(
                        |tg| {
                            tg.message(id)
                                .is_some_and(|m| m.button_data(&kind_label).is_some())
                        },
                        WAIT,
                    )
                    .await;
                assert!(ok, "the group menu shows {kind_label}");
                let edited = tg.message(id).expect("menu message");
                self.taps(user, &edited, &kind_label);
            }
            None => {
                self.taps(user, &menu, &kind_label);
            }
        }
    }
}

/// "Шаг n из total", as the bot renders it in Russian.
pub fn step(app: &TestApp, n: usize, total: usize) -> String {
    app.t(
        "ru",
        &Msg::new("step-counter").arg("step", n).arg("total", total),
    )
}

impl TestApp {
    /// A new Russian-speaking user fills the shortest kind (custom development: a
    /// description, two skipped optional steps, identification) up to the summary.
    pub async fn fill_custom_development(&self, user: &TestUser) -> SentMessage {
        self.says(user, "/start");
        self.choose_kind(user, "ru", None, "custom-development")
            .await;
        self.says(user, "Нужна форма отчёта по воде с разбивкой по подъездам");
        for n in [2, 3] {
            self.expect(user, &step(self, n, 7)).await;
            self.skip(user, "ru").await;
        }
        for (n, answer) in [(4, "a@b.ru"), (5, "ООО Тест"), (6, "test")] {
            self.expect(user, &step(self, n, 7)).await;
            self.says(user, answer);
        }
        self.expect(user, &step(self, 7, 7)).await;
        self.skip(user, "ru").await;
        self.expect(user, &self.tx("ru", "review-title")).await
    }
}
