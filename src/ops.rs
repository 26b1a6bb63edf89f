//! The operations endpoint (`HTTP_ADDR`, default 127.0.0.1:8080): `/healthz` and
//! `/metrics` in Prometheus text format.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::storage::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

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
        s.metrics.set_depth(waiting, parked);
    }
    if let Ok(overdue) = outbox.overdue(s.metrics.overdue_after).await {
        s.metrics
            .set_overdue(i64::try_from(overdue.len()).unwrap_or(i64::MAX));
    }
    let Some(text) = s.metrics.encode() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        );
    };
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
