//! What Omnidesk posts to the bot, on `WEBHOOK_ADDR` (served in polling mode too):
//!
//! - `POST /omnidesk/<OMNIDESK_WEBHOOK_SECRET>`: the custom channel's webhook, one agent
//!   reply per call (JSON or form-encoded). Internal notes and customers' own messages are
//!   ignored; a reply for a case the bot did not create is answered 200 and logged. A
//!   reply is answered 200 only once it is in the durable relay, deduplicated by
//!   Omnidesk's message id, so a repeated call or a crash after the answer relays it once.
//! - `POST /omnidesk/<secret>/event`: a rule's "send webhook" action saying a case
//!   changed. The body only names the case; the bot reads the case from Omnidesk and tells
//!   the user when it was closed or waits for them.
//!
//! Any other path, or a wrong secret, is 404 and stores nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};

use crate::conversation::{RelayHandle, agent_reply_entry, status_read};
use crate::delivery::Deliverer;
use crate::i18n::Localizer;
use crate::omnidesk::channel;
use crate::storage::relay::{Attachment, RelayEntry};
use crate::storage::{CaseRecord, Store};

/// What the endpoints need.
#[derive(Clone)]
pub struct DeskHooks {
    /// Storage (case records, the relay).
    pub store: Store,
    /// The help desk, to read a changed case.
    pub desk: Deliverer,
    /// Texts of status notices.
    pub i18n: Arc<Localizer>,
    /// Wakes the relay worker.
    pub relay: RelayHandle,
    /// The secret path part.
    pub secret: Arc<SecretString>,
}

impl std::fmt::Debug for DeskHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskHooks").finish_non_exhaustive()
    }
}

/// Constant-time comparison, so the secret cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

const OK: (StatusCode, &str) = (StatusCode::OK, r#"{"result":"ok"}"#);

/// The routes, under `/omnidesk/`.
pub fn routes(hooks: DeskHooks) -> Router {
    Router::new()
        .route("/omnidesk/{secret}", post(message))
        .route("/omnidesk/{secret}/event", post(event))
        .with_state(hooks)
}

impl DeskHooks {
    fn admits(&self, given: &str) -> bool {
        same(given.as_bytes(), self.secret.expose_secret().as_bytes())
    }

    /// The case record of `case_id`, or the answer to give when there is none.
    async fn record(&self, case_id: i64) -> Result<CaseRecord, (StatusCode, &'static str)> {
        match self.store.case(case_id).await {
            Ok(Some(record)) => Ok(record),
            Ok(None) => {
                tracing::warn!(
                    case.id = case_id,
                    "Omnidesk wrote about a case this bot did not create; ignored"
                );
                Err(OK)
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "storage unavailable; Omnidesk will send again");
                Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"error":"unavailable"}"#,
                ))
            }
        }
    }

    /// Queues a message for a chat; 200 once it is stored (or was stored before).
    async fn push(&self, entry: RelayEntry) -> (StatusCode, &'static str) {
        match self.store.relay().push(&entry).await {
            Ok(fresh) => {
                if fresh {
                    self.relay.wake();
                } else {
                    tracing::info!(relay.id = %entry.id, "delivered before; not queued again");
                }
                OK
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "storage unavailable; Omnidesk will send again");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"error":"unavailable"}"#,
                )
            }
        }
    }
}

async fn message(
    State(hooks): State<DeskHooks>,
    Path(given): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if !hooks.admits(&given) {
        return (StatusCode::NOT_FOUND, "");
    }
    let message = match channel::parse_message(content_type(&headers), &body) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error.message = %e, "an Omnidesk channel webhook could not be read");
            return (StatusCode::BAD_REQUEST, r#"{"error":"unreadable"}"#);
        }
    };
    let span = tracing::info_span!(
        "omnidesk_message",
        case.id = message.case_id,
        message.id = message.message_id
    );
    let _enter = span.enter();
    if !message.is_agent_reply() {
        tracing::info!(
            note = message.note,
            "not an agent's reply to the customer; ignored"
        );
        return OK;
    }
    let record = match hooks.record(message.case_id).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    if let Some(custom) = &message.custom_user_id
        && custom.trim() != record.user_id.to_string()
    {
        tracing::warn!(
            "the reply names another channel user than the case's; sent to the case's user"
        );
    }
    let html = channel::telegram_html(&message.content_html, &message.content);
    if html.trim().is_empty() && message.attachments.is_empty() {
        tracing::info!("an empty reply; ignored");
        return OK;
    }
    let attachments = message
        .attachments
        .into_iter()
        .map(|(name, url)| Attachment { name, url })
        .collect();
    hooks
        .push(agent_reply_entry(
            &record,
            message.message_id,
            html,
            attachments,
        ))
        .await
}

async fn event(
    State(hooks): State<DeskHooks>,
    Path(given): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if !hooks.admits(&given) {
        return (StatusCode::NOT_FOUND, "");
    }
    let case_id = match channel::parse_event(content_type(&headers), &body) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error.message = %e, "an Omnidesk rule webhook names no case_id; see the README for the body template");
            return (StatusCode::BAD_REQUEST, r#"{"error":"no case_id"}"#);
        }
    };
    let record = match hooks.record(case_id).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    // The body is the admin's template: only the case id is taken from it.
    let case = match hooks.desk.case(case_id).await {
        Ok(case) => case,
        Err(e) => {
            tracing::warn!(error.message = %e, case.id = case_id, "could not read the changed case");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"unavailable"}"#,
            );
        }
    };
    let Some(status) = case.status else {
        return OK;
    };
    match status_read(&hooks.store, &hooks.i18n, record, &status).await {
        Ok(Some(notice)) => hooks.push(notice).await,
        Ok(None) => OK,
        Err(e) => {
            tracing::warn!(error.message = %e, "storage unavailable; Omnidesk will send again");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"unavailable"}"#,
            )
        }
    }
}
