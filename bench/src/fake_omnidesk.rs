//! A minimal fake Omnidesk: `POST /api/cases.json` answers `201` with
//! `{"case":{"case_id":N,"case_number":"BENCH-N"}}`.
//!
//! The request body (JSON, or multipart with attachments) is read as a stream and its
//! bytes are counted and dropped chunk by chunk, so receiving 10 × 20 MB costs this
//! process no memory and the bot's memory is what the attachment test sees.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::serve::ListenerExt;
use futures::StreamExt;
use serde::Serialize;

use crate::scenario::CASE_MARK;

/// Counts of what the fake received.
#[derive(Debug, Default)]
pub struct Omnidesk {
    cases: AtomicU64,
    bytes: AtomicU64,
    largest: AtomicU64,
    rejected: AtomicU64,
}

/// A snapshot of [`Omnidesk`]'s counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Received {
    /// Cases created.
    pub cases: u64,
    /// Request body bytes received in total.
    pub bytes: u64,
    /// The largest request body.
    pub largest: u64,
    /// Requests that were not a case creation.
    pub rejected: u64,
}

impl Omnidesk {
    /// Starts the fake on a fresh 127.0.0.1 port; it runs until the task is aborted.
    ///
    /// # Errors
    ///
    /// The port cannot be bound.
    pub async fn start() -> anyhow::Result<(Arc<Self>, SocketAddr, tokio::task::JoinHandle<()>)> {
        let me = Arc::new(Self::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&me));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((me, addr, task))
    }

    /// What was received so far.
    pub fn received(&self) -> Received {
        Received {
            cases: self.cases.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

async fn handle(State(od): State<Arc<Omnidesk>>, req: Request) -> Response {
    if req.method() != axum::http::Method::POST || req.uri().path() != "/api/cases.json" {
        od.rejected.fetch_add(1, Ordering::Relaxed);
        return reply(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#.to_owned());
    }
    let mut body = req.into_body().into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => total += c.len() as u64,
            Err(_) => {
                od.rejected.fetch_add(1, Ordering::Relaxed);
                return reply(StatusCode::BAD_REQUEST, r#"{"error":"body"}"#.to_owned());
            }
        }
    }
    od.bytes.fetch_add(total, Ordering::Relaxed);
    od.largest.fetch_max(total, Ordering::Relaxed);
    let n = od.cases.fetch_add(1, Ordering::Relaxed) + 1;
    reply(
        StatusCode::CREATED,
        format!(r#"{{"case":{{"case_id":{n},"case_number":"{CASE_MARK}{n}"}}}}"#),
    )
}

fn reply(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}
