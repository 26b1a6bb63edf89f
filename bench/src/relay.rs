//! Agents' replies relayed into Telegram (this repository's bot only; the peers have no
//! such feature).
//!
//! The bot runs with `OMNIDESK_WEBHOOK_SECRET` and `WEBHOOK_ADDR`, so it serves the
//! Omnidesk channel webhook `POST /omnidesk/<secret>`. The phase:
//!
//! 1. **Open cases.** After the bot polls, `INFO memory`'s `used_memory` and the bot's RSS
//!    are read; then [`Store::save_case`](waviot_support_bot::storage::Store::save_case)
//!    (the bot's own storage code, on the bot's key prefix) writes one case record for
//!    each of `cases` synthetic users, and both are read again. The difference is the
//!    memory cost of that many open cases.
//! 2. **Replies at saturation.** `clients` tasks each POST one reply after another
//!    (`{"type":"message_new","object":{…}}`, JSON), each with a new `message_id`, to the
//!    cases in turn, for the window. A client's clock runs from just before the POST to
//!    the answer (200 expected); the fake Telegram's clock of the same reply runs from the
//!    same instant to the `sendMessage` in the case's chat whose text carries the reply's
//!    mark ([`RELAY_MARK`]). Replies per second are the replies that reached their chat
//!    within the window, over the window. After the window the phase waits (at most 15 s)
//!    for the rest, so the latency covers every reply posted.
//! 3. **Replies at a fixed rate.** The same, but one reply is posted every `1/rate`
//!    seconds, each in its own task, whatever the earlier ones are doing: at saturation
//!    the webhook takes replies faster than they are sent on, so the relay latency there
//!    is mostly the queue; below saturation it is the relay's own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use waviot_support_bot::storage::{CaseRecord, Store};

use crate::fake_telegram::{FIRST_USER, Hub, RELAY_MARK, Relayed};
use crate::peer::{BotProcess, Peer, Tuning};
use crate::run::{Env, Fakes, Plan, cleanup, prefix, redis_conn, wait_for};
use crate::scenario::device_malfunction;
use crate::stats::{Samples, Summary};

/// The webhook's secret path part in the bench (16+ characters of `[A-Za-z0-9_-]`).
const SECRET: &str = "bench-relay-secret-0123456789";

/// The first synthetic user (and chat) of the open cases, after the intake users'.
const FIRST_CASE_USER: i64 = FIRST_USER + 50_000_000;

/// One window of replies posted to the webhook.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayWindow {
    /// Window length, seconds.
    pub secs: f64,
    /// Replies posted in the window.
    pub posted: u64,
    /// Webhook answers other than 200 (and failed requests).
    pub rejected: u64,
    /// Replies that reached their chat within the window, per second.
    pub replies_per_sec: f64,
    /// POST → 200 answer, client side.
    pub answer: Summary,
    /// POST → `sendMessage` at the fake Telegram, and how many arrived in the end.
    pub relayed: Relayed,
}

/// The relay phase's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayReport {
    /// Open cases seeded.
    pub cases: usize,
    /// Concurrent webhook clients at saturation.
    pub clients: usize,
    /// Replies a second posted in the paced window.
    pub rate: u32,
    /// Clients posting as fast as the webhook answers.
    pub saturation: RelayWindow,
    /// Replies posted at `rate`.
    pub offered: RelayWindow,
    /// `used_memory` before seeding, bytes.
    pub redis_before: u64,
    /// `used_memory` after seeding, bytes.
    pub redis_after: u64,
    /// The bot's RSS before seeding, KiB.
    pub rss_before_kib: u64,
    /// The bot's RSS after seeding, KiB.
    pub rss_after_seeding_kib: u64,
    /// The bot's RSS after the replies, KiB.
    pub rss_after_replies_kib: u64,
}

impl RelayReport {
    /// Redis `used_memory` growth for the seeded cases, bytes per 10,000 cases.
    pub fn redis_per_10k(&self) -> f64 {
        self.redis_after.saturating_sub(self.redis_before) as f64 * 10_000.0
            / self.cases.max(1) as f64
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `INFO memory`'s `used_memory`, bytes.
pub(crate) async fn used_memory(
    conn: &mut redis::aio::MultiplexedConnection,
) -> anyhow::Result<u64> {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .context("INFO memory has no used_memory")
}

fn case_record(i: usize) -> CaseRecord {
    let user = FIRST_CASE_USER + i as i64;
    CaseRecord {
        case_id: i as i64 + 1,
        case_number: format!("BENCH-R{}", i + 1),
        request_id: format!("bench-relay-{i}"),
        kind: "device-malfunction".to_owned(),
        user_id: user as u64,
        chat_id: user,
        lang: "ru".to_owned(),
        sent_at_ms: 1_700_000_000_000,
        first_reply_ms: None,
        status: None,
        reaction_due_ms: None,
    }
}

/// The channel webhook's body for reply `n` to case `i`.
fn reply_body(n: u64, i: usize) -> String {
    let record = case_record(i);
    serde_json::json!({
        "type": "message_new",
        "object": {
            "message_id": n + 1,
            "case_id": record.case_id,
            "staff_id": 42,
            "custom_user_id": record.user_id.to_string(),
            "content": format!("Проверили модем, {RELAY_MARK}{n} — связь восстановлена."),
            "note": 0,
        }
    })
    .to_string()
}

/// Runs the phase for `peer` (this repository's bot).
///
/// # Errors
///
/// The bot, a fake or Redis failed, or the webhook never answered.
pub async fn run(peer: &Peer, plan: &Plan, env: &Env) -> anyhow::Result<RelayReport> {
    let fakes = Fakes::start(device_malfunction(0), 0).await?;
    let hub = &fakes.hub;
    let pfx = prefix(env, peer, "relay");
    let port = free_port()?;
    let tuning = Tuning {
        env: vec![
            ("OMNIDESK_WEBHOOK_SECRET".to_owned(), SECRET.to_owned()),
            ("WEBHOOK_ADDR".to_owned(), format!("127.0.0.1:{port}")),
        ],
        ..Tuning::lifted()
    };
    let bot = BotProcess::start_tuned(
        peer,
        &fakes.endpoints(&env.redis_url, &pfx),
        &env.work_dir,
        hub,
        &tuning,
    )
    .await?;
    let result = measure(&bot, hub, plan, env, &pfx, port).await;
    bot.stop().await;
    cleanup(env, peer, &pfx, hub).await;
    result
}

async fn measure(
    bot: &BotProcess,
    hub: &Arc<Hub>,
    plan: &Plan,
    env: &Env,
    pfx: &str,
    port: u16,
) -> anyhow::Result<RelayReport> {
    let addr = format!("127.0.0.1:{port}");
    let listening = wait_for_port(&addr, Duration::from_secs(10)).await;
    if !listening {
        bail!("the bot does not serve WEBHOOK_ADDR {addr}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut conn = redis_conn(&env.redis_url).await?;
    let mut report = RelayReport {
        cases: plan.relay_cases,
        clients: plan.relay_clients,
        rate: plan.relay_rate,
        redis_before: used_memory(&mut conn).await?,
        rss_before_kib: bot.memory().rss_kib,
        ..RelayReport::default()
    };
    let store = Store::connect(&env.redis_url, pfx, Duration::from_secs(7 * 24 * 3600)).await?;
    futures::stream::iter(0..plan.relay_cases)
        .map(|i| {
            let store = store.clone();
            async move { store.save_case(&case_record(i)).await }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await
        .context("seeding case records")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.redis_after = used_memory(&mut conn).await?;
    report.rss_after_seeding_kib = bot.memory().rss_kib;

    let poster = Poster {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(plan.relay_clients.max(64))
            .timeout(Duration::from_secs(10))
            .build()?,
        url: format!("http://{addr}/omnidesk/{SECRET}"),
        hub: Arc::clone(hub),
        cases: plan.relay_cases.max(1) as u64,
        next: Arc::new(AtomicU64::new(0)),
    };
    report.saturation = poster.saturate(plan.relay_clients, plan.window).await?;
    report.offered = poster.paced(plan.relay_rate, plan.window).await;
    report.rss_after_replies_kib = bot.memory().rss_kib;
    Ok(report)
}

/// Posts replies to the webhook, numbered across windows so none is a duplicate.
#[derive(Clone)]
struct Poster {
    http: reqwest::Client,
    url: String,
    hub: Arc<Hub>,
    cases: u64,
    next: Arc<AtomicU64>,
}

impl Poster {
    /// Posts the next reply; its answer latency when the webhook answered 200.
    async fn post(&self) -> Option<Duration> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let i = (n % self.cases) as usize;
        let body = reply_body(n, i);
        let t0 = Instant::now();
        self.hub.relay_posted(n, FIRST_CASE_USER + i as i64, t0);
        let answer = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .ok()?;
        let ok = answer.status().is_success();
        let _ = answer.bytes().await;
        ok.then(|| t0.elapsed())
    }

    /// `clients` tasks each post one reply after another for `window`.
    async fn saturate(&self, clients: usize, window: Duration) -> anyhow::Result<RelayWindow> {
        self.hub.relay_reset();
        let stop = Arc::new(AtomicBool::new(false));
        let first = self.next.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (me, stop) = (self.clone(), Arc::clone(&stop));
            tasks.push(tokio::spawn(async move {
                let (mut answers, mut rejected) = (Samples::default(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    match me.post().await {
                        Some(d) => answers.push(d),
                        None => rejected += 1,
                    }
                }
                (answers, rejected)
            }));
        }
        tokio::time::sleep(window).await;
        stop.store(true, Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let in_window = self.hub.relay_arrived();
        let (mut answers, mut rejected) = (Samples::default(), 0);
        for t in tasks {
            let (a, r) = t.await?;
            answers.extend(&a);
            rejected += r;
        }
        Ok(self.finish(secs, first, in_window, answers, rejected).await)
    }

    /// Posts `rate` replies a second, each in its own task, for `window`.
    async fn paced(&self, rate: u32, window: Duration) -> RelayWindow {
        self.hub.relay_reset();
        let answers = Arc::new(Mutex::new((Samples::default(), 0u64)));
        let first = self.next.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut issued = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while start.elapsed() < window {
            tick.tick().await;
            let due = (f64::from(rate) * start.elapsed().as_secs_f64()) as u64;
            for _ in issued..due {
                let (me, answers) = (self.clone(), Arc::clone(&answers));
                tasks.spawn(async move {
                    let answer = me.post().await;
                    let mut a = answers.lock().unwrap_or_else(PoisonError::into_inner);
                    match answer {
                        Some(d) => a.0.push(d),
                        None => a.1 += 1,
                    }
                });
            }
            issued = issued.max(due);
        }
        let secs = start.elapsed().as_secs_f64();
        let in_window = self.hub.relay_arrived();
        while tasks.join_next().await.is_some() {}
        let (answers, rejected) =
            std::mem::take(&mut *answers.lock().unwrap_or_else(PoisonError::into_inner));
        self.finish(secs, first, in_window, answers, rejected).await
    }

    /// Waits for the replies still on their way (at most three times the window, and at
    /// least 15 s: a saturation window leaves a backlog the next window must not inherit)
    /// and sums the window up.
    async fn finish(
        &self,
        secs: f64,
        first: u64,
        in_window: u64,
        mut answers: Samples,
        rejected: u64,
    ) -> RelayWindow {
        let posted = self.next.load(Ordering::Relaxed) - first;
        wait_for(
            || self.hub.relay_arrived() + rejected >= posted,
            Duration::from_secs_f64((secs * 3.0).max(15.0)),
        )
        .await;
        RelayWindow {
            secs,
            posted,
            rejected,
            replies_per_sec: in_window as f64 / secs.max(1e-9),
            answer: answers.summary(),
            relayed: self.hub.relayed(),
        }
    }
}

async fn wait_for_port(addr: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_names_its_case_and_user_and_carries_its_mark() {
        let body: serde_json::Value =
            serde_json::from_str(&reply_body(7, 3)).expect("the body is JSON");

        let object = &body["object"];
        assert_eq!(body["type"], "message_new");
        assert_eq!(object["message_id"], 8);
        assert_eq!(object["case_id"], 4);
        assert_eq!(object["custom_user_id"], (FIRST_CASE_USER + 3).to_string());
        assert!(
            object["content"]
                .as_str()
                .is_some_and(|c| c.contains("bench-reply-7 "))
        );
        assert_eq!(case_record(3).chat_id, FIRST_CASE_USER + 3);
    }
}
