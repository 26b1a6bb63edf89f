//! The measurement plan for one bot, phase by phase.
//!
//! 1. **Calibration** (own bot process, Redis behind the counting [`RespProxy`]): one user
//!    walks two intakes one update at a time; before and after each update the proxy's
//!    counts are read, giving Redis commands and round trips per update, exactly.
//! 2. **Load** (own bot process, direct Redis): idle RSS one second after the bot polls;
//!    a closed-loop warm-up; the *offered-load* window (paced releases at a fixed rate,
//!    e.g. 1,000 updates/s, over a pool of users that each wait for the bot's answer);
//!    the *saturation* window (closed loop, many users). `INFO commandstats` is read
//!    around each window. Peak RSS is the kernel's `VmHWM` after both windows.
//! 3. **Attachments** (own bot process): after a plain warm-up the baseline RSS is read,
//!    then several users at once send 20 MB PNG documents that the bot must fetch from the
//!    fake Telegram and stream to the fake Omnidesk; RSS is sampled every 10 ms and the
//!    growth is `max(VmHWM, sampled peak) − baseline`.
//! 4. **Agent replies** (own bot process, this repository's bot only): see [`crate::relay`].
//! 5. **Fairness** with the default pacing (own bot process, this repository's bot only):
//!    see [`crate::fairness`].
//! 6. **Drafts** (own bot process, this repository's bot only): RSS with many chats that
//!    each started a draft; see [`crate::drafts`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::fake_omnidesk::{Omnidesk, Received};
use crate::fake_telegram::{Counters, Hub, Mode, Window};
use crate::peer::{BotProcess, Endpoints, Peer, PeerKind};
use crate::redis_probe::{self, CommandCounts, RespProxy};
use crate::scenario::device_malfunction;

/// How long and how hard to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Closed-loop warm-up before the windows.
    pub warmup: Duration,
    /// Length of each measurement window.
    pub window: Duration,
    /// Offered load, updates per second.
    pub offered_rate: u32,
    /// Users in the offered-load pool.
    pub offered_users: usize,
    /// Concurrent closed-loop users at saturation.
    pub saturation_users: usize,
    /// Intakes in the calibration run.
    pub calibration_intakes: usize,
    /// Concurrent intakes with attachments (0: no attachment test).
    pub attachment_intakes: usize,
    /// Documents per attachment intake.
    pub attachments_per_intake: usize,
    /// Size of each document, bytes.
    pub attachment_size: u64,
    /// Run only the attachment test.
    pub attachments_only: bool,
    /// Open cases seeded for the relay phase (0: no relay phase).
    pub relay_cases: usize,
    /// Concurrent webhook clients in the relay phase's saturation window.
    pub relay_clients: usize,
    /// Replies a second in the relay phase's paced window.
    pub relay_rate: u32,
    /// Users in each fairness window (0: no fairness phase).
    pub fair_users: usize,
    /// Updates a second the fairness users offer in all.
    pub fair_rate: u32,
    /// Length of each fairness window.
    pub fair_window: Duration,
    /// Updates a second of the flooding chat.
    pub flood_rate: u32,
    /// Chats that each start a draft in the drafts phase (0: no drafts phase).
    pub draft_chats: usize,
    /// Users under way at once in the drafts phase.
    pub draft_concurrency: usize,
}

/// Where things are.
#[derive(Debug, Clone)]
pub struct Env {
    /// Redis URL of the server to use.
    pub redis_url: String,
    /// Folder for configs and logs.
    pub work_dir: PathBuf,
    /// Distinguishes this run's Redis prefixes.
    pub run_id: String,
}

/// Redis use per update, from the counting proxy (one update in flight at a time).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Calibration {
    /// Updates measured.
    pub updates: u64,
    /// Mean round trips per update.
    pub round_trips_per_update: f64,
    /// Fewest and most round trips of one update.
    pub round_trips_min_max: (u64, u64),
    /// Mean commands per update.
    pub commands_per_update: f64,
    /// Commands per update, by command.
    pub commands_by_name: BTreeMap<String, f64>,
    /// Each update: (what the user did, round trips, commands in order of name).
    pub per_step: Vec<(String, u64, CommandCounts)>,
    /// Each update: of its round trips, the queue workers' own claims (a delivery or relay
    /// worker polling its queue on its clock, which happened to fall in the update's window).
    pub queue_claims_per_step: Vec<u64>,
    /// Latency of each step with one update in flight (Redis behind the proxy).
    pub unloaded: Window,
}

/// Redis commands per update during a load window (`INFO commandstats`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedisUse {
    /// Updates completed between the two reads.
    pub updates: u64,
    /// Commands per update.
    pub commands_per_update: f64,
    /// Commands per update, by command.
    pub by_name: BTreeMap<String, f64>,
}

/// The bot's CPU use during a window (`/proc/<pid>/stat`, 10 ms ticks).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    /// Cores busy on average.
    pub cores: f64,
    /// CPU milliseconds per completed update.
    pub ms_per_update: f64,
    /// Cores the bench itself (fakes and users) kept busy meanwhile.
    pub harness_cores: f64,
}

struct CpuMark {
    bot: u64,
    me: u64,
}

impl CpuMark {
    fn now(bot: &BotProcess) -> Self {
        Self {
            bot: bot.cpu_ticks(),
            me: crate::peer::cpu_ticks(std::process::id()).unwrap_or(0),
        }
    }

    fn since(&self, bot: &BotProcess, w: &Window) -> CpuUse {
        let now = Self::now(bot);
        let ms = now.bot.saturating_sub(self.bot) as f64 * 10.0;
        let secs = w.secs.max(1e-9);
        CpuUse {
            cores: ms / 1000.0 / secs,
            ms_per_update: ms / (w.updates.max(1) as f64),
            harness_cores: now.me.saturating_sub(self.me) as f64 * 10.0 / 1000.0 / secs,
        }
    }
}

/// The attachment test.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attachments {
    /// Intakes run at once.
    pub intakes: usize,
    /// Documents forwarded in total.
    pub files: usize,
    /// Size of each, bytes.
    pub file_size: u64,
    /// Bytes the fake Telegram served.
    pub downloaded: u64,
    /// What the fake Omnidesk received.
    pub received: Received,
    /// Seconds from the first update to the last case.
    pub secs: f64,
    /// RSS before the transfer, KiB.
    pub baseline_rss_kib: u64,
    /// Highest RSS seen during the transfer (sampled or `VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// `peak − baseline`, MiB.
    pub growth_mib: f64,
}

/// Everything measured for one bot.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerReport {
    /// Which bot.
    pub name: String,
    /// Which bot, for the report's columns and ratios.
    pub kind: PeerKind,
    /// Redis per update, exact.
    pub calibration: Calibration,
    /// RSS one second after start, KiB.
    pub idle_rss_kib: u64,
    /// Offered-load window.
    pub offered: Window,
    /// Redis during the offered-load window.
    pub offered_redis: RedisUse,
    /// The bot's CPU during the offered-load window.
    pub offered_cpu: CpuUse,
    /// Saturation window.
    pub saturation: Window,
    /// Redis during the saturation window.
    pub saturation_redis: RedisUse,
    /// The bot's CPU during the saturation window.
    pub saturation_cpu: CpuUse,
    /// `VmHWM` after the windows, KiB.
    pub peak_rss_kib: u64,
    /// RSS two seconds after the load stopped, KiB.
    pub rss_after_load_kib: u64,
    /// Users whose update got no complete answer by the end of a phase.
    pub stalled: usize,
    /// Intakes completed in the load process.
    pub intakes: u64,
    /// Cases the fake Omnidesk created in the load process.
    pub cases: u64,
    /// Bot API calls in the load process.
    pub calls: Counters,
    /// The attachment test, when run.
    pub attachments: Option<Attachments>,
    /// Agents' replies relayed, when run.
    pub relay: Option<crate::relay::RelayReport>,
    /// Fairness with the default pacing, when run.
    pub fairness: Option<crate::fairness::Fairness>,
    /// RSS with many drafts, when run.
    pub drafts: Option<crate::drafts::Drafts>,
}

/// The fake Bot API and the fake Omnidesk of one bot process.
pub(crate) struct Fakes {
    pub(crate) hub: Arc<Hub>,
    omnidesk: Arc<Omnidesk>,
    tg_url: String,
    od_url: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Fakes {
    pub(crate) async fn start(
        script: Vec<crate::scenario::Step>,
        attachment_size: u64,
    ) -> anyhow::Result<Self> {
        let hub = Hub::new(script, attachment_size);
        let (tg, tg_task) = hub.serve().await?;
        let (omnidesk, od, od_task) = Omnidesk::start().await?;
        Ok(Self {
            hub,
            omnidesk,
            tg_url: format!("http://{tg}"),
            od_url: format!("http://{od}"),
            tasks: vec![tg_task, od_task],
        })
    }

    pub(crate) fn endpoints(&self, redis: &str, prefix: &str) -> Endpoints {
        Endpoints {
            telegram: self.tg_url.clone(),
            omnidesk: self.od_url.clone(),
            redis: redis.to_owned(),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for Fakes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `redis://[auth@]host:port[/db]` → (`redis://[auth@]`, `host:port`, `[/db…]`).
pub fn split_redis_url(url: &str) -> anyhow::Result<(String, String, String)> {
    let (scheme, rest) = url
        .split_once("://")
        .context("REDIS_URL must look like redis://host:port")?;
    if scheme != "redis" {
        bail!("the bench supports redis:// URLs only (got {scheme}://)");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (auth, hostport) = match authority.rsplit_once('@') {
        Some((a, h)) => (format!("{a}@"), h),
        None => (String::new(), authority),
    };
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:6379")
    };
    Ok((format!("redis://{auth}"), hostport, path.to_owned()))
}

pub(crate) fn prefix(env: &Env, peer: &Peer, phase: &str) -> String {
    let tag = match peer {
        Peer::Rust { .. } => "rs",
        Peer::Teloxide { .. } => "tx",
        Peer::Aiogram { .. } => "ai",
    };
    format!("bench-{}-{tag}-{phase}:", env.run_id)
}

pub(crate) async fn redis_conn(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).context("invalid REDIS_URL")?;
    client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")
}

pub(crate) async fn wait_for(mut done: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs every phase for `peer`.
///
/// # Errors
///
/// A bot or a fake could not start, or Redis is unreachable.
pub async fn run_peer(peer: &Peer, plan: &Plan, env: &Env) -> anyhow::Result<PeerReport> {
    let mut report = PeerReport {
        name: peer.name().to_owned(),
        kind: peer.kind(),
        ..PeerReport::default()
    };
    if !plan.attachments_only {
        eprintln!("[{}] calibration: Redis per update", peer.name());
        report.calibration = calibrate(peer, plan, env).await?;
        eprintln!("[{}] load", peer.name());
        load(peer, plan, env, &mut report).await?;
        if matches!(peer, Peer::Rust { .. }) && plan.relay_cases > 0 {
            eprintln!(
                "[{}] agent replies: {} open cases, {} webhook clients for {:?}",
                peer.name(),
                plan.relay_cases,
                plan.relay_clients,
                plan.window
            );
            report.relay = Some(crate::relay::run(peer, plan, env).await?);
        }
        if matches!(peer, Peer::Rust { .. }) && plan.fair_users > 0 {
            eprintln!("[{}] fairness, default pacing", peer.name());
            report.fairness = Some(crate::fairness::run(peer, plan, env).await?);
        }
        if matches!(peer, Peer::Rust { .. }) && plan.draft_chats > 0 {
            eprintln!(
                "[{}] drafts: {} chats each start a draft, {} at once",
                peer.name(),
                plan.draft_chats,
                plan.draft_concurrency
            );
            report.drafts = Some(
                crate::drafts::run(peer, plan.draft_chats, plan.draft_concurrency, env).await?,
            );
        }
    }
    if plan.attachment_intakes > 0 && matches!(peer, Peer::Rust { .. }) {
        eprintln!("[{}] attachments", peer.name());
        report.attachments = Some(attachments(peer, plan, env).await?);
    }
    Ok(report)
}

async fn calibrate(peer: &Peer, plan: &Plan, env: &Env) -> anyhow::Result<Calibration> {
    let script = device_malfunction(0);
    let labels: Vec<String> = script.iter().map(crate::scenario::Step::label).collect();
    let steps = script.len();
    let fakes = Fakes::start(script, 0).await?;
    let (head, hostport, tail) = split_redis_url(&env.redis_url)?;
    let upstream = tokio::net::lookup_host(&hostport)
        .await?
        .next()
        .context("Redis host does not resolve")?;
    let proxy = RespProxy::start(upstream).await?;
    let proxied = format!("{head}{}{tail}", proxy.addr);
    let pfx = prefix(env, peer, "cal");
    let bot = BotProcess::start(
        peer,
        &fakes.endpoints(&proxied, &pfx),
        &env.work_dir,
        &fakes.hub,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    fakes.hub.start_users(1, Mode::Paced);
    fakes.hub.begin_window();
    let mut cal = Calibration::default();
    let mut total = redis_probe::ProxyCounts::default();
    for i in 0..plan.calibration_intakes * steps {
        let before = proxy.counts();
        let done = fakes.hub.completed();
        fakes.hub.pace(1);
        if !wait_for(|| fakes.hub.completed() > done, Duration::from_secs(15)).await {
            bot.stop().await;
            bail!(
                "{}: calibration update {i} ({}) got no complete answer in 15 s",
                peer.name(),
                labels[i % steps]
            );
        }
        // Let writes that trail the answer land in this update's count.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let d = proxy.counts().since(&before);
        cal.per_step
            .push((labels[i % steps].clone(), d.round_trips, d.commands.clone()));
        cal.queue_claims_per_step.push(d.queue_claims);
        total.round_trips += d.round_trips;
        for (k, v) in d.commands {
            *total.commands.entry(k).or_default() += v;
        }
    }
    cal.unloaded = fakes.hub.end_window();
    fakes.hub.drain(Duration::from_secs(5)).await;
    bot.stop().await;
    cleanup(env, peer, &pfx, &fakes.hub).await;
    let n = cal.per_step.len() as u64;
    cal.updates = n;
    let per = |x: u64| x as f64 / n.max(1) as f64;
    cal.round_trips_per_update = per(total.round_trips);
    cal.commands_per_update = per(total.total_commands());
    cal.commands_by_name = total
        .commands
        .iter()
        .map(|(k, &v)| (k.clone(), per(v)))
        .collect();
    let rts = cal.per_step.iter().map(|(_, r, _)| *r);
    cal.round_trips_min_max = (rts.clone().min().unwrap_or(0), rts.max().unwrap_or(0));
    Ok(cal)
}

/// Deletes the phase's keys: those under its prefix and, for the teloxide peer, whose
/// `RedisStorage` has no prefix, the dialogues of the phase's chats (keyed by bare chat
/// id; finished intakes have already deleted theirs).
pub(crate) async fn cleanup(env: &Env, peer: &Peer, pfx: &str, hub: &Hub) {
    let Ok(mut conn) = redis_conn(&env.redis_url).await else {
        eprintln!("warning: could not connect to Redis to delete {pfx}* keys");
        return;
    };
    if let Err(e) = redis_probe::delete_prefix(&mut conn, pfx).await {
        eprintln!("warning: could not delete {pfx}* keys: {e:#}");
    }
    if peer.kind() == PeerKind::Teloxide {
        let chats: Vec<i64> = hub.chat_ids().collect();
        for chunk in chats.chunks(1000) {
            if let Err(e) = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async::<u64>(&mut conn)
                .await
            {
                eprintln!("warning: could not delete the teloxide peer's dialogues: {e:#}");
                return;
            }
        }
    }
}

async fn redis_use(
    conn: &mut redis::aio::MultiplexedConnection,
    before: &CommandCounts,
    updates: u64,
) -> anyhow::Result<RedisUse> {
    let after = redis_probe::command_stats(conn).await?;
    let d = redis_probe::delta(before, &after);
    let per = |x: u64| x as f64 / updates.max(1) as f64;
    Ok(RedisUse {
        updates,
        commands_per_update: per(d.values().sum()),
        by_name: d.iter().map(|(k, &v)| (k.clone(), per(v))).collect(),
    })
}

pub(crate) async fn paced(hub: &Hub, rate: u32, window: Duration) {
    let start = Instant::now();
    let mut issued = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while start.elapsed() < window {
        tick.tick().await;
        let due = (f64::from(rate) * start.elapsed().as_secs_f64()) as u64;
        if due > issued {
            hub.pace(due - issued);
            issued = due;
        }
    }
}

async fn load(peer: &Peer, plan: &Plan, env: &Env, report: &mut PeerReport) -> anyhow::Result<()> {
    let fakes = Fakes::start(device_malfunction(0), 0).await?;
    let hub = &fakes.hub;
    let pfx = prefix(env, peer, "load");
    let mut conn = redis_conn(&env.redis_url).await?;
    let bot = BotProcess::start(
        peer,
        &fakes.endpoints(&env.redis_url, &pfx),
        &env.work_dir,
        hub,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.idle_rss_kib = bot.memory().rss_kib;

    hub.start_users(plan.saturation_users, Mode::Closed);
    tokio::time::sleep(plan.warmup).await;
    report.stalled += hub.drain(Duration::from_secs(10)).await;

    eprintln!(
        "[{}]   offered load {} updates/s for {:?}",
        peer.name(),
        plan.offered_rate,
        plan.window
    );
    let before = redis_probe::command_stats(&mut conn).await?;
    let done = hub.completed();
    let cpu = CpuMark::now(&bot);
    hub.begin_window();
    hub.start_users(plan.offered_users, Mode::Paced);
    paced(hub, plan.offered_rate, plan.window).await;
    report.offered = hub.end_window();
    report.offered_cpu = cpu.since(&bot, &report.offered);
    report.stalled += hub.drain(Duration::from_secs(10)).await;
    report.offered_redis = redis_use(&mut conn, &before, hub.completed() - done).await?;

    eprintln!(
        "[{}]   saturation, {} users for {:?}",
        peer.name(),
        plan.saturation_users,
        plan.window
    );
    let before = redis_probe::command_stats(&mut conn).await?;
    let done = hub.completed();
    let cpu = CpuMark::now(&bot);
    hub.begin_window();
    hub.start_users(plan.saturation_users, Mode::Closed);
    tokio::time::sleep(plan.window).await;
    report.saturation = hub.end_window();
    report.saturation_cpu = cpu.since(&bot, &report.saturation);
    report.stalled += hub.drain(Duration::from_secs(10)).await;
    report.saturation_redis = redis_use(&mut conn, &before, hub.completed() - done).await?;

    report.peak_rss_kib = bot.memory().hwm_kib;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.rss_after_load_kib = bot.memory().rss_kib;
    report.intakes = hub.intakes();
    report.calls = hub.counters();
    // Deliveries finish before the last answers, but give stragglers a moment.
    wait_for(
        || fakes.omnidesk.received().cases >= report.intakes,
        Duration::from_secs(5),
    )
    .await;
    report.cases = fakes.omnidesk.received().cases;
    bot.stop().await;
    cleanup(env, peer, &pfx, hub).await;
    Ok(())
}

async fn attachments(peer: &Peer, plan: &Plan, env: &Env) -> anyhow::Result<Attachments> {
    let fakes = Fakes::start(device_malfunction(0), plan.attachment_size).await?;
    let hub = &fakes.hub;
    let pfx = prefix(env, peer, "files");
    let bot = BotProcess::start(
        peer,
        &fakes.endpoints(&env.redis_url, &pfx),
        &env.work_dir,
        hub,
    )
    .await?;
    // Warm up with plain intakes so the baseline includes the ordinary working set.
    hub.start_users(16, Mode::Closed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hub.drain(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = bot.memory().rss_kib;
    let cases_before = fakes.omnidesk.received();

    hub.set_script(device_malfunction(plan.attachments_per_intake), true);
    let peak = Arc::new(AtomicU64::new(baseline));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (Arc::clone(&peak), Arc::clone(&stop), bot.pid);
        tokio::spawn(async move {
            // At most 10 minutes of samples.
            for _ in 0..60_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Some(m) = crate::peer::Memory::of(pid) {
                    peak.fetch_max(m.rss_kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let start = Instant::now();
    let intakes_before = hub.intakes();
    hub.start_users(plan.attachment_intakes, Mode::Closed);
    let finished = wait_for(
        || hub.intakes() >= intakes_before + plan.attachment_intakes as u64,
        Duration::from_secs(120),
    )
    .await;
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let hwm = bot.memory().hwm_kib;
    hub.drain(Duration::from_secs(5)).await;
    let received = fakes.omnidesk.received();
    let downloaded = hub.counters().downloaded;
    bot.stop().await;
    cleanup(env, peer, &pfx, hub).await;
    if !finished {
        bail!(
            "{}: the attachment intakes did not finish in 120 s (unknown calls: {:?})",
            peer.name(),
            hub.counters().unknown
        );
    }
    let peak_kib = peak.load(Ordering::Relaxed).max(hwm);
    Ok(Attachments {
        intakes: plan.attachment_intakes,
        files: plan.attachment_intakes * plan.attachments_per_intake,
        file_size: plan.attachment_size,
        downloaded,
        received: Received {
            cases: received.cases - cases_before.cases,
            bytes: received.bytes - cases_before.bytes,
            largest: received.largest,
            rejected: received.rejected - cases_before.rejected,
        },
        secs,
        baseline_rss_kib: baseline,
        peak_rss_kib: peak_kib,
        growth_mib: peak_kib.saturating_sub(baseline) as f64 / 1024.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls_split_around_host_and_port() {
        let (h, hp, t) = split_redis_url("redis://127.0.0.1:6379").expect("url");
        assert_eq!(
            (h.as_str(), hp.as_str(), t.as_str()),
            ("redis://", "127.0.0.1:6379", "")
        );
        let (h, hp, t) = split_redis_url("redis://:pw@localhost/2").expect("url");
        assert_eq!(
            (h.as_str(), hp.as_str(), t.as_str()),
            ("redis://:pw@", "localhost:6379", "/2")
        );
        assert!(split_redis_url("rediss://x:1").is_err());
    }
}
