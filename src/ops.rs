//! The operations endpoint (`HTTP_ADDR`, default 127.0.0.1:8080): `/healthz` and
//! `/metrics` in Prometheus text format.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::storage::Store;

/// Label of a per-kind counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind.
    pub kind: String,
}

/// What the last delivery attempt said about Omnidesk.
const OMNIDESK_UNKNOWN: u8 = 0;
const OMNIDESK_OK: u8 = 1;
const OMNIDESK_FAILING: u8 = 2;

/// The bot's counters, shared by the handler, the worker and the endpoint.
pub struct Metrics {
    registry: Registry,
    /// Updates handled, by update kind.
    pub updates: Family<KindLabel, Counter>,
    /// Time to handle one update, seconds.
    pub update_seconds: Histogram,
    /// Requests sent by users (entered the outbox).
    pub submitted: Counter,
    /// Delivery attempts, by result (`ok`, `retried`, `parked`).
    pub deliveries: Family<KindLabel, Counter>,
    /// 429 answers from Telegram.
    pub telegram_429: Counter,
    /// 429 answers from Omnidesk.
    pub omnidesk_429: Counter,
    /// Attachments left out of a case because they could not be fetched.
    pub attachments_left_out: Counter,
    /// Requests waiting longer than this are reported as overdue.
    pub overdue_after: Duration,
    outbox_depth: Gauge,
    outbox_overdue: Gauge,
    parked_depth: Gauge,
    omnidesk_state: AtomicU8,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric; requests waiting longer than 30 minutes count as overdue.
    pub fn new() -> Self {
        Self::with_overdue_after(Duration::from_secs(30 * 60))
    }

    /// Registers every metric; requests waiting longer than `overdue_after` count as
    /// overdue.
    pub fn with_overdue_after(overdue_after: Duration) -> Self {
        let mut registry = Registry::with_prefix("waviot_bot");
        let updates = Family::<KindLabel, Counter>::default();
        registry.register(
            "updates_handled",
            "Updates handled, by update kind",
            updates.clone(),
        );
        let update_seconds = Histogram::new([
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]);
        registry.register(
            "update_handling_seconds",
            "Time to handle one update",
            update_seconds.clone(),
        );
        let submitted = Counter::default();
        registry.register(
            "requests_submitted",
            "Requests sent by users",
            submitted.clone(),
        );
        let deliveries = Family::<KindLabel, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by result (ok, retried, parked, lost)",
            deliveries.clone(),
        );
        let telegram_429 = Counter::default();
        registry.register(
            "telegram_429",
            "429 answers from Telegram",
            telegram_429.clone(),
        );
        let omnidesk_429 = Counter::default();
        registry.register(
            "omnidesk_429",
            "429 answers from Omnidesk",
            omnidesk_429.clone(),
        );
        let attachments_left_out = Counter::default();
        registry.register(
            "attachments_left_out",
            "Attachments left out of a case because they could not be fetched",
            attachments_left_out.clone(),
        );
        let outbox_overdue = Gauge::default();
        registry.register(
            "outbox_overdue",
            "Requests waiting for their case longer than delivery-overdue-mins",
            outbox_overdue.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "outbox_depth",
            "Requests waiting for delivery",
            outbox_depth.clone(),
        );
        let parked_depth = Gauge::default();
        registry.register(
            "outbox_parked",
            "Requests refused by Omnidesk and parked",
            parked_depth.clone(),
        );
        Self {
            registry,
            updates,
            update_seconds,
            submitted,
            deliveries,
            telegram_429,
            omnidesk_429,
            attachments_left_out,
            overdue_after,
            outbox_depth,
            outbox_overdue,
            parked_depth,
            omnidesk_state: AtomicU8::new(OMNIDESK_UNKNOWN),
        }
    }

    /// Counts a delivery result and remembers whether Omnidesk answered.
    pub fn delivery(&self, result: &str, omnidesk_ok: bool) {
        self.deliveries
            .get_or_create(&KindLabel {
                kind: result.to_owned(),
            })
            .inc();
        let state = if omnidesk_ok {
            OMNIDESK_OK
        } else {
            OMNIDESK_FAILING
        };
        self.omnidesk_state.store(state, Ordering::Relaxed);
    }

    fn omnidesk_state(&self) -> &'static str {
        match self.omnidesk_state.load(Ordering::Relaxed) {
            OMNIDESK_OK => "ok",
            OMNIDESK_FAILING => "failing",
            _ => "unknown",
        }
    }
}

#[derive(Clone)]
struct OpsState {
    metrics: Arc<Metrics>,
    store: Store,
}

async fn healthz(State(s): State<OpsState>) -> impl IntoResponse {
    let storage_ok = s.store.ping().await.is_ok();
    let body = serde_json::json!({
        "storage": if storage_ok { "ok" } else { "unreachable" },
        "omnidesk": s.metrics.omnidesk_state(),
    });
    let status = if storage_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

async fn metrics_text(State(s): State<OpsState>) -> impl IntoResponse {
    let outbox = s.store.outbox();
    if let Ok((waiting, parked)) = outbox.depth().await {
        s.metrics.outbox_depth.set(waiting);
        s.metrics.parked_depth.set(parked);
    }
    if let Ok(overdue) = outbox.overdue(s.metrics.overdue_after).await {
        s.metrics
            .outbox_overdue
            .set(i64::try_from(overdue.len()).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &s.metrics.registry).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        );
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

/// Binds the endpoint; returns the bound address and the server future.
///
/// # Errors
///
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr, metrics: Arc<Metrics>, store: Store) -> anyhow::Result<Server> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(OpsState { metrics, store });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(Server { listener, router })
}

/// Binds `addr` for `routes` (the listener for incoming webhooks).
///
/// # Errors
///
/// The address cannot be bound.
pub async fn listen(addr: SocketAddr, routes: Router) -> anyhow::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(Server {
        listener,
        router: routes,
    })
}

/// A bound HTTP server that more routes can be added to before it starts.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Server {
    /// The bound address.
    ///
    /// # Errors
    ///
    /// The socket has no local address.
    pub fn addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Adds routes.
    #[must_use]
    pub fn merge(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    /// Serves until `shutdown` resolves, then lets requests in flight finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        if let Err(e) = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error.message = %e, "HTTP endpoint stopped");
        }
    }
}
