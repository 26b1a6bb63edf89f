//! Fairness under load with the default pacing on: does a flooding chat hold the other
//! users back? (This repository's bot only: the peers have neither pacing nor a flood
//! guard.)
//!
//! The bot runs with its default pacing of outgoing messages (30 a second overall, one a
//! second per chat with bursts of 4) and its default flood guard; only the submission
//! limits are lifted, since the synthetic users file many requests. The global 30
//! messages a second caps what all users together can get, so the users go at a person's
//! pace rather than flat out: `users` users in the offered-load pool, released at `rate`
//! updates a second in all (each user waits its turn, far longer than the per-chat
//! pacing), which keeps the bot's messages under the global cap.
//!
//! Two windows in one bot process, each with fresh users:
//!
//! 1. **Alone**: the users only.
//! 2. **Flooded**: the same, while one more chat ([`FLOOD_CHAT`](crate::fake_telegram::FLOOD_CHAT)) sends text messages at
//!    `flood_rate` a second whatever the bot answers.
//!
//! The figure is the p99 of the other users' *first reply* (hand-out of the update to
//! the bot's first call for that chat) in each window; the flooding chat's updates sent
//! and the messages the bot sent it are reported beside it.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::fake_telegram::{Flood, Hub, Mode, Window};
use crate::peer::{BotProcess, Peer, Tuning};
use crate::run::{Env, Fakes, Plan, cleanup, paced, prefix};
use crate::scenario::device_malfunction;

/// The fairness phase's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fairness {
    /// Users in each window.
    pub users: usize,
    /// Updates a second offered by the users in all.
    pub rate: u32,
    /// Updates a second sent by the flooding chat.
    pub flood_rate: u32,
    /// The users alone.
    pub alone: Window,
    /// The users beside the flooding chat.
    pub flooded: Window,
    /// What the flooding chat sent and got during its window.
    pub flood: Flood,
    /// Users left without a complete answer after the windows.
    pub stalled: usize,
}

/// Runs the phase for `peer` (this repository's bot).
///
/// # Errors
///
/// The bot or a fake could not start.
pub async fn run(peer: &Peer, plan: &Plan, env: &Env) -> anyhow::Result<Fairness> {
    let fakes = Fakes::start(device_malfunction(0), 0).await?;
    let hub = &fakes.hub;
    let pfx = prefix(env, peer, "fair");
    let bot = BotProcess::start_tuned(
        peer,
        &fakes.endpoints(&env.redis_url, &pfx),
        &env.work_dir,
        hub,
        &Tuning::defaults(),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut report = Fairness {
        users: plan.fair_users,
        rate: plan.fair_rate,
        flood_rate: plan.flood_rate,
        ..Fairness::default()
    };

    eprintln!(
        "[{}]   fairness: {} users at {} updates/s for {:?}, alone",
        peer.name(),
        plan.fair_users,
        plan.fair_rate,
        plan.fair_window
    );
    report.alone = users_window(hub, plan, None).await;
    report.stalled += hub.drain(Duration::from_secs(20)).await;

    eprintln!(
        "[{}]   fairness: the same beside a chat flooding {} updates/s",
        peer.name(),
        plan.flood_rate
    );
    let before = hub.flooded();
    report.flooded = users_window(hub, plan, Some(plan.flood_rate)).await;
    let after = hub.flooded();
    report.stalled += hub.drain(Duration::from_secs(20)).await;
    report.flood = Flood {
        sent: after.sent - before.sent,
        answers: after.answers - before.answers,
    };
    bot.stop().await;
    cleanup(env, peer, &pfx, hub).await;
    Ok(report)
}

/// One window of paced users, with a flooding chat when `flood_rate` is given.
async fn users_window(hub: &std::sync::Arc<Hub>, plan: &Plan, flood_rate: Option<u32>) -> Window {
    let flooder = flood_rate.map(|rate| {
        let hub = std::sync::Arc::clone(hub);
        let window = plan.fair_window;
        tokio::spawn(async move { flood(&hub, rate, window).await })
    });
    hub.begin_window();
    hub.start_users(plan.fair_users, Mode::Paced);
    paced(hub, plan.fair_rate, plan.fair_window).await;
    let window = hub.end_window();
    if let Some(f) = flooder {
        let _ = f.await;
    }
    window
}

/// Queues the flooding chat's updates at `rate` a second for `window`.
async fn flood(hub: &Hub, rate: u32, window: Duration) {
    let start = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while start.elapsed() < window {
        tick.tick().await;
        let due = (f64::from(rate) * start.elapsed().as_secs_f64()) as u64;
        hub.flood(due.saturating_sub(sent));
        sent = due;
    }
}
