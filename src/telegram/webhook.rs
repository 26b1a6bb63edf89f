//! Webhook mode: Telegram POSTs each update to `WEBHOOK_URL`; the bot checks the secret
//! token, handles the update, and only then answers 200. Telegram waits for that answer
//! before sending the same chat's next update, so per-chat order holds across replicas,
//! and an update is acknowledged only once it has been handled: a crash before the answer
//! means Telegram sends it again (and the session's update-id check makes that harmless).
//!
//! The bot registers the webhook at start (`setWebhook` with `allowed_updates` and the
//! secret) and never deletes it when it stops, so one replica stopping does not cut off
//! the others.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, Me};

use super::AppState;

/// The header Telegram puts the secret token in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[derive(Clone)]
struct Hook {
    bot: Bot,
    state: Arc<AppState>,
    me: Arc<Me>,
    secret: Arc<SecretString>,
}

/// Constant-time comparison, so the secret cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same(given, hook.secret.expose_secret().as_bytes()) {
        tracing::warn!("webhook request with a wrong or missing secret token refused");
        return StatusCode::UNAUTHORIZED;
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // It will never parse; answering 200 stops Telegram from resending it.
            tracing::warn!(error.message = %e, "undecodable update skipped");
            return StatusCode::OK;
        }
    };
    super::handle_update(
        hook.bot.clone(),
        update,
        hook.state.clone(),
        (*hook.me).clone(),
    )
    .await;
    StatusCode::OK
}

/// Routes serving the webhook at `url`'s path.
pub fn routes(
    url: &reqwest::Url,
    bot: Bot,
    state: Arc<AppState>,
    me: Me,
    secret: SecretString,
) -> Router {
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    Router::new().route(path, post(receive)).with_state(Hook {
        bot,
        state,
        me: Arc::new(me),
        secret: Arc::new(secret),
    })
}

/// Registers the webhook with Telegram.
///
/// # Errors
///
/// Telegram refused it.
pub async fn register(bot: &Bot, url: reqwest::Url, secret: &SecretString) -> anyhow::Result<()> {
    bot.set_webhook(url)
        .secret_token(secret.expose_secret().to_owned())
        .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
        .await?;
    Ok(())
}
