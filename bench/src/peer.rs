//! The bots under test, run as child processes, and their memory as the kernel reports it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::fake_telegram::{Hub, TOKEN};

/// `BOT_CONFIG` lines that lift the bot's pacing of outgoing messages (by default about
/// 30 a second overall and one a second per chat, Telegram's bulk limits): the fake Bot
/// API has no limits, and the bench measures how fast the bot itself handles updates.
pub const SEND_PACING_LIFTED: &str = "telegram-messages-per-sec = 1000000\ntelegram-chat-messages-per-sec = 100000\ntelegram-chat-burst = 100000\n";

/// `BOT_CONFIG` line that lifts the flood guard (15 updates per 10 s per chat): the
/// bench's synthetic users send far faster than people.
pub const FLOOD_GUARD_LIFTED: &str = "flood-max-updates = 1000000\n";

/// `BOT_CONFIG` lines that lift the submission limits (10 requests an hour per user): the
/// bench's synthetic users file many requests each.
pub const SUBMISSION_LIMITS_LIFTED: &str =
    "submissions-per-hour = 1000000\nsubmissions-per-day = 1000000\n";

/// How this repository's bot is set up beyond its endpoints (the peers have no such
/// settings).
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Lift the pacing of outgoing messages ([`SEND_PACING_LIFTED`]); else the defaults.
    pub pacing_lifted: bool,
    /// Lift the flood guard ([`FLOOD_GUARD_LIFTED`]); else the default. The submission
    /// limits are always lifted.
    pub flood_guard_lifted: bool,
    /// More environment variables (e.g. `OMNIDESK_WEBHOOK_SECRET`, `WEBHOOK_ADDR`).
    pub env: Vec<(String, String)>,
}

impl Tuning {
    /// What every load phase uses: pacing and guards lifted, no webhook.
    pub fn lifted() -> Self {
        Self {
            pacing_lifted: true,
            flood_guard_lifted: true,
            env: Vec::new(),
        }
    }

    /// The bot's defaults, but for the submission limits.
    pub fn defaults() -> Self {
        Self {
            pacing_lifted: false,
            flood_guard_lifted: false,
            env: Vec::new(),
        }
    }

    fn config_lines(&self) -> String {
        let pacing = if self.pacing_lifted {
            SEND_PACING_LIFTED
        } else {
            ""
        };
        let flood = if self.flood_guard_lifted {
            FLOOD_GUARD_LIFTED
        } else {
            ""
        };
        format!("{pacing}{flood}{SUBMISSION_LIMITS_LIFTED}")
    }
}

/// A bot to measure.
#[derive(Debug, Clone)]
pub enum Peer {
    /// `waviot-support-bot run`.
    Rust {
        /// The release binary.
        binary: PathBuf,
        /// The repository (for `dialogues/` and `locales/`).
        repo: PathBuf,
    },
    /// The teloxide peer: the intake as teloxide's examples write a bot
    /// (`bench/peers/teloxide/`, a `Dialogue<State, RedisStorage<Json>>`).
    Teloxide {
        /// Its release binary.
        binary: PathBuf,
    },
    /// The aiogram 3 reference bot.
    Aiogram {
        /// The virtual environment's `python`.
        python: PathBuf,
        /// `bench/peers/aiogram/bot.py`.
        script: PathBuf,
    },
}

/// Which bot a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// This repository's bot.
    #[default]
    Ours,
    /// The teloxide peer.
    Teloxide,
    /// The aiogram 3 peer.
    Aiogram,
}

impl Peer {
    /// Short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Peer::Rust { .. } => "waviot-support-bot (Rust, teloxide)",
            Peer::Teloxide { .. } => "teloxide peer (Rust, RedisStorage)",
            Peer::Aiogram { .. } => "aiogram 3 (Python)",
        }
    }

    /// Which bot this is.
    pub fn kind(&self) -> PeerKind {
        match self {
            Peer::Rust { .. } => PeerKind::Ours,
            Peer::Teloxide { .. } => PeerKind::Teloxide,
            Peer::Aiogram { .. } => PeerKind::Aiogram,
        }
    }
}

/// Where a bot finds its fakes.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Fake Bot API base URL.
    pub telegram: String,
    /// Fake Omnidesk base URL.
    pub omnidesk: String,
    /// Redis URL (possibly the counting proxy).
    pub redis: String,
    /// Unique prefix of the bot's Redis keys.
    pub prefix: String,
}

/// A running bot.
#[derive(Debug)]
pub struct BotProcess {
    child: tokio::process::Child,
    /// Its process id.
    pub pid: u32,
    /// Its combined stdout/stderr.
    pub log: PathBuf,
}

/// Memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Memory {
    /// Resident set now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Peak resident set since start (`VmHWM`), KiB.
    pub hwm_kib: u64,
}

impl Memory {
    /// Reads `/proc/<pid>/status`.
    pub fn of(pid: u32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Some(parse_status(&text))
    }
}

/// CPU time a process has used (user + system), in clock ticks of 10 ms (`USER_HZ` is
/// 100 on Linux), from `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&text)
}

/// `utime + stime` out of a `/proc/<pid>/stat` line.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Parses `VmRSS` and `VmHWM` (kB) out of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

impl BotProcess {
    /// Starts `peer` against `ends`, with its files in `dir`, limits lifted
    /// ([`Tuning::lifted`]), and waits (at most 60 s) until it polls `hub`.
    ///
    /// # Errors
    ///
    /// The process cannot start, exits, or does not poll in time (the log tail is quoted).
    pub async fn start(
        peer: &Peer,
        ends: &Endpoints,
        dir: &Path,
        hub: &Hub,
    ) -> anyhow::Result<Self> {
        Self::start_tuned(peer, ends, dir, hub, &Tuning::lifted()).await
    }

    /// [`BotProcess::start`] with `tuning` for this repository's bot.
    ///
    /// # Errors
    ///
    /// As [`BotProcess::start`].
    pub async fn start_tuned(
        peer: &Peer,
        ends: &Endpoints,
        dir: &Path,
        hub: &Hub,
        tuning: &Tuning,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let tag = ends.prefix.trim_end_matches(':');
        let log = dir.join(format!("{tag}.log"));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = match peer {
            Peer::Rust { binary, repo } => {
                let config = dir.join(format!("{tag}.toml"));
                std::fs::write(
                    &config,
                    format!(
                        "redis-prefix = {}\ndialogues-dir = {}\nlocales-dir = {}\npolling-timeout-secs = 1\nomnidesk-timeout-secs = 20\n{}",
                        toml_str(&ends.prefix),
                        toml_str(&repo.join("dialogues").display().to_string()),
                        toml_str(&repo.join("locales").display().to_string()),
                        tuning.config_lines(),
                    ),
                )?;
                let mut c = tokio::process::Command::new(binary);
                c.arg("run")
                    .env("BOT_CONFIG", &config)
                    .env("HTTP_ADDR", "127.0.0.1:0")
                    .envs(tuning.env.iter().map(|(k, v)| (k, v)))
                    .current_dir(repo);
                c
            }
            Peer::Teloxide { binary } => {
                let mut c = tokio::process::Command::new(binary);
                c.env("BOT_REDIS_PREFIX", &ends.prefix);
                c
            }
            Peer::Aiogram { python, script } => {
                let mut c = tokio::process::Command::new(python);
                c.arg(script).env("BOT_REDIS_PREFIX", &ends.prefix);
                c
            }
        };
        cmd.env("TELOXIDE_TOKEN", TOKEN)
            .env("TELEGRAM_API_URL", &ends.telegram)
            .env("OMNIDESK_URL", &ends.omnidesk)
            .env("OMNIDESK_EMAIL", "bench@waviot.test")
            .env("OMNIDESK_API_KEY", "bench-api-key")
            .env("REDIS_URL", &ends.redis)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        if let Ok(filter) = std::env::var("BENCH_BOT_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", peer.name()))?;
        let pid = child.id().context("the bot has no pid")?;
        let before = hub.polls();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if hub.polls() > before {
                return Ok(Self { child, pid, log });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited ({status}) before polling:\n{}",
                    peer.name(),
                    tail(&log)
                );
            }
            if Instant::now() >= deadline {
                bail!("{} did not poll within 60 s:\n{}", peer.name(), tail(&log));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// CPU ticks (10 ms) used so far.
    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.pid).unwrap_or(0)
    }

    /// Its memory now.
    pub fn memory(&self) -> Memory {
        Memory::of(self.pid).unwrap_or_default()
    }

    /// Sends SIGTERM and waits up to 15 s, then kills it.
    pub async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

fn toml_str(s: &str) -> String {
    let escaped: String = s
        .chars()
        .flat_map(|c| match c {
            '\\' => vec!['\\', '\\'],
            '"' => vec!['\\', '"'],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The last 2,000 characters of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let chars: Vec<char> = text.chars().collect();
    chars[chars.len().saturating_sub(2000)..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kib() {
        let m = parse_status("Name:\tbot\nVmHWM:\t   24576 kB\nVmRSS:\t   20480 kB\n");
        assert_eq!(m.hwm_kib, 24576);
        assert_eq!(m.rss_kib, 20480);
        let stat = "42 (waviot bot) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(toml_str(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
