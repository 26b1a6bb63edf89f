//! Long polling that acknowledges an update only after it has been handled.
//!
//! teloxide's own `Polling` asks for the next batch — which confirms the previous one to
//! Telegram — as soon as the batch is queued, before the handlers run, so a crash at that
//! moment loses those updates. This listener waits until every update it handed out has
//! been handled (the handler reports it through [`InFlight`]) before it asks again, so an
//! update is confirmed only once it is handled; after a crash Telegram hands it out again,
//! and the session's last-update-id check applies it once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::BoxStream;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::*;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::sync::Notify;

/// The longest the listener waits for a batch's handlers before polling again anyway.
const MAX_WAIT_FOR_HANDLERS: Duration = Duration::from_secs(300);

/// Updates handed to the dispatcher and not yet handled.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    fn begin(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// An update was handled.
    pub fn end(&self) {
        let previous = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            })
            .unwrap_or(0);
        if previous <= 1 {
            self.idle.notify_waiters();
        }
    }

    async fn wait_idle(&self) {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                if self.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        // A safety net: an update that never reports back must not stop polling for good.
        if tokio::time::timeout(MAX_WAIT_FOR_HANDLERS, idle)
            .await
            .is_err()
        {
            tracing::warn!(
                in_flight = self.count.load(Ordering::SeqCst),
                "handlers did not report back in time; polling on"
            );
            self.count.store(0, Ordering::SeqCst);
        }
    }
}

/// The listener.
pub struct AckPolling {
    bot: Bot,
    timeout: Duration,
    offset: i32,
    buffer: VecDeque<Update>,
    in_flight: Arc<InFlight>,
    stop_token: StopToken,
    stop_flag: StopFlag,
    errors: u32,
    finished: bool,
}

impl std::fmt::Debug for AckPolling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckPolling")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl AckPolling {
    /// Polls with `timeout`; handlers report finished updates to `in_flight`.
    pub fn new(bot: Bot, timeout: Duration, in_flight: Arc<InFlight>) -> Self {
        let (stop_token, stop_flag) = mk_stop_token();
        Self {
            bot,
            timeout,
            offset: 0,
            buffer: VecDeque::new(),
            in_flight,
            stop_token,
            stop_flag,
            errors: 0,
            finished: false,
        }
    }

    /// The next update, or `None` once stopped and drained.
    async fn next(&mut self) -> Option<Update> {
        loop {
            if let Some(update) = self.buffer.pop_front() {
                return Some(update);
            }
            if self.finished {
                return None;
            }
            // Confirm nothing that is still being handled.
            self.in_flight.wait_idle().await;
            if self.stop_flag.is_stopped() {
                // Confirm what was handled; anything this returns stays unconfirmed.
                let _ = self
                    .bot
                    .get_updates()
                    .offset(self.offset)
                    .limit(1)
                    .timeout(0)
                    .await;
                self.finished = true;
                return None;
            }
            let request = self
                .bot
                .get_updates()
                .offset(self.offset)
                .timeout(u32::try_from(self.timeout.as_secs()).unwrap_or(10))
                .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
            let stop = self.stop_flag.clone();
            let result = tokio::select! {
                r = request.send() => r,
                () = stop => continue,
            };
            match result {
                Ok(updates) => {
                    self.errors = 0;
                    for update in updates {
                        self.offset = update.id.as_offset();
                        if matches!(update.kind, UpdateKind::Error(_)) {
                            tracing::warn!(
                                update.id = update.id.0,
                                "an update teloxide cannot parse was skipped"
                            );
                            continue;
                        }
                        self.in_flight.begin();
                        self.buffer.push_back(update);
                    }
                }
                Err(RequestError::RetryAfter(wait)) => tokio::time::sleep(wait.duration()).await,
                Err(e) => {
                    self.errors += 1;
                    let pause = Duration::from_millis(200 * 2u64.pow(self.errors.min(6)));
                    tracing::warn!(error.message = %e, retry_in_ms = pause.as_millis() as u64, "getUpdates failed");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

impl<'a> AsUpdateStream<'a> for AckPolling {
    type StreamErr = RequestError;
    type Stream = BoxStream<'a, Result<Update, RequestError>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        Box::pin(futures::stream::unfold(self, |listener| async move {
            let update = listener.next().await?;
            Some((Ok(update), listener))
        }))
    }
}

impl UpdateListener for AckPolling {
    type Err = RequestError;

    fn stop_token(&mut self) -> StopToken {
        self.stop_token.clone()
    }
}
