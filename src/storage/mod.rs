//! Storage: chat sessions (drafts), user profiles, blocked marks, the outbox of sent
//! requests, the records of created cases and the relay of messages between chats and
//! cases, behind one contract with two implementations.
//!
//! - **Redis** ([`Store::connect`]), when `REDIS_URL` is set: the store for several
//!   replicas or workers on several hosts. Layout in `redis_store`.
//! - **An embedded file** ([`Store::open_file`]), when it is not: SQLite in one file
//!   (`data-file`, default `./data/bot.db`), for a try-out or a small install on one host.
//!   Layout and choices in `sqlite_store`.
//!
//! [`Store::open`] picks one from the settings. The rest of the code sees only [`Store`],
//! [`Outbox`] and [`Relay`]; each method dispatches to the backend.
//!
//! # The contract (both backends, checked by the same test suite)
//!
//! - **Sessions.** [`Store::commit`] writes a chat's [`StoredSession`]; [`Store::load_session`]
//!   reads it back until the draft TTL has passed since that commit, then reads
//!   [`LoadedSession::None`]. Something stored that does not decode, or has another format
//!   version, reads [`LoadedSession::Undecodable`] (not an error).
//! - **Profiles** and blocked marks are kept for the profile retention after their last
//!   use (a year by default), then read as absent; none, or an undecodable one, reads as
//!   the default. [`Store::forget`] deletes them at once.
//! - **Sends** of each user (the times an entry was committed for them) are kept a day,
//!   for the submission limits; the requests themselves (id, kind, time) are listed for
//!   `/status` as long as their case numbers are kept.
//! - **Atomic, conditional commit.** The session, the profile and the outbox entry given to
//!   [`Store::commit`] are all written or none is: a request is either still a draft or
//!   safely queued, never lost in between. Each session has a revision; a commit writes
//!   only if the session is still at the revision its writer read, so two processes
//!   handling one chat at once never overwrite each other's answer.
//! - **Blocked marks** are set, cleared and read per chat.
//! - **Outbox** (see [`outbox`] for the design): an entry is waiting (with a due time)
//!   or parked, or it was delivered (its case number kept 30 days). [`Outbox::claim`] takes
//!   the entries due now and moves their due time forward by the lease *in one atomic step,
//!   for every process sharing the store*, so two claimers never get the same entry while
//!   the lease runs. [`Outbox::save`] and [`Outbox::reschedule`] touch only an entry
//!   still waiting, so a late write cannot resurrect a delivered or parked one.
//! - **Case records** ([`CaseRecord`]) are kept [`CASES_KEPT`] after they were last
//!   written, then read as absent; [`Outbox::complete_with_case`] writes one in the same
//!   atomic step that completes the entry, and [`Store::forget`] deletes a user's.
//! - **Relay** (see [`relay`] for the design): the outbox's claims, leases and fencing
//!   tokens, plus dedup by id ([`Relay::push`] stores an id seen within
//!   [`relay::SEEN_KEPT`] once, even when pushed concurrently) and FIFO per chain (only
//!   the oldest entry of a chain is ever claimable).
//!
//! Errors are the backend being unreachable (Redis down, the file unwritable); no method
//! fails because data is missing.
//!
//! # Why SQLite for the embedded store (and not redb)
//!
//! Both are crash-safe embedded databases; SQLite wins on what this bot needs:
//!
//! - **Several processes on one file.** The bot, an operator's `outbox list` / `outbox
//!   retry` run while it serves, and extra `worker` processes must share the store, and
//!   [`Outbox::claim`] must be atomic across them. SQLite locks the file per transaction
//!   (in WAL mode readers never block the writer); redb locks the file exclusively for as
//!   long as a database is open, so a second process cannot even open it.
//! - **Durability of an acknowledged Send.** WAL with `synchronous=FULL` syncs the log on
//!   every commit: a committed request survives a power cut, not only a process crash
//!   (`NORMAL` would keep it across a crash but may lose the last commits on power loss;
//!   at a few writes per user message the extra sync costs nothing that matters).
//! - **A queue is a query.** "Due entries, oldest first, up to N, push their due time
//!   forward" is one `UPDATE … RETURNING` over an index, instead of a hand-kept secondary
//!   index in a key-value store.
//! - **Well kept and inspectable**: the `bundled` feature compiles SQLite in (no system
//!   library), and the file opens in the `sqlite3` shell.
//!
//! rusqlite is blocking, so every call runs on tokio's blocking pool holding the store's
//! one connection (a `Mutex<Connection>`); that is plenty for a support bot, and separate
//! stores (other processes) are serialised by SQLite's own locking with a busy timeout.
//! The file store is for one host: SQLite's locking is not reliable on network file
//! systems, which is what Redis is for.

use std::path::Path;
use std::time::Duration;

use intake_core::dialogue::{Profile, StoredSession};

pub mod outbox;
mod redis_store;
pub mod relay;
mod sqlite_store;

use outbox::{Entry, Outbox};
use relay::Relay;

pub(crate) use redis_store::RedisStore;
pub(crate) use sqlite_store::FileStore;

/// A session as read from storage.
#[derive(Debug)]
pub enum LoadedSession {
    /// Nothing stored (new chat or expired draft).
    None,
    /// A decoded session.
    Found(Box<StoredSession>),
    /// Something stored that cannot be decoded (old format or corrupt).
    Undecodable,
}

/// How long data about people is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An unfinished draft, after its last change.
    pub draft: Duration,
    /// A profile (identification, language) or a blocked mark, after its last use.
    pub profile: Duration,
}

impl Retention {
    /// Drafts for `draft`, profiles for [`Self::DEFAULT_PROFILE`].
    pub fn drafts(draft: Duration) -> Self {
        Self {
            draft,
            profile: Self::DEFAULT_PROFILE,
        }
    }

    /// A year.
    pub const DEFAULT_PROFILE: Duration = Duration::from_secs(365 * 24 * 3600);
}

/// A request a user sent, as listed by `/status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MyRequest {
    /// Request id.
    pub id: String,
    /// Kind id.
    pub kind: String,
    /// When it was sent (Unix ms).
    pub sent_at_ms: i64,
}

impl MyRequest {
    /// The record of the request in `entry`.
    pub fn of(entry: &Entry) -> Self {
        Self {
            id: entry.id().to_owned(),
            kind: entry.outgoing.request.kind.clone(),
            sent_at_ms: entry.outgoing.request.submitted_at.timestamp_millis(),
        }
    }
}

/// How long a user's requests are listed by `/status` (as long as their case numbers
/// are kept).
pub const MINE_KEPT: Duration = outbox::DELIVERED_TTL;

/// How long a user's sends are remembered, for the submission limits.
pub const SENDS_KEPT: Duration = Duration::from_secs(24 * 3600);

/// What the bot knows about a case it created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseRecord {
    /// The case's internal id.
    pub case_id: i64,
    /// The case number shown to people.
    pub case_number: String,
    /// The request the case was created from.
    pub request_id: String,
    /// Kind id of the request.
    pub kind: String,
    /// The user who sent the request.
    pub user_id: u64,
    /// The user's chat.
    pub chat_id: i64,
    /// The user's language.
    pub lang: String,
    /// When the user pressed Send (Unix ms).
    pub sent_at_ms: i64,
    /// When the first agent reply was relayed to the user (Unix ms).
    #[serde(default)]
    pub first_reply_ms: Option<i64>,
    /// The case's last known Omnidesk status.
    #[serde(default)]
    pub status: Option<String>,
    /// The reaction deadline (Unix ms), when the urgency has one.
    #[serde(default)]
    pub reaction_due_ms: Option<i64>,
}

/// How long a case record is kept after it was last written.
pub const CASES_KEPT: Duration = Duration::from_secs(180 * 24 * 3600);

/// What handling an update reads about its chat.
#[derive(Debug)]
pub struct ChatState {
    /// The chat's session.
    pub session: LoadedSession,
    /// The user's profile (default when none).
    pub profile: Profile,
    /// Whether the chat's user blocked the bot.
    pub blocked: bool,
    /// The revision of the session read; a commit must name it ([`Store::commit`]).
    pub revision: u64,
    /// When the user sent requests within [`SENDS_KEPT`] (Unix ms).
    pub sent: Vec<i64>,
}

/// The backend behind a [`Store`], its [`Outbox`] and its [`Relay`].
#[derive(Clone)]
pub(crate) enum Backend {
    /// Redis, shared by any number of processes and hosts.
    Redis(RedisStore),
    /// SQLite in one file, shared by the processes of one host.
    File(FileStore),
}

/// Evaluates `$e` with `$b` bound to whichever backend `$backend` holds.
macro_rules! dispatch {
    ($backend:expr, $b:ident => $e:expr) => {
        match $backend {
            $crate::storage::Backend::Redis($b) => $e,
            $crate::storage::Backend::File($b) => $e,
        }
    };
}
pub(crate) use dispatch;

/// Sessions, profiles, blocked marks, case records, the outbox and the relay, in Redis or
/// in a file.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Redis(r) => f
                .debug_struct("Store")
                .field("redis_prefix", &r.prefix())
                .finish(),
            Backend::File(s) => f.debug_struct("Store").field("file", &s.path()).finish(),
        }
    }
}

/// Decodes a stored session.
fn decode_session(raw: Option<String>) -> LoadedSession {
    match raw {
        None => LoadedSession::None,
        Some(text) => match serde_json::from_str::<StoredSession>(&text) {
            Ok(s) if s.v == StoredSession::VERSION => LoadedSession::Found(Box::new(s)),
            _ => LoadedSession::Undecodable,
        },
    }
}

impl Store {
    /// Redis at `redis_url` when given (keys under `prefix`), else the embedded file
    /// `data_file`.
    ///
    /// # Errors
    ///
    /// Redis cannot be reached, or the file cannot be opened or created.
    pub async fn open(
        redis_url: Option<&str>,
        prefix: &str,
        data_file: &Path,
        retention: Retention,
    ) -> anyhow::Result<Self> {
        match redis_url {
            Some(url) => Self::connect_with(url, prefix, retention).await,
            None => Self::open_file_with(data_file, retention).await,
        }
    }

    /// Connects to Redis (keys under `prefix`) and checks the server answers.
    ///
    /// # Errors
    ///
    /// The URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str, prefix: &str, draft_ttl: Duration) -> anyhow::Result<Self> {
        Self::connect_with(url, prefix, Retention::drafts(draft_ttl)).await
    }

    /// Connects to Redis (keys under `prefix`), keeping data for `retention`.
    ///
    /// # Errors
    ///
    /// The URL is invalid or the server cannot be reached.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        retention: Retention,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::Redis(RedisStore::connect(url, prefix, retention).await?),
        })
    }

    /// Opens (creating it and its folder if needed) the embedded store in `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be created or opened, or holds a newer schema.
    pub async fn open_file(path: &Path, draft_ttl: Duration) -> anyhow::Result<Self> {
        Self::open_file_with(path, Retention::drafts(draft_ttl)).await
    }

    /// Opens the embedded store in `path`, keeping data for `retention`.
    ///
    /// # Errors
    ///
    /// The file cannot be created or opened, or holds a newer schema.
    pub async fn open_file_with(path: &Path, retention: Retention) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Backend::File(FileStore::open(path, retention).await?),
        })
    }

    /// Reads what handling an update needs: the chat's session and its revision, the
    /// user's profile and whether the chat was marked blocked (one round trip on Redis).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_chat(&self, chat_id: i64, user_id: u64) -> anyhow::Result<ChatState> {
        let (session, revision, profile, blocked, sent) =
            dispatch!(&self.backend, b => b.load_chat(chat_id, user_id).await)?;
        let profile = profile
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Ok(ChatState {
            session: decode_session(session),
            profile,
            blocked,
            revision,
            sent,
        })
    }

    /// Reads a chat's session.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_session(&self, chat_id: i64) -> anyhow::Result<LoadedSession> {
        let raw = dispatch!(&self.backend, b => b.load_session(chat_id).await)?;
        Ok(decode_session(raw))
    }

    /// Reads a user's profile (default when none).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_profile(&self, user_id: u64) -> anyhow::Result<Profile> {
        let raw = dispatch!(&self.backend, b => b.load_profile(user_id).await)?;
        Ok(raw
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Writes a chat's session, the profile when given, and the outbox entry when given,
    /// all in one transaction, if the session is still at `revision` (as read by
    /// [`Self::load_chat`]); `false` when another writer committed since (nothing is
    /// written then: read again and step again).
    ///
    /// # Errors
    ///
    /// The store is unreachable; nothing is written then.
    pub async fn commit(
        &self,
        chat_id: i64,
        revision: u64,
        session: &StoredSession,
        profile: Option<(u64, &Profile)>,
        outgoing: Option<&Entry>,
    ) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.commit(chat_id, revision, session, profile, outgoing).await)
    }

    /// Checks the store answers.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn ping(&self) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.ping().await)
    }

    /// The outbox in the same store.
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.backend.clone())
    }

    /// The relay in the same store.
    pub fn relay(&self) -> Relay {
        Relay::new(self.backend.clone())
    }

    /// Writes (replaces) a case record, kept [`CASES_KEPT`] from now.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn save_case(&self, record: &CaseRecord) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.save_case(record).await)
    }

    /// The record of a case (none when unknown, expired or undecodable).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn case(&self, case_id: i64) -> anyhow::Result<Option<CaseRecord>> {
        let raw = dispatch!(&self.backend, b => b.case(case_id).await)?;
        Ok(raw.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// The user's case records, newest `sent_at_ms` first (undecodable ones left out).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn cases_of(&self, user_id: u64) -> anyhow::Result<Vec<CaseRecord>> {
        let raw = dispatch!(&self.backend, b => b.cases_of(user_id).await)?;
        let mut cases: Vec<CaseRecord> = raw
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .filter(|c: &CaseRecord| c.user_id == user_id)
            .collect();
        cases.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.sent_at_ms),
                std::cmp::Reverse(c.case_id),
            )
        });
        Ok(cases)
    }

    /// The user's latest requests (at most `limit`, newest first, within [`MINE_KEPT`]).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn my_requests(&self, user_id: u64, limit: usize) -> anyhow::Result<Vec<MyRequest>> {
        let raw = dispatch!(&self.backend, b => b.my_requests(user_id).await)?;
        let since = outbox::now_ms() - i64::try_from(MINE_KEPT.as_millis()).unwrap_or(i64::MAX);
        let mut mine: Vec<MyRequest> = raw
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .filter(|m: &MyRequest| m.sent_at_ms > since)
            .collect();
        mine.sort_by_key(|m| std::cmp::Reverse(m.sent_at_ms));
        mine.truncate(limit);
        Ok(mine)
    }

    /// Deletes what is kept about a user: their profile, the blocked mark of their chat,
    /// the list of their requests and the records of their cases.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn forget(&self, user_id: u64, chat_id: i64) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.forget(user_id, chat_id).await)
    }

    /// Marks a chat whose user blocked the bot (cleared when they write again).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn set_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.set_blocked(chat_id).await)
    }

    /// Clears the blocked mark of a chat.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn clear_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.clear_blocked(chat_id).await)
    }

    /// Whether the chat's user blocked the bot.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn is_blocked(&self, chat_id: i64) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.is_blocked(chat_id).await)
    }

    /// Stores `raw` as a chat's session text, bypassing encoding (tests of old or corrupt
    /// data).
    #[doc(hidden)]
    pub async fn write_raw_session(&self, chat_id: i64, raw: &str) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.write_raw_session(chat_id, raw).await)
    }
}
