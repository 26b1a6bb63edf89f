//! The durable outbox: requests whose Send was acknowledged, delivered to Omnidesk
//! exactly once by one or more workers sharing a Redis.
//!
//! # Design: a reliable queue with leases (not a Redis Stream)
//!
//! - `outbox:items` (hash) holds each request with its delivery state ([`Entry`]);
//!   `outbox:due` (sorted set) holds, per request, the time (ms) it may next be tried.
//! - The Send step adds both in the same MULTI/EXEC that closes the draft.
//! - A worker *claims* due requests with one Lua script: it picks members whose time has
//!   come and pushes their time forward by a lease. While a worker delivers, it keeps
//!   extending the lease; if it dies, the lease runs out and another worker claims the
//!   request. Claiming is atomic, so two workers never take the same request at once.
//! - A retry is just a new due time: exponential backoff with jitter (capped at 10 min)
//!   for timeouts, connection errors and 5xx; Omnidesk's `retry_after` for 429.
//! - A request Omnidesk refuses (4xx) moves to `outbox:parked` with the error, untouched,
//!   until `waviot-support-bot outbox retry` puts it back.
//! - `delivered:<id>` keeps the case number for 30 days.
//!
//! A Stream with a consumer group (XREADGROUP + XAUTOCLAIM) gives the same leases, but
//! delayed retries would need a second structure anyway (a pending entry cannot be given
//! a "not before" time), and a blocking read needs its own connection. A sorted set gives
//! claim, lease, delay and backoff in one place.
//!
//! # No duplicate cases
//!
//! Omnidesk has no idempotency key, so each request carries a token (`[TG-…]` in the
//! subject). The case is recorded in the entry as soon as Omnidesk answers. Any attempt
//! after the first (a retry, or a claim after a crash) first looks the token up and adopts
//! a case that already exists; it creates one only when none is found.

use std::time::Duration;

use anyhow::Context;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::delivery::Outgoing;

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
    pub outgoing: Outgoing,
    /// Delivery attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// The case, once Omnidesk created (or a lookup found) it.
    #[serde(default)]
    pub case: Option<CaseRef>,
    /// The last failure, for operators.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Entry {
    /// A fresh entry for a just-sent request.
    pub fn new(outgoing: Outgoing) -> Self {
        Self {
            outgoing,
            attempts: 0,
            case: None,
            last_error: None,
        }
    }

    /// The request id.
    pub fn id(&self) -> &str {
        &self.outgoing.request.id
    }
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

/// Outbox operations on Redis.
#[derive(Clone)]
pub struct Outbox {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("prefix", &self.prefix)
            .finish()
    }
}

const DELIVERED_TTL_SECS: u64 = 30 * 24 * 3600;

const CLAIM: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(out, v)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
";

const SAVE_IF_PRESENT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
";

/// Current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Outbox {
    /// Outbox keys under `prefix` on `conn`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Adds the commands that enqueue `entry` (due now) to a transaction.
    pub fn enqueue_in(&self, pipe: &mut redis::Pipeline, entry: &Entry) -> anyhow::Result<()> {
        pipe.hset(
            self.key("outbox:items"),
            entry.id(),
            serde_json::to_string(entry)?,
        )
        .ignore()
        .zadd(self.key("outbox:due"), entry.id(), now_ms())
        .ignore();
        Ok(())
    }

    /// Enqueues an entry on its own (tests and replays).
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn enqueue(&self, entry: &Entry) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.enqueue_in(&mut pipe, entry)?;
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Claims up to `max` due entries for `lease`.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn claim(&self, lease: Duration, max: usize) -> anyhow::Result<Vec<Entry>> {
        let now = now_ms();
        let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let raw: Vec<String> = redis::Script::new(CLAIM)
            .key(self.key("outbox:due"))
            .key(self.key("outbox:items"))
            .arg(now)
            .arg(until)
            .arg(max)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(raw
            .into_iter()
            .filter_map(|json| match serde_json::from_str::<Entry>(&json) {
                Ok(e) => Some(e),
                Err(e) => {
                    tracing::error!(error.message = %e, "undecodable outbox entry left in place");
                    None
                }
            })
            .collect())
    }

    /// Saves an entry's state (only while it is still in the outbox).
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn save(&self, entry: &Entry) -> anyhow::Result<()> {
        let _: i32 = redis::Script::new(SAVE_IF_PRESENT)
            .key(self.key("outbox:items"))
            .arg(entry.id())
            .arg(serde_json::to_string(entry)?)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Sets when an entry may next be tried (extends a lease or schedules a retry).
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn set_due(&self, id: &str, at_ms: i64) -> anyhow::Result<()> {
        let _: i64 = redis::cmd("ZADD")
            .arg(self.key("outbox:due"))
            .arg("XX")
            .arg(at_ms)
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Removes a delivered entry and records its case number.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn complete(&self, id: &str, case_number: &str) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(
                self.key(&format!("delivered:{id}")),
                case_number,
                DELIVERED_TTL_SECS,
            )
            .ignore()
            .hdel(self.key("outbox:items"), id)
            .ignore()
            .zrem(self.key("outbox:due"), id)
            .ignore();
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Moves an entry to the parked set with the reason.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn park(&self, entry: &Entry, error: &str) -> anyhow::Result<()> {
        let parked = Parked {
            entry: entry.clone(),
            error: error.to_owned(),
            parked_at_ms: now_ms(),
        };
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(
                self.key("outbox:parked"),
                entry.id(),
                serde_json::to_string(&parked)?,
            )
            .ignore()
            .hdel(self.key("outbox:items"), entry.id())
            .ignore()
            .zrem(self.key("outbox:due"), entry.id())
            .ignore();
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Entries waiting for delivery, with their due times.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn pending(&self) -> anyhow::Result<Vec<(Entry, i64)>> {
        use redis::AsyncCommands;
        let mut conn = self.conn.clone();
        let items: Vec<(String, String)> = conn.hgetall(self.key("outbox:items")).await?;
        let mut out = Vec::new();
        for (id, json) in items {
            let due: Option<f64> = conn.zscore(self.key("outbox:due"), &id).await?;
            let entry: Entry =
                serde_json::from_str(&json).with_context(|| format!("outbox entry {id}"))?;
            out.push((entry, due.map_or(0, |d| d as i64)));
        }
        Ok(out)
    }

    /// Parked entries.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn parked(&self) -> anyhow::Result<Vec<Parked>> {
        use redis::AsyncCommands;
        let items: Vec<(String, String)> =
            self.conn.clone().hgetall(self.key("outbox:parked")).await?;
        items
            .into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).with_context(|| format!("parked entry {id}"))
            })
            .collect()
    }

    /// Puts a parked entry back in the queue, due now; `false` if there is no such entry.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn retry(&self, id: &str) -> anyhow::Result<bool> {
        use redis::AsyncCommands;
        let json: Option<String> = self
            .conn
            .clone()
            .hget(self.key("outbox:parked"), id)
            .await?;
        let Some(json) = json else {
            return Ok(false);
        };
        let parked: Parked = serde_json::from_str(&json)?;
        let mut entry = parked.entry;
        entry.last_error = Some(parked.error);
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.enqueue_in(&mut pipe, &entry)?;
        pipe.hdel(self.key("outbox:parked"), id).ignore();
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(true)
    }

    /// Numbers of waiting and parked requests.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn depth(&self) -> anyhow::Result<(i64, i64)> {
        use redis::AsyncCommands;
        let mut conn = self.conn.clone();
        let waiting: i64 = conn.zcard(self.key("outbox:due")).await?;
        let parked: i64 = conn.hlen(self.key("outbox:parked")).await?;
        Ok((waiting, parked))
    }

    /// The case number of a delivered request.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn delivered(&self, id: &str) -> anyhow::Result<Option<String>> {
        use redis::AsyncCommands;
        Ok(self
            .conn
            .clone()
            .get(self.key(&format!("delivered:{id}")))
            .await?)
    }
}
