//! The durable outbox: requests whose Send was acknowledged, delivered to Omnidesk
//! exactly once by one or more workers sharing a store (Redis, or the embedded file; see
//! [`crate::storage`] for the contract both keep).
//!
//! # Design: a reliable queue with leases (not a Redis Stream)
//!
//! - Each waiting request is stored with its delivery state ([`Entry`]) and the time (ms)
//!   it may next be tried. In Redis: `outbox:items` (hash) and `outbox:due` (sorted set);
//!   in the file: one `outbox` table with an index on the due time.
//! - The Send step adds the request in the same transaction that closes the draft.
//! - A worker *claims* due requests in one atomic step (a Lua script in Redis, one
//!   transaction in SQLite): it picks requests whose time has come, pushes their time
//!   forward by a lease and gives each claim a *fencing token* (a number that only grows,
//!   shared by every process on the store, and by the [relay](super::relay)). While a
//!   worker holds a request, it keeps extending the lease; if it dies, the lease runs out
//!   and another worker claims the request under a newer token. Claiming is atomic, so
//!   two workers never take the same request at once.
//! - Every write of a claimed request (its state, its next due time, completing it,
//!   parking it) carries the token and succeeds only while the request is still held under
//!   it. A worker whose write is refused has lost the request (it was frozen past its
//!   lease, say) and drops its copy without doing anything more.
//! - A retry is just a new due time: exponential backoff with jitter (capped at 10 min)
//!   for timeouts, connection errors and 5xx; Omnidesk's `retry_after` for 429.
//! - A request Omnidesk refuses (4xx) moves to the parked set with the error, untouched,
//!   until `waviot-support-bot outbox retry` puts it back.
//! - The case number of a delivered request is kept for 30 days.
//!
//! In Redis, a Stream with a consumer group (XREADGROUP + XAUTOCLAIM) gives the same leases,
//! but delayed retries would need a second structure anyway (a pending entry cannot be
//! given a "not before" time), and a blocking read needs its own connection. A sorted set
//! gives claim, lease, delay and backoff in one place.
//!
//! # No duplicate cases
//!
//! Omnidesk has no idempotency key, so each request carries a token (`[TG-…]` in the
//! subject). Before a create is sent, the time is recorded in the stored entry
//! ([`Entry::create_sent_at_ms`], a fenced write); the case is recorded as soon as Omnidesk
//! answers. Whoever holds the entry next and finds a create was sent without a recorded
//! case first looks the token up and adopts a case that already exists; when none is
//! found, it waits until Omnidesk must have finished that create (the create timeout once
//! more) and looks again before creating.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use intake_core::case::{Sender, Submission};

use super::{Backend, CaseRecord, dispatch};

/// A created case, as recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRef {
    /// Internal id.
    pub case_id: i64,
    /// Number shown to people.
    pub case_number: String,
}

/// A request in the outbox with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The request and its author.
    pub outgoing: Submission,
    /// Delivery attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// The case, once Omnidesk created (or a lookup found) it.
    #[serde(default)]
    pub case: Option<CaseRef>,
    /// The last failure, for operators.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When a create was last sent to Omnidesk (Unix ms) whose answer did not say that
    /// nothing was created: a case may exist without being recorded here.
    #[serde(default)]
    pub create_sent_at_ms: Option<i64>,
    /// If a lookup does not find that case, no new create goes out before this time
    /// (Unix ms): Omnidesk may still be creating it.
    #[serde(default)]
    pub settle_until_ms: Option<i64>,
    /// Failed fetches per attachment (file id), for giving up on one that never comes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub file_failures: BTreeMap<String, u32>,
    /// Attachments left out of the case because they could not be fetched (file ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

impl Entry {
    /// A fresh entry for a just-sent request.
    pub fn new(outgoing: Submission) -> Self {
        Self {
            outgoing,
            attempts: 0,
            case: None,
            last_error: None,
            create_sent_at_ms: None,
            settle_until_ms: None,
            file_failures: BTreeMap::new(),
            left_out: Vec::new(),
        }
    }

    /// The request id.
    pub fn id(&self) -> &str {
        &self.outgoing.request.id
    }
}

/// An entry held by one claimer, with the fencing token every write of it must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The entry as stored when it was claimed.
    pub entry: Entry,
    /// The fencing token of this claim.
    pub token: i64,
}

/// A parked request: refused by Omnidesk, kept whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parked {
    /// The entry as it was.
    pub entry: Entry,
    /// Why Omnidesk refused it.
    pub error: String,
    /// When it was parked (Unix ms).
    pub parked_at_ms: i64,
}

/// Outbox operations, on the store it came from ([`crate::storage::Store::outbox`]).
#[derive(Clone)]
pub struct Outbox {
    backend: Backend,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// How long the case number of a delivered request is kept.
pub(crate) const DELIVERED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// The entry a parked request goes back to the queue as: the parking reason becomes its
/// last error.
pub(crate) fn unpark(parked_json: &str) -> anyhow::Result<Entry> {
    let parked: Parked = serde_json::from_str(parked_json)?;
    let mut entry = parked.entry;
    entry.last_error = Some(parked.error);
    Ok(entry)
}

impl Outbox {
    /// The outbox of `backend`.
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend }
    }

    /// Enqueues an entry on its own, due now (tests and replays); replaces one with the
    /// same id.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn enqueue(&self, entry: &Entry) -> anyhow::Result<()> {
        dispatch!(&self.backend, b => b.enqueue(entry).await)
    }

    /// Claims up to `max` due entries for `lease`: until it runs out (or is extended), no
    /// other claimer gets them. Each claim carries a fresh fencing token.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn claim(&self, lease: Duration, max: usize) -> anyhow::Result<Vec<Claim>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let until = now.saturating_add(millis(lease));
        let (token, raw) = dispatch!(&self.backend, b => b.claim(now, until, max).await)?;
        Ok(raw
            .into_iter()
            .filter_map(|json| match serde_json::from_str::<Entry>(&json) {
                Ok(entry) => Some(Claim { entry, token }),
                Err(e) => {
                    tracing::error!(error.message = %e, "undecodable outbox entry left in place");
                    None
                }
            })
            .collect())
    }

    /// Extends the lease of a held entry to `lease` from now; `false` when it is no longer
    /// held under `token` (delivered, parked, or claimed by another).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn extend(&self, id: &str, token: i64, lease: Duration) -> anyhow::Result<bool> {
        let until = now_ms().saturating_add(millis(lease));
        dispatch!(&self.backend, b => b.write_held(id, token, None, Some(until)).await)
    }

    /// Saves a held entry's state, keeping its lease; `false` when it is no longer held
    /// under `token` (nothing is written then).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn save(&self, entry: &Entry, token: i64) -> anyhow::Result<bool> {
        let json = serde_json::to_string(entry)?;
        dispatch!(&self.backend, b => b.write_held(entry.id(), token, Some(&json), None).await)
    }

    /// Saves a held entry's state and sets when it may next be tried (a retry); the claim
    /// ends with it. `false` when it is no longer held under `token`.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn reschedule(&self, entry: &Entry, token: i64, at_ms: i64) -> anyhow::Result<bool> {
        let json = serde_json::to_string(entry)?;
        dispatch!(&self.backend, b => b.write_held(entry.id(), token, Some(&json), Some(at_ms)).await)
    }

    /// Removes a delivered entry held under `token` and records its case number (kept 30
    /// days); `false` when it is no longer held under `token`.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn complete(&self, id: &str, token: i64, case_number: &str) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.complete(id, token, case_number, None).await)
    }

    /// Like [`Self::complete`] (the case number is the record's), and writes the case
    /// record (kept [`CASES_KEPT`](super::CASES_KEPT)) in the same atomic step; `false`
    /// when the entry is no longer held under `token` (nothing is written then).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn complete_with_case(
        &self,
        id: &str,
        token: i64,
        record: &CaseRecord,
    ) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.complete(id, token, &record.case_number, Some(record)).await)
    }

    /// Moves an entry held under `token` to the parked set with the reason; `false` when
    /// it is no longer held under `token`.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn park(&self, entry: &Entry, token: i64, error: &str) -> anyhow::Result<bool> {
        let parked = Parked {
            entry: entry.clone(),
            error: error.to_owned(),
            parked_at_ms: now_ms(),
        };
        dispatch!(&self.backend, b => b.park(&parked, token).await)
    }

    /// Entries waiting for delivery, with their due times.
    ///
    /// # Errors
    ///
    /// The store is unreachable, or an entry does not decode.
    pub async fn pending(&self) -> anyhow::Result<Vec<(Entry, i64)>> {
        let raw = dispatch!(&self.backend, b => b.pending().await)?;
        raw.into_iter()
            .map(|(id, json, due)| {
                let entry: Entry =
                    serde_json::from_str(&json).with_context(|| format!("outbox entry {id}"))?;
                Ok((entry, due))
            })
            .collect()
    }

    /// Waiting entries submitted longer than `after` ago, oldest first.
    ///
    /// # Errors
    ///
    /// The store is unreachable, or an entry does not decode.
    pub async fn overdue(&self, after: Duration) -> anyhow::Result<Vec<Entry>> {
        let cutoff = chrono::Utc::now() - after;
        let mut overdue: Vec<Entry> = self
            .pending()
            .await?
            .into_iter()
            .map(|(entry, _)| entry)
            .filter(|e| e.outgoing.request.submitted_at < cutoff)
            .collect();
        overdue.sort_by_key(|e| e.outgoing.request.submitted_at);
        Ok(overdue)
    }

    /// Parked entries.
    ///
    /// # Errors
    ///
    /// The store is unreachable, or an entry does not decode.
    pub async fn parked(&self) -> anyhow::Result<Vec<Parked>> {
        let raw = dispatch!(&self.backend, b => b.parked().await)?;
        raw.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).with_context(|| format!("parked entry {id}"))
            })
            .collect()
    }

    /// Puts a parked entry back in the queue, due now; `false` if there is no such entry.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn retry(&self, id: &str) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.retry(id).await)
    }

    /// Numbers of waiting and parked requests.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn depth(&self) -> anyhow::Result<(i64, i64)> {
        dispatch!(&self.backend, b => b.depth().await)
    }

    /// The case number of a delivered request.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn delivered(&self, id: &str) -> anyhow::Result<Option<String>> {
        dispatch!(&self.backend, b => b.delivered(id).await)
    }
}
