//! The embedded backend of [`crate::storage`]: SQLite in one file (why SQLite: see there).
//!
//! Tables (schema version in `PRAGMA user_version`):
//! - `sessions(chat_id, data, expires_ms, rev)`: a session reads as absent once
//!   `expires_ms` has passed; expired rows are swept at open and then at most hourly on
//!   commit; `rev` counts its commits (a commit names the revision it read);
//! - `profiles(user_id, data, expires_ms)`, `blocked(chat_id, expires_ms)`: read as absent
//!   once expired; a profile's expiry is renewed when it is read for an update, or by the
//!   commit of an update stepped on a cached state (at most once a day);
//! - `sent(user_id, at_ms)`: when each user sent requests, the last day;
//! - `mine(request_id, user_id, data, at_ms)`: each user's requests (id, kind, time) for
//!   `/status`, kept as long as case numbers;
//! - `outbox(id, entry, due_ms, token)` with an index on `due_ms` (`token`: the fencing
//!   token of the entry's last claim), `parked(id, parked)`,
//!   `delivered(id, case_number, expires_ms)`, `counters(name, value)` (where tokens come
//!   from, for the outbox and the relay);
//! - `cases(case_id, user_id, data, expires_ms)`: the records of the cases the bot
//!   created, kept 180 days, read as absent once expired;
//! - `relay(seq, id, chain, entry, due_ms, token)`: waiting relay entries in push order
//!   (`seq`), with indexes on `due_ms` (set on each chain's oldest entry only, null on the
//!   others) and on `(chain, seq)`; `relay_seen(id, at_ms)`: ids pushed within 30 days.
//!
//! Schema versions: 1 (no tokens, revisions or expiring profiles) is migrated to 2 in
//! place; 2 becomes 3 by creating the case and relay tables.
//!
//! The file is opened in WAL mode with `synchronous=FULL` (every commit is on disk before
//! it returns) and a busy timeout, so several processes of one host can share it. Every
//! read-then-write runs in a `BEGIN IMMEDIATE` transaction (the write lock is taken up
//! front, so a concurrent writer waits instead of failing half-way); the claim is a single
//! `UPDATE … RETURNING` statement.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    CASES_KEPT, CaseRecord, CommitAnswer, CommitRequest, MINE_KEPT, MyRequest, RawChat, Retention,
    SENDS_KEPT,
};
use crate::storage::outbox::{DELIVERED_TTL, Entry, Parked, millis, now_ms, unpark};
use crate::storage::relay::SEEN_KEPT;

/// The schema this code writes.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    chat_id INTEGER PRIMARY KEY,
    data TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    rev INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS profiles (
    user_id INTEGER PRIMARY KEY,
    data TEXT NOT NULL,
    expires_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blocked (
    chat_id INTEGER PRIMARY KEY,
    expires_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sent (
    user_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sent_user ON sent (user_id, at_ms);
CREATE TABLE IF NOT EXISTS mine (
    request_id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mine_user ON mine (user_id, at_ms);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    entry TEXT NOT NULL,
    due_ms INTEGER NOT NULL,
    token INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_ms);
CREATE TABLE IF NOT EXISTS parked (
    id TEXT PRIMARY KEY,
    parked TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
    id TEXT PRIMARY KEY,
    case_number TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    case_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_user ON cases (user_id);
CREATE TABLE IF NOT EXISTS relay (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    chain TEXT NOT NULL,
    entry TEXT NOT NULL,
    due_ms INTEGER,
    token INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS relay_due ON relay (due_ms);
CREATE INDEX IF NOT EXISTS relay_chain ON relay (chain, seq);
CREATE TABLE IF NOT EXISTS relay_seen (
    id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS relay_seen_at ON relay_seen (at_ms);
";

/// Brings a file of schema 1 to schema 2 (the claim's fencing token, the session's
/// revision, expiring profiles and blocked marks; their expiry is set by the caller).
const MIGRATE_1_TO_2: &str = "
ALTER TABLE outbox ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocked ADD COLUMN expires_ms INTEGER NOT NULL DEFAULT 0;
";

/// Claims due outbox entries: now, until, max, token.
const CLAIM_OUTBOX: &str = "UPDATE outbox SET due_ms = ?2, token = ?4 WHERE id IN \
     (SELECT id FROM outbox WHERE due_ms <= ?1 ORDER BY due_ms LIMIT ?3) RETURNING entry";

/// Claims due relay entries (only chain heads are ever due): now, until, max, token.
const CLAIM_RELAY: &str = "UPDATE relay SET due_ms = ?2, token = ?4 WHERE seq IN \
     (SELECT seq FROM relay WHERE due_ms <= ?1 ORDER BY due_ms LIMIT ?3) RETURNING entry";

/// Writes a held outbox entry: id, token, JSON or null, due or null.
const WRITE_HELD_OUTBOX: &str = "UPDATE outbox SET entry = coalesce(?3, entry), \
     due_ms = coalesce(?4, due_ms) WHERE id = ?1 AND token = ?2";

/// Writes a held relay entry (never one not claimed yet): id, token, JSON or null, due or
/// null.
const WRITE_HELD_RELAY: &str = "UPDATE relay SET entry = coalesce(?3, entry), \
     due_ms = coalesce(?4, due_ms) WHERE id = ?1 AND token = ?2 AND token > 0";

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A profile's expiry is pushed forward on use once it is this much older than a fresh one.
const RENEW_PROFILE_AFTER_MS: i64 = 24 * 3600 * 1000;

/// How often expired sessions and delivered numbers are swept.
const SWEEP_EVERY_MS: i64 = 3600 * 1000;

/// Store and outbox operations on one SQLite file, through one connection.
#[derive(Clone)]
pub(crate) struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    path: PathBuf,
    retention: Retention,
    last_sweep_ms: AtomicI64,
}

fn open_connection(path: &Path, retention: Retention) -> anyhow::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("Failed to create the data folder {}", dir.display()))?;
    }
    let mut conn = Connection::open(path)
        .with_context(|| format!("Failed to open the data file {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "{}: SQLite refused WAL mode (journal_mode is {mode})",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        bail!(
            "{}: written by a newer version of the bot (schema {version}, this one knows {SCHEMA_VERSION})",
            path.display()
        );
    }
    if version == 1 {
        tx.execute_batch(MIGRATE_1_TO_2)?;
        let expires = now_ms().saturating_add(millis(retention.profile));
        tx.execute("UPDATE profiles SET expires_ms = ?1", [expires])?;
        tx.execute("UPDATE blocked SET expires_ms = ?1", [expires])?;
    }
    tx.execute_batch(SCHEMA)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(conn)
}

/// Deletes expired sessions, profiles, blocked marks, sends, delivered numbers, case
/// records and relay ids.
fn sweep(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now])?;
    conn.execute("DELETE FROM profiles WHERE expires_ms <= ?1", [now])?;
    conn.execute("DELETE FROM blocked WHERE expires_ms <= ?1", [now])?;
    conn.execute(
        "DELETE FROM sent WHERE at_ms <= ?1",
        [now.saturating_sub(millis(SENDS_KEPT))],
    )?;
    conn.execute("DELETE FROM delivered WHERE expires_ms <= ?1", [now])?;
    conn.execute(
        "DELETE FROM mine WHERE at_ms <= ?1",
        [now.saturating_sub(millis(MINE_KEPT))],
    )?;
    conn.execute("DELETE FROM cases WHERE expires_ms <= ?1", [now])?;
    conn.execute(
        "DELETE FROM relay_seen WHERE at_ms <= ?1",
        [now.saturating_sub(millis(SEEN_KEPT))],
    )?;
    Ok(())
}

/// The revision of a chat's session (0 when none or expired).
fn current_revision(conn: &Connection, chat_id: i64, now: i64) -> anyhow::Result<u64> {
    let rev: Option<i64> = conn
        .query_row(
            "SELECT rev FROM sessions WHERE chat_id = ?1 AND expires_ms > ?2",
            params![chat_id, now],
            |r| r.get(0),
        )
        .optional()?;
    Ok(rev.and_then(|r| u64::try_from(r).ok()).unwrap_or(0))
}

/// A Telegram user id as an SQLite integer (they are below 2^52).
fn user_key(user_id: u64) -> anyhow::Result<i64> {
    i64::try_from(user_id).with_context(|| format!("user id {user_id} is out of range"))
}

/// The next fencing token (shared by the outbox and the relay).
fn next_token(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO counters (name, value) VALUES ('token', 1) \
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        [],
        |r| r.get(0),
    )
}

/// Inserts or replaces a case record, kept [`CASES_KEPT`] from `now`.
fn put_case(conn: &Connection, record: &CaseRecord, now: i64) -> anyhow::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO cases (case_id, user_id, data, expires_ms) VALUES (?1, ?2, ?3, ?4)",
        params![
            record.case_id,
            user_key(record.user_id)?,
            serde_json::to_string(record)?,
            now.saturating_add(millis(CASES_KEPT))
        ],
    )?;
    Ok(())
}

/// Inserts or replaces a waiting entry, due at `due_ms`.
fn put_entry(conn: &Connection, entry: &Entry, due_ms: i64) -> anyhow::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO outbox (id, entry, due_ms) VALUES (?1, ?2, ?3)",
        params![entry.id(), serde_json::to_string(entry)?, due_ms],
    )?;
    Ok(())
}

/// Session text, its revision, profile text (its expiry renewed, at most once a day), the
/// blocked mark and the user's recent sends, as of `now`.
fn read_chat(
    c: &Connection,
    chat_id: i64,
    user: i64,
    now: i64,
    profile_expiry: i64,
) -> anyhow::Result<RawChat> {
    let session: Option<(String, i64)> = c
        .query_row(
            "SELECT data, rev FROM sessions WHERE chat_id = ?1 AND expires_ms > ?2",
            params![chat_id, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let renewed = now.saturating_add(profile_expiry);
    let profile: Option<(String, i64)> = c
        .query_row(
            "SELECT data, expires_ms FROM profiles WHERE user_id = ?1 AND expires_ms > ?2",
            params![user, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    // Renewed at most once a day: a write (and its sync) on every update buys nothing.
    if profile
        .as_ref()
        .is_some_and(|(_, expires)| renewed - expires > RENEW_PROFILE_AFTER_MS)
    {
        c.execute(
            "UPDATE profiles SET expires_ms = ?2 WHERE user_id = ?1",
            params![user, renewed],
        )?;
    }
    let profile = profile.map(|(data, _)| data);
    let blocked = is_blocked(c, chat_id, now)?;
    let sent = {
        let mut stmt = c.prepare_cached(
            "SELECT at_ms FROM sent WHERE user_id = ?1 AND at_ms > ?2 ORDER BY at_ms",
        )?;
        let rows = stmt.query_map(params![user, now.saturating_sub(millis(SENDS_KEPT))], |r| {
            r.get(0)
        })?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()?
    };
    let revision = session
        .as_ref()
        .and_then(|(_, rev)| u64::try_from(*rev).ok())
        .unwrap_or(0);
    Ok((
        session.map(|(data, _)| data),
        revision,
        profile,
        blocked,
        sent,
    ))
}

/// Whether the chat is marked blocked, as of `now`.
fn is_blocked(c: &Connection, chat_id: i64, now: i64) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM blocked WHERE chat_id = ?1 AND expires_ms > ?2)",
        params![chat_id, now],
        |r| r.get(0),
    )
}

/// Whether nothing is kept of a chat and its user: no session (even an undecodable one),
/// no profile and no recent sends, as a writer presuming a new chat needs.
fn is_new(c: &Connection, chat_id: i64, user: i64, now: i64) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM sessions WHERE chat_id = ?1 AND expires_ms > ?3) \
         AND NOT EXISTS (SELECT 1 FROM profiles WHERE user_id = ?2 AND expires_ms > ?3) \
         AND NOT EXISTS (SELECT 1 FROM sent WHERE user_id = ?2 AND at_ms > ?4)",
        params![chat_id, user, now, now.saturating_sub(millis(SENDS_KEPT))],
        |r| r.get(0),
    )
}

impl FileStore {
    /// Opens (creating if needed) the file, sets it up and sweeps expired data.
    pub(crate) async fn open(path: &Path, retention: Retention) -> anyhow::Result<Self> {
        let owned = path.to_owned();
        let conn = tokio::task::spawn_blocking(move || {
            let conn = open_connection(&owned, retention)?;
            sweep(&conn, now_ms())?;
            anyhow::Ok(conn)
        })
        .await
        .context("the storage task failed")??;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path: path.to_owned(),
                retention,
                last_sweep_ms: AtomicI64::new(now_ms()),
            }),
        })
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-call leaves no transaction open (it rolls back on drop), so the
            // connection is still good.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .context("the storage task failed")?
    }

    /// Session text, its revision, profile text (its expiry renewed), the blocked mark and
    /// the user's recent sends.
    pub(crate) async fn load_chat(&self, chat_id: i64, user_id: u64) -> anyhow::Result<RawChat> {
        let user = user_key(user_id)?;
        let profile_expiry = millis(self.inner.retention.profile);
        self.with(move |c| read_chat(c, chat_id, user, now_ms(), profile_expiry))
            .await
    }

    /// The records of the user's requests (JSON).
    pub(crate) async fn my_requests(&self, user_id: u64) -> anyhow::Result<Vec<String>> {
        let user = user_key(user_id)?;
        self.with(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT data FROM mine WHERE user_id = ?1 ORDER BY at_ms DESC")?;
            let rows = stmt.query_map([user], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    pub(crate) async fn forget(&self, user_id: u64, chat_id: i64) -> anyhow::Result<()> {
        let user = user_key(user_id)?;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM profiles WHERE user_id = ?1", [user])?;
            tx.execute("DELETE FROM blocked WHERE chat_id = ?1", [chat_id])?;
            tx.execute("DELETE FROM mine WHERE user_id = ?1", [user])?;
            tx.execute("DELETE FROM cases WHERE user_id = ?1", [user])?;
            // No process may commit on a state it read before.
            tx.execute(
                "UPDATE sessions SET rev = rev + 1 WHERE chat_id = ?1",
                [chat_id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn load_session(&self, chat_id: i64) -> anyhow::Result<Option<String>> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT data FROM sessions WHERE chat_id = ?1 AND expires_ms > ?2",
                params![chat_id, now_ms()],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    pub(crate) async fn load_profile(&self, user_id: u64) -> anyhow::Result<Option<String>> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT data FROM profiles WHERE user_id = ?1 AND expires_ms > ?2",
                params![user_key(user_id)?, now_ms()],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    fn session_expiry(&self, now: i64) -> i64 {
        now.saturating_add(millis(self.inner.retention.draft).max(1))
    }

    pub(crate) async fn write_raw_session(&self, chat_id: i64, raw: &str) -> anyhow::Result<()> {
        let raw = raw.to_owned();
        let expires = self.session_expiry(now_ms());
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO sessions (chat_id, data, expires_ms) VALUES (?1, ?2, ?3)",
                params![chat_id, raw, expires],
            )?;
            Ok(())
        })
        .await
    }

    /// Commits `c` if the chat is still as its writer read it, in one transaction.
    pub(crate) async fn commit(&self, c: &CommitRequest<'_>) -> anyhow::Result<CommitAnswer> {
        let chat_id = c.chat_id;
        let user = user_key(c.user_id)?;
        let (revision, fresh, renew) = (c.revision, c.fresh, c.renew_profile);
        let session = serde_json::to_string(c.session)?;
        let profile = c.profile.map(serde_json::to_string).transpose()?;
        let entry = c.outgoing.cloned();
        let now = now_ms();
        let expires = self.session_expiry(now);
        let profile_ttl = millis(self.inner.retention.profile);
        let profile_expires = now.saturating_add(profile_ttl);
        let sweep_due = now - self.inner.last_sweep_ms.load(Ordering::Relaxed) >= SWEEP_EVERY_MS;
        if sweep_due {
            self.inner.last_sweep_ms.store(now, Ordering::Relaxed);
        }
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if current_revision(&tx, chat_id, now)? != revision
                || (fresh && !is_new(&tx, chat_id, user, now)?)
            {
                let state = read_chat(&tx, chat_id, user, now, profile_ttl)?;
                tx.commit()?;
                return Ok(CommitAnswer::Stale(state));
            }
            let blocked = is_blocked(&tx, chat_id, now)?;
            let next = i64::try_from(revision.saturating_add(1)).unwrap_or(i64::MAX);
            tx.execute(
                "INSERT OR REPLACE INTO sessions (chat_id, data, expires_ms, rev) VALUES (?1, ?2, ?3, ?4)",
                params![chat_id, session, expires, next],
            )?;
            if let Some(json) = profile {
                tx.execute(
                    "INSERT OR REPLACE INTO profiles (user_id, data, expires_ms) VALUES (?1, ?2, ?3)",
                    params![user, json, profile_expires],
                )?;
            } else if renew {
                tx.execute(
                    "UPDATE profiles SET expires_ms = ?3 WHERE user_id = ?1 AND expires_ms > ?2",
                    params![user, now, profile_expires],
                )?;
            }
            if let Some(entry) = entry {
                put_entry(&tx, &entry, now)?;
                let sender = user_key(entry.outgoing.sender.id)?;
                tx.execute(
                    "INSERT INTO sent (user_id, at_ms) VALUES (?1, ?2)",
                    params![sender, now],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO mine (request_id, user_id, data, at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        entry.id(),
                        sender,
                        serde_json::to_string(&MyRequest::of(&entry))?,
                        now
                    ],
                )?;
            }
            if sweep_due {
                sweep(&tx, now)?;
            }
            tx.commit()?;
            Ok(CommitAnswer::Written { blocked })
        })
        .await
    }

    pub(crate) async fn ping(&self) -> anyhow::Result<()> {
        self.with(|c| {
            let _: i64 = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn set_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        let expires = now_ms().saturating_add(millis(self.inner.retention.profile));
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO blocked (chat_id, expires_ms) VALUES (?1, ?2)",
                params![chat_id, expires],
            )?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn clear_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        self.with(move |c| {
            c.execute("DELETE FROM blocked WHERE chat_id = ?1", [chat_id])?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn is_blocked(&self, chat_id: i64) -> anyhow::Result<bool> {
        self.with(move |c| Ok(is_blocked(c, chat_id, now_ms())?))
            .await
    }

    // ---- outbox ----

    pub(crate) async fn enqueue(&self, entry: &Entry) -> anyhow::Result<()> {
        let entry = entry.clone();
        self.with(move |c| put_entry(c, &entry, now_ms())).await
    }

    /// The claim's token and the claimed entries' JSON.
    pub(crate) async fn claim(
        &self,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        self.claim_in(CLAIM_OUTBOX, now, until, max).await
    }

    /// Claims with `sql` (an `UPDATE … RETURNING entry` taking now, until, max, token)
    /// under a fresh token; the counter is left as it was when nothing is claimed.
    async fn claim_in(
        &self,
        sql: &'static str,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let token = next_token(&tx)?;
            let entries = {
                let mut stmt = tx.prepare_cached(sql)?;
                let rows = stmt.query_map(params![now, until, max, token], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<Vec<String>>>()?
            };
            if entries.is_empty() {
                return Ok((0, entries));
            }
            tx.commit()?;
            Ok((token, entries))
        })
        .await
    }

    /// Writes the JSON and/or the due time of an entry held under `token`.
    pub(crate) async fn write_held(
        &self,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        self.write_held_in(WRITE_HELD_OUTBOX, id, token, json, due_ms)
            .await
    }

    /// Writes with `sql` (taking id, token, JSON or null, due or null); whether a row of
    /// the entry held under `token` changed.
    async fn write_held_in(
        &self,
        sql: &'static str,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        let id = id.to_owned();
        let json = json.map(str::to_owned);
        self.with(move |c| Ok(c.execute(sql, params![id, token, json, due_ms])? == 1))
            .await
    }

    pub(crate) async fn complete(
        &self,
        id: &str,
        token: i64,
        case_number: &str,
        record: Option<&CaseRecord>,
    ) -> anyhow::Result<bool> {
        let id = id.to_owned();
        let case_number = case_number.to_owned();
        let record = record.cloned();
        let now = now_ms();
        let expires = now.saturating_add(millis(DELIVERED_TTL));
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute(
                "DELETE FROM outbox WHERE id = ?1 AND token = ?2",
                params![id, token],
            )? == 0
            {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR REPLACE INTO delivered (id, case_number, expires_ms) VALUES (?1, ?2, ?3)",
                params![id, case_number, expires],
            )?;
            if let Some(record) = record {
                put_case(&tx, &record, now)?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn park(&self, parked: &Parked, token: i64) -> anyhow::Result<bool> {
        let id = parked.entry.id().to_owned();
        let json = serde_json::to_string(parked)?;
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute(
                "DELETE FROM outbox WHERE id = ?1 AND token = ?2",
                params![id, token],
            )? == 0
            {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR REPLACE INTO parked (id, parked) VALUES (?1, ?2)",
                params![id, json],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Waiting entries as (id, JSON, due ms), soonest first.
    pub(crate) async fn pending(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id, entry, due_ms FROM outbox ORDER BY due_ms")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// Parked entries as (id, JSON).
    pub(crate) async fn parked(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id, parked FROM parked ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    pub(crate) async fn retry(&self, id: &str) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let json: Option<String> = tx
                .query_row("SELECT parked FROM parked WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(json) = json else {
                return Ok(false);
            };
            put_entry(&tx, &unpark(&json)?, now_ms())?;
            tx.execute("DELETE FROM parked WHERE id = ?1", [&id])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn depth(&self) -> anyhow::Result<(i64, i64)> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM parked)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
    }

    pub(crate) async fn delivered(&self, id: &str) -> anyhow::Result<Option<String>> {
        let id = id.to_owned();
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT case_number FROM delivered WHERE id = ?1 AND expires_ms > ?2",
                params![id, now_ms()],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    // ---- case records ----

    /// Writes a case record, kept `CASES_KEPT` from now.
    pub(crate) async fn save_case(&self, record: &CaseRecord) -> anyhow::Result<()> {
        let record = record.clone();
        self.with(move |c| put_case(c, &record, now_ms())).await
    }

    /// A case record (JSON).
    pub(crate) async fn case(&self, case_id: i64) -> anyhow::Result<Option<String>> {
        self.with(move |c| {
            Ok(c.query_row(
                "SELECT data FROM cases WHERE case_id = ?1 AND expires_ms > ?2",
                params![case_id, now_ms()],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }

    /// The user's case records (JSON) that have not expired.
    pub(crate) async fn cases_of(&self, user_id: u64) -> anyhow::Result<Vec<String>> {
        let user = user_key(user_id)?;
        self.with(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT data FROM cases WHERE user_id = ?1 AND expires_ms > ?2")?;
            let rows = stmt.query_map(params![user, now_ms()], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }

    // ---- relay ----

    pub(crate) async fn relay_push(
        &self,
        id: &str,
        chain: &str,
        json: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let id = id.to_owned();
        let chain = chain.to_owned();
        let json = json.to_owned();
        let seen_since = now.saturating_sub(millis(SEEN_KEPT));
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let seen: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM relay_seen WHERE id = ?1 AND at_ms > ?2) \
                 OR EXISTS (SELECT 1 FROM relay WHERE id = ?1)",
                params![id, seen_since],
                |r| r.get(0),
            )?;
            if seen {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR REPLACE INTO relay_seen (id, at_ms) VALUES (?1, ?2)",
                params![id, now],
            )?;
            let waiting: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM relay WHERE chain = ?1)",
                [&chain],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO relay (id, chain, entry, due_ms) VALUES (?1, ?2, ?3, ?4)",
                params![id, chain, json, (!waiting).then_some(now)],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// The claim's token and the claimed entries' JSON.
    pub(crate) async fn relay_claim(
        &self,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        self.claim_in(CLAIM_RELAY, now, until, max).await
    }

    /// Writes the JSON and/or the due time of an entry held under `token`.
    pub(crate) async fn relay_write_held(
        &self,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        self.write_held_in(WRITE_HELD_RELAY, id, token, json, due_ms)
            .await
    }

    pub(crate) async fn relay_done(&self, id: &str, token: i64, now: i64) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let chain: Option<String> = tx
                .query_row(
                    "DELETE FROM relay WHERE id = ?1 AND token = ?2 AND token > 0 RETURNING chain",
                    params![id, token],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(chain) = chain else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE relay SET due_ms = ?2 WHERE seq = \
                 (SELECT min(seq) FROM relay WHERE chain = ?1)",
                params![chain, now],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// Waiting entries as (id, JSON), by chain name, each chain oldest first.
    pub(crate) async fn relay_pending(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id, entry FROM relay ORDER BY chain, seq")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    pub(crate) async fn relay_depth(&self) -> anyhow::Result<i64> {
        self.with(|c| Ok(c.query_row("SELECT count(*) FROM relay", [], |r| r.get(0))?))
            .await
    }
}
