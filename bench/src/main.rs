//! `intake-bench`: runs the intake benchmark against this repository's bot and, when
//! given their binaries, against the teloxide peer and the aiogram 3 reference bot;
//! prints the figures and the verdicts, and optionally writes them as JSON.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use intake_bench::peer::{Peer, PeerKind};
use intake_bench::report::{self, Machine, Outcome};
use intake_bench::run::{self, Env, Plan};

/// Intake benchmark: fake Bot API + fake Omnidesk on 127.0.0.1, real Redis.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Short run (about 3 s windows) that finishes within a minute.
    #[arg(long)]
    quick: bool,
    /// The bot's release binary.
    #[arg(long, default_value = "target/release/waviot-support-bot")]
    bot: PathBuf,
    /// The repository root (dialogues/, locales/, bench/peers/).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The teloxide peer's release binary (`bench/peers/teloxide`, built by
    /// scripts/bench.sh into target/teloxide-peer/release/); without it that peer does
    /// not run.
    #[arg(long)]
    teloxide_peer: Option<PathBuf>,
    /// Python of a virtual environment with the aiogram peer's requirements; without it
    /// the aiogram peer does not run.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Redis to use.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Offered load of the fixed-rate window, updates/s.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Length of each measurement window, seconds (default 20; 3 with --quick).
    #[arg(long)]
    window_secs: Option<u64>,
    /// Concurrent users at saturation.
    #[arg(long, default_value_t = 256)]
    saturation_users: usize,
    /// Users in the offered-load pool.
    #[arg(long, default_value_t = 200)]
    offered_users: usize,
    /// Skip the attachment-forwarding test.
    #[arg(long)]
    no_attachments: bool,
    /// Open cases seeded for the agent-reply phase (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    relay_cases: usize,
    /// Concurrent clients posting agent replies to the bot's Omnidesk webhook.
    #[arg(long, default_value_t = 32)]
    relay_clients: usize,
    /// Replies/s posted in the agent-reply phase's paced window.
    #[arg(long, default_value_t = 200)]
    relay_rate: u32,
    /// Users in each fairness window, default pacing (0 skips the phase).
    #[arg(long, default_value_t = 200)]
    fair_users: usize,
    /// Updates/s the fairness users offer in all (kept under the bot's default 30
    /// messages/s overall).
    #[arg(long, default_value_t = 12)]
    fair_rate: u32,
    /// Updates/s of the flooding chat in the fairness phase.
    #[arg(long, default_value_t = 1000)]
    flood_rate: u32,
    /// Chats that each start a draft in the drafts phase, RSS read before and after (0
    /// skips it; default 100,000; 40,000 with --quick: twice the bot's default cache, and
    /// as many again).
    #[arg(long)]
    draft_chats: Option<usize>,
    /// Users under way at once in the drafts phase.
    #[arg(long, default_value_t = 256)]
    draft_concurrency: usize,
    /// Run only the attachment test (of the Rust bot).
    #[arg(long, conflicts_with = "no_attachments")]
    attachments_only: bool,
    /// Only serve the fakes (printing their URLs) for 10 minutes, for poking at them
    /// with curl or a bot started by hand.
    #[arg(long)]
    serve_only: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match real_main().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("intake-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn real_main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.serve_only {
        return serve_only().await;
    }
    let repo = std::fs::canonicalize(&args.repo).context("--repo")?;
    let bot = std::fs::canonicalize(&args.bot).with_context(|| {
        format!(
            "{} (build it with cargo build --release)",
            args.bot.display()
        )
    })?;
    let window = Duration::from_secs(args.window_secs.unwrap_or(if args.quick { 3 } else { 20 }));
    let plan = Plan {
        warmup: Duration::from_secs(if args.quick { 1 } else { 3 }),
        window,
        offered_rate: args.rate,
        offered_users: args.offered_users,
        saturation_users: args.saturation_users,
        calibration_intakes: 2,
        attachment_intakes: if args.no_attachments { 0 } else { 5 },
        attachments_per_intake: 2,
        attachment_size: 20 * 1024 * 1024,
        attachments_only: args.attachments_only,
        relay_cases: args.relay_cases,
        relay_clients: args.relay_clients.max(1),
        relay_rate: args.relay_rate.max(1),
        fair_users: args.fair_users,
        fair_rate: args.fair_rate.max(1),
        fair_window: window.max(Duration::from_secs(8)),
        flood_rate: args.flood_rate,
        draft_chats: args
            .draft_chats
            .unwrap_or(if args.quick { 40_000 } else { 100_000 }),
        draft_concurrency: args.draft_concurrency.max(1),
    };
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let run_id = format!("{}-{stamp}", std::process::id());
    let work_dir = repo.join("target").join("bench").join(&run_id);
    let env = Env {
        redis_url: args.redis_url.clone(),
        work_dir: work_dir.clone(),
        run_id,
    };
    let mut machine = Machine::describe(redis_version(&args.redis_url).await?);
    machine.busy_before_start = report::busy_share(Duration::from_secs(1)).await;
    if machine.busy_before_start > 0.1 {
        eprintln!(
            "warning: the CPUs were {:.0}% busy before the start; something else is running and the figures will be lower",
            machine.busy_before_start * 100.0
        );
    }

    let mut peers = vec![Peer::Rust {
        binary: bot,
        repo: repo.clone(),
    }];
    if let Some(binary) = &args.teloxide_peer {
        let binary = std::fs::canonicalize(binary).with_context(|| {
            format!(
                "{} (build it with cargo build --release --manifest-path bench/peers/teloxide/Cargo.toml)",
                binary.display()
            )
        })?;
        peers.push(Peer::Teloxide { binary });
    }
    if let Some(python) = &args.python {
        peers.push(Peer::Aiogram {
            python: python.clone(),
            script: repo.join("bench/peers/aiogram/bot.py"),
        });
    }
    let mut reports = Vec::new();
    for peer in &peers {
        reports.push(run::run_peer(peer, &plan, &env).await?);
    }
    let peer = |kind| reports.iter().find(|r| r.kind == kind);
    let aiogram = peer(PeerKind::Aiogram).map(|a| report::saturation_ratios(&reports[0], a));
    let teloxide = peer(PeerKind::Teloxide).map(|t| report::saturation_ratios(&reports[0], t));
    let verdicts = report::verdicts(&reports[0], peer(PeerKind::Aiogram), &plan);
    let outcome = Outcome {
        machine,
        revision: revision(&repo),
        mode: if args.quick { "quick" } else { "full" }.to_owned(),
        ratio: aiogram.map(|r| r.0),
        cpu_ratio: aiogram.map(|r| r.1),
        teloxide_ratio: teloxide.map(|r| r.0),
        teloxide_cpu_ratio: teloxide.map(|r| r.1),
        peers: reports,
        verdicts,
    };
    println!("{}", report::render(&outcome, &plan));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&outcome)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("results: {}", path.display());
    }
    println!("bot logs: {}", work_dir.display());
    Ok(())
}

/// The repository's revision, read with `git` (read-only commands); `BENCH_REVISION`
/// overrides it (for a bot built elsewhere, e.g. from a clean export of a commit).
fn revision(repo: &std::path::Path) -> String {
    if let Ok(r) = std::env::var("BENCH_REVISION") {
        return r;
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let dirty = git(&["status", "--porcelain", "--", "src", "crates", "Cargo.toml"])
        .is_some_and(|s| !s.is_empty());
    if dirty { format!("{head}+dirty") } else { head }
}

async fn serve_only() -> anyhow::Result<()> {
    let hub = intake_bench::fake_telegram::Hub::new(
        intake_bench::scenario::device_malfunction(2),
        20 * 1024 * 1024,
    );
    let (tg, _tg) = hub.serve().await?;
    let (_od, od, _od_task) = intake_bench::fake_omnidesk::Omnidesk::start().await?;
    println!(
        "TELEGRAM_API_URL=http://{tg} TELOXIDE_TOKEN={} OMNIDESK_URL=http://{od}",
        intake_bench::fake_telegram::TOKEN
    );
    tokio::time::sleep(Duration::from_secs(600)).await;
    Ok(())
}

async fn redis_version(url: &str) -> anyhow::Result<String> {
    let client = redis::Client::open(url).context("invalid REDIS_URL")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("no Redis at {url}"))?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_owned())
}
