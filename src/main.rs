//! `waviot-support-bot`: command-line entry point.

use clap::{Parser, Subcommand};
use intake_core::sla::ProductionCalendar;
use secrecy::ExposeSecret;
use waviot_support_bot::config::Settings;
use waviot_support_bot::deadline;
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
    /// Print QR sticker sheets: each code opens the bot with its base station or modem
    /// already filled in.
    #[command(after_help = "Examples:\n  \
        waviot-support-bot qr --station 1234 --modem 7A48AC --bot-username waviot_support_bot --out sheet.pdf\n  \
        waviot-support-bot qr --csv objects.csv --out sheet.png   (username from getMe via TELOXIDE_TOKEN)\n\n\
        CSV: one object per line, `station,1234` or `modem,7A48AC`; a bare number is a station.\n\
        Invalid lines are reported as `line N: problem` and get no sticker; the exit status is then 1.")]
    Qr(QrArgs),
}

#[derive(Debug, clap::Args)]
struct QrArgs {
    /// A base-station number (repeatable).
    #[arg(long = "station", value_name = "N")]
    stations: Vec<String>,
    /// A modem ID, hex or decimal (repeatable).
    #[arg(long = "modem", value_name = "ID")]
    modems: Vec<String>,
    /// A file with one object per line: `station,1234`, `modem,7A48AC` or a bare station number.
    #[arg(long, value_name = "FILE")]
    csv: Option<std::path::PathBuf>,
    /// Output file; .svg, .png or .pdf. Several pages of SVG or PNG become FILE-1.png, FILE-2.png, ….
    #[arg(long, value_name = "FILE")]
    out: std::path::PathBuf,
    /// The bot's username; without it the bot is asked (getMe) with TELOXIDE_TOKEN.
    #[arg(long, value_name = "NAME")]
    bot_username: Option<String>,
    /// Language of the sticker text (ru or en).
    #[arg(long, default_value = "ru", value_parser = ["ru", "en"])]
    lang: String,
    /// One 63×55 mm page per sticker (label printers) instead of A4 sheets of 15.
    #[arg(long)]
    labels: bool,
    /// Resolution of PNG output, dots per inch.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(50..=1200))]
    dpi: u32,
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

/// mimalloc instead of the system allocator: a profile at saturation spent about a fifth
/// of the bot's CPU in glibc's malloc and free (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Cmd::Deadline { level, hours, at } => print_deadline(level.as_deref(), hours, &at),
        Cmd::Qr(args) => qr(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_deadline(level: Option<&str>, hours: Option<u32>, at: &str) -> anyhow::Result<()> {
    let level = level
        .map(str::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let schedule = Settings::file_from_env()?.schedule;
    let due = deadline::deadline(&schedule, &ProductionCalendar::russia(), level, hours, at)?;
    println!("{due}");
    Ok(())
}

async fn qr(args: QrArgs) -> anyhow::Result<()> {
    use waviot_support_bot::qr;

    let file = Settings::file_from_env()?;
    let i18n = waviot_support_bot::i18n::Localizer::load(&file.locales_dir)?;
    let csv = match &args.csv {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let read = qr::Objects::read(
        &args.stations,
        &args.modems,
        csv.as_deref(),
        &i18n,
        &args.lang,
    );
    for p in &read.problems {
        eprintln!("{p}");
    }
    if read.objects.is_empty() {
        anyhow::bail!("nothing to print: give --station, --modem or --csv with valid objects");
    }
    let username = match &args.bot_username {
        Some(name) => qr::bot_username(name)?,
        None => qr::bot_username(&username_from_telegram().await?)?,
    };
    let stickers = qr::stickers(&read.objects, &username, &i18n, &args.lang);
    let layout = if args.labels {
        qr::Layout::Labels
    } else {
        qr::Layout::Sheet
    };
    let written = qr::write_sheets(&stickers, layout, &args.out, args.dpi)?;
    for f in &written.files {
        println!("{}", f.display());
    }
    println!(
        "{} stickers on {} page(s) for @{username}",
        stickers.len(),
        written.pages
    );
    if !read.problems.is_empty() {
        anyhow::bail!("{} input line(s) skipped, see above", read.problems.len());
    }
    Ok(())
}

/// The bot's username from `getMe`, with `TELOXIDE_TOKEN` (and `TELEGRAM_API_URL`).
async fn username_from_telegram() -> anyhow::Result<String> {
    use teloxide::requests::Requester;

    let token = std::env::var("TELOXIDE_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("give --bot-username, or set TELOXIDE_TOKEN to ask Telegram")
        })?;
    let mut bot = teloxide::Bot::new(token.trim());
    if let Ok(url) = std::env::var("TELEGRAM_API_URL")
        && !url.trim().is_empty()
    {
        let url = url
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("TELEGRAM_API_URL: {e}"))?;
        bot = bot.set_api_url(url);
    }
    let me = bot
        .get_me()
        .await
        .map_err(|e| anyhow::anyhow!("getMe failed: {e}"))?;
    Ok(me.username().to_owned())
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
    let store = waviot_support_bot::storage::Store::open(
        url,
        &file.redis_prefix,
        &file.data_file,
        file.retention(),
    )
    .await?;
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
