//! A fast fake Telegram Bot API that is also the synthetic users.
//!
//! It serves what a long-polling bot calls (`getMe`, `getWebhookInfo`, `deleteWebhook`,
//! `setMyCommands`, `getUpdates`, `sendMessage`, `editMessageText`,
//! `editMessageReplyMarkup`, `answerCallbackQuery`, `getFile`, file downloads) under
//! `POST /bot<token>/<method>` with JSON (teloxide) or urlencoded (aiogram) parameters.
//! Unknown methods answer 404 (never 5xx: teloxide sleeps 10 s on a 5xx).
//!
//! # How latency is measured
//!
//! Every synthetic user has at most one update outstanding. The clock of an update starts
//! when `getUpdates` hands it to the bot (the moment the response body is built) and stops
//! when the bot's calls for that chat have met the step's [`Expect`](crate::scenario::Expect)
//! (e.g. the next prompt with its `back:4` button arrived and the callback query was
//! answered). Both instants are taken in this process with a monotonic clock, in the
//! request handlers, so the figure covers the bot's whole work for the update: decoding,
//! Redis, rendering and every HTTP call it makes back. The "first reply" figure stops at
//! the bot's first call for the chat instead.
//!
//! # Load modes
//!
//! - [`Mode::Closed`]: a user sends its next update as soon as the previous one is
//!   complete (closed loop; saturation with enough users).
//! - [`Mode::Paced`]: a completed user waits in a ready queue; [`Hub::pace`] releases
//!   ready users at a fixed rate (offered load). A release that finds nobody ready is
//!   counted as missed, never made up later, so the offered rate is never exceeded.
//! - [`Mode::Draining`]: users finish their outstanding update and stop.
//!
//! A user who completes an intake starts the next one as a new Telegram user (new user
//! and chat id), so every intake asks for the identification (14 updates each).
//!
//! # Beside the users
//!
//! - **A flooding chat** ([`Hub::flood`]): text updates of one chat queued as fast as the
//!   driver likes, answered or not; the fake counts what was sent and what the bot said to
//!   that chat.
//! - **Relayed agent replies** ([`Hub::relay_posted`]): the driver notes each reply it
//!   POSTs to the bot's Omnidesk webhook; a `sendMessage` whose text carries the reply's
//!   mark ([`RELAY_MARK`]`<n>`) in the right chat stops that reply's clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::serve::ListenerExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

use crate::scenario::{Action, Step};
use crate::stats::{Samples, Summary};

/// The bot token the fake expects (any other answers 401).
pub const TOKEN: &str = "7000000001:AAHbenchTokenForTheWaviotSupportBot01";
const BOT_JSON: &str =
    r#"{"id":7000000001,"is_bot":true,"first_name":"Bench Bot","username":"bench_bot"}"#;
const ME_JSON: &str = r#"{"id":7000000001,"is_bot":true,"first_name":"Bench Bot","username":"bench_bot","can_join_groups":true,"can_read_all_group_messages":false,"supports_inline_queries":false,"can_connect_to_business":false,"has_main_web_app":false}"#;
/// The longest a `getUpdates` call waits for an update.
const MAX_LONG_POLL: Duration = Duration::from_secs(2);
/// Size of one download chunk.
const CHUNK: usize = 64 * 1024;
static CHUNK_BYTES: [u8; CHUNK] = [0x5A; CHUNK];
/// First synthetic user id.
pub const FIRST_USER: i64 = 1_000_000;
/// The flooding chat's id (far from the synthetic users').
pub const FLOOD_CHAT: i64 = 900_000_000;
/// What every relayed reply's text carries, followed by its number.
pub const RELAY_MARK: &str = "bench-reply-";

/// How completed users go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No users.
    Idle,
    /// Next update right after completion.
    Closed,
    /// Next update when [`Hub::pace`] releases the user.
    Paced,
    /// Finish the outstanding update, then stop.
    Draining,
}

/// What the bot still owes for a user's outstanding update.
#[derive(Debug, Clone, Default)]
struct Pending {
    button: Option<&'static str>,
    callback: Option<String>,
    text: Option<&'static str>,
}

impl Pending {
    fn done(&self) -> bool {
        self.button.is_none() && self.callback.is_none() && self.text.is_none()
    }
}

#[derive(Debug, Default)]
struct User {
    step: usize,
    /// The message whose keyboard the next press uses.
    kb_msg: i64,
    handed: Option<Instant>,
    first: Option<Instant>,
    pending: Option<Pending>,
    docs: u32,
}

#[derive(Debug)]
struct Queued {
    id: i64,
    chat: i64,
    json: String,
    handed: bool,
}

/// Results of a measurement window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Window {
    /// Window length in seconds.
    pub secs: f64,
    /// Updates completed in the window.
    pub updates: u64,
    /// Completed updates per second.
    pub updates_per_sec: f64,
    /// Intakes completed in the window.
    pub intakes: u64,
    /// Hand-out → step complete.
    pub latency: Summary,
    /// Hand-out → the bot's first call for the chat.
    pub first_reply: Summary,
    /// Paced releases that found no ready user.
    pub missed_releases: u64,
    /// Latency of each step of the script: (step, summary).
    pub by_step: Vec<(String, Summary)>,
    /// Latency of every update except the last step (Send, which waits for Omnidesk).
    pub without_send: Summary,
}

#[derive(Debug, Default)]
struct Recorder {
    on: bool,
    start: Option<Instant>,
    updates: u64,
    intakes: u64,
    missed: u64,
    latency: Samples,
    first: Samples,
    by_step: Vec<Samples>,
}

/// Request counts, for sanity checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Calls per Bot API method (lower case).
    pub calls: std::collections::BTreeMap<String, u64>,
    /// Calls of methods the fake does not serve.
    pub unknown: Vec<String>,
    /// Updates handed out by `getUpdates` (first hand-outs only).
    pub handed_out: u64,
    /// Updates completed since the hub started.
    pub completed: u64,
    /// Intakes completed since the hub started.
    pub intakes: u64,
    /// Bytes served by file downloads.
    pub downloaded: u64,
}

/// What the flooding chat sent and got.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Flood {
    /// Updates queued for the bot.
    pub sent: u64,
    /// Messages the bot sent or edited in the chat.
    pub answers: u64,
}

/// Agent replies posted to the bot's webhook and awaited in the chats.
#[derive(Debug, Default)]
struct RelayWatch {
    /// Reply number → (its chat, when its POST started).
    posted: HashMap<u64, (i64, Instant)>,
    arrived: u64,
    wrong_chat: u64,
    latency: Samples,
}

/// Where the relayed replies stand.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Relayed {
    /// Replies that reached their chat.
    pub arrived: u64,
    /// Replies posted and not (yet) seen.
    pub outstanding: u64,
    /// `sendMessage`s carrying a reply's mark in another chat than the reply's.
    pub wrong_chat: u64,
    /// POST started → `sendMessage` received, of the replies arrived.
    pub latency: Summary,
}

struct Inner {
    script: Arc<Vec<Step>>,
    one_intake: bool,
    attachment_size: u64,
    mode: Mode,
    queue: VecDeque<Queued>,
    next_update: i64,
    next_message: i64,
    next_user: i64,
    next_callback: u64,
    users: HashMap<i64, User>,
    ready: VecDeque<i64>,
    rec: Recorder,
    counters: Counters,
    polled: u64,
    flood: Flood,
}

/// The fake Bot API's state, shared by its handlers and the driver.
pub struct Hub {
    inner: Mutex<Inner>,
    wake: Notify,
    downloaded: AtomicU64,
    relay: Mutex<RelayWatch>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn user_json(id: i64) -> String {
    format!(r#"{{"id":{id},"is_bot":false,"first_name":"Bench","language_code":"ru"}}"#)
}

fn chat_json(id: i64) -> String {
    format!(r#"{{"id":{id},"type":"private","first_name":"Bench"}}"#)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Whether an inline keyboard (`reply_markup`) has a button with this callback data.
pub fn markup_has(markup: &Value, data: &str) -> bool {
    markup
        .get("inline_keyboard")
        .and_then(Value::as_array)
        .is_some_and(|rows| {
            rows.iter()
                .filter_map(Value::as_array)
                .flatten()
                .any(|b| b.get("callback_data").and_then(Value::as_str) == Some(data))
        })
}

impl Inner {
    /// Builds and queues the user's next update; `false` if the user is unknown.
    fn issue(&mut self, chat: i64) -> bool {
        let script = Arc::clone(&self.script);
        let Some(user) = self.users.get_mut(&chat) else {
            return false;
        };
        let Some(step) = script.get(user.step) else {
            return false;
        };
        let id = self.next_update;
        self.next_update += 1;
        let date = unix_now();
        let mut pending = Pending {
            button: step.expect.button,
            callback: None,
            text: step.expect.text,
        };
        let json = match &step.action {
            Action::Press(data) => {
                let cb = format!("{chat}-{}", self.next_callback);
                self.next_callback += 1;
                let json = format!(
                    r#"{{"update_id":{id},"callback_query":{{"id":"{cb}","from":{},"message":{{"message_id":{},"from":{BOT_JSON},"chat":{},"date":{date},"text":"…"}},"chat_instance":"-{chat}","data":{}}}}}"#,
                    user_json(chat),
                    user.kb_msg,
                    chat_json(chat),
                    json_str(data),
                );
                if step.expect.callback_answered {
                    pending.callback = Some(cb);
                }
                json
            }
            Action::Text(t) => {
                let msg_id = self.next_message;
                self.next_message += 1;
                let entities = if t.starts_with('/') {
                    let len = t
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .encode_utf16()
                        .count();
                    format!(r#","entities":[{{"type":"bot_command","offset":0,"length":{len}}}]"#)
                } else {
                    String::new()
                };
                format!(
                    r#"{{"update_id":{id},"message":{{"message_id":{msg_id},"from":{},"chat":{},"date":{date},"text":{}{entities}}}}}"#,
                    user_json(chat),
                    chat_json(chat),
                    json_str(t),
                )
            }
            Action::Document => {
                let msg_id = self.next_message;
                self.next_message += 1;
                user.docs += 1;
                let n = user.docs;
                let size = self.attachment_size;
                format!(
                    r#"{{"update_id":{id},"message":{{"message_id":{msg_id},"from":{},"chat":{},"date":{date},"document":{{"file_id":"BENCHDOC-{size}-{chat}-{n}","file_unique_id":"U{chat}x{n}","file_name":"screen-{n}.png","mime_type":"image/png","file_size":{size}}}}}}}"#,
                    user_json(chat),
                    chat_json(chat),
                )
            }
        };
        user.pending = Some(pending);
        user.handed = None;
        user.first = None;
        self.queue.push_back(Queued {
            id,
            chat,
            json,
            handed: false,
        });
        true
    }

    fn add_user(&mut self) -> i64 {
        let chat = self.next_user;
        self.next_user += 1;
        self.users.insert(chat, User::default());
        chat
    }

    /// Applies a bot call to the chat's outstanding step; returns whether an update was
    /// queued as a consequence.
    fn observe(
        &mut self,
        chat: i64,
        now: Instant,
        check: impl FnOnce(&mut Pending) -> Option<i64>,
    ) -> bool {
        let Some(user) = self.users.get_mut(&chat) else {
            return false;
        };
        let Some(pending) = user.pending.as_mut() else {
            return false;
        };
        if user.first.is_none() {
            user.first = Some(now);
        }
        if let Some(kb) = check(pending) {
            user.kb_msg = kb;
        }
        if !pending.done() {
            return false;
        }
        self.complete(chat, now)
    }

    fn complete(&mut self, chat: i64, now: Instant) -> bool {
        let script_len = self.script.len();
        let Some(mut user) = self.users.remove(&chat) else {
            return false;
        };
        if let Some(handed) = user.handed
            && self.rec.on
        {
            if self.rec.by_step.len() < script_len {
                self.rec.by_step.resize_with(script_len, Samples::default);
            }
            if let Some(s) = self.rec.by_step.get_mut(user.step) {
                s.push(now.saturating_duration_since(handed));
            }
            self.rec.latency.push(now.saturating_duration_since(handed));
            self.rec
                .first
                .push(user.first.unwrap_or(now).saturating_duration_since(handed));
            self.rec.updates += 1;
        }
        self.counters.completed += 1;
        user.pending = None;
        user.handed = None;
        user.first = None;
        user.step += 1;
        let mut key = chat;
        if user.step >= script_len {
            self.counters.intakes += 1;
            if self.rec.on {
                self.rec.intakes += 1;
            }
            if self.one_intake {
                return false;
            }
            key = self.next_user;
            self.next_user += 1;
            user = User::default();
        }
        self.users.insert(key, user);
        match self.mode {
            Mode::Closed => self.issue(key),
            Mode::Paced => {
                self.ready.push_back(key);
                false
            }
            Mode::Idle | Mode::Draining => false,
        }
    }

    /// Drops confirmed updates and hands out up to `limit` of the rest.
    fn take_batch(&mut self, offset: i64, limit: usize, now: Instant) -> Option<String> {
        if offset > 0 {
            while self.queue.front().is_some_and(|q| q.id < offset) {
                self.queue.pop_front();
            }
        }
        if self.queue.is_empty() {
            return None;
        }
        let mut body = String::with_capacity(64 + self.queue.len().min(limit) * 400);
        body.push_str(r#"{"ok":true,"result":["#);
        for (i, q) in self.queue.iter_mut().take(limit).enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&q.json);
            if !q.handed {
                q.handed = true;
                self.counters.handed_out += 1;
                if let Some(user) = self.users.get_mut(&q.chat) {
                    user.handed.get_or_insert(now);
                }
            }
        }
        body.push_str("]}");
        Some(body)
    }
}

impl Hub {
    /// A hub whose users walk `script`; documents are `attachment_size` bytes.
    pub fn new(script: Vec<Step>, attachment_size: u64) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                script: Arc::new(script),
                one_intake: false,
                attachment_size,
                mode: Mode::Idle,
                queue: VecDeque::new(),
                next_update: 1,
                next_message: 1,
                next_user: FIRST_USER,
                next_callback: 1,
                users: HashMap::new(),
                ready: VecDeque::new(),
                rec: Recorder::default(),
                counters: Counters::default(),
                polled: 0,
                flood: Flood::default(),
            }),
            wake: Notify::new(),
            downloaded: AtomicU64::new(0),
            relay: Mutex::new(RelayWatch::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of `getUpdates` calls so far (a bot that polls is ready).
    pub fn polls(&self) -> u64 {
        self.lock().polled
    }

    /// Adds `n` users in `mode`: closed-loop users send their first update now, paced ones
    /// wait for [`Hub::pace`].
    pub fn start_users(&self, n: usize, mode: Mode) {
        let mut inner = self.lock();
        inner.mode = mode;
        let mut queued = false;
        for _ in 0..n {
            let chat = inner.add_user();
            match mode {
                Mode::Closed => queued |= inner.issue(chat),
                Mode::Paced => inner.ready.push_back(chat),
                Mode::Idle | Mode::Draining => {}
            }
        }
        drop(inner);
        if queued {
            self.wake.notify_waiters();
        }
    }

    /// Replaces the script and whether users stop after one intake (between phases, with
    /// no users).
    pub fn set_script(&self, script: Vec<Step>, one_intake: bool) {
        let mut inner = self.lock();
        inner.script = Arc::new(script);
        inner.one_intake = one_intake;
    }

    /// Users that have an update outstanding.
    pub fn busy_users(&self) -> usize {
        self.lock()
            .users
            .values()
            .filter(|u| u.pending.is_some())
            .count()
    }

    /// Releases up to `n` ready users (paced mode); returns how many were released.
    /// Releases that find no ready user count as missed in the open window.
    pub fn pace(&self, n: u64) -> u64 {
        let mut inner = self.lock();
        let mut released = 0;
        for _ in 0..n {
            match inner.ready.pop_front() {
                Some(chat) => {
                    if inner.issue(chat) {
                        released += 1;
                    }
                }
                None => {
                    if inner.rec.on {
                        inner.rec.missed += 1;
                    }
                }
            }
        }
        drop(inner);
        if released > 0 {
            self.wake.notify_waiters();
        }
        released
    }

    /// Opens a measurement window (clears earlier samples).
    pub fn begin_window(&self) {
        let mut inner = self.lock();
        inner.rec = Recorder {
            on: true,
            start: Some(Instant::now()),
            ..Recorder::default()
        };
    }

    /// Closes the window and summarizes it.
    pub fn end_window(&self) -> Window {
        let (mut rec, script) = {
            let mut inner = self.lock();
            (std::mem::take(&mut inner.rec), Arc::clone(&inner.script))
        };
        let mut without_send = Samples::default();
        let last = rec.by_step.len().saturating_sub(1);
        for s in rec.by_step.iter().take(last) {
            without_send.extend(s);
        }
        let by_step = rec
            .by_step
            .iter_mut()
            .enumerate()
            .map(|(i, s)| {
                let label = script.get(i).map_or_else(String::new, Step::label);
                (format!("{}. {label}", i + 1), s.summary())
            })
            .collect();
        let secs = rec
            .start
            .map_or(0.0, |s| s.elapsed().as_secs_f64())
            .max(1e-9);
        Window {
            secs,
            updates: rec.updates,
            updates_per_sec: rec.updates as f64 / secs,
            intakes: rec.intakes,
            latency: rec.latency.summary(),
            first_reply: rec.first.summary(),
            missed_releases: rec.missed,
            by_step,
            without_send: without_send.summary(),
        }
    }

    /// Stops issuing updates, waits (at most `timeout`) for outstanding ones, removes every
    /// user and returns how many were still waiting for the bot (stalled).
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.lock().mode = Mode::Draining;
        let deadline = Instant::now() + timeout;
        loop {
            let waiting = {
                let inner = self.lock();
                inner.users.values().filter(|u| u.pending.is_some()).count()
            };
            if waiting == 0 || Instant::now() >= deadline {
                let mut inner = self.lock();
                inner.users.clear();
                inner.ready.clear();
                inner.mode = Mode::Idle;
                return waiting;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Chat (= user) ids given to synthetic users so far. A bot that keys its state by bare
    /// chat id (teloxide's `RedisStorage`) leaves its keys under these.
    pub fn chat_ids(&self) -> std::ops::Range<i64> {
        FIRST_USER..self.lock().next_user
    }

    /// Queues `n` text updates of the flooding chat ([`FLOOD_CHAT`]), whatever the bot
    /// answered so far.
    pub fn flood(&self, n: u64) {
        if n == 0 {
            return;
        }
        let mut inner = self.lock();
        let date = unix_now();
        for _ in 0..n {
            let (id, msg_id) = (inner.next_update, inner.next_message);
            inner.next_update += 1;
            inner.next_message += 1;
            inner.flood.sent += 1;
            let json = format!(
                r#"{{"update_id":{id},"message":{{"message_id":{msg_id},"from":{},"chat":{},"date":{date},"text":"флуд {msg_id}"}}}}"#,
                user_json(FLOOD_CHAT),
                chat_json(FLOOD_CHAT),
            );
            inner.queue.push_back(Queued {
                id,
                chat: FLOOD_CHAT,
                json,
                handed: false,
            });
        }
        drop(inner);
        self.wake.notify_waiters();
    }

    /// What the flooding chat sent and got so far.
    pub fn flooded(&self) -> Flood {
        self.lock().flood
    }

    /// Notes that reply `n` (its text carries [`RELAY_MARK`]`n`) for `chat` is being
    /// posted to the bot now.
    pub fn relay_posted(&self, n: u64, chat: i64, at: Instant) {
        self.relay_lock().posted.insert(n, (chat, at));
    }

    /// Forgets every reply posted so far (between windows).
    pub fn relay_reset(&self) {
        *self.relay_lock() = RelayWatch::default();
    }

    /// Replies that reached their chat so far.
    pub fn relay_arrived(&self) -> u64 {
        self.relay_lock().arrived
    }

    /// Where the relayed replies stand.
    pub fn relayed(&self) -> Relayed {
        let mut r = self.relay_lock();
        Relayed {
            arrived: r.arrived,
            outstanding: r.posted.len() as u64,
            wrong_chat: r.wrong_chat,
            latency: r.latency.summary(),
        }
    }

    fn relay_lock(&self) -> MutexGuard<'_, RelayWatch> {
        self.relay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the clock of the reply whose mark `text` carries, if any.
    fn relay_seen(&self, chat: i64, text: &str, now: Instant) {
        let Some(n) = relay_number(text) else {
            return;
        };
        let mut r = self.relay_lock();
        match r.posted.get(&n) {
            Some(&(expected, posted)) if expected == chat => {
                r.posted.remove(&n);
                r.arrived += 1;
                r.latency.push(now.saturating_duration_since(posted));
            }
            Some(_) => r.wrong_chat += 1,
            None => {}
        }
    }

    /// Intakes completed since the hub started.
    pub fn intakes(&self) -> u64 {
        self.lock().counters.intakes
    }

    /// Updates completed since the hub started.
    pub fn completed(&self) -> u64 {
        self.lock().counters.completed
    }

    /// Request counters.
    pub fn counters(&self) -> Counters {
        let mut c = self.lock().counters.clone();
        c.downloaded = self.downloaded.load(Ordering::Relaxed);
        c
    }

    fn count(&self, method: &str) {
        let mut inner = self.lock();
        match inner.counters.calls.get_mut(method) {
            Some(n) => *n += 1,
            None => {
                inner.counters.calls.insert(method.to_owned(), 1);
            }
        }
    }

    /// Serves the Bot API on a fresh 127.0.0.1 port until the returned task is aborted.
    ///
    /// # Errors
    ///
    /// The port cannot be bound.
    pub async fn serve(
        self: &Arc<Self>,
    ) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new().fallback(route).with_state(Arc::clone(self));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((addr, task))
    }
}

/// The parameters of a Bot API call that the fake looks at.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Params {
    chat_id: Option<Value>,
    message_id: Option<Value>,
    callback_query_id: Option<String>,
    text: Option<String>,
    reply_markup: Option<Value>,
    offset: Option<Value>,
    limit: Option<Value>,
    timeout: Option<Value>,
    file_id: Option<String>,
}

fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_params(content_type: &str, body: &[u8]) -> Result<Params, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params::default());
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "chat_id" => p.chat_id = Some(Value::String(v)),
                "message_id" => p.message_id = Some(Value::String(v)),
                "callback_query_id" => p.callback_query_id = Some(v),
                "text" => p.text = Some(v),
                "reply_markup" => p.reply_markup = serde_json::from_str(&v).ok(),
                "offset" => p.offset = Some(Value::String(v)),
                "limit" => p.limit = Some(Value::String(v)),
                "timeout" => p.timeout = Some(Value::String(v)),
                "file_id" => p.file_id = Some(v),
                _ => {}
            }
        }
        return Ok(p);
    }
    if content_type.starts_with("multipart/") {
        return Err("multipart is not served by the bench fake".to_owned());
    }
    serde_json::from_slice(body).map_err(|e| format!("can't parse JSON request body: {e}"))
}

fn json_response(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn ok(result: &str) -> Response {
    json_response(
        StatusCode::OK,
        format!(r#"{{"ok":true,"result":{result}}}"#),
    )
}

fn error(status: StatusCode, description: &str) -> Response {
    json_response(
        status,
        format!(
            r#"{{"ok":false,"error_code":{},"description":{}}}"#,
            status.as_u16(),
            json_str(description)
        ),
    )
}

fn message_result(id: i64, chat: i64, edited: bool) -> Response {
    let date = unix_now();
    let edit = if edited {
        format!(r#","edit_date":{date}"#)
    } else {
        String::new()
    };
    ok(&format!(
        r#"{{"message_id":{id},"from":{BOT_JSON},"chat":{},"date":{date},"text":"ok"{edit}}}"#,
        chat_json(chat)
    ))
}

async fn route(State(hub): State<Arc<Hub>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    match (segments.next(), segments.next()) {
        (Some("file"), Some(bot)) if bot.strip_prefix("bot") == Some(TOKEN) => {
            let rest: Vec<&str> = segments.collect();
            download(&hub, &rest.join("/"))
        }
        (Some(bot), Some(method)) if bot.starts_with("bot") => {
            if bot.strip_prefix("bot") != Some(TOKEN) {
                return error(StatusCode::UNAUTHORIZED, "Unauthorized");
            }
            let method = method.to_ascii_lowercase();
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let body = match axum::body::to_bytes(req.into_body(), 4 * 1024 * 1024).await {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            match parse_params(&content_type, &body) {
                Ok(p) => call(&hub, &method, p).await,
                Err(e) => error(StatusCode::BAD_REQUEST, &e),
            }
        }
        _ => {
            hub.lock().counters.unknown.push(format!("path {path}"));
            error(StatusCode::NOT_FOUND, "Not Found")
        }
    }
}

async fn call(hub: &Arc<Hub>, method: &str, p: Params) -> Response {
    if method == "getupdates" {
        return get_updates(hub, &p).await;
    }
    hub.count(method);
    let now = Instant::now();
    match method {
        "getme" => ok(ME_JSON),
        "getwebhookinfo" => {
            ok(r#"{"url":"","has_custom_certificate":false,"pending_update_count":0}"#)
        }
        "deletewebhook" | "setmycommands" | "deletemycommands" | "sendchataction"
        | "deletemessage" | "close" | "logout" => ok("true"),
        "sendmessage" | "editmessagetext" | "editmessagereplymarkup" => {
            let Some(chat) = as_i64(p.chat_id.as_ref()) else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty");
            };
            let sent = method == "sendmessage";
            if sent && let Some(text) = p.text.as_deref() {
                hub.relay_seen(chat, text, now);
            }
            let mut inner = hub.lock();
            if chat == FLOOD_CHAT {
                inner.flood.answers += 1;
            }
            let id = if sent {
                let id = inner.next_message;
                inner.next_message += 1;
                id
            } else {
                match as_i64(p.message_id.as_ref()) {
                    Some(id) => id,
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "Bad Request: message identifier is not specified",
                        );
                    }
                }
            };
            let queued = inner.observe(chat, now, |pending| {
                let mut kb = None;
                if let (Some(b), Some(markup)) = (pending.button, p.reply_markup.as_ref())
                    && markup_has(markup, b)
                {
                    pending.button = None;
                    kb = Some(id);
                }
                if let (Some(t), Some(text)) = (pending.text, p.text.as_deref())
                    && sent
                    && text.contains(t)
                {
                    pending.text = None;
                }
                kb
            });
            drop(inner);
            if queued {
                hub.wake.notify_waiters();
            }
            message_result(id, chat, !sent)
        }
        "answercallbackquery" => {
            let Some(id) = p.callback_query_id else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: parameter \"callback_query_id\" is required",
                );
            };
            let chat = id
                .split_once('-')
                .and_then(|(c, _)| c.parse::<i64>().ok())
                .unwrap_or(0);
            let queued = hub.lock().observe(chat, now, |pending| {
                if pending.callback.as_deref() == Some(id.as_str()) {
                    pending.callback = None;
                }
                None
            });
            if queued {
                hub.wake.notify_waiters();
            }
            ok("true")
        }
        "getfile" => {
            let Some(file_id) = p.file_id else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: file_id is required");
            };
            let Some(size) = doc_size(&file_id) else {
                return error(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id");
            };
            ok(&format!(
                r#"{{"file_id":{},"file_unique_id":"F{}","file_size":{size},"file_path":"documents/{file_id}.png"}}"#,
                json_str(&file_id),
                file_id.len()
            ))
        }
        other => {
            hub.lock().counters.unknown.push(other.to_owned());
            error(StatusCode::NOT_FOUND, "Not Found: method not found")
        }
    }
}

/// The size encoded in a bench document's file id (`BENCHDOC-<size>-…`).
fn doc_size(file_id: &str) -> Option<u64> {
    file_id
        .strip_prefix("BENCHDOC-")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// The number after [`RELAY_MARK`] in a message text.
fn relay_number(text: &str) -> Option<u64> {
    let rest = &text[text.find(RELAY_MARK)? + RELAY_MARK.len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

async fn get_updates(hub: &Arc<Hub>, p: &Params) -> Response {
    let offset = as_i64(p.offset.as_ref()).unwrap_or(0);
    let limit = as_i64(p.limit.as_ref()).unwrap_or(100).clamp(1, 100) as usize;
    let wait = Duration::from_secs(as_i64(p.timeout.as_ref()).unwrap_or(0).max(0) as u64)
        .min(MAX_LONG_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    hub.lock().polled += 1;
    loop {
        let notified = hub.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch = hub.lock().take_batch(offset, limit, Instant::now());
        if let Some(body) = batch {
            return json_response(StatusCode::OK, body);
        }
        if tokio::time::Instant::now() >= deadline
            || tokio::time::timeout_at(deadline, notified).await.is_err()
        {
            return ok("[]");
        }
    }
}

/// Decodes `%XX` escapes (teloxide sends the file path's `/` as `%2F`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn download(hub: &Arc<Hub>, path: &str) -> Response {
    let path = percent_decode(path);
    let Some(size) = path
        .strip_prefix("documents/")
        .and_then(|f| f.strip_suffix(".png"))
        .and_then(doc_size)
    else {
        hub.lock()
            .counters
            .unknown
            .push(format!("download of {path}"));
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    hub.count("downloadfile");
    let hub = Arc::clone(hub);
    let stream = futures::stream::unfold(0u64, move |sent| {
        let hub = Arc::clone(&hub);
        async move {
            if sent >= size {
                return None;
            }
            let n = (size - sent).min(CHUNK as u64);
            hub.downloaded.fetch_add(n, Ordering::Relaxed);
            let chunk = Bytes::from_static(&CHUNK_BYTES[..n as usize]);
            Some((Ok::<Bytes, std::convert::Infallible>(chunk), sent + n))
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::device_malfunction;

    #[test]
    fn a_step_completes_when_its_button_and_callback_answer_arrive() {
        let hub = Hub::new(device_malfunction(0), 0);
        hub.start_users(1, Mode::Closed);
        let mut inner = hub.lock();
        let t0 = Instant::now();
        let body = inner.take_batch(0, 100, t0).expect("the /start update");
        assert!(body.contains(r#""text":"/start""#), "{body}");
        let chat = FIRST_USER;
        let menu =
            serde_json::json!({"inline_keyboard":[[{"text":"x","callback_data":"g:devices"}]]});
        // A message without the awaited button does not complete the step.
        assert!(!inner.observe(chat, t0, |p| {
            assert_eq!(p.button, Some("g:devices"));
            None
        }));
        inner.rec.on = true;
        assert!(inner.observe(chat, t0, |p| {
            assert!(markup_has(&menu, "g:devices"));
            p.button = None;
            Some(42)
        }));
        assert_eq!(inner.rec.updates, 1);
        // The press goes to the menu message and waits for its callback answer.
        let body = inner.take_batch(2, 100, t0).expect("the press");
        assert!(
            body.contains(r#""message_id":42"#) && body.contains("g:devices"),
            "{body}"
        );
        let user = &inner.users[&chat];
        assert_eq!(user.step, 1);
        assert!(
            user.pending
                .as_ref()
                .and_then(|p| p.callback.clone())
                .is_some()
        );
    }

    #[test]
    fn paced_users_wait_for_releases_and_missed_releases_are_counted() {
        let hub = Hub::new(device_malfunction(0), 0);
        hub.begin_window();
        hub.start_users(2, Mode::Paced);
        assert_eq!(hub.pace(3), 2);
        assert_eq!(hub.lock().queue.len(), 2);
        let w = hub.end_window();
        assert_eq!(w.missed_releases, 1);
    }

    #[tokio::test]
    async fn a_relayed_reply_counts_once_and_only_in_its_own_chat() {
        let hub = Hub::new(device_malfunction(0), 0);
        let t0 = Instant::now();
        hub.relay_posted(5, 77, t0);
        let send = |chat: i64| Params {
            chat_id: Some(Value::from(chat)),
            text: Some(format!("<b>Ответ</b>\nтекст {RELAY_MARK}5 — конец")),
            ..Params::default()
        };

        call(&hub, "sendmessage", send(78)).await;
        call(&hub, "sendmessage", send(77)).await;
        call(&hub, "sendmessage", send(77)).await;

        let r = hub.relayed();
        assert_eq!((r.arrived, r.outstanding, r.wrong_chat), (1, 0, 1));
        assert_eq!(r.latency.count, 1);
        assert_eq!(relay_number("x bench-reply-12 —"), Some(12));
        assert_eq!(relay_number("bench-reply-"), None);
    }

    #[tokio::test]
    async fn the_flooding_chat_is_queued_and_its_answers_counted() {
        let hub = Hub::new(device_malfunction(0), 0);

        hub.flood(3);
        let answer = Params {
            chat_id: Some(Value::from(FLOOD_CHAT)),
            text: Some("слишком часто".to_owned()),
            ..Params::default()
        };
        call(&hub, "sendmessage", answer).await;

        let body = hub
            .lock()
            .take_batch(0, 100, Instant::now())
            .expect("updates");
        assert_eq!(
            body.matches(&format!(r#""id":{FLOOD_CHAT},"type""#))
                .count(),
            3
        );
        let f = hub.flooded();
        assert_eq!((f.sent, f.answers), (3, 1));
    }

    #[test]
    fn form_and_json_parameters_parse_alike() {
        let form = parse_params(
            "application/x-www-form-urlencoded",
            b"chat_id=5&text=hi&reply_markup=%7B%22inline_keyboard%22%3A%5B%5B%7B%22text%22%3A%20%22a%22%2C%20%22callback_data%22%3A%20%22send%22%7D%5D%5D%7D",
        )
        .expect("form");
        assert_eq!(as_i64(form.chat_id.as_ref()), Some(5));
        assert!(markup_has(
            form.reply_markup.as_ref().expect("markup"),
            "send"
        ));
        let json = parse_params(
            "application/json",
            br#"{"chat_id":5,"reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"send"}]]}}"#,
        )
        .expect("json");
        assert_eq!(as_i64(json.chat_id.as_ref()), Some(5));
        assert!(markup_has(
            json.reply_markup.as_ref().expect("markup"),
            "send"
        ));
        assert_eq!(doc_size("BENCHDOC-20971520-1000001-2"), Some(20_971_520));
        assert_eq!(
            percent_decode("documents%2Fa%20b.png%"),
            "documents/a b.png%"
        );
    }
}
