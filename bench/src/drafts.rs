//! RSS with many drafts: is the bot's cache of chat states bounded? (This repository's
//! bot only: the peers keep no such cache.)
//!
//! The bot runs with its default `session-cache-chats` (pacing and guards lifted, as in
//! the load phases). `chats` distinct synthetic users each start a draft, `/start`, then
//! `g:devices`, then `k:device-malfunction`, until the bot asks the first step (the first
//! three steps of [`device_malfunction`], with their conditions), and leave it there; at
//! most `concurrency` users are under way at once, each replaced by a new user when its
//! draft is started (a closed loop). The bot's RSS is read one second after it polls
//! (idle) and two seconds after the last draft (after), `VmHWM` gives the peak, and
//! `INFO memory`'s `used_memory` is read before and after (the drafts live in Redis).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fake_telegram::Mode;
use crate::peer::BotProcess;
use crate::peer::Peer;
use crate::relay::used_memory;
use crate::run::{Env, Fakes, cleanup, prefix, redis_conn};
use crate::scenario::device_malfunction;

/// Steps of a started draft: `/start`, `g:devices`, `k:device-malfunction`.
pub const DRAFT_STEPS: usize = 3;

/// The drafts phase's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drafts {
    /// Chats asked for.
    pub chats: usize,
    /// Chats whose draft was started (the bot asked the first step).
    pub started: u64,
    /// Users under way at once.
    pub concurrency: usize,
    /// The bot's `session-cache-chats` (its default).
    pub cache_chats: usize,
    /// Seconds from the first update to the last draft.
    pub secs: f64,
    /// RSS one second after the bot polls, KiB.
    pub rss_idle_kib: u64,
    /// Drafts started when RSS was read under load once the cache had surely filled (at
    /// twice its size); 0 when `chats` is not above that.
    pub bound_mark: u64,
    /// RSS at `bound_mark` drafts, under load, KiB.
    pub rss_at_mark_kib: u64,
    /// RSS right after the last draft, under load, KiB.
    pub rss_at_end_kib: u64,
    /// `VmHWM` after the drafts, KiB.
    pub peak_rss_kib: u64,
    /// RSS two seconds after the last draft, KiB.
    pub rss_after_kib: u64,
    /// Redis `used_memory` before the drafts, bytes.
    pub redis_before: u64,
    /// Redis `used_memory` after the drafts, bytes.
    pub redis_after: u64,
    /// Users left without a complete answer.
    pub stalled: usize,
}

impl Drafts {
    /// RSS after − idle, MiB.
    pub fn growth_mib(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_idle_kib) as f64 / 1024.0
    }

    /// RSS after − idle per 1,000 chats started, KiB.
    pub fn growth_per_1k_kib(&self) -> f64 {
        self.rss_after_kib.saturating_sub(self.rss_idle_kib) as f64
            / (self.started.max(1) as f64 / 1000.0)
    }

    /// RSS growth per 1,000 chats past `bound_mark` (both read under load), KiB: about 0
    /// when the cache is bounded; `None` when no mark was taken.
    pub fn growth_past_mark_per_1k_kib(&self) -> Option<f64> {
        if self.bound_mark == 0 || self.started <= self.bound_mark {
            return None;
        }
        let kib = self.rss_at_end_kib as f64 - self.rss_at_mark_kib as f64;
        Some(kib / ((self.started - self.bound_mark) as f64 / 1000.0))
    }

    /// Redis `used_memory` growth, MiB.
    pub fn redis_growth_mib(&self) -> f64 {
        self.redis_after.saturating_sub(self.redis_before) as f64 / 1_048_576.0
    }
}

/// Runs the phase for `peer` (this repository's bot).
///
/// # Errors
///
/// The bot or a fake could not start, or Redis is unreachable.
pub async fn run(
    peer: &Peer,
    chats: usize,
    concurrency: usize,
    env: &Env,
) -> anyhow::Result<Drafts> {
    let mut script = device_malfunction(0);
    script.truncate(DRAFT_STEPS);
    let fakes = Fakes::start(script.clone(), 0).await?;
    let hub = &fakes.hub;
    hub.set_script(script, true);
    let pfx = prefix(env, peer, "drafts");
    let mut conn = redis_conn(&env.redis_url).await?;
    let bot = BotProcess::start(
        peer,
        &fakes.endpoints(&env.redis_url, &pfx),
        &env.work_dir,
        hub,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut report = Drafts {
        chats,
        concurrency,
        cache_chats: waviot_support_bot::config::BotFile::default().session_cache_chats,
        rss_idle_kib: bot.memory().rss_kib,
        redis_before: used_memory(&mut conn).await?,
        ..Drafts::default()
    };

    let target = chats as u64;
    let mark = 2 * report.cache_chats as u64;
    if target > mark && mark > 0 {
        report.bound_mark = mark;
    }
    let base = hub.intakes();
    let start = Instant::now();
    let mut started = 0u64;
    let mut last = (0u64, Instant::now());
    loop {
        let done = hub.intakes() - base;
        if report.bound_mark > 0 && report.rss_at_mark_kib == 0 && done >= report.bound_mark {
            report.bound_mark = done;
            report.rss_at_mark_kib = bot.memory().rss_kib;
        }
        if done >= target {
            break;
        }
        if done > last.0 {
            last = (done, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "[{}]   drafts: no progress in 15 s at {done} of {target}",
                peer.name()
            );
            break;
        }
        let in_flight = started - done;
        let room = (concurrency as u64).saturating_sub(in_flight);
        let n = room.min(target - started);
        if n > 0 {
            hub.start_users(n as usize, Mode::Closed);
            started += n;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    report.secs = start.elapsed().as_secs_f64();
    report.rss_at_end_kib = bot.memory().rss_kib;
    report.stalled = hub.drain(Duration::from_secs(10)).await;
    report.started = hub.intakes() - base;
    report.peak_rss_kib = bot.memory().hwm_kib;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.rss_after_kib = bot.memory().rss_kib;
    report.redis_after = used_memory(&mut conn).await?;
    bot.stop().await;
    cleanup(env, peer, &pfx, hub).await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Action;

    #[test]
    fn a_draft_is_started_when_the_bot_asks_the_first_step() {
        let mut s = device_malfunction(0);
        s.truncate(DRAFT_STEPS);
        let actions: Vec<_> = s.iter().map(|x| x.action.clone()).collect();
        assert_eq!(
            actions,
            [
                Action::Text("/start"),
                Action::Press("g:devices"),
                Action::Press("k:device-malfunction"),
            ]
        );
        assert_eq!(s[2].expect.button, Some("cancel"));
    }

    #[test]
    fn growth_is_per_thousand_chats_started() {
        let d = Drafts {
            started: 100_000,
            rss_idle_kib: 10 * 1024,
            rss_after_kib: 30 * 1024,
            redis_before: 1_048_576,
            redis_after: 51 * 1_048_576,
            ..Drafts::default()
        };
        assert!((d.growth_mib() - 20.0).abs() < 1e-9);
        assert!((d.growth_per_1k_kib() - 204.8).abs() < 1e-9);
        assert!((d.redis_growth_mib() - 50.0).abs() < 1e-9);
        assert_eq!(d.growth_past_mark_per_1k_kib(), None);
        let d = Drafts {
            bound_mark: 20_000,
            rss_at_mark_kib: 60 * 1024,
            rss_at_end_kib: 62 * 1024,
            ..d
        };
        assert_eq!(d.growth_past_mark_per_1k_kib(), Some(25.6));
    }
}
