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
//! A dialogue update goes through [`Store::chat_for_update`] and [`Store::commit_update`]:
//! one round trip to the backend (the commit) when this process has the chat's state in
//! its bounded cache (see `cache` for why that is safe), or when it presumes a new chat;
//! a refused commit answers with the state to step again on.
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
//!   handling one chat at once never overwrite each other's answer. A refused commit
//!   writes nothing and answers with the chat's state as stored. Forgetting a user moves
//!   their chat's revision on.
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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use intake_core::dialogue::{Profile, StoredSession};

mod cache;
pub mod outbox;
mod redis_store;
pub mod relay;
mod sqlite_store;

use cache::{Cached, ChatCache};
use outbox::{Entry, Outbox, now_ms};
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
    /// Whether the chat's user blocked the bot (always `false` in a state taken from the
    /// cache or presumed: the commit tells, see [`Committed::Written`]).
    pub blocked: bool,
    /// The revision of the session read; a commit must name it ([`Store::commit`]).
    pub revision: u64,
    /// When the user sent requests within [`SENDS_KEPT`] (Unix ms).
    pub sent: Vec<i64>,
    basis: Basis,
}

/// Where a [`ChatState`] came from, which decides what its commit checks and renews.
#[derive(Debug, Clone, Copy)]
enum Basis {
    /// Read from the store (its profile's expiry renewed), the read sent at `at`.
    Stored { at: Instant },
    /// Taken from this process's cache, its profile's expiry last renewed at `renewed`;
    /// `renew`: the commit renews it.
    Cached { renew: bool, renewed: Instant },
    /// Nothing cached: a new chat presumed (no session, profile or sends), which the
    /// commit checks.
    Presumed,
}

impl ChatState {
    /// The state of `raw` as read from the store, the read sent at `at`.
    fn stored(raw: RawChat, at: Instant) -> Self {
        let (session, revision, profile, blocked, sent) = raw;
        Self {
            session: decode_session(session),
            profile: profile
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default(),
            blocked,
            revision,
            sent,
            basis: Basis::Stored { at },
        }
    }

    /// Whether this is a new chat presumed rather than read (a step on it must have no
    /// effect outside the commit).
    pub fn is_presumed(&self) -> bool {
        matches!(self.basis, Basis::Presumed)
    }
}

/// What a dialogue update writes to its chat ([`Store::commit_update`]).
#[derive(Debug)]
pub struct Change<'a> {
    /// The chat's new session.
    pub session: StoredSession,
    /// The user's profile after the update.
    pub profile: Profile,
    /// Whether the update changed the profile (it is written only then).
    pub profile_changed: bool,
    /// The request the update sent, if it sent one.
    pub outgoing: Option<&'a Entry>,
}

/// How a dialogue update's commit went.
#[derive(Debug)]
pub enum Committed {
    /// Written (and cached).
    Written {
        /// Whether the chat is marked blocked (read in the same step).
        blocked: bool,
    },
    /// Nothing written: the chat is not as the update read it (another writer committed
    /// it, its keys expired, or the presumed new chat is not new). The state stored now,
    /// to step the update again on.
    Stale(ChatState),
}

/// A chat's state as a backend reads it: session text, revision, profile text, blocked
/// mark, recent sends.
pub(crate) type RawChat = (Option<String>, u64, Option<String>, bool, Vec<i64>);

/// A commit as the backends take it.
pub(crate) struct CommitRequest<'a> {
    /// The chat.
    pub(crate) chat_id: i64,
    /// Whose profile is written or renewed, and whose state is read back when refused.
    pub(crate) user_id: u64,
    /// The revision the writer read.
    pub(crate) revision: u64,
    /// The writer presumed a new chat: also required are no session, no profile and no
    /// recent sends.
    pub(crate) fresh: bool,
    /// Push the profile's expiry forward (when no profile is written).
    pub(crate) renew_profile: bool,
    /// The session to write.
    pub(crate) session: &'a StoredSession,
    /// The profile to write, if any.
    pub(crate) profile: Option<&'a Profile>,
    /// The outbox entry to queue, if any.
    pub(crate) outgoing: Option<&'a Entry>,
}

/// What a backend's commit answers.
pub(crate) enum CommitAnswer {
    /// Written; whether the chat is marked blocked.
    Written { blocked: bool },
    /// Refused; the state stored.
    Stale(RawChat),
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
/// in a file, with a cache of chat states (off unless [`Store::with_chat_cache`]).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    cache: Arc<ChatCache>,
    retention: Retention,
    calls: Arc<AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Redis(r) => f
                .debug_struct("Store")
                .field("redis_prefix", &r.prefix())
                .field("cache", &self.cache)
                .finish(),
            Backend::File(s) => f
                .debug_struct("Store")
                .field("file", &s.path())
                .field("cache", &self.cache)
                .finish(),
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
        Ok(Self::over(
            Backend::Redis(RedisStore::connect(url, prefix, retention).await?),
            retention,
        ))
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
        Ok(Self::over(
            Backend::File(FileStore::open(path, retention).await?),
            retention,
        ))
    }

    fn over(backend: Backend, retention: Retention) -> Self {
        Self {
            backend,
            cache: Arc::new(ChatCache::new(0, retention)),
            retention,
            calls: Arc::default(),
        }
    }

    /// The same store, caching the states of at most `chats` chats for dialogue updates
    /// (none for 0); its clones share that cache.
    #[must_use]
    pub fn with_chat_cache(mut self, chats: usize) -> Self {
        self.cache = Arc::new(ChatCache::new(chats, self.retention));
        self
    }

    /// The backend, counting the call.
    fn backend(&self) -> &Backend {
        self.calls.fetch_add(1, Ordering::Relaxed);
        &self.backend
    }

    /// Calls this store and its clones made to the backend (not through an outbox or a
    /// relay): one Redis round trip each, bar `cases_of` (two) and the reload of a
    /// script the server lost.
    #[doc(hidden)]
    pub fn backend_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// How many chats' states are cached.
    #[doc(hidden)]
    pub fn cached_chats(&self) -> usize {
        self.cache.len()
    }

    /// Reads what handling an update needs: the chat's session and its revision, the
    /// user's profile and whether the chat was marked blocked (one round trip on Redis).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_chat(&self, chat_id: i64, user_id: u64) -> anyhow::Result<ChatState> {
        let at = Instant::now();
        let raw = dispatch!(self.backend(), b => b.load_chat(chat_id, user_id).await)?;
        Ok(ChatState::stored(raw, at))
    }

    /// The state a dialogue update of the chat steps on, taken out of the cache when it
    /// is there (no round trip). Else, with the cache on and `presume` set, a new chat
    /// (no session, profile or sends) that the commit checks; else read from the store
    /// ([`Self::load_chat`]).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn chat_for_update(
        &self,
        chat_id: i64,
        user_id: u64,
        presume: bool,
    ) -> anyhow::Result<ChatState> {
        if let Some(cached) = self.cache.take(chat_id, user_id) {
            let renew = self.cache.renewal_due(&cached);
            let since = now_ms() - i64::try_from(SENDS_KEPT.as_millis()).unwrap_or(i64::MAX);
            return Ok(ChatState {
                session: LoadedSession::Found(Box::new(cached.session)),
                profile: cached.profile,
                blocked: false,
                revision: cached.revision,
                sent: cached.sent.into_iter().filter(|at| *at >= since).collect(),
                basis: Basis::Cached {
                    renew,
                    renewed: cached.renewed,
                },
            });
        }
        if presume && self.cache.enabled() {
            return Ok(ChatState {
                session: LoadedSession::None,
                profile: Profile::default(),
                blocked: false,
                revision: 0,
                sent: Vec::new(),
                basis: Basis::Presumed,
            });
        }
        self.load_chat(chat_id, user_id).await
    }

    /// Commits a dialogue update stepped on `read` (from [`Self::chat_for_update`], or a
    /// [`Committed::Stale`] answer) in one transaction, if the chat is still as read: the
    /// session, the profile when changed (else its expiry renewed when due) and the
    /// outbox entry; the new state is then cached. Otherwise nothing is written and the
    /// answer holds the chat's state as stored, to step again on.
    ///
    /// # Errors
    ///
    /// The store is unreachable; nothing is written then.
    pub async fn commit_update(
        &self,
        chat_id: i64,
        user_id: u64,
        read: &ChatState,
        change: Change<'_>,
    ) -> anyhow::Result<Committed> {
        let (fresh, renew_profile) = match read.basis {
            Basis::Stored { .. } => (false, false),
            Basis::Cached { renew, .. } => (false, renew),
            Basis::Presumed => (true, false),
        };
        let request = CommitRequest {
            chat_id,
            user_id,
            revision: read.revision,
            fresh,
            renew_profile,
            session: &change.session,
            profile: change.profile_changed.then_some(&change.profile),
            outgoing: change.outgoing,
        };
        let sent_at = Instant::now();
        let answer = dispatch!(self.backend(), b => b.commit(&request).await)?;
        let blocked = match answer {
            CommitAnswer::Written { blocked } => blocked,
            CommitAnswer::Stale(raw) => {
                return Ok(Committed::Stale(ChatState::stored(raw, sent_at)));
            }
        };
        let renewed = match read.basis {
            _ if change.profile_changed || renew_profile => sent_at,
            Basis::Stored { at } => at,
            Basis::Cached { renewed, .. } => renewed,
            Basis::Presumed => sent_at,
        };
        let mut sent = read.sent.clone();
        if change.outgoing.is_some() {
            sent.push(now_ms());
        }
        self.cache.put(
            chat_id,
            Cached {
                user_id,
                session: change.session,
                revision: read.revision.saturating_add(1),
                profile: change.profile,
                sent,
                committed: sent_at,
                renewed,
            },
        );
        Ok(Committed::Written { blocked })
    }

    /// Reads a chat's session.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_session(&self, chat_id: i64) -> anyhow::Result<LoadedSession> {
        let raw = dispatch!(self.backend(), b => b.load_session(chat_id).await)?;
        Ok(decode_session(raw))
    }

    /// Reads a user's profile (default when none).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn load_profile(&self, user_id: u64) -> anyhow::Result<Profile> {
        let raw = dispatch!(self.backend(), b => b.load_profile(user_id).await)?;
        Ok(raw
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Writes a chat's session, the profile when given, and the outbox entry when given,
    /// all in one transaction, if the session is still at `revision` (as read by
    /// [`Self::load_chat`]); `false` when another writer committed since (nothing is
    /// written then: read again and step again). The chat's cached state is dropped.
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
        self.cache.drop_chat(chat_id);
        let request = CommitRequest {
            chat_id,
            user_id: profile
                .map(|(id, _)| id)
                .or_else(|| outgoing.map(|e| e.outgoing.sender.id))
                .unwrap_or_default(),
            revision,
            fresh: false,
            renew_profile: false,
            session,
            profile: profile.map(|(_, p)| p),
            outgoing,
        };
        let answer = dispatch!(self.backend(), b => b.commit(&request).await)?;
        Ok(matches!(answer, CommitAnswer::Written { .. }))
    }

    /// Checks the store answers.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn ping(&self) -> anyhow::Result<()> {
        dispatch!(self.backend(), b => b.ping().await)
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
        dispatch!(self.backend(), b => b.save_case(record).await)
    }

    /// The record of a case (none when unknown, expired or undecodable).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn case(&self, case_id: i64) -> anyhow::Result<Option<CaseRecord>> {
        let raw = dispatch!(self.backend(), b => b.case(case_id).await)?;
        Ok(raw.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// The user's case records, newest `sent_at_ms` first (undecodable ones left out).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn cases_of(&self, user_id: u64) -> anyhow::Result<Vec<CaseRecord>> {
        let raw = dispatch!(self.backend(), b => b.cases_of(user_id).await)?;
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
        let raw = dispatch!(self.backend(), b => b.my_requests(user_id).await)?;
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
    /// the list of their requests and the records of their cases. Their chat's revision
    /// moves on (so no process commits on a state read before) and its cached state is
    /// dropped.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn forget(&self, user_id: u64, chat_id: i64) -> anyhow::Result<()> {
        self.cache.drop_chat(chat_id);
        dispatch!(self.backend(), b => b.forget(user_id, chat_id).await)
    }

    /// Marks a chat whose user blocked the bot (cleared when they write again).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn set_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        dispatch!(self.backend(), b => b.set_blocked(chat_id).await)
    }

    /// Clears the blocked mark of a chat.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn clear_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        dispatch!(self.backend(), b => b.clear_blocked(chat_id).await)
    }

    /// Whether the chat's user blocked the bot.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn is_blocked(&self, chat_id: i64) -> anyhow::Result<bool> {
        dispatch!(self.backend(), b => b.is_blocked(chat_id).await)
    }

    /// Stores `raw` as a chat's session text, bypassing encoding (tests of old or corrupt
    /// data).
    #[doc(hidden)]
    pub async fn write_raw_session(&self, chat_id: i64, raw: &str) -> anyhow::Result<()> {
        self.cache.drop_chat(chat_id);
        dispatch!(self.backend(), b => b.write_raw_session(chat_id, raw).await)
    }
}
