//! The relay: messages between a user's chat and their case (agents' replies on their way
//! to Telegram, the user's follow-ups on their way to Omnidesk), delivered by one or more
//! workers sharing a store with the same guarantees as the [outbox](super::outbox).
//!
//! # Design
//!
//! - Each entry has an **id** (the dedup key: Omnidesk's message id, or the Telegram
//!   message) and a **chain** (the order key: the chat an agent's reply goes to, or the
//!   case a follow-up goes to).
//! - **Dedup by id.** [`Relay::push`] adds an entry only if no entry with its id was
//!   pushed within [`SEEN_KEPT`], whether that one is still waiting or long delivered, so
//!   a message seen twice (a webhook retried, a poll overlapping the last one) is relayed
//!   once. The check and the write are one atomic step.
//! - **FIFO per chain.** Only the oldest entry of each chain has a due time; the others
//!   wait behind it. [`Relay::claim`] takes due entries only, so the messages of one chain
//!   reach their destination one at a time and in order, whatever the number of workers
//!   and processes. When the head is done (delivered, or given up), the next entry of its
//!   chain becomes due at once; a head rescheduled for later holds its whole chain back.
//! - **Claims, leases and fencing tokens** as in the outbox: a claim moves the due time
//!   forward by the lease and gives a fencing token; every later write of the entry
//!   carries the token and succeeds only while the entry is still held under it. Tokens
//!   come from the outbox's counter (one counter per store), so a token never means two
//!   claims, even across the two queues.
//!
//! In Redis: `relay:items` (hash id → entry JSON), `relay:chain-of` (hash id → chain),
//! `relay:chain:<chain>` (list of the chain's ids, oldest first), `relay:due` (sorted set
//! of the chains' heads by due ms), `relay:held` (hash id → token of its last claim) and
//! `relay:seen` (sorted set id → push ms, trimmed on every push). In the file: the `relay`
//! table (in push order, a due time on chain heads only) and `relay_seen`.

use std::time::Duration;

use anyhow::Context;
use intake_core::dialogue::FileRef;
use serde::{Deserialize, Serialize};

use super::outbox::{millis, now_ms};
use super::{Backend, dispatch};

/// How long an id is remembered after its entry was pushed: a second push of it within
/// this time is ignored.
pub const SEEN_KEPT: Duration = Duration::from_secs(30 * 24 * 3600);

/// An attachment an agent's reply names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name.
    pub name: String,
    /// Where to download it.
    pub url: String,
}

/// An agent's reply on its way to the user's chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReply {
    /// Omnidesk's message id.
    pub message_id: i64,
    /// The case's internal id.
    pub case_id: i64,
    /// The case number shown to people.
    pub case_number: String,
    /// The user's chat.
    pub chat_id: i64,
    /// The user's language.
    pub lang: String,
    /// The reply's text as Telegram HTML, ready to send.
    pub html: String,
    /// Attachments of the reply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// When the bot received the reply (Unix ms).
    pub received_at_ms: i64,
    /// A notice from the bot about the case (a status change), sent as `html` alone
    /// rather than as an agent's reply.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice: bool,
    /// For a notice that the case closed: the kind of a new request continuing it (its
    /// button).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_kind: Option<String>,
}

/// A user's follow-up on its way to the case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The case's internal id.
    pub case_id: i64,
    /// The case number shown to people.
    pub case_number: String,
    /// The user's chat.
    pub chat_id: i64,
    /// The user.
    pub user_id: u64,
    /// The user's language.
    pub lang: String,
    /// The message's text.
    pub text: String,
    /// Files sent with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRef>,
    /// When the user sent it (Unix ms).
    pub sent_at_ms: i64,
}

/// What a relay entry carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "kebab-case")]
pub enum Job {
    /// An agent's reply, to the user's chat.
    User(AgentReply),
    /// A user's follow-up, to the case.
    Case(FollowUp),
}

/// A message in the relay with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayEntry {
    /// The dedup key (e.g. `om-42577887`, `tg-<chat id>-<message id>`).
    pub id: String,
    /// The order key (e.g. `chat-<chat id>`, `case-<case id>`).
    pub chain: String,
    /// What to deliver.
    pub job: Job,
    /// Delivery attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, for operators.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the message was last sent onwards without its outcome being recorded (Unix ms).
    #[serde(default)]
    pub sent_at_ms: Option<i64>,
}

impl RelayEntry {
    /// A fresh entry.
    pub fn new(id: impl Into<String>, chain: impl Into<String>, job: Job) -> Self {
        Self {
            id: id.into(),
            chain: chain.into(),
            job,
            attempts: 0,
            last_error: None,
            sent_at_ms: None,
        }
    }
}

/// An entry held by one claimer, with the fencing token every write of it must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    /// The entry as stored when it was claimed.
    pub entry: RelayEntry,
    /// The fencing token of this claim.
    pub token: i64,
}

/// Relay operations, on the store it came from ([`crate::storage::Store::relay`]).
#[derive(Clone)]
pub struct Relay {
    backend: Backend,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl Relay {
    /// The relay of `backend`.
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend }
    }

    /// Adds an entry at the end of its chain, unless an entry with its id was pushed
    /// within [`SEEN_KEPT`] (`false` then, and nothing is written). Two concurrent pushes
    /// of one id store it once. The entry is due now if it is the only one in its chain.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn push(&self, entry: &RelayEntry) -> anyhow::Result<bool> {
        let json = serde_json::to_string(entry)?;
        let now = now_ms();
        dispatch!(&self.backend, b => b.relay_push(&entry.id, &entry.chain, &json, now).await)
    }

    /// Claims up to `max` due entries for `lease` (only the oldest entry of each chain can
    /// be due): until it runs out (or is extended), no other claimer gets them. Each claim
    /// carries a fresh fencing token.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn claim(&self, lease: Duration, max: usize) -> anyhow::Result<Vec<Held>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let until = now.saturating_add(millis(lease));
        let (token, raw) = dispatch!(&self.backend, b => b.relay_claim(now, until, max).await)?;
        Ok(raw
            .into_iter()
            .filter_map(|json| match serde_json::from_str::<RelayEntry>(&json) {
                Ok(entry) => Some(Held { entry, token }),
                Err(e) => {
                    tracing::error!(error.message = %e, "undecodable relay entry left in place");
                    None
                }
            })
            .collect())
    }

    /// Extends the lease of a held entry to `lease` from now; `false` when it is no longer
    /// held under `token` (done, or claimed by another).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn extend(&self, id: &str, token: i64, lease: Duration) -> anyhow::Result<bool> {
        let until = now_ms().saturating_add(millis(lease));
        dispatch!(&self.backend, b => b.relay_write_held(id, token, None, Some(until)).await)
    }

    /// Saves a held entry's state (its id and chain unchanged), keeping its lease; `false`
    /// when it is no longer held under `token` (nothing is written then).
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn save(&self, entry: &RelayEntry, token: i64) -> anyhow::Result<bool> {
        let json = serde_json::to_string(entry)?;
        dispatch!(&self.backend, b => b.relay_write_held(&entry.id, token, Some(&json), None).await)
    }

    /// Saves a held entry's state and sets when it may next be tried (a retry; the rest of
    /// its chain waits until then); the claim ends with it. `false` when it is no longer
    /// held under `token`.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn reschedule(
        &self,
        entry: &RelayEntry,
        token: i64,
        at_ms: i64,
    ) -> anyhow::Result<bool> {
        let json = serde_json::to_string(entry)?;
        dispatch!(&self.backend, b => b.relay_write_held(&entry.id, token, Some(&json), Some(at_ms)).await)
    }

    /// Removes an entry held under `token` (delivered, or given up); the next entry of its
    /// chain becomes due now. `false` when it is no longer held under `token`. Its id stays
    /// seen for [`SEEN_KEPT`] from its push.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn done(&self, id: &str, token: i64) -> anyhow::Result<bool> {
        dispatch!(&self.backend, b => b.relay_done(id, token, now_ms()).await)
    }

    /// Entries waiting, grouped by chain (chains in name order), each chain in claim order.
    ///
    /// # Errors
    ///
    /// The store is unreachable, or an entry does not decode.
    pub async fn pending(&self) -> anyhow::Result<Vec<RelayEntry>> {
        let raw = dispatch!(&self.backend, b => b.relay_pending().await)?;
        raw.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).with_context(|| format!("relay entry {id}"))
            })
            .collect()
    }

    /// Number of entries waiting.
    ///
    /// # Errors
    ///
    /// The store is unreachable.
    pub async fn depth(&self) -> anyhow::Result<i64> {
        dispatch!(&self.backend, b => b.relay_depth().await)
    }
}
