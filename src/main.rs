//! `waviot-support-bot`: command-line entry point.

use clap::{Parser, Subcommand};
use intake_core::sla::ProductionCalendar;
use secrecy::ExposeSecret;
use waviot_support_bot::cli;
use waviot_support_bot::config::{BotFile, Settings};
use waviot_support_bot::startup::Application;
use waviot_support_bot::telemetry;

/// Telegram bot that files WAVIoT technical-support requests as Omnidesk cases.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve Telegram by long polling (the default).
    Run,
    /// Try the bot in the terminal: same dialogues and delivery; without Omnidesk
    /// settings cases go to a dry-run folder.
    Chat {
        /// Language of the conversation (ru or en).
        #[arg(long, default_value = "ru")]
        lang: String,
    },
    /// Check the configuration, dialogues and locales; print `file: key: problem` lines.
    Check,
    /// Run only the delivery worker (extra delivery processes beside the one polling bot).
    Worker,
    /// Inspect and replay the outbox of sent requests.
    Outbox {
        #[command(subcommand)]
        action: OutboxCmd,
    },
    /// Print the reaction deadline of a request registered at a given time.
    Deadline {
        /// Urgency level: critical (3 working hours), high (5) or medium (15).
        #[arg(long, value_parser = ["critical", "high", "medium", "low"], required_unless_present = "hours")]
        level: Option<String>,
        /// A number of working hours instead of a level.
        #[arg(long, conflicts_with = "level")]
        hours: Option<u32>,
        /// Registration time in the configured zone, "YYYY-MM-DD HH:MM".
        #[arg(long)]
        at: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCmd {
    /// List requests waiting for delivery and parked ones.
    List,
    /// Put a parked request back in the queue.
    Retry {
        /// Request id (as `outbox list` shows it).
        id: String,
    },
    /// Put every parked request back in the queue.
    RetryAll,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init("info,teloxide=warn,hyper=warn,reqwest=warn");
    let result = match cli.command.unwrap_or(Cmd::Run) {
        Cmd::Run => run().await,
        Cmd::Worker => worker().await,
        Cmd::Check => check(),
        Cmd::Chat { lang } => chat(&lang).await,
        Cmd::Outbox { action } => outbox(action).await,
        Cmd::Deadline { level, hours, at } => deadline(level.as_deref(), hours, &at),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn deadline(level: Option<&str>, hours: Option<u32>, at: &str) -> anyhow::Result<()> {
    let level = level
        .map(str::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let schedule = match std::env::var("BOT_CONFIG") {
        Ok(p) if !p.trim().is_empty() => BotFile::load(std::path::Path::new(p.trim()))?.schedule,
        _ => BotFile::default().schedule,
    };
    let due = cli::deadline(&schedule, &ProductionCalendar::russia(), level, hours, at)?;
    println!("{due}");
    Ok(())
}

async fn chat(lang: &str) -> anyhow::Result<()> {
    let file = Settings::file_from_env()?;
    let omnidesk = Settings::omnidesk_from_env()?;
    let setup = waviot_support_bot::chat::ChatSetup::new(&file, omnidesk, lang)?;
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let mut stdout = std::io::stdout();
    waviot_support_bot::chat::run(&setup, stdin, &mut stdout).await
}

fn check() -> anyhow::Result<()> {
    let config = std::env::var("BOT_CONFIG")
        .ok()
        .filter(|p| !p.trim().is_empty());
    match waviot_support_bot::check::run(config.as_deref().map(std::path::Path::new)) {
        Ok(summary) => {
            println!(
                "ok: {} request kinds, {} messages in every language",
                summary.kinds, summary.messages
            );
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            anyhow::bail!("{} problem(s) found", problems.len())
        }
    }
}

async fn worker() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    waviot_support_bot::startup::run_worker(settings, shutdown_signal()).await
}

async fn outbox(action: OutboxCmd) -> anyhow::Result<()> {
    let (url, file) = Settings::storage_from_env()?;
    let url = url.as_ref().map(|u| u.expose_secret());
    let store = waviot_support_bot::storage::Store::open(url, &file).await?;
    let outbox = store.outbox();
    match action {
        OutboxCmd::List => {
            let overdue_after =
                std::time::Duration::from_secs(u64::from(file.delivery_overdue_mins) * 60);
            let cutoff = chrono::Utc::now() - overdue_after;
            let pending = outbox.pending().await?;
            let parked = outbox.parked().await?;
            println!("waiting: {}", pending.len());
            for (entry, due_ms) in pending {
                let due = chrono::DateTime::from_timestamp_millis(due_ms)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default();
                let submitted = entry.outgoing.request.submitted_at;
                println!(
                    "  {}{}  kind={} submitted={} attempts={} next={} case={} error={}",
                    entry.id(),
                    if submitted < cutoff { "  OVERDUE" } else { "" },
                    entry.outgoing.request.kind,
                    submitted.to_rfc3339(),
                    entry.attempts,
                    due,
                    entry.case.as_ref().map_or("-", |c| c.case_number.as_str()),
                    entry.last_error.as_deref().unwrap_or("-")
                );
            }
            println!("parked: {}", parked.len());
            for p in parked {
                println!(
                    "  {}  kind={} error={}",
                    p.entry.id(),
                    p.entry.outgoing.request.kind,
                    p.error
                );
            }
        }
        OutboxCmd::Retry { id } => {
            if outbox.retry(&id).await? {
                println!("{id}: queued again");
            } else {
                anyhow::bail!("{id}: no parked request with this id");
            }
        }
        OutboxCmd::RetryAll => {
            let parked = outbox.parked().await?;
            for p in &parked {
                outbox.retry(p.entry.id()).await?;
            }
            println!("queued again: {}", parked.len());
        }
    }
    Ok(())
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(shutdown_signal()).await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
