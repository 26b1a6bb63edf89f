//! The Redis backend of [`crate::storage`].
//!
//! Keys (all under the configured prefix, so several bots or tests share one Redis):
//! - `session:<chat id>`: the chat's session as JSON, expiring after the draft TTL, and
//!   `session-rev:<chat id>`: its revision (a count of commits), expiring with it;
//! - `profile:<user id>`: the user's profile as JSON (language, identification), expiring
//!   after the profile retention, renewed on every read;
//! - `blocked:<chat id>`: the user blocked the bot; no messages until they write again
//!   (expiring like a profile);
//! - `sent:<user id>`: sorted set of the times the user sent requests, the last day;
//! - `mine:<user id>`: hash request id → (id, kind, time) of the user's requests, for
//!   `/status`, kept as long as case numbers;
//! - `outbox:items` (hash id → entry JSON), `outbox:due` (sorted set id → due ms),
//!   `outbox:held` (hash id → fencing token of its last claim), `outbox:token` (the
//!   counter tokens come from), `outbox:parked` (hash id → parked JSON),
//!   `delivered:<id>` (case number, 30 days);
//! - `case:<case id>`: the record of a case the bot created (JSON), kept 180 days, and
//!   `ucases:<user id>`: set of the user's case ids, its expiry renewed with every record
//!   written (ids whose record expired are skipped);
//! - `relay:items` (hash id → entry JSON), `relay:chain-of` (hash id → chain),
//!   `relay:chain:<chain>` (list of the chain's ids, oldest first), `relay:due` (sorted
//!   set of the chains' heads only, by due ms), `relay:held` (hash id → fencing token,
//!   from `outbox:token`), `relay:seen` (sorted set id → push ms, trimmed to 30 days on
//!   every push).
//!
//! Multi-key writes are MULTI/EXEC transactions; the read-then-write steps (claim, every
//! write of a held entry, every relay operation, forgetting a user) are Lua scripts, so
//! they are atomic for every client of the server. A few scripts reach keys they find on
//! the way (a chain's list, a user's case records) from a prefix: fine on one server,
//! not on a cluster (which the key layout does not aim at anyway).

use std::time::Duration;

use anyhow::Context;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{
    CASES_KEPT, CaseRecord, CommitAnswer, CommitRequest, MINE_KEPT, MyRequest, RawChat, Retention,
    SENDS_KEPT,
};
use crate::storage::outbox::{DELIVERED_TTL, Entry, Parked, now_ms, unpark};
use crate::storage::relay::SEEN_KEPT;

/// Claims due ids: KEYS = due, items, held, token counter; ARGV = now, until, max.
/// Returns the claim's token followed by the entries' JSON.
const CLAIM: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then
  return {0}
end
local token = redis.call('INCR', KEYS[4])
local out = {token}
for _, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', KEYS[3], id, token)
    table.insert(out, v)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
";

/// Writes a held entry: KEYS = items, due, held; ARGV = id, token, JSON or '', due or ''.
/// Returns 1 when the entry is held under the token (and was written), else 0.
const WRITE_HELD: &str = r"
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
";

/// Takes a held entry out of the queue: KEYS = items, due, held, target, case record,
/// user's case ids; ARGV = id, token, mode ('delivered' or 'parked'), value, ttl secs,
/// case record JSON or '', case id, case record ttl ms. Returns 1 when it was held under
/// the token, else 0 (nothing changes).
const FINISH_HELD: &str = r"
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if ARGV[3] == 'delivered' then
  redis.call('SET', KEYS[4], ARGV[4], 'EX', tonumber(ARGV[5]))
else
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[5], ARGV[6], 'PX', ARGV[8])
  redis.call('SADD', KEYS[6], ARGV[7])
  redis.call('PEXPIRE', KEYS[6], ARGV[8])
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
";

/// Adds a relay entry unless its id was seen: KEYS = items, chain-of, chain list, due,
/// seen; ARGV = id, chain, entry JSON, now ms, seen kept ms. Returns 1 when added, else 0.
const RELAY_PUSH: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[5]))
if redis.call('ZSCORE', KEYS[5], ARGV[1]) or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if redis.call('RPUSH', KEYS[3], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
end
return 1
";

/// Removes a held relay entry and makes the next of its chain due: KEYS = items, due,
/// held, chain-of; ARGV = id, token, now ms, prefix of chain lists. Returns 1 when it was
/// held under the token, else 0 (nothing changes).
const RELAY_DONE: &str = r"
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local chain = redis.call('HGET', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if chain then
  local list = ARGV[4] .. chain
  redis.call('LREM', list, 1, ARGV[1])
  local head = redis.call('LINDEX', list, 0)
  if head then
    redis.call('ZADD', KEYS[2], ARGV[3], head)
  end
end
return 1
";

/// Lists waiting relay entries: KEYS = items, chain-of; ARGV = prefix of chain lists.
/// Returns id, JSON, id, JSON… by chain name, each chain oldest first.
const RELAY_PENDING: &str = r"
local chains = {}
local seen = {}
for _, chain in ipairs(redis.call('HVALS', KEYS[2])) do
  if not seen[chain] then
    seen[chain] = true
    table.insert(chains, chain)
  end
end
table.sort(chains)
local out = {}
for _, chain in ipairs(chains) do
  for _, id in ipairs(redis.call('LRANGE', ARGV[1] .. chain, 0, -1)) do
    local v = redis.call('HGET', KEYS[1], id)
    if v then
      table.insert(out, id)
      table.insert(out, v)
    end
  end
end
return out
";

/// Deletes what is kept about a user and moves their chat's revision on (so no process
/// commits on a state it read before): KEYS = profile, blocked mark, requests, case ids,
/// the chat's revision; ARGV = prefix of case records.
const FORGET: &str = r"
for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('INCR', KEYS[5])
end
return 1
";

/// Commits a chat if its session is at the expected revision: KEYS = session, revision,
/// profile, outbox items, outbox due, sender's sends, sender's requests, blocked mark,
/// reader's sends; ARGV = expected revision, session JSON, draft TTL ms, profile JSON or
/// '', entry id or '', entry JSON, now ms, profile TTL ms, sends kept ms, request record
/// JSON, requests kept ms, '1' when the writer presumed a new chat (no session, profile
/// or recent sends either), '1' to renew the profile's expiry.
/// Returns {1, blocked} when written, else {0, blocked, session, revision, profile (its
/// expiry renewed), reader's recent sends with their times}: the state to step again on.
const COMMIT: &str = r"
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local since = tonumber(ARGV[7]) - tonumber(ARGV[9])
local stale = current ~= tonumber(ARGV[1])
if not stale and ARGV[12] == '1' then
  stale = redis.call('EXISTS', KEYS[1], KEYS[3]) > 0
    or redis.call('ZCOUNT', KEYS[9], since, '+inf') > 0
end
local blocked = redis.call('EXISTS', KEYS[8])
if stale then
  return {0, blocked, redis.call('GET', KEYS[1]), current,
    redis.call('GETEX', KEYS[3], 'PX', ARGV[8]),
    redis.call('ZRANGEBYSCORE', KEYS[9], since, '+inf', 'WITHSCORES')}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], current + 1, 'PX', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[8])
elseif ARGV[13] == '1' then
  redis.call('PEXPIRE', KEYS[3], ARGV[8])
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
  redis.call('ZADD', KEYS[5], ARGV[7], ARGV[5])
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', tonumber(ARGV[7]) - tonumber(ARGV[9]))
  redis.call('PEXPIRE', KEYS[6], ARGV[9])
  redis.call('HSET', KEYS[7], ARGV[5], ARGV[10])
  redis.call('PEXPIRE', KEYS[7], ARGV[11])
end
return {1, blocked}
";

/// The commit script, hashed once.
static COMMIT_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(COMMIT));

/// Milliseconds of a duration, at least 1.
fn as_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Store and outbox operations on one Redis, under one key prefix.
#[derive(Clone)]
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    retention: Retention,
}

impl RedisStore {
    /// Connects and checks the server answers.
    pub(crate) async fn connect(
        url: &str,
        prefix: &str,
        retention: Retention,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("Invalid REDIS_URL")?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let mut conn = client
            .get_connection_manager_with_config(config)
            .await
            .context("Failed to connect to Redis")?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .context("Redis did not answer PING")?;
        let store = Self {
            conn,
            prefix: prefix.to_owned(),
            retention,
        };
        store
            .load_scripts()
            .await
            .context("Redis did not load the scripts")?;
        Ok(store)
    }

    /// The key prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn ttl_ms(&self) -> u64 {
        as_ms(self.retention.draft)
    }

    fn profile_ttl_ms(&self) -> u64 {
        as_ms(self.retention.profile)
    }

    pub(crate) async fn load_session(&self, chat_id: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .get(self.key(&format!("session:{chat_id}")))
            .await?)
    }

    pub(crate) async fn load_profile(&self, user_id: u64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .get(self.key(&format!("profile:{user_id}")))
            .await?)
    }

    /// Session text, its revision, profile text (its expiry renewed), the blocked mark and
    /// the user's recent sends, in one round trip.
    pub(crate) async fn load_chat(&self, chat_id: i64, user_id: u64) -> anyhow::Result<RawChat> {
        type Row = (
            Option<String>,
            Option<u64>,
            Option<String>,
            Option<String>,
            Vec<(String, f64)>,
        );
        let since = now_ms() - i64::try_from(SENDS_KEPT.as_millis()).unwrap_or(i64::MAX);
        let (session, revision, profile, blocked, sent): Row = redis::pipe()
            .get(self.key(&format!("session:{chat_id}")))
            .get(self.key(&format!("session-rev:{chat_id}")))
            .cmd("GETEX")
            .arg(self.key(&format!("profile:{user_id}")))
            .arg("PX")
            .arg(self.profile_ttl_ms())
            .get(self.key(&format!("blocked:{chat_id}")))
            .cmd("ZRANGEBYSCORE")
            .arg(self.key(&format!("sent:{user_id}")))
            .arg(since)
            .arg("+inf")
            .arg("WITHSCORES")
            .query_async(&mut self.conn())
            .await?;
        let sent = sent.into_iter().map(|(_, at)| at as i64).collect();
        Ok((
            session,
            revision.unwrap_or(0),
            profile,
            blocked.is_some(),
            sent,
        ))
    }

    /// The records of the user's requests (JSON).
    pub(crate) async fn my_requests(&self, user_id: u64) -> anyhow::Result<Vec<String>> {
        Ok(self
            .conn()
            .hvals(self.key(&format!("mine:{user_id}")))
            .await?)
    }

    pub(crate) async fn forget(&self, user_id: u64, chat_id: i64) -> anyhow::Result<()> {
        let _: i32 = redis::Script::new(FORGET)
            .key(self.key(&format!("profile:{user_id}")))
            .key(self.key(&format!("blocked:{chat_id}")))
            .key(self.key(&format!("mine:{user_id}")))
            .key(self.key(&format!("ucases:{user_id}")))
            .key(self.key(&format!("session-rev:{chat_id}")))
            .arg(self.key("case:"))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Writes a case record and lists it under its user, both kept `CASES_KEPT`.
    pub(crate) async fn save_case(&self, record: &CaseRecord) -> anyhow::Result<()> {
        let kept = as_ms(CASES_KEPT);
        let user_cases = self.key(&format!("ucases:{}", record.user_id));
        let () = redis::pipe()
            .atomic()
            .pset_ex(
                self.key(&format!("case:{}", record.case_id)),
                serde_json::to_string(record)?,
                kept,
            )
            .ignore()
            .sadd(&user_cases, record.case_id)
            .ignore()
            .pexpire(&user_cases, i64::try_from(kept).unwrap_or(i64::MAX))
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// A case record (JSON).
    pub(crate) async fn case(&self, case_id: i64) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .get(self.key(&format!("case:{case_id}")))
            .await?)
    }

    /// The user's case records (JSON) that have not expired.
    pub(crate) async fn cases_of(&self, user_id: u64) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn();
        let ids: Vec<i64> = conn
            .smembers(self.key(&format!("ucases:{user_id}")))
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.key(&format!("case:{id}")))
            .collect();
        let records: Vec<Option<String>> =
            redis::cmd("MGET").arg(keys).query_async(&mut conn).await?;
        Ok(records.into_iter().flatten().collect())
    }

    pub(crate) async fn write_raw_session(&self, chat_id: i64, raw: &str) -> anyhow::Result<()> {
        let () = self
            .conn()
            .pset_ex(self.key(&format!("session:{chat_id}")), raw, self.ttl_ms())
            .await?;
        Ok(())
    }

    /// Commits `c` if the chat is still as its writer read it, in one round trip.
    pub(crate) async fn commit(&self, c: &CommitRequest<'_>) -> anyhow::Result<CommitAnswer> {
        let sender = c.outgoing.map_or(c.user_id, |e| e.outgoing.sender.id);
        let mut script = COMMIT_SCRIPT.prepare_invoke();
        script
            .key(self.key(&format!("session:{}", c.chat_id)))
            .key(self.key(&format!("session-rev:{}", c.chat_id)))
            .key(self.key(&format!("profile:{}", c.user_id)))
            .key(self.key("outbox:items"))
            .key(self.key("outbox:due"))
            .key(self.key(&format!("sent:{sender}")))
            .key(self.key(&format!("mine:{sender}")))
            .key(self.key(&format!("blocked:{}", c.chat_id)))
            .key(self.key(&format!("sent:{}", c.user_id)))
            .arg(c.revision)
            .arg(serde_json::to_string(c.session)?)
            .arg(self.ttl_ms())
            .arg(
                c.profile
                    .map(serde_json::to_string)
                    .transpose()?
                    .unwrap_or_default(),
            );
        match c.outgoing {
            Some(entry) => script.arg(entry.id()).arg(serde_json::to_string(entry)?),
            None => script.arg("").arg(""),
        };
        script
            .arg(now_ms())
            .arg(self.profile_ttl_ms())
            .arg(as_ms(SENDS_KEPT))
            .arg(match c.outgoing {
                Some(entry) => serde_json::to_string(&MyRequest::of(entry))?,
                None => String::new(),
            })
            .arg(as_ms(MINE_KEPT))
            .arg(if c.fresh { "1" } else { "" })
            .arg(if c.renew_profile { "1" } else { "" });
        let answer: Vec<redis::Value> = script.invoke_async(&mut self.conn()).await?;
        let mut values = answer.into_iter();
        let mut next = || {
            values
                .next()
                .context("the commit script answered too little")
        };
        let written: i64 = redis::from_redis_value(next()?)?;
        let blocked: i64 = redis::from_redis_value(next()?)?;
        if written == 1 {
            return Ok(CommitAnswer::Written {
                blocked: blocked == 1,
            });
        }
        let session: Option<String> = redis::from_redis_value(next()?)?;
        let revision: u64 = redis::from_redis_value(next()?)?;
        let profile: Option<String> = redis::from_redis_value(next()?)?;
        let sent: Vec<String> = redis::from_redis_value(next()?)?;
        let sent = sent
            .chunks(2)
            .filter_map(|pair| pair.get(1)?.parse::<f64>().ok())
            .map(|at| at as i64)
            .collect();
        Ok(CommitAnswer::Stale((
            session,
            revision,
            profile,
            blocked == 1,
            sent,
        )))
    }

    /// Loads the scripts an update uses, so that its first commit is one round trip.
    async fn load_scripts(&self) -> anyhow::Result<()> {
        COMMIT_SCRIPT.load_async(&mut self.conn()).await?;
        Ok(())
    }

    pub(crate) async fn ping(&self) -> anyhow::Result<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    pub(crate) async fn set_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        let () = self
            .conn()
            .pset_ex(
                self.key(&format!("blocked:{chat_id}")),
                1,
                self.profile_ttl_ms(),
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn clear_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        let () = self
            .conn()
            .del(self.key(&format!("blocked:{chat_id}")))
            .await?;
        Ok(())
    }

    pub(crate) async fn is_blocked(&self, chat_id: i64) -> anyhow::Result<bool> {
        Ok(self
            .conn()
            .exists(self.key(&format!("blocked:{chat_id}")))
            .await?)
    }

    // ---- outbox ----

    /// Adds the commands that enqueue `entry` (due now) to a transaction.
    fn enqueue_in(&self, pipe: &mut redis::Pipeline, entry: &Entry) -> anyhow::Result<()> {
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

    pub(crate) async fn enqueue(&self, entry: &Entry) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.enqueue_in(&mut pipe, entry)?;
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// The claim's token and the claimed entries' JSON.
    pub(crate) async fn claim(
        &self,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        self.claim_from("outbox", now, until, max).await
    }

    /// Claims from the queue whose keys start with `queue` (`outbox` or `relay`): the
    /// claim's token and the claimed entries' JSON.
    async fn claim_from(
        &self,
        queue: &str,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        let raw: Vec<redis::Value> = redis::Script::new(CLAIM)
            .key(self.key(&format!("{queue}:due")))
            .key(self.key(&format!("{queue}:items")))
            .key(self.key(&format!("{queue}:held")))
            .key(self.key("outbox:token"))
            .arg(now)
            .arg(until)
            .arg(max)
            .invoke_async(&mut self.conn())
            .await?;
        let mut values = raw.into_iter();
        let token: i64 = match values.next() {
            Some(v) => redis::from_redis_value(v)?,
            None => 0,
        };
        let entries = values
            .map(redis::from_redis_value::<String>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((token, entries))
    }

    /// Writes the JSON and/or the due time of an entry held under `token`.
    pub(crate) async fn write_held(
        &self,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        self.write_held_in("outbox", id, token, json, due_ms).await
    }

    /// Writes the JSON and/or the due time of an entry held under `token` in the queue
    /// whose keys start with `queue`.
    async fn write_held_in(
        &self,
        queue: &str,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        let written: i32 = redis::Script::new(WRITE_HELD)
            .key(self.key(&format!("{queue}:items")))
            .key(self.key(&format!("{queue}:due")))
            .key(self.key(&format!("{queue}:held")))
            .arg(id)
            .arg(token)
            .arg(json.unwrap_or_default())
            .arg(due_ms.map(|d| d.to_string()).unwrap_or_default())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(written == 1)
    }

    /// Takes an entry held under `token` out of the queue into `target` (see
    /// `FINISH_HELD`), writing the case record when given.
    async fn finish_held(
        &self,
        id: &str,
        token: i64,
        target: String,
        mode: &str,
        value: &str,
        record: Option<&CaseRecord>,
    ) -> anyhow::Result<bool> {
        let finish = redis::Script::new(FINISH_HELD);
        let mut script = finish.prepare_invoke();
        script
            .key(self.key("outbox:items"))
            .key(self.key("outbox:due"))
            .key(self.key("outbox:held"))
            .key(target);
        match record {
            Some(r) => script
                .key(self.key(&format!("case:{}", r.case_id)))
                .key(self.key(&format!("ucases:{}", r.user_id))),
            None => script.key(self.key("case:-")).key(self.key("ucases:-")),
        };
        script
            .arg(id)
            .arg(token)
            .arg(mode)
            .arg(value)
            .arg(DELIVERED_TTL.as_secs());
        match record {
            Some(r) => script
                .arg(serde_json::to_string(r)?)
                .arg(r.case_id)
                .arg(as_ms(CASES_KEPT)),
            None => script.arg("").arg(0).arg(0),
        };
        let done: i32 = script.invoke_async(&mut self.conn()).await?;
        Ok(done == 1)
    }

    pub(crate) async fn complete(
        &self,
        id: &str,
        token: i64,
        case_number: &str,
        record: Option<&CaseRecord>,
    ) -> anyhow::Result<bool> {
        self.finish_held(
            id,
            token,
            self.key(&format!("delivered:{id}")),
            "delivered",
            case_number,
            record,
        )
        .await
    }

    pub(crate) async fn park(&self, parked: &Parked, token: i64) -> anyhow::Result<bool> {
        let json = serde_json::to_string(parked)?;
        self.finish_held(
            parked.entry.id(),
            token,
            self.key("outbox:parked"),
            "parked",
            &json,
            None,
        )
        .await
    }

    /// Waiting entries as (id, JSON, due ms).
    pub(crate) async fn pending(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        type Items = (Vec<(String, String)>, Vec<(String, f64)>);
        let (items, due): Items = redis::pipe()
            .hgetall(self.key("outbox:items"))
            .zrange_withscores(self.key("outbox:due"), 0, -1)
            .query_async(&mut self.conn())
            .await?;
        let due: std::collections::HashMap<String, f64> = due.into_iter().collect();
        Ok(items
            .into_iter()
            .map(|(id, json)| {
                let at = due.get(&id).map_or(0, |d| *d as i64);
                (id, json, at)
            })
            .collect())
    }

    /// Parked entries as (id, JSON).
    pub(crate) async fn parked(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(self.conn().hgetall(self.key("outbox:parked")).await?)
    }

    pub(crate) async fn retry(&self, id: &str) -> anyhow::Result<bool> {
        let json: Option<String> = self.conn().hget(self.key("outbox:parked"), id).await?;
        let Some(json) = json else {
            return Ok(false);
        };
        let entry = unpark(&json)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.enqueue_in(&mut pipe, &entry)?;
        pipe.hdel(self.key("outbox:parked"), id).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(true)
    }

    pub(crate) async fn depth(&self) -> anyhow::Result<(i64, i64)> {
        let mut conn = self.conn();
        let waiting: i64 = conn.zcard(self.key("outbox:due")).await?;
        let parked: i64 = conn.hlen(self.key("outbox:parked")).await?;
        Ok((waiting, parked))
    }

    pub(crate) async fn delivered(&self, id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .get(self.key(&format!("delivered:{id}")))
            .await?)
    }

    // ---- relay ----

    pub(crate) async fn relay_push(
        &self,
        id: &str,
        chain: &str,
        json: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let added: i32 = redis::Script::new(RELAY_PUSH)
            .key(self.key("relay:items"))
            .key(self.key("relay:chain-of"))
            .key(self.key(&format!("relay:chain:{chain}")))
            .key(self.key("relay:due"))
            .key(self.key("relay:seen"))
            .arg(id)
            .arg(chain)
            .arg(json)
            .arg(now)
            .arg(as_ms(SEEN_KEPT))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(added == 1)
    }

    /// The claim's token and the claimed entries' JSON.
    pub(crate) async fn relay_claim(
        &self,
        now: i64,
        until: i64,
        max: usize,
    ) -> anyhow::Result<(i64, Vec<String>)> {
        self.claim_from("relay", now, until, max).await
    }

    /// Writes the JSON and/or the due time of an entry held under `token`.
    pub(crate) async fn relay_write_held(
        &self,
        id: &str,
        token: i64,
        json: Option<&str>,
        due_ms: Option<i64>,
    ) -> anyhow::Result<bool> {
        self.write_held_in("relay", id, token, json, due_ms).await
    }

    pub(crate) async fn relay_done(&self, id: &str, token: i64, now: i64) -> anyhow::Result<bool> {
        let done: i32 = redis::Script::new(RELAY_DONE)
            .key(self.key("relay:items"))
            .key(self.key("relay:due"))
            .key(self.key("relay:held"))
            .key(self.key("relay:chain-of"))
            .arg(id)
            .arg(token)
            .arg(now)
            .arg(self.key("relay:chain:"))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(done == 1)
    }

    /// Waiting entries as (id, JSON), by chain name, each chain oldest first.
    pub(crate) async fn relay_pending(&self) -> anyhow::Result<Vec<(String, String)>> {
        let flat: Vec<String> = redis::Script::new(RELAY_PENDING)
            .key(self.key("relay:items"))
            .key(self.key("relay:chain-of"))
            .arg(self.key("relay:chain:"))
            .invoke_async(&mut self.conn())
            .await?;
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut values = flat.into_iter();
        while let (Some(id), Some(json)) = (values.next(), values.next()) {
            pairs.push((id, json));
        }
        Ok(pairs)
    }

    pub(crate) async fn relay_depth(&self) -> anyhow::Result<i64> {
        Ok(self.conn().hlen(self.key("relay:items")).await?)
    }
}
