//! The printed table, the target verdicts and the machine description.

use std::fmt::Write as _;

use serde::Serialize;

use crate::peer::PeerKind;
use crate::run::{PeerReport, Plan};

/// The machine the figures come from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// `MemTotal`, MiB.
    pub memory_mib: u64,
    /// Kernel release.
    pub kernel: String,
    /// `redis_version` of the server used.
    pub redis: String,
    /// Share of all CPUs busy during the second before the run (`/proc/stat`): anything
    /// else running on the machine skews the figures.
    pub busy_before_start: f64,
}

impl Machine {
    /// Reads `/proc` (and takes the Redis version given).
    pub fn describe(redis: String) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|r| r.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        Self {
            busy_before_start: 0.0,
            cpu,
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            memory_mib,
            kernel,
            redis,
        }
    }
}

/// `(busy, total)` jiffies of all CPUs from `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Share of all CPUs busy over `window` (0.0–1.0).
pub async fn busy_share(window: std::time::Duration) -> f64 {
    let Some((b0, t0)) = cpu_jiffies() else {
        return 0.0;
    };
    tokio::time::sleep(window).await;
    let Some((b1, t1)) = cpu_jiffies() else {
        return 0.0;
    };
    (b1 - b0) as f64 / (t1 - t0).max(1) as f64
}

/// A target and whether it was met.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The target.
    pub target: String,
    /// What was measured.
    pub measured: String,
    /// Met or not; `None` when it could not be judged (e.g. no peer run).
    pub met: Option<bool>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Where.
    pub machine: Machine,
    /// `quick` or `full`.
    pub mode: String,
    /// `git rev-parse --short HEAD` of the repository, `+dirty` when `src/` or `crates/`
    /// had uncommitted changes.
    pub revision: String,
    /// The bots: ours first, then the teloxide peer and the aiogram peer when run.
    pub peers: Vec<PeerReport>,
    /// Rust ÷ aiogram sustained updates/s.
    pub ratio: Option<f64>,
    /// aiogram ÷ Rust CPU time per update at saturation.
    pub cpu_ratio: Option<f64>,
    /// Ours ÷ the teloxide peer's sustained updates/s.
    pub teloxide_ratio: Option<f64>,
    /// The teloxide peer's ÷ our CPU time per update at saturation.
    pub teloxide_cpu_ratio: Option<f64>,
    /// Verdicts against the targets.
    pub verdicts: Vec<Verdict>,
}

impl Outcome {
    /// The report of a peer of this kind, when it ran.
    pub fn peer(&self, kind: PeerKind) -> Option<&PeerReport> {
        self.peers.iter().find(|p| p.kind == kind)
    }
}

/// How many times better ours is than `peer` at saturation: (updates/s ours ÷ peer, CPU
/// time per update peer ÷ ours).
pub fn saturation_ratios(ours: &PeerReport, peer: &PeerReport) -> (f64, f64) {
    (
        ours.saturation.updates_per_sec / peer.saturation.updates_per_sec.max(1e-9),
        peer.saturation_cpu.ms_per_update / ours.saturation_cpu.ms_per_update.max(1e-9),
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// 30 MB (decimal) in KiB: the memory targets.
const THIRTY_MB_KIB: f64 = 30_000_000.0 / 1024.0;

/// Ours ÷ aiogram's updates/s at saturation, at least.
pub const AIOGRAM_RATIO_TARGET: f64 = 25.0;

/// The bot's CPU time per update at saturation, at most (ms).
pub const CPU_MS_TARGET: f64 = 0.1;

/// The bot's RSS growth per 1,000 chats past twice the cache's size in the drafts phase,
/// below (KiB): a cache entry costs about 1.7 KiB of RSS (1–2 KB by the README), so a
/// cache that kept every chat would add about 1,700 KiB per 1,000 chats; a bounded one
/// adds none, and 200 KiB leaves room for the noise of two RSS reads under load.
pub const DRAFT_RSS_SLOPE_KIB: f64 = 200.0;

/// Each step's p99 at the offered load, below (ms).
pub const STEP_P99_TARGET_MS: f64 = 3.0;

/// Dialogue-state Redis round trips: the most any update other than "Send" needed
/// (Send also writes the outbox and the delivery record), not counting the queue workers'
/// idle claims that fell in its window (they poll on their own clock, not for the update).
pub fn dialogue_round_trips(r: &PeerReport) -> (f64, u64) {
    let claims = &r.calibration.queue_claims_per_step;
    let steps: Vec<u64> = r
        .calibration
        .per_step
        .iter()
        .enumerate()
        .filter(|(_, (label, _, _))| label != "press send")
        .map(|(i, (_, rt, _))| rt.saturating_sub(claims.get(i).copied().unwrap_or(0)))
        .collect();
    let mean = steps.iter().sum::<u64>() as f64 / steps.len().max(1) as f64;
    (mean, steps.into_iter().max().unwrap_or(0))
}

/// Judges the run against the targets of the benchmark issue.
pub fn verdicts(rust: &PeerReport, aiogram: Option<&PeerReport>, plan: &Plan) -> Vec<Verdict> {
    let mut v = Vec::new();
    if plan.attachments_only {
        push_attachment_verdict(&mut v, rust);
        return v;
    }
    let ratio =
        aiogram.map(|a| rust.saturation.updates_per_sec / a.saturation.updates_per_sec.max(1e-9));
    v.push(Verdict {
        target: format!("≥ {AIOGRAM_RATIO_TARGET:.0}× aiogram's updates/s"),
        measured: match (ratio, aiogram) {
            (Some(r), Some(a)) => format!(
                "{r:.1}× ({:.0} vs {:.0} updates/s)",
                rust.saturation.updates_per_sec, a.saturation.updates_per_sec
            ),
            _ => "aiogram not run".to_owned(),
        },
        met: ratio.map(|r| r >= AIOGRAM_RATIO_TARGET),
    });
    v.push(Verdict {
        target: format!("bot CPU per update ≤ {CPU_MS_TARGET} ms (saturation)"),
        measured: format!(
            "{:.3} ms ({:.2} cores at {:.0} updates/s)",
            rust.saturation_cpu.ms_per_update,
            rust.saturation_cpu.cores,
            rust.saturation.updates_per_sec
        ),
        met: Some(
            rust.saturation.updates > 0 && rust.saturation_cpu.ms_per_update <= CPU_MS_TARGET,
        ),
    });
    let achieved_ok = rust.offered.updates_per_sec >= 0.95 * f64::from(plan.offered_rate);
    v.push(Verdict {
        target: format!("p99 < 5 ms at {} updates/s", plan.offered_rate),
        measured: format!(
            "p99 {:.2} ms at {:.0} updates/s achieved",
            rust.offered.latency.p99_ms, rust.offered.updates_per_sec
        ),
        met: Some(rust.offered.latency.p99_ms < 5.0 && achieved_ok),
    });
    let worst = rust
        .offered
        .by_step
        .iter()
        .max_by(|a, b| a.1.p99_ms.total_cmp(&b.1.p99_ms));
    let steps_ok = rust.offered.by_step.len() == crate::scenario::device_malfunction(0).len()
        && rust.offered.by_step.iter().all(|(_, l)| l.count > 0);
    v.push(Verdict {
        target: format!(
            "p99 < {STEP_P99_TARGET_MS} ms for every step at {} updates/s (Send until the case number)",
            plan.offered_rate
        ),
        measured: match worst {
            Some((step, l)) if steps_ok => {
                let over = rust
                    .offered
                    .by_step
                    .iter()
                    .filter(|(_, l)| l.p99_ms >= STEP_P99_TARGET_MS)
                    .count();
                format!(
                    "worst {step}: p99 {:.2} ms; {over} of {} steps at or over",
                    l.p99_ms,
                    rust.offered.by_step.len()
                )
            }
            _ => "not every step was reached in the window".to_owned(),
        },
        met: Some(
            steps_ok
                && achieved_ok
                && rust
                    .offered
                    .by_step
                    .iter()
                    .all(|(_, l)| l.p99_ms < STEP_P99_TARGET_MS),
        ),
    });
    let (mean, max) = dialogue_round_trips(rust);
    v.push(Verdict {
        target: "≤ 1 Redis round trip for dialogue state per update".to_owned(),
        measured: format!(
            "{max} per update (mean {mean:.2}; Send and the queue workers' idle claims excluded)"
        ),
        met: Some(max <= 1),
    });
    v.push(Verdict {
        target: "idle RSS < 30 MB".to_owned(),
        measured: format!("{:.1} MiB", mib(rust.idle_rss_kib)),
        met: Some((rust.idle_rss_kib as f64) < THIRTY_MB_KIB),
    });
    push_draft_verdict(&mut v, rust, plan);
    push_attachment_verdict(&mut v, rust);
    v
}

fn push_draft_verdict(v: &mut Vec<Verdict>, rust: &PeerReport, plan: &Plan) {
    if plan.draft_chats == 0 {
        return;
    }
    let target = format!(
        "cache bounded: RSS growth with {} drafts < {DRAFT_RSS_SLOPE_KIB:.0} KiB per 1,000 chats past 2 × the cache",
        plan.draft_chats
    );
    v.push(match &rust.drafts {
        Some(d) => Verdict {
            target,
            measured: format!(
                "{}; {:+.1} MiB after − idle ({:.1} idle, {:.1} peak, {:.1} after; {:.0} KiB per 1,000 chats); {} of {} drafts started; cache {} chats; Redis {:+.1} MiB",
                d.growth_past_mark_per_1k_kib().map_or_else(
                    || "no figure: not more than twice the cache's chats".to_owned(),
                    |k| format!("{k:+.1} KiB per 1,000 chats from {} to {}", d.bound_mark, d.started)
                ),
                d.growth_mib(),
                mib(d.rss_idle_kib),
                mib(d.peak_rss_kib),
                mib(d.rss_after_kib),
                d.growth_per_1k_kib(),
                d.started,
                d.chats,
                d.cache_chats,
                d.redis_growth_mib()
            ),
            met: d
                .growth_past_mark_per_1k_kib()
                .map(|k| k < DRAFT_RSS_SLOPE_KIB && d.started == d.chats as u64),
        },
        None => Verdict {
            target,
            measured: "not run".to_owned(),
            met: None,
        },
    });
}

fn push_attachment_verdict(v: &mut Vec<Verdict>, rust: &PeerReport) {
    match &rust.attachments {
        Some(a) => v.push(Verdict {
            target: format!(
                "RSS growth < 30 MB while forwarding {} × {} MiB",
                a.files,
                a.file_size / (1024 * 1024)
            ),
            measured: format!(
                "{:.1} MiB ({} cases, {:.0} MiB received)",
                a.growth_mib,
                a.received.cases,
                a.received.bytes as f64 / 1_048_576.0
            ),
            met: Some(
                a.growth_mib * 1024.0 < THIRTY_MB_KIB
                    && a.received.cases == a.intakes as u64
                    && a.received.bytes >= a.files as u64 * a.file_size,
            ),
        }),
        None => v.push(Verdict {
            target: "RSS growth < 30 MB while forwarding 10 × 20 MB".to_owned(),
            measured: "not run".to_owned(),
            met: None,
        }),
    }
}

fn lat(w: &crate::fake_telegram::Window) -> String {
    three(&w.latency)
}

fn three(l: &crate::stats::Summary) -> String {
    if l.count == 0 {
        return "—".to_owned();
    }
    format!("{:.2} / {:.2} / {:.2}", l.p50_ms, l.p95_ms, l.p99_ms)
}

fn two(l: &crate::stats::Summary) -> String {
    if l.count == 0 {
        return "—".to_owned();
    }
    format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms)
}

fn relay_counts(w: &crate::relay::RelayWindow) -> String {
    format!("{} / {} / {}", w.relayed.arrived, w.posted, w.rejected)
}

fn relay_cell(p: &PeerReport, f: impl Fn(&crate::relay::RelayReport) -> String) -> String {
    p.relay.as_ref().map_or_else(|| "—".to_owned(), f)
}

fn draft_cell(p: &PeerReport, f: impl Fn(&crate::drafts::Drafts) -> String) -> String {
    p.drafts.as_ref().map_or_else(|| "—".to_owned(), f)
}

fn fair_cell(p: &PeerReport, f: impl Fn(&crate::fairness::Fairness) -> String) -> String {
    p.fairness.as_ref().map_or_else(|| "—".to_owned(), f)
}

/// Each step's p50 / p99 at the offered load, one row per step, one column per bot.
fn render_steps(s: &mut String, o: &Outcome, plan: &Plan) {
    let Some(steps) = o.peers.iter().map(|p| p.offered.by_step.len()).max() else {
        return;
    };
    if steps == 0 {
        return;
    }
    let _ = writeln!(
        s,
        "{:<52}",
        format!(
            "per step at {} updates/s, p50 / p99 ms (target p99 < {STEP_P99_TARGET_MS} ms):",
            plan.offered_rate
        )
    );
    for i in 0..steps {
        let label = o
            .peers
            .iter()
            .find_map(|p| p.offered.by_step.get(i).map(|(l, _)| l.clone()))
            .unwrap_or_default();
        let _ = write!(s, "{:<52}", format!("  {label}"));
        for p in &o.peers {
            let cell = p
                .offered
                .by_step
                .get(i)
                .map_or_else(|| "—".to_owned(), |(_, l)| two(l));
            let _ = write!(s, "{cell:>30}");
        }
        s.push('\n');
    }
}

/// The human-readable report.
pub fn render(o: &Outcome, plan: &Plan) -> String {
    let mut s = String::new();
    let m = &o.machine;
    let _ = writeln!(
        s,
        "\nintake-bench ({} mode): {} × {}, {} MiB RAM, Linux {}, Redis {}; CPUs {:.0}% busy before the start",
        o.mode,
        m.cpus,
        m.cpu,
        m.memory_mib,
        m.kernel,
        m.redis,
        m.busy_before_start * 100.0
    );
    let _ = writeln!(s, "bot revision: {}", o.revision);
    let _ = writeln!(
        s,
        "scenario: device-malfunction intake by a new user, 14 updates (10 steps, 4 button presses incl. menu and Send)\n"
    );
    let ours = o.peer(PeerKind::Ours);
    let others: Vec<(&str, &PeerReport)> = [
        (PeerKind::Teloxide, "vs teloxide"),
        (PeerKind::Aiogram, "vs aiogram"),
    ]
    .into_iter()
    .filter_map(|(kind, title)| Some((title, o.peer(kind)?)))
    .filter(|_| ours.is_some())
    .collect();
    let _ = write!(s, "{:<52}", "");
    for p in &o.peers {
        let name = match p.kind {
            PeerKind::Ours => "waviot (Rust)",
            PeerKind::Teloxide => "teloxide peer (Rust)",
            PeerKind::Aiogram => "aiogram 3",
        };
        let _ = write!(s, "{name:>30}");
    }
    for (title, _) in &others {
        let _ = write!(s, "{title:>13}");
    }
    s.push('\n');
    // How many times better ours is than each peer: ours ÷ peer where more is better,
    // peer ÷ ours where less is.
    let ratios = |f: &dyn Fn(&PeerReport) -> f64, more_is_better: bool| -> Vec<String> {
        let Some(ours) = ours else {
            return Vec::new();
        };
        others
            .iter()
            .map(|(_, p)| {
                let (a, b) = if more_is_better {
                    (f(ours), f(p))
                } else {
                    (f(p), f(ours))
                };
                if a > 0.0 && b > 0.0 {
                    format!("{:.1}×", a / b)
                } else {
                    "—".to_owned()
                }
            })
            .collect()
    };
    let mut row = |label: &str, cells: Vec<String>, ratios: Vec<String>| {
        let _ = write!(s, "{label:<52}");
        for c in cells {
            let _ = write!(s, "{c:>30}");
        }
        for r in ratios {
            let _ = write!(s, "{r:>13}");
        }
        s.push('\n');
    };
    let each = |f: &dyn Fn(&PeerReport) -> String| o.peers.iter().map(f).collect::<Vec<_>>();
    row(
        &format!("saturation ({} users): updates/s", plan.saturation_users),
        each(&|p| format!("{:.0}", p.saturation.updates_per_sec)),
        ratios(&|p| p.saturation.updates_per_sec, true),
    );
    row(
        "  latency p50 / p95 / p99, ms",
        each(&|p| lat(&p.saturation)),
        ratios(&|p| p.saturation.latency.p99_ms, false),
    );
    row(
        "  CPU: bot cores / bot ms per update / bench cores",
        each(&|p| {
            format!(
                "{:.2} / {:.3} / {:.2}",
                p.saturation_cpu.cores,
                p.saturation_cpu.ms_per_update,
                p.saturation_cpu.harness_cores
            )
        }),
        ratios(&|p| p.saturation_cpu.ms_per_update, false),
    );
    row(
        &format!(
            "offered {} updates/s: achieved updates/s",
            plan.offered_rate
        ),
        each(&|p| format!("{:.0}", p.offered.updates_per_sec)),
        Vec::new(),
    );
    row(
        "  latency p50 / p95 / p99, ms",
        each(&|p| lat(&p.offered)),
        ratios(&|p| p.offered.latency.p99_ms, false),
    );
    row(
        "  without Send: p50 / p95 / p99, ms",
        each(&|p| three(&p.offered.without_send)),
        Vec::new(),
    );
    row(
        "  Send (waits for the case number): p50 / p99, ms",
        each(&|p| match p.offered.by_step.last() {
            Some((_, l)) if l.count > 0 => format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms),
            _ => "— (no intake reached it)".to_owned(),
        }),
        Vec::new(),
    );
    row(
        "  first reply p99 / max latency, ms",
        each(&|p| {
            format!(
                "{:.2} / {:.1}",
                p.offered.first_reply.p99_ms, p.offered.latency.max_ms
            )
        }),
        Vec::new(),
    );
    row(
        "Redis round trips / update (exact; min–max)",
        each(&|p| {
            let (lo, hi) = p.calibration.round_trips_min_max;
            format!("{:.2} ({lo}–{hi})", p.calibration.round_trips_per_update)
        }),
        ratios(&|p| p.calibration.round_trips_per_update, false),
    );
    row(
        "  dialogue state only (Send and queue polls excluded): max",
        each(&|p| dialogue_round_trips(p).1.to_string()),
        Vec::new(),
    );
    row(
        "Redis commands / update (exact)",
        each(&|p| format!("{:.2}", p.calibration.commands_per_update)),
        ratios(&|p| p.calibration.commands_per_update, false),
    );
    row(
        "Redis commands / update (INFO, saturation)",
        each(&|p| format!("{:.2}", p.saturation_redis.commands_per_update)),
        Vec::new(),
    );
    row(
        "RSS idle / peak under load / after load, MiB",
        each(&|p| {
            format!(
                "{:.1} / {:.1} / {:.1}",
                mib(p.idle_rss_kib),
                mib(p.peak_rss_kib),
                mib(p.rss_after_load_kib)
            )
        }),
        ratios(&|p| p.idle_rss_kib as f64, false),
    );
    row(
        &format!(
            "agent replies relayed/s ({} open cases, {} clients)",
            plan.relay_cases, plan.relay_clients
        ),
        each(&|p| relay_cell(p, |r| format!("{:.0}", r.saturation.replies_per_sec))),
        Vec::new(),
    );
    row(
        "  webhook POST → 200 p50 / p99, ms",
        each(&|p| relay_cell(p, |r| two(&r.saturation.answer))),
        Vec::new(),
    );
    row(
        "  webhook POST → sendMessage p50 / p99, ms",
        each(&|p| relay_cell(p, |r| two(&r.saturation.relayed.latency))),
        Vec::new(),
    );
    row(
        "  relayed / posted / not answered 200",
        each(&|p| relay_cell(p, |r| relay_counts(&r.saturation))),
        Vec::new(),
    );
    row(
        &format!(
            "  at {} replies/s: POST → 200 p50 / p99, ms",
            plan.relay_rate
        ),
        each(&|p| relay_cell(p, |r| two(&r.offered.answer))),
        Vec::new(),
    );
    row(
        "    POST → sendMessage p50 / p99, ms",
        each(&|p| relay_cell(p, |r| two(&r.offered.relayed.latency))),
        Vec::new(),
    );
    row(
        "    relayed / posted / not answered 200",
        each(&|p| relay_cell(p, |r| relay_counts(&r.offered))),
        Vec::new(),
    );
    row(
        "  per 10,000 open cases: Redis used_memory, MiB",
        each(&|p| relay_cell(p, |r| format!("+{:.2}", r.redis_per_10k() / 1_048_576.0))),
        Vec::new(),
    );
    row(
        "  bot RSS before / after seeding / after replies",
        each(&|p| {
            relay_cell(p, |r| {
                format!(
                    "{:.1} / {:.1} / {:.1}",
                    mib(r.rss_before_kib),
                    mib(r.rss_after_seeding_kib),
                    mib(r.rss_after_replies_kib)
                )
            })
        }),
        Vec::new(),
    );
    row(
        &format!(
            "fairness, default pacing ({} users, {} updates/s):",
            plan.fair_users, plan.fair_rate
        ),
        each(&|_| String::new()),
        Vec::new(),
    );
    row(
        "  first reply p50 / p99, ms: users alone",
        each(&|p| fair_cell(p, |f| two(&f.alone.first_reply))),
        Vec::new(),
    );
    row(
        &format!("  … beside a chat flooding {} updates/s", plan.flood_rate),
        each(&|p| fair_cell(p, |f| two(&f.flooded.first_reply))),
        Vec::new(),
    );
    row(
        "  flooding chat: updates sent / bot messages to it",
        each(&|p| fair_cell(p, |f| format!("{} / {}", f.flood.sent, f.flood.answers))),
        Vec::new(),
    );
    row(
        "  users' updates done, alone / flooded; stalled",
        each(&|p| {
            fair_cell(p, |f| {
                format!("{} / {}; {}", f.alone.updates, f.flooded.updates, f.stalled)
            })
        }),
        Vec::new(),
    );
    row(
        &format!(
            "drafts ({} chats, {} at once): RSS idle / peak / after, MiB",
            plan.draft_chats, plan.draft_concurrency
        ),
        each(&|p| {
            draft_cell(p, |d| {
                format!(
                    "{:.1} / {:.1} / {:.1}",
                    mib(d.rss_idle_kib),
                    mib(d.peak_rss_kib),
                    mib(d.rss_after_kib)
                )
            })
        }),
        Vec::new(),
    );
    row(
        "  RSS after − idle per 1,000 chats, KiB",
        each(&|p| draft_cell(p, |d| format!("{:.1}", d.growth_per_1k_kib()))),
        Vec::new(),
    );
    row(
        "  under load: RSS at 2 × cache / at the end, MiB",
        each(&|p| {
            draft_cell(p, |d| match d.growth_past_mark_per_1k_kib() {
                Some(k) => format!(
                    "{:.1} / {:.1} ({k:+.1} KiB per 1,000)",
                    mib(d.rss_at_mark_kib),
                    mib(d.rss_at_end_kib)
                ),
                None => format!("— / {:.1}", mib(d.rss_at_end_kib)),
            })
        }),
        Vec::new(),
    );
    row(
        "  Redis used_memory growth, MiB",
        each(&|p| draft_cell(p, |d| format!("{:+.1}", d.redis_growth_mib()))),
        Vec::new(),
    );
    row(
        "  drafts started / stalled; seconds; cache chats",
        each(&|p| {
            draft_cell(p, |d| {
                format!(
                    "{} / {}; {:.1} s; {}",
                    d.started, d.stalled, d.secs, d.cache_chats
                )
            })
        }),
        Vec::new(),
    );
    row(
        "intakes / cases / stalled users",
        each(&|p| format!("{} / {} / {}", p.intakes, p.cases, p.stalled)),
        Vec::new(),
    );
    render_steps(&mut s, o, plan);
    if !others.is_empty() {
        let _ = writeln!(
            s,
            "(vs: how many times ours is better: updates/s ours ÷ peer; p99 latency, CPU per update, Redis and idle RSS peer ÷ ours)"
        );
    }
    for p in &o.peers {
        let cmds: Vec<String> = p
            .calibration
            .commands_by_name
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        let _ = writeln!(
            s,
            "\n{}: Redis commands per update: {}",
            p.name,
            cmds.join(", ")
        );
        if let Some(a) = &p.attachments {
            let _ = writeln!(
                s,
                "{}: attachments: {} intakes at once × {} PNG × {:.0} MiB: Telegram served {:.0} MiB, Omnidesk received {:.0} MiB in {} cases ({:.1} s); RSS {:.1} → peak {:.1} MiB, growth {:.1} MiB",
                p.name,
                a.intakes,
                a.files / a.intakes.max(1),
                a.file_size as f64 / 1_048_576.0,
                a.downloaded as f64 / 1_048_576.0,
                a.received.bytes as f64 / 1_048_576.0,
                a.received.cases,
                a.secs,
                mib(a.baseline_rss_kib),
                mib(a.peak_rss_kib),
                a.growth_mib
            );
        }
        if !p.calls.unknown.is_empty() {
            let _ = writeln!(
                s,
                "{}: unknown Bot API methods called: {:?}",
                p.name, p.calls.unknown
            );
        }
    }
    let _ = writeln!(s, "\ntargets:");
    for v in &o.verdicts {
        let mark = match v.met {
            Some(true) => "met   ",
            Some(false) => "MISSED",
            None => "n/a   ",
        };
        let _ = writeln!(s, "  [{mark}] {}: {}", v.target, v.measured);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            warmup: std::time::Duration::from_secs(1),
            window: std::time::Duration::from_secs(3),
            offered_rate: 1000,
            offered_users: 200,
            saturation_users: 256,
            calibration_intakes: 2,
            attachment_intakes: 0,
            attachments_per_intake: 2,
            attachment_size: 1,
            attachments_only: false,
            relay_cases: 10_000,
            relay_clients: 32,
            relay_rate: 200,
            fair_users: 200,
            fair_rate: 12,
            fair_window: std::time::Duration::from_secs(8),
            flood_rate: 1000,
            draft_chats: 100_000,
            draft_concurrency: 256,
        }
    }

    fn peer(kind: PeerKind, updates_per_sec: f64, ms_per_update: f64) -> PeerReport {
        let mut p = PeerReport {
            kind,
            ..PeerReport::default()
        };
        p.saturation.updates_per_sec = updates_per_sec;
        p.saturation_cpu.ms_per_update = ms_per_update;
        p.idle_rss_kib = 10 * 1024;
        p.calibration.commands_per_update = 2.0;
        p
    }

    fn outcome(peers: Vec<PeerReport>) -> Outcome {
        Outcome {
            machine: Machine::default(),
            mode: "quick".to_owned(),
            revision: "abc1234".to_owned(),
            peers,
            ratio: None,
            cpu_ratio: None,
            teloxide_ratio: None,
            teloxide_cpu_ratio: None,
            verdicts: Vec::new(),
        }
    }

    fn line<'a>(report: &'a str, label: &str) -> &'a str {
        report
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no line {label:?} in\n{report}"))
    }

    /// The last `n` cells of a line (the ratio columns).
    fn last(line: &str, n: usize) -> Vec<&str> {
        let cells: Vec<&str> = line.split_whitespace().collect();
        cells[cells.len().saturating_sub(n)..].to_vec()
    }

    #[test]
    fn the_teloxide_peer_is_a_third_column_with_ratios_against_ours() {
        let o = outcome(vec![
            peer(PeerKind::Ours, 3000.0, 0.4),
            peer(PeerKind::Teloxide, 1000.0, 1.2),
            peer(PeerKind::Aiogram, 150.0, 6.0),
        ]);

        let report = render(&o, &plan());

        let header = report
            .lines()
            .find(|l| l.contains("waviot (Rust)"))
            .expect("header");
        let columns: Vec<usize> = ["waviot (Rust)", "teloxide peer (Rust)", "aiogram 3"]
            .iter()
            .map(|name| header.find(name).expect(name))
            .collect();
        assert!(columns.windows(2).all(|w| w[0] < w[1]), "{header}");
        assert!(header.contains("vs teloxide") && header.contains("vs aiogram"));
        let saturation = line(&report, "saturation (256 users): updates/s");
        assert_eq!(
            last(saturation, 5),
            ["3000", "1000", "150", "3.0×", "20.0×"]
        );
        let cpu = line(&report, "  CPU: bot cores");
        assert_eq!(last(cpu, 2), ["3.0×", "15.0×"]);
        let redis = line(&report, "Redis commands / update (exact)");
        assert_eq!(last(redis, 5), ["2.00", "2.00", "2.00", "1.0×", "1.0×"]);
    }

    #[test]
    fn without_peers_there_is_no_ratio_column() {
        let report = render(&outcome(vec![peer(PeerKind::Ours, 3000.0, 0.4)]), &plan());

        assert!(!report.contains("vs "), "{report}");
        assert_eq!(last(line(&report, "saturation (256 users)"), 1), ["3000"]);
    }

    fn verdict<'a>(v: &'a [Verdict], starts: &str) -> &'a Verdict {
        v.iter()
            .find(|v| v.target.starts_with(starts))
            .unwrap_or_else(|| panic!("no verdict {starts:?} in {v:?}"))
    }

    #[test]
    fn verdicts_hold_ours_to_25_times_aiogram_and_a_tenth_of_a_millisecond_per_update() {
        let mut ours = peer(PeerKind::Ours, 4000.0, 0.09);
        ours.saturation.updates = 12_000;
        let aiogram = peer(PeerKind::Aiogram, 200.0, 2.5);

        let v = verdicts(&ours, Some(&aiogram), &plan());

        let ratio = verdict(&v, "≥ 25× aiogram");
        assert_eq!(ratio.met, Some(false), "{ratio:?}");
        assert!(ratio.measured.starts_with("20.0×"), "{ratio:?}");
        assert_eq!(verdict(&v, "bot CPU per update ≤ 0.1 ms").met, Some(true));
    }

    #[test]
    fn every_step_must_stay_under_three_milliseconds_at_the_offered_load() {
        let mut ours = peer(PeerKind::Ours, 4000.0, 0.2);
        ours.offered.updates_per_sec = 1000.0;
        let fast = crate::stats::Summary {
            count: 100,
            p50_ms: 0.5,
            p99_ms: 1.5,
            ..crate::stats::Summary::default()
        };
        ours.offered.by_step = (1..=14).map(|i| (format!("{i}. step"), fast)).collect();
        assert_eq!(
            verdict(&verdicts(&ours, None, &plan()), "p99 < 3 ms for every step").met,
            Some(true)
        );

        ours.offered.by_step[13].1.p99_ms = 3.2;
        let v = verdicts(&ours, None, &plan());

        let steps = verdict(&v, "p99 < 3 ms for every step");
        assert_eq!(steps.met, Some(false));
        assert!(
            steps
                .measured
                .starts_with("worst 14. step: p99 3.20 ms; 1 of 14"),
            "{steps:?}"
        );
        let report = render(&outcome(vec![ours]), &plan());
        assert_eq!(last(line(&report, "  14. step"), 3), ["0.50", "/", "3.20"]);
    }

    #[test]
    fn the_peers_have_no_relay_nor_fairness_figures() {
        let mut ours = peer(PeerKind::Ours, 3000.0, 0.4);
        ours.relay = Some(crate::relay::RelayReport {
            cases: 10_000,
            saturation: crate::relay::RelayWindow {
                replies_per_sec: 850.0,
                ..crate::relay::RelayWindow::default()
            },
            redis_before: 1_048_576,
            redis_after: 3 * 1_048_576,
            ..crate::relay::RelayReport::default()
        });
        let o = outcome(vec![ours, peer(PeerKind::Aiogram, 150.0, 6.0)]);

        let report = render(&o, &plan());

        let relayed = line(&report, "agent replies relayed/s");
        assert_eq!(last(relayed, 2), ["850", "—"]);
        let memory = line(&report, "  per 10,000 open cases: Redis used_memory");
        assert_eq!(last(memory, 2), ["+2.00", "—"]);
        assert_eq!(
            last(line(&report, "  first reply p50 / p99, ms: users alone"), 2),
            ["—", "—"]
        );
    }

    #[test]
    fn the_drafts_verdict_holds_rss_growth_past_the_cache_to_200_kib_per_1000_chats() {
        let mut ours = peer(PeerKind::Ours, 3000.0, 0.4);
        ours.drafts = Some(crate::drafts::Drafts {
            chats: 100_000,
            started: 100_000,
            concurrency: 256,
            cache_chats: 10_000,
            rss_idle_kib: 10 * 1024,
            peak_rss_kib: 40 * 1024,
            rss_after_kib: 30 * 1024,
            bound_mark: 20_000,
            rss_at_mark_kib: 35 * 1024,
            rss_at_end_kib: 36 * 1024,
            ..crate::drafts::Drafts::default()
        });
        let v = verdicts(&ours, None, &plan());
        let d = verdict(&v, "cache bounded: RSS growth with 100000 drafts");
        assert_eq!(d.met, Some(true), "{d:?}");
        assert!(
            d.measured.starts_with(
                "+12.8 KiB per 1,000 chats from 20000 to 100000; +20.0 MiB after − idle"
            ),
            "{d:?}"
        );

        let report = render(
            &outcome(vec![ours.clone(), peer(PeerKind::Teloxide, 1.0, 1.0)]),
            &plan(),
        );
        assert_eq!(
            last(line(&report, "drafts (100000 chats, 256 at once)"), 6),
            ["10.0", "/", "40.0", "/", "30.0", "—"]
        );
        assert_eq!(
            last(line(&report, "  RSS after − idle per 1,000 chats"), 2),
            ["204.8", "—"]
        );

        if let Some(d) = ours.drafts.as_mut() {
            d.rss_at_end_kib = 35 * 1024 + 80 * 250;
        }
        let v = verdicts(&ours, None, &plan());
        assert_eq!(verdict(&v, "cache bounded").met, Some(false));
    }

    #[test]
    fn saturation_ratios_say_how_many_times_better_ours_is() {
        let ours = peer(PeerKind::Ours, 3000.0, 0.5);
        let teloxide = peer(PeerKind::Teloxide, 1500.0, 2.0);

        let (throughput, cpu) = saturation_ratios(&ours, &teloxide);

        assert!((throughput - 2.0).abs() < 1e-9);
        assert!((cpu - 4.0).abs() < 1e-9);
    }
}
