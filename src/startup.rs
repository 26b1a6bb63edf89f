//! Builds the application from [`Settings`] (the same function serves `main` and the
//! tests) and runs it until shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use intake_core::domain::HostPolicy;
use intake_core::form::Catalog;
use secrecy::ExposeSecret;
use teloxide::dispatching::ShutdownToken;
use teloxide::prelude::*;

use crate::config::Settings;
use crate::conversation::{Conversation, DeskPoller, RelayHandle};
use crate::delivery::{CaseSink, Deliverer, FileSource, Sla};
use crate::desk_hooks::DeskHooks;
use crate::i18n::{LANGUAGES, Localizer};
use crate::metrics::Metrics;
use crate::omnidesk::OmnideskClient;
use crate::sender::{Outbound, SendLimits};
use crate::storage::Store;
use crate::telegram::{self, AppState, FloodGuard};
use crate::worker::{Worker, WorkerConfig, WorkerHandle};
use intake_core::sla::ProductionCalendar;
use tokio_util::sync::CancellationToken;

/// Reads every `*.toml` in `dir` and builds the catalog.
///
/// # Errors
///
/// The folder is unreadable, or the files have problems (each listed as `file: key: problem`).
pub fn load_catalog(dir: &Path) -> anyhow::Result<Catalog> {
    let mut problems = Vec::new();
    let files = crate::check::dialogue_files(dir, &mut problems);
    if !problems.is_empty() {
        bail!(
            "Failed to read the dialogues folder:\n{}",
            problems.join("\n")
        );
    }
    Catalog::parse(&files).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("dialogues are invalid:\n{}", lines.join("\n"))
    })
}

/// Checks that every message the catalog and the code use exists in every language.
///
/// # Errors
///
/// Lists each missing `lang: id`.
pub fn check_locales(catalog: &Catalog, i18n: &Localizer) -> anyhow::Result<()> {
    let needed = crate::check::needed_ids(catalog);
    let mut missing = Vec::new();
    for lang in LANGUAGES {
        let Some(ids) = i18n.ids(lang) else {
            missing.push(format!("{lang}: the whole locale"));
            continue;
        };
        for id in &needed {
            if !ids.contains(id) {
                missing.push(format!("locales/{lang}: {id}: not defined"));
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        bail!(
            "missing messages (run `waviot-support-bot check`):\n{}",
            missing.join("\n")
        )
    }
}

/// Builds a delivery worker (and the parts it shares with the bot) from the settings.
///
/// # Errors
///
/// Redis is unreachable, or the locale files are invalid.
pub async fn build_worker(
    settings: &Settings,
    bot: &Bot,
    store: &Store,
    i18n: Arc<Localizer>,
) -> anyhow::Result<Worker> {
    let bot_cfg = &settings.bot;
    let config = worker_config(bot_cfg);
    let omnidesk = OmnideskClient::new(
        settings.omnidesk.url.clone(),
        settings.omnidesk.email.clone(),
        settings.omnidesk.api_key.clone(),
        config.create_timeout,
    )?;
    let transfer = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .build()?;
    let sla = Arc::new(Sla {
        schedule: bot_cfg.schedule.clone(),
        calendar: ProductionCalendar::russia(),
    });
    let deliverer = Deliverer::new(
        CaseSink::Omnidesk(omnidesk),
        FileSource::Telegram {
            bot: bot.clone(),
            transfer,
        },
        i18n.clone(),
        bot_cfg.omnidesk.clone(),
        sla,
    );
    let metrics = Arc::new(Metrics::with_overdue_after(Duration::from_secs(
        u64::from(bot_cfg.delivery_overdue_mins) * 60,
    )));
    Ok(Worker {
        outbox: store.outbox(),
        store: store.clone(),
        deliverer,
        bot: bot.clone(),
        i18n,
        config,
        handle: WorkerHandle::new(),
        outbound: Outbound::new(
            bot.clone(),
            Arc::new(SendLimits::new(
                bot_cfg.telegram_messages_per_sec,
                bot_cfg.telegram_chat_messages_per_sec,
                bot_cfg.telegram_chat_burst,
                metrics.telegram_429.clone(),
            )),
        ),
        metrics,
    })
}

/// The relay worker sharing the delivery worker's parts (store, desk, bot, queues).
pub fn conversation(worker: &Worker) -> Conversation {
    Conversation {
        relay: worker.store.relay(),
        store: worker.store.clone(),
        desk: worker.deliverer.clone(),
        bot: worker.bot.clone(),
        outbound: worker.outbound.clone(),
        i18n: worker.i18n.clone(),
        config: worker.config,
        handle: RelayHandle::default(),
        metrics: worker.metrics.clone(),
    }
}

/// Delivery timing from the settings file.
pub fn worker_config(file: &crate::config::BotFile) -> WorkerConfig {
    let secs = |n: u32| Duration::from_secs(u64::from(n.max(1)));
    WorkerConfig {
        lease: secs(file.delivery_lease_secs),
        retry_base: Duration::from_millis(u64::from(file.delivery_retry_base_ms.max(1))),
        retry_cap: secs(file.delivery_retry_cap_secs),
        poll: Duration::from_secs(1),
        concurrency: usize::try_from(file.delivery_concurrency.max(1)).unwrap_or(32),
        create_timeout: secs(file.omnidesk_create_timeout_secs),
    }
}

/// The bot for the settings (token and API URL).
pub fn bot(settings: &Settings) -> Bot {
    let mut bot = Bot::new(settings.telegram.token.expose_secret());
    if let Some(url) = &settings.telegram.api_url {
        bot = bot.set_api_url(url.clone());
    }
    bot
}

/// Opens the store named by the settings: Redis when `REDIS_URL` is set, else the
/// embedded file `data-file`, caching `session-cache-chats` chats' states.
///
/// # Errors
///
/// Redis is unreachable, or the file cannot be opened.
pub async fn store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.redis.url.as_ref().map(ExposeSecret::expose_secret);
    Store::open(
        url,
        &settings.bot.redis_prefix,
        &settings.bot.data_file,
        settings.bot.retention(),
    )
    .await
    .map(|store| store.with_chat_cache(settings.bot.session_cache_chats))
}

/// Runs only the delivery worker, with `/healthz` and `/metrics` on `HTTP_ADDR`, until
/// `shutdown` resolves (for extra delivery processes).
///
/// # Errors
///
/// Redis is unreachable, the locales are invalid, or `HTTP_ADDR` cannot be bound.
pub async fn run_worker(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = store(&settings).await?;
    let i18n = Arc::new(Localizer::load(&settings.bot.locales_dir)?);
    let worker = build_worker(&settings, &bot(&settings), &store, i18n).await?;
    let conversation = conversation(&worker);
    let server = crate::ops::bind(settings.http_addr, worker.metrics.clone(), store.clone())
        .await
        .with_context(|| format!("Failed to bind HTTP_ADDR {}", settings.http_addr))?;
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.cancel();
    });
    let ops = tokio::spawn(server.serve({
        let until = stop.clone();
        async move { until.cancelled().await }
    }));
    tokio::join!(worker.run(stop.clone()), conversation.run(stop));
    let _ = ops.await;
    Ok(())
}

/// The running bot: dispatcher plus its shutdown handle.
pub struct Application {
    bot: Bot,
    state: Arc<AppState>,
    worker: Worker,
    conversation: Conversation,
    poller: Option<DeskPoller>,
    polling_timeout: Duration,
    http_addr: std::net::SocketAddr,
    server: crate::ops::Server,
    hooks: Option<crate::ops::Server>,
    webhook: Option<crate::config::WebhookSettings>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").finish_non_exhaustive()
    }
}

impl Application {
    /// Connects storage, loads dialogues and locales, prepares the clients.
    ///
    /// # Errors
    ///
    /// Redis is unreachable, or the dialogue or locale files are invalid.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let bot_cfg = &settings.bot;
        let store = store(&settings).await?;
        let catalog = load_catalog(&bot_cfg.dialogues_dir)?;
        let i18n = Arc::new(Localizer::load(&bot_cfg.locales_dir)?);
        check_locales(&catalog, &i18n)?;
        let bot = bot(&settings);
        let worker = build_worker(&settings, &bot, &store, i18n.clone()).await?;
        let conversation = conversation(&worker);
        let hosts = HostPolicy::new(bot_cfg.link_hosts.clone());
        let mut state = AppState::new(
            store,
            catalog,
            hosts,
            i18n.clone(),
            worker.handle.clone(),
            worker.outbound.clone(),
            worker.metrics.clone(),
            worker.deliverer.clone(),
            Duration::from_secs(u64::from(bot_cfg.omnidesk_timeout_secs)),
            FloodGuard::new(
                bot_cfg.flood_max_updates,
                Duration::from_secs(u64::from(bot_cfg.flood_window_secs.max(1))),
            ),
        );
        state.sends_allowed = (bot_cfg.submissions_per_hour, bot_cfg.submissions_per_day);
        state.relay = conversation.handle.clone();
        let state = Arc::new(state);
        let server = crate::ops::bind(
            settings.http_addr,
            state.metrics.clone(),
            state.store.clone(),
        )
        .await
        .with_context(|| format!("Failed to bind HTTP_ADDR {}", settings.http_addr))?;
        let http_addr = server.addr()?;
        let mut routes: Option<axum::Router> = None;
        if let Some(hook) = &settings.webhook {
            let me = bot
                .get_me()
                .await
                .context("Failed to reach Telegram (getMe)")?;
            routes = Some(telegram::webhook::routes(
                &hook.url,
                bot.clone(),
                state.clone(),
                me,
                hook.secret.clone(),
            ));
        }
        if let Some(secret) = &settings.omnidesk.webhook_secret {
            let desk = crate::desk_hooks::routes(DeskHooks {
                store: state.store.clone(),
                desk: state.desk.clone(),
                i18n: i18n.clone(),
                relay: conversation.handle.clone(),
                secret: Arc::new(secret.clone()),
            });
            routes = Some(match routes {
                Some(r) => r.merge(desk),
                None => desk,
            });
        }
        let hooks = match routes {
            Some(routes) => {
                let hooks = crate::ops::listen(settings.webhook_addr, routes)
                    .await
                    .with_context(|| {
                        format!("Failed to bind WEBHOOK_ADDR {}", settings.webhook_addr)
                    })?;
                tracing::info!(webhook_addr = %hooks.addr()?, "serving incoming webhooks");
                Some(hooks)
            }
            None => None,
        };
        let poller = (bot_cfg.omnidesk_poll_secs > 0).then(|| DeskPoller {
            store: state.store.clone(),
            desk: state.desk.clone(),
            i18n: i18n.clone(),
            relay: conversation.handle.clone(),
            every: Duration::from_secs(u64::from(bot_cfg.omnidesk_poll_secs)),
        });
        tracing::info!(%http_addr, "serving /healthz and /metrics");
        Ok(Self {
            bot,
            state,
            worker,
            conversation,
            poller,
            polling_timeout: Duration::from_secs(u64::from(bot_cfg.polling_timeout_secs)),
            http_addr,
            server,
            hooks,
            webhook: settings.webhook.clone(),
        })
    }

    /// The store the bot handles updates with (tests count its round trips).
    #[doc(hidden)]
    pub fn store(&self) -> Store {
        self.state.store.clone()
    }

    /// Where `/healthz` and `/metrics` are served.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.http_addr
    }

    /// Where incoming webhooks are served, when they are.
    pub fn webhook_addr(&self) -> Option<std::net::SocketAddr> {
        self.hooks.as_ref().and_then(|h| h.addr().ok())
    }

    /// Serves Telegram (long polling, or the webhook when configured) until `shutdown`
    /// resolves, then finishes the updates and the delivery in hand.
    ///
    /// # Errors
    ///
    /// Telegram could not be reached at start.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        if let Err(e) = telegram::publish_commands(&self.bot, &self.state.i18n).await {
            tracing::warn!(error.message = %e, "setMyCommands failed");
        }
        let stop = CancellationToken::new();
        let stop_worker = CancellationToken::new();
        let worker = tokio::spawn(self.worker.run(stop_worker.clone()));
        let conversation = tokio::spawn(self.conversation.run(stop_worker.clone()));
        if let Some(poller) = self.poller {
            tokio::spawn(poller.run(stop.clone()));
        }
        let stopper = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stopper.cancel();
        });
        let ops = tokio::spawn(self.server.serve({
            let until = stop.clone();
            async move { until.cancelled().await }
        }));
        let served = match (&self.webhook, self.hooks) {
            (Some(hook), Some(hooks)) => {
                match telegram::webhook::register(&self.bot, hook.url.clone(), &hook.secret)
                    .await
                    .context("Failed to register the webhook (setWebhook)")
                {
                    Ok(()) => {
                        tracing::info!("serving Telegram by webhook");
                        let until = stop.clone();
                        hooks.serve(async move { until.cancelled().await }).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            (_, hooks) => {
                if let Some(hooks) = hooks {
                    let until = stop.clone();
                    tokio::spawn(hooks.serve(async move { until.cancelled().await }));
                }
                poll(
                    self.bot.clone(),
                    self.state.clone(),
                    self.polling_timeout,
                    stop.clone(),
                )
                .await
            }
        };
        stop.cancel();
        let _ = ops.await;
        stop_worker.cancel();
        let _ = worker.await;
        let _ = conversation.await;
        served
    }
}

/// Long polling until `stop` is cancelled.
async fn poll(
    bot: Bot,
    state: Arc<AppState>,
    timeout: Duration,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let listener = telegram::AckPolling::new(bot.clone(), timeout, state.in_flight.clone());
    let mut dispatcher = Dispatcher::builder(bot, telegram::schema())
        .dependencies(dptree::deps![state])
        .default_handler(|_| async {})
        .build();
    let token: ShutdownToken = dispatcher.shutdown_token();
    tokio::spawn(async move {
        stop.cancelled().await;
        // Retry until the dispatcher has started, then wait for it to drain.
        loop {
            match token.shutdown() {
                Ok(done) => {
                    done.await;
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    dispatcher
        .try_dispatch_with_listener(
            listener,
            LoggingErrorHandler::with_custom_text("An error from the update listener"),
        )
        .await
        .context("Failed to start serving Telegram")
}
