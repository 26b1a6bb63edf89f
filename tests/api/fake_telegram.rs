//! A fake Telegram Bot API server for integration tests.
//!
//! [`FakeTelegram::start`] binds `127.0.0.1:0` and serves the Bot API wire format the way
//! teloxide 0.17 uses it: `POST /bot<TOKEN>/<Method>` (method names matched case-insensitively),
//! JSON, multipart or urlencoded parameters, `{"ok":true,"result":…}` answers, Telegram-like
//! `{"ok":false,"error_code":…,"description":…}` errors, and file downloads from
//! `GET /file/bot<TOKEN>/<file_path>`.
//!
//! The fake keeps an update queue for long polling, records every bot message, validates
//! parameters like real Telegram (texts, parse modes, keyboards, callback data, …) and records
//! each rejected request as a [`Violation`], so a test can assert that the bot never sent
//! anything the real API would have refused. Unknown methods answer 404 and are listed by
//! [`FakeTelegram::unknown_calls`]. It never answers 5xx unless a test asks for it with
//! [`FakeTelegram::fail_next`] (teloxide sleeps 10 s on every 5xx).
//!
//! Simulated users ([`TestUser`]) write to the bot through injection helpers
//! ([`FakeTelegram::send_text`], [`FakeTelegram::press_button`], [`FakeTelegram::send_photo`], …)
//! that queue real `Update` JSON objects.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

/// The bot token the fake accepts. Requests under any other token get `401 Unauthorized`.
pub const TOKEN: &str = "7000000001:AAHfakeTestTokenForWaviotSupportBot01";
/// The bot's user id (the numeric prefix of [`TOKEN`]).
pub const BOT_ID: i64 = 7_000_000_001;
/// The bot's username, as returned by `getMe`.
pub const BOT_USERNAME: &str = "waviot_test_bot";
/// The bot's first name, as returned by `getMe`.
pub const BOT_FIRST_NAME: &str = "WAVIoT Support (test)";
/// Files larger than this cannot be fetched by bots: `getFile` answers `400 file is too big`.
pub const MAX_BOT_DOWNLOAD: u64 = 20 * 1024 * 1024;
/// Upper bound on how long one `getUpdates` call waits when no update is queued.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(1);
/// Maximum message text length (Unicode scalar values, after entity parsing).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Maximum `answerCallbackQuery` text length.
pub const MAX_CALLBACK_ANSWER_CHARS: usize = 200;
/// Maximum `callback_data` length in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;

const FIRST_UPDATE_ID: i64 = 100_000_001;
const DOWNLOAD_CHUNK: usize = 64 * 1024;
const THUMBNAIL_BYTES: &[u8] = b"\xFF\xD8\xFF\xE0fake-thumbnail-not-the-real-photo\xFF\xD9";
const VOICE_BYTES: &[u8] = b"OggS\x00\x02fake-opus-voice-note";
const STICKER_BYTES: &[u8] = b"RIFF\x00\x00\x00\x00WEBPfake-sticker";

/// A simulated Telegram user who talks to the bot. Their private chat id equals their user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestUser {
    /// Telegram user id (also the private chat id).
    pub id: i64,
    /// First name shown in `from.first_name` and `chat.first_name`.
    pub first_name: String,
    /// IETF language tag sent as `from.language_code` (`None`: the field is omitted).
    pub language_code: Option<String>,
}

impl TestUser {
    /// A user with an explicit name and language.
    pub fn new(id: i64, first_name: impl Into<String>, language_code: Option<&str>) -> Self {
        Self {
            id,
            first_name: first_name.into(),
            language_code: language_code.map(str::to_owned),
        }
    }

    /// A Russian-speaking user (`language_code = "ru"`).
    pub fn ru(id: i64) -> Self {
        Self::new(id, "Иван", Some("ru"))
    }

    /// An English-speaking user (`language_code = "en"`).
    pub fn en(id: i64) -> Self {
        Self::new(id, "John", Some("en"))
    }

    /// The id of the user's private chat with the bot (equal to [`TestUser::id`]).
    pub fn chat_id(&self) -> i64 {
        self.id
    }

    /// The `User` JSON object Telegram would send for this user.
    pub fn to_json(&self) -> Value {
        let mut user = json!({ "id": self.id, "is_bot": false, "first_name": self.first_name });
        if let Some(lang) = &self.language_code {
            user["language_code"] = json!(lang);
        }
        user
    }

    fn private_chat_json(&self) -> Value {
        json!({ "id": self.id, "type": "private", "first_name": self.first_name })
    }
}

/// A message the bot sent (its current state: edits are applied in place).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    /// Target chat.
    pub chat_id: i64,
    /// Id assigned by the fake (increasing, unique within one fake).
    pub message_id: i32,
    /// The text exactly as the bot sent it (markup not stripped).
    pub text: String,
    /// The `reply_markup` parameter as sent (inline keyboard, reply keyboard, removal, …).
    pub reply_markup: Option<Value>,
    /// The `parse_mode` parameter as sent.
    pub parse_mode: Option<String>,
}

impl SentMessage {
    /// All inline keyboard buttons as `(text, callback_data)` pairs, row by row.
    /// Buttons without `callback_data` (URL buttons, …) get an empty data string.
    pub fn inline_buttons(&self) -> Vec<(String, String)> {
        inline_buttons_of(self.reply_markup.as_ref())
    }

    /// The `callback_data` of the first inline button whose text contains `label`.
    pub fn button_data(&self, label: &str) -> Option<String> {
        self.inline_buttons()
            .into_iter()
            .find(|(text, _)| text.contains(label))
            .map(|(_, data)| data)
    }

    /// Whether the message carries an inline keyboard with at least one button.
    pub fn has_inline_keyboard(&self) -> bool {
        !self.inline_buttons().is_empty()
    }
}

/// One Bot API request, in arrival order. `getUpdates` and file downloads are not logged here
/// (see [`FakeTelegram::calls`] and [`FakeTelegram::downloads`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Canonical method name as in the Bot API docs (`sendMessage`); unknown methods keep the
    /// name used in the URL.
    pub method: String,
    /// The request parameters as JSON (form values converted where the type is known).
    pub params: Value,
    /// The HTTP status the fake answered with.
    pub status: u16,
}

/// A request that real Telegram would have rejected with `400 Bad Request` (or `401`/`409`).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Canonical method name.
    pub method: String,
    /// The Telegram-style description returned to the bot.
    pub description: String,
    /// The offending request parameters.
    pub params: Value,
}

/// An injected failure for the next call(s) of a method, see [`FakeTelegram::fail_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429 `Too Many Requests: retry after N` with `parameters.retry_after = N`.
    TooManyRequests {
        /// Seconds the bot must wait.
        retry_after: u32,
    },
    /// HTTP 400 with the given description (should start with `Bad Request: `).
    BadRequest {
        /// Telegram error description.
        description: String,
    },
}

/// A file the fake can serve through `getFile` and `/file/bot<TOKEN>/<file_path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredFile {
    /// `file_id` to use in messages and `getFile`.
    pub file_id: String,
    /// `file_unique_id`.
    pub file_unique_id: String,
    /// Path returned by `getFile` (e.g. `photos/file_7.jpg`).
    pub file_path: String,
    /// Size in bytes.
    pub size: u64,
}

/// An `answerCallbackQuery` call that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    /// The callback query id.
    pub callback_query_id: String,
    /// Notification text, if any.
    pub text: Option<String>,
    /// Whether an alert was requested.
    pub show_alert: bool,
}

/// Byte `i` of a file declared with [`FakeTelegram::send_document_of_size`] or
/// [`FakeTelegram::register_generated_file`] (a deterministic pattern).
pub fn generated_byte(i: u64) -> u8 {
    (i % 251) as u8
}

#[derive(Debug, Clone)]
enum FileData {
    Stored(Bytes),
    Generated,
}

#[derive(Debug, Clone)]
struct FileEntry {
    info: RegisteredFile,
    data: FileData,
}

#[derive(Debug, Clone)]
struct StoredMessage {
    sent: SentMessage,
    date: i64,
    edit_date: Option<i64>,
    deleted: bool,
    display_text: String,
}

struct Inner {
    next_update_id: i64,
    queue: VecDeque<Value>,
    pushed: Vec<Value>,
    filtered: Vec<Value>,
    confirmed_offset: i64,
    allowed_updates: Option<Vec<String>>,
    next_message_id: i32,
    messages: Vec<StoredMessage>,
    user_messages: HashSet<(i64, i32)>,
    chats: HashMap<i64, Value>,
    events: Vec<Event>,
    calls: HashMap<String, usize>,
    unknown: Vec<Event>,
    violations: Vec<Violation>,
    failures: HashMap<String, VecDeque<Failure>>,
    files: HashMap<String, FileEntry>,
    files_by_path: HashMap<String, String>,
    next_file_no: u64,
    downloads: Vec<String>,
    webhook_url: String,
    commands: BTreeMap<(String, String), Value>,
    callbacks: HashMap<String, bool>,
    callback_answers: Vec<CallbackAnswer>,
    next_callback_no: u64,
    blocked: HashSet<i64>,
}

struct Shared {
    inner: Mutex<Inner>,
    new_updates: Notify,
    changes: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// A running fake Bot API server. Dropping it stops the server.
pub struct FakeTelegram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeTelegram {
    /// The accepted bot token (same as the module-level [`TOKEN`]).
    pub const TOKEN: &'static str = TOKEN;

    /// Binds `127.0.0.1:0` and serves the fake API in a background task.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Telegram");
        let addr = listener.local_addr().expect("fake Telegram local addr");
        let (changes, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_update_id: FIRST_UPDATE_ID,
                queue: VecDeque::new(),
                pushed: Vec::new(),
                filtered: Vec::new(),
                confirmed_offset: 0,
                allowed_updates: None,
                next_message_id: 1,
                messages: Vec::new(),
                user_messages: HashSet::new(),
                chats: HashMap::new(),
                events: Vec::new(),
                calls: HashMap::new(),
                unknown: Vec::new(),
                violations: Vec::new(),
                failures: HashMap::new(),
                files: HashMap::new(),
                files_by_path: HashMap::new(),
                next_file_no: 1,
                downloads: Vec::new(),
                webhook_url: String::new(),
                commands: BTreeMap::new(),
                callbacks: HashMap::new(),
                callback_answers: Vec::new(),
                next_callback_no: 1,
                blocked: HashSet::new(),
            }),
            new_updates: Notify::new(),
            changes,
        });
        let app = Router::new()
            .fallback(route)
            .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Base URL for `Bot::set_api_url`, e.g. `http://127.0.0.1:PORT/`.
    pub fn api_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}/", self.addr)).expect("valid fake Telegram URL")
    }

    /// Stops the server: no new connections, open connections are closed after their current
    /// request (waits at most 3 s).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Injection
    // ----------------------------------------------------------------------------------------

    /// Queues a raw update. A missing `update_id` is assigned; an explicit one is kept (and
    /// later ids continue above it). Returns the update id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut inner = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => {
                    inner.next_update_id = inner.next_update_id.max(id + 1);
                    id
                }
                None => {
                    let id = inner.next_update_id;
                    inner.next_update_id += 1;
                    update["update_id"] = json!(id);
                    id
                }
            };
            remember_update_chats(&mut inner, &update);
            inner.pushed.push(update.clone());
            inner.queue.push_back(update);
            id
        };
        self.shared.new_updates.notify_waiters();
        self.shared.changed();
        id
    }

    /// Queues a `message` update from `user` in their private chat, with `fields` merged into
    /// the message (e.g. `json!({"text": "hi"})`). Returns the update id.
    pub fn send_message_with(&self, user: &TestUser, fields: Value) -> i64 {
        self.push_message(user.private_chat_json(), user, fields)
    }

    /// The user sends a text. Texts starting with `/` get a `bot_command` entity, like real
    /// Telegram sends. Returns the update id.
    pub fn send_text(&self, user: &TestUser, text: &str) -> i64 {
        self.send_message_with(user, text_fields(text))
    }

    /// The user sends a command such as `/start` or `/start payload` (panics if `text` does not
    /// start with `/`). Returns the update id.
    pub fn send_command(&self, user: &TestUser, text: &str) -> i64 {
        assert!(
            text.starts_with('/'),
            "a command must start with '/': {text:?}"
        );
        self.send_text(user, text)
    }

    /// The user writes `text` in a group chat (`group_chat_id` should be negative; ids below
    /// `-1_000_000_000_000` become supergroups). Returns the update id.
    pub fn send_group_text(&self, group_chat_id: i64, user: &TestUser, text: &str) -> i64 {
        let kind = if group_chat_id < -1_000_000_000_000 {
            "supergroup"
        } else {
            "group"
        };
        let chat = json!({ "id": group_chat_id, "type": kind, "title": "WAVIoT test group" });
        self.push_message(chat, user, text_fields(text))
    }

    /// The user sends a photo: `photo` holds two sizes, a small thumbnail first and the largest
    /// last; the largest is `bytes` (registered, `file_size = bytes.len()`). Returns the update id.
    pub fn send_photo(
        &self,
        user: &TestUser,
        bytes: impl Into<Bytes>,
        caption: Option<&str>,
        media_group_id: Option<&str>,
    ) -> i64 {
        let fields = self.photo_fields(bytes, caption, media_group_id);
        self.send_message_with(user, fields)
    }

    /// The user replies (Telegram's "Reply") to the bot's message `to` with `fields`
    /// (e.g. [`text_fields`]-like `{"text": …}` or [`Self::photo_fields`]).
    pub fn reply_to(&self, user: &TestUser, to: &SentMessage, fields: Value) -> i64 {
        let mut fields = fields;
        fields["reply_to_message"] = json!({
            "message_id": to.message_id,
            "from": bot_user_json(),
            "chat": user.private_chat_json(),
            "date": unix_now(),
            "text": to.text,
        });
        self.send_message_with(user, fields)
    }

    /// The message fields of a photo whose content is `bytes` (registered for download).
    pub fn photo_fields(
        &self,
        bytes: impl Into<Bytes>,
        caption: Option<&str>,
        media_group_id: Option<&str>,
    ) -> Value {
        let full = self.register_file(bytes, "photos", "jpg");
        let thumb = self.register_file(Bytes::from_static(THUMBNAIL_BYTES), "thumbnails", "jpg");
        let mut fields = json!({
            "photo": [
                { "file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id,
                  "width": 90, "height": 68, "file_size": thumb.size },
                { "file_id": full.file_id, "file_unique_id": full.file_unique_id,
                  "width": 1280, "height": 960, "file_size": full.size },
            ]
        });
        if let Some(caption) = caption {
            fields["caption"] = json!(caption);
        }
        if let Some(group) = media_group_id {
            fields["media_group_id"] = json!(group);
        }
        fields
    }

    /// The user sends a document whose content is `bytes`. Returns the update id.
    pub fn send_document(
        &self,
        user: &TestUser,
        file_name: &str,
        mime_type: &str,
        bytes: impl Into<Bytes>,
    ) -> i64 {
        let file = self.register_file(bytes, "documents", extension_of(file_name));
        self.send_message_with(user, document_fields(&file, file_name, mime_type))
    }

    /// The user sends a document of `size` bytes without allocating it. Above
    /// [`MAX_BOT_DOWNLOAD`] `getFile` answers `400 Bad Request: file is too big`; otherwise the
    /// download streams the [`generated_byte`] pattern. Returns the update id.
    pub fn send_document_of_size(
        &self,
        user: &TestUser,
        file_name: &str,
        mime_type: &str,
        size: u64,
    ) -> i64 {
        let file = self.register_generated_file(size, "documents", extension_of(file_name));
        self.send_message_with(user, document_fields(&file, file_name, mime_type))
    }

    /// The user shares a contact (their own when `contact_user_id == Some(user.id)`).
    /// Returns the update id.
    pub fn send_contact(&self, user: &TestUser, phone: &str, contact_user_id: Option<i64>) -> i64 {
        let mut contact = json!({ "phone_number": phone, "first_name": user.first_name });
        if let Some(id) = contact_user_id {
            contact["user_id"] = json!(id);
        }
        self.send_message_with(user, json!({ "contact": contact }))
    }

    /// The user shares a location. Returns the update id.
    pub fn send_location(&self, user: &TestUser, latitude: f64, longitude: f64) -> i64 {
        self.send_message_with(
            user,
            json!({ "location": { "latitude": latitude, "longitude": longitude } }),
        )
    }

    /// The user sends a (regular, static) sticker. Returns the update id.
    pub fn send_sticker(&self, user: &TestUser) -> i64 {
        let file = self.register_file(Bytes::from_static(STICKER_BYTES), "stickers", "webp");
        self.send_message_with(
            user,
            json!({ "sticker": {
                "file_id": file.file_id, "file_unique_id": file.file_unique_id, "type": "regular",
                "width": 512, "height": 512, "is_animated": false, "is_video": false,
                "emoji": "👍", "set_name": "WaviotTestStickers", "file_size": file.size
            }}),
        )
    }

    /// The user sends a 3-second voice note. Returns the update id.
    pub fn send_voice(&self, user: &TestUser) -> i64 {
        let file = self.register_file(Bytes::from_static(VOICE_BYTES), "voice", "oga");
        self.send_message_with(
            user,
            json!({ "voice": {
                "file_id": file.file_id, "file_unique_id": file.file_unique_id, "duration": 3,
                "mime_type": "audio/ogg", "file_size": file.size
            }}),
        )
    }

    /// The user presses the inline button with callback `data` under the bot message
    /// `message_id`. Panics if the message does not exist, was deleted, or has no such button
    /// (a real user cannot press it). The update's `message` is the recorded bot message with
    /// its current text and keyboard. Returns the update id.
    pub fn press_button(&self, user: &TestUser, message_id: i32, data: &str) -> i64 {
        {
            let inner = self.shared.lock();
            let msg = inner
                .messages
                .iter()
                .find(|m| m.sent.message_id == message_id && !m.deleted)
                .unwrap_or_else(|| {
                    panic!("press_button: no live bot message with id {message_id}")
                });
            let buttons = inner_buttons(&msg.sent);
            assert!(
                buttons.iter().any(|(_, d)| d == data),
                "press_button: message {message_id} has no button with callback_data {data:?}; buttons: {buttons:?}"
            );
        }
        self.press_button_unchecked(user, message_id, data)
    }

    /// Like [`FakeTelegram::press_button`] but without checking that the button exists (for
    /// stale or forged callback data). If the message is unknown, the callback carries an
    /// inaccessible message (`date: 0`) in the user's chat. Returns the update id.
    pub fn press_button_unchecked(&self, user: &TestUser, message_id: i32, data: &str) -> i64 {
        let (id, message) = {
            let mut inner = self.shared.lock();
            let id = format!("{}{:08}", BOT_ID, inner.next_callback_no);
            inner.next_callback_no += 1;
            inner.callbacks.insert(id.clone(), false);
            let message = inner
                .messages
                .iter()
                .find(|m| m.sent.message_id == message_id && !m.deleted)
                .cloned()
                .map(|m| message_json(&inner, &m))
                .unwrap_or_else(|| json!({ "chat": user.private_chat_json(), "message_id": message_id, "date": 0 }));
            (id, message)
        };
        let chat_instance = format!("-{}", 4_000_000_000_000_000_000u64 + user.id.unsigned_abs());
        self.push_update(json!({
            "callback_query": {
                "id": id, "from": user.to_json(), "message": message,
                "chat_instance": chat_instance, "data": data
            }
        }))
    }

    /// Registers `bytes` as a downloadable file under `<dir>/file_<n>.<ext>`.
    pub fn register_file(&self, bytes: impl Into<Bytes>, dir: &str, ext: &str) -> RegisteredFile {
        let bytes = bytes.into();
        let size = bytes.len() as u64;
        self.register(FileData::Stored(bytes), size, dir, ext)
    }

    /// Registers a file of `size` bytes whose content is the [`generated_byte`] pattern,
    /// without allocating it.
    pub fn register_generated_file(&self, size: u64, dir: &str, ext: &str) -> RegisteredFile {
        self.register(FileData::Generated, size, dir, ext)
    }

    fn register(&self, data: FileData, size: u64, dir: &str, ext: &str) -> RegisteredFile {
        let mut inner = self.shared.lock();
        let n = inner.next_file_no;
        inner.next_file_no += 1;
        let info = RegisteredFile {
            file_id: format!("BQACAgIAAxkBAAIB{n:06}fakeFileIdForTests"),
            file_unique_id: format!("AgAD{n:06}"),
            file_path: format!("{dir}/file_{n}.{ext}"),
            size,
        };
        inner
            .files_by_path
            .insert(info.file_path.clone(), info.file_id.clone());
        inner.files.insert(
            info.file_id.clone(),
            FileEntry {
                info: info.clone(),
                data,
            },
        );
        info
    }

    fn push_message(&self, chat: Value, user: &TestUser, fields: Value) -> i64 {
        let mut message = {
            let mut inner = self.shared.lock();
            let message_id = inner.next_message_id;
            inner.next_message_id += 1;
            let chat_id = chat["id"].as_i64().unwrap_or_default();
            inner.user_messages.insert((chat_id, message_id));
            json!({ "message_id": message_id, "from": user.to_json(), "chat": chat, "date": unix_now() })
        };
        if let (Some(target), Value::Object(extra)) = (message.as_object_mut(), fields) {
            target.extend(extra);
        }
        self.push_update(json!({ "message": message }))
    }

    // ----------------------------------------------------------------------------------------
    // Configuration and fault injection
    // ----------------------------------------------------------------------------------------

    /// The next `n` calls of `method` (case-insensitive, e.g. `"sendMessage"`; `"downloadFile"`
    /// for file downloads) fail with `failure` instead of being processed. Queued failures add up.
    pub fn fail_next(&self, method: &str, n: usize, failure: Failure) {
        let mut inner = self.shared.lock();
        let queue = inner
            .failures
            .entry(method.to_ascii_lowercase())
            .or_default();
        queue.extend(std::iter::repeat_n(failure, n));
    }

    /// Marks the chat as having blocked the bot: sends and chat actions to it answer
    /// `403 Forbidden: bot was blocked by the user` until unblocked.
    pub fn set_blocked(&self, chat_id: i64, blocked: bool) {
        let mut inner = self.shared.lock();
        if blocked {
            inner.blocked.insert(chat_id);
        } else {
            inner.blocked.remove(&chat_id);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Inspection
    // ----------------------------------------------------------------------------------------

    /// All requests except `getUpdates` and downloads, in arrival order.
    pub fn events(&self) -> Vec<Event> {
        self.shared.lock().events.clone()
    }

    /// Events for one method (case-insensitive).
    pub fn events_of(&self, method: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// Requests for methods the fake does not implement (answered 404).
    pub fn unknown_calls(&self) -> Vec<Event> {
        self.shared.lock().unknown.clone()
    }

    /// Requests real Telegram would have rejected (answered 400/401/409).
    pub fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// Panics with details if any violation or unknown method call was recorded.
    pub fn assert_clean(&self) {
        let violations = self.violations();
        let unknown = self.unknown_calls();
        assert!(
            violations.is_empty() && unknown.is_empty(),
            "fake Telegram saw bad requests:\nviolations: {violations:#?}\nunknown methods: {unknown:#?}"
        );
    }

    /// How many requests arrived for `method` (case-insensitive; includes failed and injected
    /// failures). File downloads count as `"downloadFile"`.
    pub fn calls(&self, method: &str) -> usize {
        self.shared
            .lock()
            .calls
            .get(&method.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// All bot messages (current state), in sending order; deleted ones included.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared
            .lock()
            .messages
            .iter()
            .map(|m| m.sent.clone())
            .collect()
    }

    /// Bot messages sent to `chat_id`, in order (deleted ones included).
    pub fn messages_to(&self, chat_id: i64) -> Vec<SentMessage> {
        messages_to(&self.shared.lock(), chat_id)
    }

    /// One bot message by id (current state).
    pub fn message(&self, message_id: i32) -> Option<SentMessage> {
        self.shared
            .lock()
            .messages
            .iter()
            .find(|m| m.sent.message_id == message_id)
            .map(|m| m.sent.clone())
    }

    /// Accepted `answerCallbackQuery` calls, in order.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().callback_answers.clone()
    }

    /// The highest positive `offset` the bot sent to `getUpdates` (0 if none): every update
    /// with a lower id is confirmed.
    pub fn confirmed_offset(&self) -> i64 {
        self.shared.lock().confirmed_offset
    }

    /// Every update ever pushed, in order.
    pub fn pushed_updates(&self) -> Vec<Value> {
        self.shared.lock().pushed.clone()
    }

    /// The `commands` array set by `setMyCommands` for the default scope and `language_code`
    /// (`None` = no language).
    pub fn my_commands(&self, language_code: Option<&str>) -> Option<Value> {
        let key = (
            "default".to_owned(),
            language_code.unwrap_or_default().to_owned(),
        );
        self.shared.lock().commands.get(&key).cloned()
    }

    // ----------------------------------------------------------------------------------------
    // Waiting
    // ----------------------------------------------------------------------------------------

    /// Waits (event-driven, at most `timeout`) until `cond(self)` holds. Returns whether it did.
    pub async fn wait_until(&self, mut cond: impl FnMut(&Self) -> bool, timeout: Duration) -> bool {
        crate::helpers::wait_for_change(self.shared.changes.subscribe(), || cond(self), timeout)
            .await
    }

    /// Waits for a bot message to `chat_id` matching `predicate` (already sent ones count; edits
    /// are seen). Returns the first match, or `None` after `timeout`.
    pub async fn wait_for_message(
        &self,
        chat_id: i64,
        predicate: impl Fn(&SentMessage) -> bool,
        timeout: Duration,
    ) -> Option<SentMessage> {
        let mut found = None;
        self.wait_until(
            |fake| {
                found = fake.messages_to(chat_id).into_iter().find(|m| predicate(m));
                found.is_some()
            },
            timeout,
        )
        .await;
        found
    }

    /// Waits until `method` was called at least `n` times. Returns whether it was.
    pub async fn wait_for_calls(&self, method: &str, n: usize, timeout: Duration) -> bool {
        self.wait_until(|fake| fake.calls(method) >= n, timeout)
            .await
    }

    /// Waits until the bot confirmed update `update_id` (sent an offset above it).
    pub async fn wait_for_confirmed(&self, update_id: i64, timeout: Duration) -> bool {
        self.wait_until(|fake| fake.confirmed_offset() > update_id, timeout)
            .await
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// --------------------------------------------------------------------------------------------
// HTTP layer
// --------------------------------------------------------------------------------------------

/// Methods the fake implements (canonical names).
const METHODS: &[&str] = &[
    "getMe",
    "getWebhookInfo",
    "deleteWebhook",
    "setWebhook",
    "getUpdates",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "answerCallbackQuery",
    "setMyCommands",
    "deleteMyCommands",
    "sendChatAction",
    "getFile",
];

struct ApiError {
    status: u16,
    description: String,
    parameters: Option<Value>,
}

impl ApiError {
    fn bad_request(description: impl Into<String>) -> Self {
        Self {
            status: 400,
            description: format!("Bad Request: {}", description.into()),
            parameters: None,
        }
    }

    fn forbidden_blocked() -> Self {
        Self {
            status: 403,
            description: "Forbidden: bot was blocked by the user".into(),
            parameters: None,
        }
    }

    fn from_failure(failure: &Failure) -> Self {
        match failure {
            Failure::TooManyRequests { retry_after } => Self {
                status: 429,
                description: format!("Too Many Requests: retry after {retry_after}"),
                parameters: Some(json!({ "retry_after": retry_after })),
            },
            Failure::BadRequest { description } => Self {
                status: 400,
                description: description.clone(),
                parameters: None,
            },
        }
    }

    fn into_response(self) -> Response {
        let mut body =
            json!({ "ok": false, "error_code": self.status, "description": self.description });
        if let Some(parameters) = self.parameters {
            body["parameters"] = parameters;
        }
        json_response(self.status, &body)
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn ok_response(result: Value) -> Response {
    json_response(200, &json!({ "ok": true, "result": result }))
}

fn not_found() -> Response {
    json_response(
        404,
        &json!({ "ok": false, "error_code": 404, "description": "Not Found" }),
    )
}

async fn route(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let segments: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    match segments.as_slice() {
        [file, bot, rest @ ..] if file == "file" && bot.starts_with("bot") && !rest.is_empty() => {
            let path = rest.join("/");
            download(&shared, &bot[3..], &path)
        }
        [bot, method] if bot.starts_with("bot") => {
            let token = bot[3..].to_owned();
            let method = method.clone();
            method_call(&shared, &token, &method, req).await
        }
        _ => not_found(),
    }
}

fn download(shared: &Shared, token: &str, path: &str) -> Response {
    let entry = {
        let mut inner = shared.lock();
        *inner.calls.entry("downloadfile".into()).or_default() += 1;
        inner.downloads.push(path.to_owned());
        if let Some(failure) = inner
            .failures
            .get_mut("downloadfile")
            .and_then(VecDeque::pop_front)
        {
            drop(inner);
            shared.changed();
            return ApiError::from_failure(&failure).into_response();
        }
        let entry = inner
            .files_by_path
            .get(path)
            .and_then(|id| inner.files.get(id))
            .cloned();
        drop(inner);
        shared.changed();
        entry
    };
    let entry = match entry {
        Some(entry) if token == TOKEN && entry.info.size <= MAX_BOT_DOWNLOAD => entry,
        _ => return not_found(),
    };
    let size = entry.info.size;
    let data = entry.data;
    let stream = futures::stream::unfold(0u64, move |offset| {
        let data = data.clone();
        async move {
            if offset >= size {
                return None;
            }
            let end = (offset + DOWNLOAD_CHUNK as u64).min(size);
            let chunk = match &data {
                FileData::Stored(bytes) => bytes.slice(offset as usize..end as usize),
                FileData::Generated => {
                    Bytes::from((offset..end).map(generated_byte).collect::<Vec<u8>>())
                }
            };
            Some((Ok::<Bytes, Infallible>(chunk), end))
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| not_found())
}

fn canonical_method(name: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
}

async fn method_call(shared: &Arc<Shared>, token: &str, method: &str, req: Request) -> Response {
    let canonical = canonical_method(method);
    let name = canonical
        .map(str::to_owned)
        .unwrap_or_else(|| method.to_owned());
    {
        let mut inner = shared.lock();
        *inner.calls.entry(method.to_ascii_lowercase()).or_default() += 1;
    }
    let params = match parse_params(req).await {
        Ok(params) => params,
        Err(description) => {
            let err = ApiError::bad_request(description);
            record(shared, &name, Value::Null, Some(&err), Recorded::Violation);
            return err.into_response();
        }
    };
    if token != TOKEN {
        let err = ApiError {
            status: 401,
            description: "Unauthorized".into(),
            parameters: None,
        };
        record(shared, &name, params, Some(&err), Recorded::Violation);
        return err.into_response();
    }
    let failure = shared
        .lock()
        .failures
        .get_mut(&method.to_ascii_lowercase())
        .and_then(VecDeque::pop_front);
    if let Some(failure) = failure {
        let err = ApiError::from_failure(&failure);
        record(shared, &name, params, Some(&err), Recorded::Plain);
        return err.into_response();
    }
    let Some(canonical) = canonical else {
        let err = ApiError {
            status: 404,
            description: "Not Found: method not found".into(),
            parameters: None,
        };
        record(shared, &name, params, Some(&err), Recorded::Unknown);
        return err.into_response();
    };
    if canonical == "getUpdates" {
        return get_updates(shared, params).await;
    }
    let result = {
        let mut inner = shared.lock();
        handle_method(&mut inner, canonical, &params)
    };
    match result {
        Ok(result) => {
            record(shared, canonical, params, None, Recorded::Plain);
            ok_response(result)
        }
        Err(err) => {
            let kind = if err.status == 403 {
                Recorded::Plain
            } else {
                Recorded::Violation
            };
            record(shared, canonical, params, Some(&err), kind);
            err.into_response()
        }
    }
}

/// How a request is filed besides the event log.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Only the event log.
    Plain,
    /// Also a [`Violation`] (the fake rejected it like Telegram would).
    Violation,
    /// Also in the unknown-method list.
    Unknown,
}

/// Logs a request (`getUpdates` is counted but not put into the event log).
fn record(shared: &Shared, method: &str, params: Value, err: Option<&ApiError>, kind: Recorded) {
    {
        let mut inner = shared.lock();
        let status = err.map_or(200, |e| e.status);
        let event = Event {
            method: method.to_owned(),
            params: params.clone(),
            status,
        };
        if kind == Recorded::Unknown {
            inner.unknown.push(event.clone());
        }
        if method != "getUpdates" {
            inner.events.push(event);
        }
        if let (Recorded::Violation, Some(err)) = (kind, err) {
            inner.violations.push(Violation {
                method: method.to_owned(),
                description: err.description.clone(),
                params,
            });
        }
    }
    shared.changed();
}

async fn parse_params(req: Request) -> Result<Value, String> {
    let mut params = Map::new();
    if let Some(query) = req.uri().query() {
        for (key, value) in form_pairs(query) {
            params.insert(key.clone(), coerce_form_value(&key, value));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|e| format!("can't parse multipart: {e}"))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| format!("can't parse multipart: {e}"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let data = field
                .bytes()
                .await
                .map_err(|e| format!("can't read multipart field: {e}"))?;
            let value = match file_name {
                Some(file_name) => json!({ "__file__": file_name, "size": data.len() }),
                None => coerce_form_value(&name, String::from_utf8_lossy(&data).into_owned()),
            };
            params.insert(name, value);
        }
        return Ok(Value::Object(params));
    }
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(|e| format!("can't read request body: {e}"))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(params));
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (key, value) in form_pairs(&String::from_utf8_lossy(&body)) {
            params.insert(key.clone(), coerce_form_value(&key, value));
        }
        return Ok(Value::Object(params));
    }
    // JSON (teloxide always sends `application/json`; be lenient about a missing header).
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(obj)) => {
            params.extend(obj);
            Ok(Value::Object(params))
        }
        Ok(_) => Err("request body must be a JSON object".into()),
        Err(e) => Err(format!("can't parse JSON request body: {e}")),
    }
}

fn form_pairs(encoded: &str) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("static URL");
    url.set_query(Some(encoded));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Form values are strings; convert the ones whose Bot API type is not a string.
fn coerce_form_value(key: &str, value: String) -> Value {
    const JSON_KEYS: &[&str] = &[
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
    ];
    const INT_KEYS: &[&str] = &[
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "cache_time",
        "max_connections",
        "message_thread_id",
    ];
    const BOOL_KEYS: &[&str] = &[
        "show_alert",
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
    ];
    if JSON_KEYS.contains(&key) {
        return serde_json::from_str(&value).unwrap_or(Value::String(value));
    }
    if INT_KEYS.contains(&key)
        && let Ok(n) = value.trim().parse::<i64>()
    {
        return json!(n);
    }
    if BOOL_KEYS.contains(&key) {
        match value.as_str() {
            "true" | "True" | "1" => return json!(true),
            "false" | "False" | "0" => return json!(false),
            _ => {}
        }
    }
    Value::String(value)
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = segment.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// --------------------------------------------------------------------------------------------
// getUpdates
// --------------------------------------------------------------------------------------------

async fn get_updates(shared: &Arc<Shared>, params: Value) -> Response {
    let offset = int_param(&params, "offset").unwrap_or(0);
    let limit = int_param(&params, "limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = int_param(&params, "timeout").unwrap_or(0).max(0) as u64;
    let wait = Duration::from_secs(timeout).min(MAX_LONG_POLL);
    {
        let mut inner = shared.lock();
        if !inner.webhook_url.is_empty() {
            drop(inner);
            let err = ApiError {
                status: 409,
                description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".into(),
                parameters: None,
            };
            record(
                shared,
                "getUpdates",
                params,
                Some(&err),
                Recorded::Violation,
            );
            return err.into_response();
        }
        if let Some(allowed) = params.get("allowed_updates").and_then(Value::as_array) {
            inner.allowed_updates = Some(
                allowed
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            );
        }
        if offset > 0 {
            inner.confirmed_offset = inner.confirmed_offset.max(offset);
            inner
                .queue
                .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            let len = inner.queue.len();
            if len > keep {
                inner.queue.drain(..len - keep);
            }
        }
    }
    record(shared, "getUpdates", params, None, Recorded::Plain);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = shared.new_updates.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch = take_batch(shared, limit);
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok_response(Value::Array(batch));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok_response(Value::Array(take_batch(shared, limit)));
        }
    }
}

/// The first `limit` queued updates the bot subscribed to; the others are dropped like
/// Telegram drops updates of types not in `allowed_updates`.
fn take_batch(shared: &Shared, limit: usize) -> Vec<Value> {
    let mut inner = shared.lock();
    let allowed = inner.allowed_updates.clone();
    let mut filtered = Vec::new();
    inner.queue.retain(|u| {
        let keep = update_allowed(u, allowed.as_deref());
        if !keep {
            filtered.push(u.clone());
        }
        keep
    });
    let dropped = !filtered.is_empty();
    inner.filtered.extend(filtered);
    let batch: Vec<Value> = inner.queue.iter().take(limit).cloned().collect();
    drop(inner);
    if dropped {
        shared.changed();
    }
    batch
}

fn update_kind(update: &Value) -> Option<&str> {
    update
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| *k != "update_id")
}

fn update_allowed(update: &Value, allowed: Option<&[String]>) -> bool {
    const NOT_BY_DEFAULT: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];
    let Some(kind) = update_kind(update) else {
        return true;
    };
    match allowed {
        Some(list) if !list.is_empty() => list.iter().any(|a| a == kind),
        _ => !NOT_BY_DEFAULT.contains(&kind),
    }
}

// --------------------------------------------------------------------------------------------
// Method handlers
// --------------------------------------------------------------------------------------------

fn handle_method(inner: &mut Inner, method: &str, p: &Value) -> Result<Value, ApiError> {
    match method {
        "getMe" => Ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false
        })),
        "getWebhookInfo" => {
            let mut info = json!({
                "url": inner.webhook_url, "has_custom_certificate": false,
                "pending_update_count": inner.queue.len()
            });
            if !inner.webhook_url.is_empty() {
                info["max_connections"] = json!(40);
            }
            Ok(info)
        }
        "setWebhook" => {
            let url = str_param(p, "url")
                .ok_or_else(|| ApiError::bad_request("parameter \"url\" is required"))?;
            if !url.is_empty() && !url.starts_with("https://") {
                return Err(ApiError::bad_request(
                    "bad webhook: HTTPS url must be provided for webhook",
                ));
            }
            if let Some(allowed) = p.get("allowed_updates").and_then(Value::as_array) {
                inner.allowed_updates = Some(
                    allowed
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                );
            }
            if bool_param(p, "drop_pending_updates") {
                inner.queue.clear();
            }
            inner.webhook_url = url;
            Ok(json!(true))
        }
        "deleteWebhook" => {
            if bool_param(p, "drop_pending_updates") {
                inner.queue.clear();
            }
            inner.webhook_url.clear();
            Ok(json!(true))
        }
        "sendMessage" => send_message(inner, p),
        "editMessageText" => edit_message_text(inner, p),
        "editMessageReplyMarkup" => edit_message_reply_markup(inner, p),
        "deleteMessage" => delete_message(inner, p),
        "answerCallbackQuery" => answer_callback_query(inner, p),
        "setMyCommands" => set_my_commands(inner, p),
        "deleteMyCommands" => {
            let key = commands_key(p)?;
            inner.commands.remove(&key);
            Ok(json!(true))
        }
        "sendChatAction" => {
            const ACTIONS: &[&str] = &[
                "typing",
                "upload_photo",
                "record_video",
                "upload_video",
                "record_voice",
                "upload_voice",
                "upload_document",
                "choose_sticker",
                "find_location",
                "record_video_note",
                "upload_video_note",
            ];
            let chat_id = chat_id_param(p)?;
            let action = str_param(p, "action").unwrap_or_default();
            if !ACTIONS.contains(&action.as_str()) {
                return Err(ApiError::bad_request("wrong parameter action in request"));
            }
            if inner.blocked.contains(&chat_id) {
                return Err(ApiError::forbidden_blocked());
            }
            Ok(json!(true))
        }
        "getFile" => {
            let file_id = str_param(p, "file_id").filter(|s| !s.is_empty());
            let file_id = file_id
                .ok_or_else(|| ApiError::bad_request("parameter \"file_id\" is required"))?;
            let entry = inner
                .files
                .get(&file_id)
                .ok_or_else(|| ApiError::bad_request("invalid file id"))?;
            if entry.info.size > MAX_BOT_DOWNLOAD {
                return Err(ApiError::bad_request("file is too big"));
            }
            Ok(json!({
                "file_id": entry.info.file_id, "file_unique_id": entry.info.file_unique_id,
                "file_size": entry.info.size, "file_path": entry.info.file_path
            }))
        }
        other => Err(ApiError::bad_request(format!(
            "method {other} is not handled"
        ))),
    }
}

fn send_message(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let chat_id = chat_id_param(p)?;
    let text = str_param(p, "text").unwrap_or_default();
    let parse_mode = str_param(p, "parse_mode");
    let display = check_text(&text, parse_mode.as_deref(), "message is too long")?;
    let reply_markup = p.get("reply_markup").filter(|v| !v.is_null()).cloned();
    if let Some(markup) = &reply_markup {
        validate_reply_markup(markup, true)?;
    }
    if let Some(reply_to) = p
        .get("reply_parameters")
        .and_then(|r| r.get("message_id"))
        .and_then(Value::as_i64)
    {
        let allow_missing = p["reply_parameters"]["allow_sending_without_reply"]
            .as_bool()
            .unwrap_or(false);
        if !allow_missing && !message_exists(inner, chat_id, reply_to as i32) {
            return Err(ApiError::bad_request("message to be replied not found"));
        }
    }
    if inner.blocked.contains(&chat_id) {
        return Err(ApiError::forbidden_blocked());
    }
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    let stored = StoredMessage {
        sent: SentMessage {
            chat_id,
            message_id,
            text,
            reply_markup,
            parse_mode,
        },
        date: unix_now(),
        edit_date: None,
        deleted: false,
        display_text: display,
    };
    let json = message_json(inner, &stored);
    inner.messages.push(stored);
    Ok(json)
}

fn find_editable(inner: &mut Inner, p: &Value) -> Result<usize, ApiError> {
    if p.get("inline_message_id").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad_request(
            "inline messages are not supported by the fake",
        ));
    }
    let chat_id = chat_id_param(p)?;
    let message_id = int_param(p, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let index = inner.messages.iter().position(|m| {
        m.sent.chat_id == chat_id && i64::from(m.sent.message_id) == message_id && !m.deleted
    });
    match index {
        Some(index) => Ok(index),
        None if inner.user_messages.contains(&(chat_id, message_id as i32)) => {
            Err(ApiError::bad_request("message can't be edited"))
        }
        None => Err(ApiError::bad_request("message to edit not found")),
    }
}

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly \
                            the same as a current content and reply markup of the message";

fn edit_message_text(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let index = find_editable(inner, p)?;
    let text = str_param(p, "text").unwrap_or_default();
    let parse_mode = str_param(p, "parse_mode");
    let display = check_text(&text, parse_mode.as_deref(), "MESSAGE_TOO_LONG")?;
    // Like Telegram: an edit without `reply_markup` removes the inline keyboard.
    let markup = normalize_markup(p.get("reply_markup"));
    if let Some(markup) = &markup {
        validate_reply_markup(markup, false)?;
    }
    let current = &inner.messages[index];
    if current.display_text == display
        && normalize_markup(current.sent.reply_markup.as_ref()) == markup
    {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    let message = &mut inner.messages[index];
    message.sent.text = text;
    message.sent.parse_mode = parse_mode;
    message.sent.reply_markup = markup;
    message.display_text = display;
    message.edit_date = Some(unix_now());
    let message = message.clone();
    Ok(message_json(inner, &message))
}

fn edit_message_reply_markup(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let index = find_editable(inner, p)?;
    let markup = normalize_markup(p.get("reply_markup"));
    if let Some(markup) = &markup {
        validate_reply_markup(markup, false)?;
    }
    if normalize_markup(inner.messages[index].sent.reply_markup.as_ref()) == markup {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    let message = &mut inner.messages[index];
    message.sent.reply_markup = markup;
    message.edit_date = Some(unix_now());
    let message = message.clone();
    Ok(message_json(inner, &message))
}

fn delete_message(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let chat_id = chat_id_param(p)?;
    let message_id = int_param(p, "message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    if let Some(message) = inner.messages.iter_mut().find(|m| {
        m.sent.chat_id == chat_id && i64::from(m.sent.message_id) == message_id && !m.deleted
    }) {
        message.deleted = true;
        return Ok(json!(true));
    }
    if inner.user_messages.remove(&(chat_id, message_id as i32)) {
        return Ok(json!(true));
    }
    Err(ApiError::bad_request("message to delete not found"))
}

fn answer_callback_query(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let id = str_param(p, "callback_query_id").filter(|s| !s.is_empty());
    let id =
        id.ok_or_else(|| ApiError::bad_request("parameter \"callback_query_id\" is required"))?;
    let text = str_param(p, "text");
    if let Some(text) = &text
        && text.chars().count() > MAX_CALLBACK_ANSWER_CHARS
    {
        return Err(ApiError::bad_request(
            "MESSAGE_TOO_LONG: callback answer text must be 0-200 characters",
        ));
    }
    match inner.callbacks.get_mut(&id) {
        Some(answered @ false) => *answered = true,
        _ => {
            return Err(ApiError::bad_request(
                "query is too old and response timeout expired or query id is invalid",
            ));
        }
    }
    inner.callback_answers.push(CallbackAnswer {
        callback_query_id: id,
        text,
        show_alert: bool_param(p, "show_alert"),
    });
    Ok(json!(true))
}

fn commands_key(p: &Value) -> Result<(String, String), ApiError> {
    let scope = match p.get("scope").filter(|s| !s.is_null()) {
        None => "default".to_owned(),
        Some(scope) if scope.get("type").and_then(Value::as_str) == Some("default") => {
            "default".to_owned()
        }
        Some(scope) if scope.get("type").and_then(Value::as_str).is_some() => scope.to_string(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "can't parse BotCommandScope: scope type is missing",
            ));
        }
    };
    let language = str_param(p, "language_code").unwrap_or_default();
    if !language.is_empty()
        && (language.len() != 2 || !language.chars().all(|c| c.is_ascii_lowercase()))
    {
        return Err(ApiError::bad_request("invalid language code specified"));
    }
    Ok((scope, language))
}

fn set_my_commands(inner: &mut Inner, p: &Value) -> Result<Value, ApiError> {
    let commands = p
        .get("commands")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("parameter \"commands\" is required"))?;
    if commands.len() > 100 {
        return Err(ApiError::bad_request("too many commands specified"));
    }
    for command in commands {
        let name = command
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = name.strip_prefix('/').unwrap_or(name);
        let valid_name = (1..=32).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(ApiError::bad_request("BOT_COMMAND_INVALID"));
        }
        let description = command
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !(1..=256).contains(&description.chars().count()) {
            return Err(ApiError::bad_request("BOT_COMMAND_DESCRIPTION_INVALID"));
        }
    }
    let key = commands_key(p)?;
    inner.commands.insert(key, Value::Array(commands.clone()));
    Ok(json!(true))
}

// --------------------------------------------------------------------------------------------
// Validation helpers
// --------------------------------------------------------------------------------------------

fn str_param(p: &Value, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn int_param(p: &Value, key: &str) -> Option<i64> {
    match p.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_param(p: &Value, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn chat_id_param(p: &Value) -> Result<i64, ApiError> {
    match p.get("chat_id") {
        None | Some(Value::Null) => Err(ApiError::bad_request("chat_id is empty")),
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad_request("chat_id is empty")),
        Some(v) => match v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| ApiError::bad_request("chat not found")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request("chat not found")),
            _ => Err(ApiError::bad_request("chat not found")),
        },
    }
}

fn message_exists(inner: &Inner, chat_id: i64, message_id: i32) -> bool {
    inner.user_messages.contains(&(chat_id, message_id))
        || inner
            .messages
            .iter()
            .any(|m| m.sent.chat_id == chat_id && m.sent.message_id == message_id && !m.deleted)
}

/// Validates a message text the way Telegram does and returns the text after entity parsing.
fn check_text(text: &str, parse_mode: Option<&str>, too_long: &str) -> Result<String, ApiError> {
    let display = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => text.to_owned(),
        Some("html") => parse_html(text)
            .map_err(|e| ApiError::bad_request(format!("can't parse entities: {e}")))?,
        Some("markdownv2") => parse_markdown_v2(text)
            .map_err(|e| ApiError::bad_request(format!("can't parse entities: {e}")))?,
        Some("markdown") => text.to_owned(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unsupported parse_mode \"{other}\""
            )));
        }
    };
    if display.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if display.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(too_long));
    }
    Ok(display)
}

/// Checks Telegram's HTML subset; returns the plain text.
fn parse_html(text: &str) -> Result<String, String> {
    const TAGS: &[&str] = &[
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
        "tg-time",
    ];
    let mut out = String::with_capacity(text.len());
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with('<') {
            let end = rest
                .find('>')
                .ok_or_else(|| format!("Can't find end of the tag starting at byte offset {i}"))?;
            let inside = &rest[1..end];
            if let Some(name) = inside.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                match stack.pop() {
                    Some(open) if open == name => {}
                    Some(open) => {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{open}>\", found \"</{name}>\""
                        ));
                    }
                    None => return Err(format!("Unexpected end tag at byte offset {i}")),
                }
            } else {
                let name: String = inside
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/')
                    .collect::<String>()
                    .to_ascii_lowercase();
                if !TAGS.contains(&name.as_str()) || inside.ends_with('/') {
                    return Err(format!(
                        "Unsupported start tag \"{name}\" at byte offset {i}"
                    ));
                }
                stack.push(name);
            }
            i += end + 1;
        } else if rest.starts_with('&') {
            let entity_end = rest.find(';').filter(|&e| e <= 10);
            let decoded = entity_end.and_then(|e| decode_html_entity(&rest[1..e]).map(|c| (c, e)));
            match decoded {
                Some((c, e)) => {
                    out.push(c);
                    i += e + 1;
                }
                None => {
                    out.push('&');
                    i += 1;
                }
            }
        } else if rest.starts_with('>') {
            out.push('>');
            i += 1;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8();
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{open}\""
        ));
    }
    Ok(out)
}

fn decode_html_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Checks MarkdownV2 escaping and entity balance; returns the plain text.
fn parse_markdown_v2(text: &str) -> Result<String, String> {
    const RESERVED: &[char] = &[
        '_', '*', '[', ']', '(', ')', '~', '`', '>', '#', '+', '-', '=', '|', '{', '}', '.', '!',
    ];
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = String::with_capacity(text.len());
    let mut open: Vec<(&'static str, usize)> = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < chars.len() {
        let (offset, c) = chars[i];
        let next = chars.get(i + 1).map(|&(_, c)| c);
        let in_code = matches!(open.last(), Some(("Code" | "Pre", _)));
        if c == '\\' {
            match next {
                Some(n) if (n as u32) < 127 => {
                    out.push(n);
                    i += 2;
                    line_start = false;
                    continue;
                }
                _ => {
                    return Err(
                        "Character '\\' is reserved and must be escaped with the preceding '\\'"
                            .to_owned(),
                    );
                }
            }
        }
        if in_code {
            if c == '`' {
                let is_pre = matches!(open.last(), Some(("Pre", _)));
                if is_pre && text[offset..].starts_with("```") {
                    open.pop();
                    i += 3;
                    continue;
                } else if !is_pre {
                    open.pop();
                    i += 1;
                    continue;
                }
            }
            out.push(c);
            i += 1;
            continue;
        }
        let (entity, width): (&'static str, usize) = match c {
            '`' if text[offset..].starts_with("```") => ("Pre", 3),
            '`' => ("Code", 1),
            '*' => ("Bold", 1),
            '_' if next == Some('_') => ("Underline", 2),
            '_' => ("Italic", 1),
            '~' => ("Strikethrough", 1),
            '|' if next == Some('|') => ("Spoiler", 2),
            '[' => ("TextUrl", 1),
            ']' if matches!(open.last(), Some(("TextUrl", _))) => {
                open.pop();
                if next != Some('(') {
                    return Err(format!(
                        "Can't find end of a TextUrl entity at byte offset {offset}"
                    ));
                }
                let mut j = i + 2;
                while j < chars.len() && chars[j].1 != ')' {
                    j += if chars[j].1 == '\\' { 2 } else { 1 };
                }
                if j >= chars.len() {
                    return Err(format!("Can't find end of a URL at byte offset {offset}"));
                }
                i = j + 1;
                line_start = false;
                continue;
            }
            '>' if line_start => {
                i += 1;
                continue;
            }
            c if RESERVED.contains(&c) => {
                return Err(format!(
                    "Character '{c}' is reserved and must be escaped with the preceding '\\'"
                ));
            }
            c => {
                out.push(c);
                line_start = c == '\n';
                i += 1;
                continue;
            }
        };
        if entity == "TextUrl" {
            open.push((entity, offset));
        } else if matches!(open.last(), Some((e, _)) if *e == entity) {
            open.pop();
        } else {
            open.push((entity, offset));
        }
        line_start = false;
        i += width;
    }
    if let Some((entity, offset)) = open.pop() {
        return Err(format!(
            "Can't find end of {entity} entity at byte offset {offset}"
        ));
    }
    Ok(out)
}

fn normalize_markup(markup: Option<&Value>) -> Option<Value> {
    let markup = markup.filter(|m| !m.is_null())?;
    match markup.get("inline_keyboard").and_then(Value::as_array) {
        Some(rows) if rows.iter().all(|r| r.as_array().is_some_and(Vec::is_empty)) => None,
        _ => Some(markup.clone()),
    }
}

fn validate_reply_markup(markup: &Value, allow_reply_keyboards: bool) -> Result<(), ApiError> {
    let bad = |msg: &str| Err(ApiError::bad_request(msg.to_owned()));
    let Some(obj) = markup.as_object() else {
        return bad("can't parse reply keyboard markup JSON object");
    };
    if let Some(rows) = obj.get("inline_keyboard") {
        let Some(rows) = rows.as_array() else {
            return bad(
                "can't parse inline keyboard button: field \"inline_keyboard\" must be an Array",
            );
        };
        let mut total = 0;
        for row in rows {
            let Some(row) = row.as_array() else {
                return bad(
                    "can't parse inline keyboard button: InlineKeyboardButton row must be an Array",
                );
            };
            for button in row {
                total += 1;
                validate_inline_button(button)?;
            }
        }
        if total > 100 {
            return bad("reply markup is too long");
        }
        return Ok(());
    }
    if !allow_reply_keyboards {
        return bad("inline keyboard expected");
    }
    if let Some(rows) = obj.get("keyboard") {
        let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
        for row in rows {
            let Some(row) = row.as_array() else {
                return bad("can't parse keyboard button: KeyboardButton row must be an Array");
            };
            for button in row {
                let text = button
                    .as_str()
                    .or_else(|| button.get("text").and_then(Value::as_str));
                if text.is_none_or(str::is_empty) {
                    return bad("can't parse keyboard button: Text must be non-empty");
                }
            }
        }
        if rows.is_empty() {
            return bad("can't parse reply keyboard markup: keyboard must be non-empty");
        }
        return Ok(());
    }
    if obj.get("remove_keyboard") == Some(&json!(true))
        || obj.get("force_reply") == Some(&json!(true))
    {
        return Ok(());
    }
    bad("can't parse reply keyboard markup JSON object")
}

fn validate_inline_button(button: &Value) -> Result<(), ApiError> {
    const ACTIONS: &[&str] = &[
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    let text = button
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard button: Text must be non-empty",
        ));
    }
    let actions: Vec<&str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| button.get(*a).is_some_and(|v| !v.is_null()))
        .collect();
    if actions.is_empty() {
        return Err(ApiError::bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        ));
    }
    if let Some(data) = button.get("callback_data") {
        let len = data.as_str().map_or(0, str::len);
        if !(1..=MAX_CALLBACK_DATA_BYTES).contains(&len) {
            return Err(ApiError::bad_request("BUTTON_DATA_INVALID"));
        }
    }
    if let Some(url) = button.get("url") {
        let valid = url
            .as_str()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .is_some_and(|u| matches!(u.scheme(), "http" | "https" | "tg"));
        if !valid {
            return Err(ApiError::bad_request("BUTTON_URL_INVALID"));
        }
    }
    Ok(())
}

// --------------------------------------------------------------------------------------------
// JSON builders
// --------------------------------------------------------------------------------------------

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn bot_user_json() -> Value {
    json!({ "id": BOT_ID, "is_bot": true, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME })
}

fn chat_json(inner: &Inner, chat_id: i64) -> Value {
    if let Some(chat) = inner.chats.get(&chat_id) {
        return chat.clone();
    }
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": format!("User {chat_id}") })
    } else if chat_id < -1_000_000_000_000 {
        json!({ "id": chat_id, "type": "supergroup", "title": format!("Chat {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Chat {chat_id}") })
    }
}

fn remember_update_chats(inner: &mut Inner, update: &Value) {
    let chat = update
        .get("message")
        .and_then(|m| m.get("chat"))
        .or_else(|| {
            update
                .get("callback_query")
                .and_then(|c| c.get("message"))
                .and_then(|m| m.get("chat"))
        });
    if let Some(id) = chat.and_then(|c| c.get("id")).and_then(Value::as_i64) {
        inner
            .chats
            .entry(id)
            .or_insert_with(|| chat.cloned().unwrap_or_default());
    }
}

/// The `Message` JSON Telegram returns for a bot message. Only inline keyboards are echoed in
/// `reply_markup` (real Telegram does not return reply keyboards).
fn message_json(inner: &Inner, message: &StoredMessage) -> Value {
    let mut json = json!({
        "message_id": message.sent.message_id,
        "from": bot_user_json(),
        "chat": chat_json(inner, message.sent.chat_id),
        "date": message.date,
        "text": message.display_text,
    });
    if let Some(markup) = normalize_markup(message.sent.reply_markup.as_ref())
        && markup.get("inline_keyboard").is_some()
    {
        json["reply_markup"] = markup;
    }
    if let Some(edit_date) = message.edit_date {
        json["edit_date"] = json!(edit_date);
    }
    json
}

fn messages_to(inner: &Inner, chat_id: i64) -> Vec<SentMessage> {
    inner
        .messages
        .iter()
        .filter(|m| m.sent.chat_id == chat_id)
        .map(|m| m.sent.clone())
        .collect()
}

fn inline_buttons_of(markup: Option<&Value>) -> Vec<(String, String)> {
    let rows = markup
        .and_then(|m| m.get("inline_keyboard"))
        .and_then(Value::as_array);
    rows.into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|b| {
            let text = b
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let data = b
                .get("callback_data")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (text, data)
        })
        .collect()
}

fn inner_buttons(message: &SentMessage) -> Vec<(String, String)> {
    inline_buttons_of(message.reply_markup.as_ref())
}

fn text_fields(text: &str) -> Value {
    let mut fields = json!({ "text": text });
    if text.starts_with('/') {
        let command_len: usize = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .encode_utf16()
            .count();
        fields["entities"] = json!([{ "type": "bot_command", "offset": 0, "length": command_len }]);
    }
    fields
}

fn document_fields(file: &RegisteredFile, file_name: &str, mime_type: &str) -> Value {
    json!({ "document": {
        "file_name": file_name, "mime_type": mime_type, "file_id": file.file_id,
        "file_unique_id": file.file_unique_id, "file_size": file.size
    }})
}

fn extension_of(file_name: &str) -> &str {
    match file_name.rsplit_once('.') {
        Some((_, ext))
            if !ext.is_empty()
                && ext.len() <= 8
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            ext
        }
        _ => "bin",
    }
}
