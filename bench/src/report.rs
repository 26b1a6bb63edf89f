//! The printed table, the target verdicts and the machine description.

use std::fmt::Write as _;

use serde::Serialize;

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
    /// The bots, the Rust one first.
    pub peers: Vec<PeerReport>,
    /// Rust ÷ aiogram sustained updates/s.
    pub ratio: Option<f64>,
    /// aiogram ÷ Rust CPU time per update at saturation.
    pub cpu_ratio: Option<f64>,
    /// Verdicts against the targets.
    pub verdicts: Vec<Verdict>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// 30 MB (decimal) in KiB: the memory targets.
const THIRTY_MB_KIB: f64 = 30_000_000.0 / 1024.0;

/// Dialogue-state Redis round trips: the most any update other than "Send" needed
/// (Send also writes the outbox and the delivery record).
pub fn dialogue_round_trips(r: &PeerReport) -> (f64, u64) {
    let steps: Vec<u64> = r
        .calibration
        .per_step
        .iter()
        .filter(|(label, _, _)| label != "press send")
        .map(|(_, rt, _)| *rt)
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
        target: "≥ 10× aiogram's updates/s".to_owned(),
        measured: match (ratio, aiogram) {
            (Some(r), Some(a)) => format!(
                "{r:.1}× ({:.0} vs {:.0} updates/s)",
                rust.saturation.updates_per_sec, a.saturation.updates_per_sec
            ),
            _ => "aiogram not run".to_owned(),
        },
        met: ratio.map(|r| r >= 10.0),
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
    let (mean, max) = dialogue_round_trips(rust);
    v.push(Verdict {
        target: "≤ 1 Redis round trip for dialogue state per update".to_owned(),
        measured: format!("{max} per update (mean {mean:.2}; Send excluded)"),
        met: Some(max <= 1),
    });
    v.push(Verdict {
        target: "idle RSS < 30 MB".to_owned(),
        measured: format!("{:.1} MiB", mib(rust.idle_rss_kib)),
        met: Some((rust.idle_rss_kib as f64) < THIRTY_MB_KIB),
    });
    push_attachment_verdict(&mut v, rust);
    v
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
    let names: Vec<&str> = o
        .peers
        .iter()
        .map(|p| {
            if p.name.starts_with("aiogram") {
                "aiogram 3"
            } else {
                "waviot (Rust)"
            }
        })
        .collect();
    let _ = write!(s, "{:<52}", "");
    for n in &names {
        let _ = write!(s, "{n:>30}");
    }
    if o.ratio.is_some() {
        let _ = write!(s, "{:>10}", "ratio");
    }
    s.push('\n');
    let mut row = |label: &str, cells: Vec<String>, ratio: Option<String>| {
        let _ = write!(s, "{label:<52}");
        for c in cells {
            let _ = write!(s, "{c:>30}");
        }
        if let Some(r) = ratio {
            let _ = write!(s, "{r:>10}");
        }
        s.push('\n');
    };
    let each = |f: &dyn Fn(&PeerReport) -> String| o.peers.iter().map(f).collect::<Vec<_>>();
    row(
        &format!("saturation ({} users): updates/s", plan.saturation_users),
        each(&|p| format!("{:.0}", p.saturation.updates_per_sec)),
        o.ratio.map(|r| format!("{r:.1}×")),
    );
    row(
        "  latency p50 / p95 / p99, ms",
        each(&|p| lat(&p.saturation)),
        None,
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
        o.cpu_ratio.map(|r| format!("{r:.1}×")),
    );
    row(
        &format!(
            "offered {} updates/s: achieved updates/s",
            plan.offered_rate
        ),
        each(&|p| format!("{:.0}", p.offered.updates_per_sec)),
        None,
    );
    row(
        "  latency p50 / p95 / p99, ms",
        each(&|p| lat(&p.offered)),
        None,
    );
    row(
        "  without Send: p50 / p95 / p99, ms",
        each(&|p| three(&p.offered.without_send)),
        None,
    );
    row(
        "  Send (waits for the case number): p50 / p99, ms",
        each(&|p| match p.offered.by_step.last() {
            Some((_, l)) if l.count > 0 => format!("{:.2} / {:.2}", l.p50_ms, l.p99_ms),
            _ => "— (no intake reached it)".to_owned(),
        }),
        None,
    );
    row(
        "  first reply p99 / max latency, ms",
        each(&|p| {
            format!(
                "{:.2} / {:.1}",
                p.offered.first_reply.p99_ms, p.offered.latency.max_ms
            )
        }),
        None,
    );
    row(
        "Redis round trips / update (exact; min–max)",
        each(&|p| {
            let (lo, hi) = p.calibration.round_trips_min_max;
            format!("{:.2} ({lo}–{hi})", p.calibration.round_trips_per_update)
        }),
        None,
    );
    row(
        "  dialogue state only (Send excluded): max",
        each(&|p| dialogue_round_trips(p).1.to_string()),
        None,
    );
    row(
        "Redis commands / update (exact)",
        each(&|p| format!("{:.2}", p.calibration.commands_per_update)),
        None,
    );
    row(
        "Redis commands / update (INFO, saturation)",
        each(&|p| format!("{:.2}", p.saturation_redis.commands_per_update)),
        None,
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
        None,
    );
    row(
        "intakes / cases / stalled users",
        each(&|p| format!("{} / {} / {}", p.intakes, p.cases, p.stalled)),
        None,
    );
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
