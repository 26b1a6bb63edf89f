//! The delivery worker: claims due requests from the [`Outbox`], creates their cases
//! exactly once, tells the users their case numbers, retries what failed.
//!
//! Every bot process runs one; they may share a Redis (see [`crate::outbox`] for why that
//! is safe). The loop is `claim → process each → sleep until woken or the poll interval`.

use std::sync::Arc;
use std::time::Duration;

use intake_core::msg::Msg;
use teloxide::prelude::*;
use teloxide::types::ChatId;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::delivery::{self, Deliverer, DeliveryError, short_token};
use crate::i18n::Localizer;
use crate::omnidesk::OmnideskError;
use crate::outbox::{CaseRef, Entry, Outbox, now_ms};
use crate::storage::Store;
use crate::telegram::send_text;

/// Timing of deliveries.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// How long a claim is held before another worker may take it over (extended while busy).
    pub lease: Duration,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_cap: Duration,
    /// How often to look for due requests when not woken.
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(600),
            poll: Duration::from_secs(1),
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The case exists and the user was told its number.
    Delivered(String),
    /// Not yet; a retry is scheduled.
    Deferred,
    /// Omnidesk refused it; parked for an operator.
    Parked,
}

/// Shared handle to wake the worker and hear the outcome of a request.
#[derive(Debug, Clone, Default)]
pub struct WorkerHandle {
    wake: Arc<Notify>,
    waiting: Arc<std::sync::Mutex<std::collections::HashMap<String, oneshot::Sender<Outcome>>>>,
}

impl WorkerHandle {
    /// A handle with no one waiting yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the worker to look for due requests now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Registers interest in the first outcome of request `id` (call before it can be
    /// delivered, then [`Self::forget`] it if you stop waiting).
    pub fn expect(&self, id: &str) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.insert(id.to_owned(), tx);
        }
        rx
    }

    /// Stops waiting for request `id`.
    pub fn forget(&self, id: &str) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(id);
        }
    }

    fn report(&self, id: &str, outcome: Outcome) {
        let waiter = self.waiting.lock().ok().and_then(|mut w| w.remove(id));
        if let Some(tx) = waiter {
            let _ = tx.send(outcome);
        }
    }
}

/// The delivery loop.
pub struct Worker {
    /// Outbox.
    pub outbox: Outbox,
    /// Storage (blocked chats).
    pub store: Store,
    /// Case creation.
    pub deliverer: Deliverer,
    /// Bot to tell users their numbers.
    pub bot: Bot,
    /// Texts.
    pub i18n: Arc<Localizer>,
    /// Timing.
    pub config: WorkerConfig,
    /// Wake-ups and outcomes.
    pub handle: WorkerHandle,
    /// Outgoing message pacing (shared with the bot).
    pub limits: Arc<crate::telegram::SendLimits>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::ops::Metrics>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The delay before retry `attempt` (1-based): doubling from `base`, capped, ±25% jitter.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)));
    let capped = exp.min(cap);
    let jitter: f64 = rand::random_range(0.75..1.25);
    capped.mul_f64(jitter).min(cap)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Worker {
    /// Runs until `stop` is cancelled; finishes the request in hand first.
    pub async fn run(self, stop: CancellationToken) {
        let mut redis_errors = 0u32;
        loop {
            if stop.is_cancelled() {
                break;
            }
            match self.outbox.claim(self.config.lease, 64).await {
                Ok(entries) if !entries.is_empty() => {
                    redis_errors = 0;
                    // Deliveries are independent: one slow case must not hold up the rest.
                    let this = &self;
                    futures::StreamExt::for_each_concurrent(
                        futures::stream::iter(entries),
                        32,
                        |entry| async move {
                            let id = entry.id().to_owned();
                            let outcome = this.process(entry).await;
                            match &outcome {
                                Outcome::Delivered(_) => this.metrics.delivery("ok", true),
                                Outcome::Parked => this.metrics.delivery("parked", true),
                                Outcome::Deferred => this.metrics.delivery("retried", false),
                            }
                            this.handle.report(&id, outcome);
                        },
                    )
                    .await;
                    continue;
                }
                Ok(_) => redis_errors = 0,
                Err(e) => {
                    redis_errors += 1;
                    if redis_errors == 1 {
                        tracing::warn!(error.message = %e, "outbox unavailable; will retry");
                    }
                }
            }
            let pause = if redis_errors > 0 {
                backoff(
                    redis_errors,
                    Duration::from_millis(200),
                    Duration::from_secs(5),
                )
            } else {
                self.config.poll
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.handle.wake.notified() => {},
                () = tokio::time::sleep(pause) => {},
            }
        }
    }

    /// One attempt at one claimed request.
    #[tracing::instrument(skip_all, fields(request.id = %entry.id(), attempt = entry.attempts + 1))]
    async fn process(&self, mut entry: Entry) -> Outcome {
        entry.attempts += 1;
        if let Err(e) = self.outbox.save(&entry).await {
            tracing::warn!(error.message = %e, "outbox unavailable");
            return Outcome::Deferred;
        }
        let id = entry.id().to_owned();
        let lease = self.config.lease;
        let keeper = {
            let outbox = self.outbox.clone();
            let id = id.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let _ = outbox.set_due(&id, now_ms() + ms(lease)).await;
                }
            })
        };
        let outcome = self.attempt(&mut entry).await;
        keeper.abort();
        outcome
    }

    async fn attempt(&self, entry: &mut Entry) -> Outcome {
        let id = entry.id().to_owned();
        if entry.case.is_none()
            && let Some(wait) = self.deliverer.budget_wait()
        {
            tracing::info!(
                wait_ms = ms(wait),
                "Omnidesk's per-minute budget is spent; waiting"
            );
            return self
                .defer(
                    entry,
                    &DeliveryError::Omnidesk(OmnideskError::RateLimited {
                        retry_after: Some(wait),
                    }),
                )
                .await;
        }
        if entry.case.is_none() && entry.attempts > 1 {
            // An earlier attempt may have created the case and lost the answer.
            let token = short_token(&id);
            match self.deliverer.find_existing(&token).await {
                Ok(Some(found)) => {
                    tracing::info!(
                        case.id = found.case_id,
                        "adopted the case an earlier attempt created"
                    );
                    entry.case = Some(CaseRef {
                        case_id: found.case_id,
                        case_number: found.case_number,
                    });
                }
                Ok(None) => {}
                Err(e) => return self.defer(entry, &DeliveryError::Omnidesk(e)).await,
            }
        }
        if entry.case.is_none() {
            match self.deliverer.deliver(&entry.outgoing).await {
                Ok(case) => {
                    tracing::info!(case.id = case.case_id, "case created");
                    entry.case = Some(CaseRef {
                        case_id: case.case_id,
                        case_number: case.case_number,
                    });
                    entry.last_error = None;
                    if let Err(e) = self.outbox.save(entry).await {
                        tracing::warn!(error.message = %e, "could not record the case yet; a lookup will find it");
                    }
                }
                Err(DeliveryError::Omnidesk(OmnideskError::Rejected { status, body })) => {
                    let error = format!("HTTP {status}: {body}");
                    tracing::error!(error = %error, "Omnidesk refused the request; parked");
                    if let Err(e) = self.outbox.park(entry, &error).await {
                        tracing::warn!(error.message = %e, "could not park; will retry");
                        return Outcome::Deferred;
                    }
                    self.tell(entry, &[Msg::new("delivery-rejected")]).await;
                    return Outcome::Parked;
                }
                Err(e) => return self.defer(entry, &e).await,
            }
        }
        let Some(case) = entry.case.clone() else {
            return Outcome::Deferred;
        };
        let messages =
            delivery::registered_messages(&entry.outgoing, &case.case_number, self.deliverer.sla());
        if !self.tell(entry, &messages).await {
            entry.last_error = Some("telling the user failed".to_owned());
            let _ = self.outbox.save(entry).await;
            let delay = backoff(
                entry.attempts,
                self.config.retry_base,
                self.config.retry_cap,
            );
            let _ = self.outbox.set_due(&id, now_ms() + ms(delay)).await;
            return Outcome::Deferred;
        }
        if let Err(e) = self.outbox.complete(&id, &case.case_number).await {
            tracing::warn!(error.message = %e, "could not complete; the number may be sent again");
        }
        Outcome::Delivered(case.case_number)
    }

    async fn defer(&self, entry: &mut Entry, error: &DeliveryError) -> Outcome {
        let delay = match error {
            DeliveryError::Omnidesk(OmnideskError::RateLimited { retry_after }) => retry_after
                .unwrap_or(Duration::from_secs(60))
                .max(Duration::from_millis(100)),
            _ => backoff(
                entry.attempts,
                self.config.retry_base,
                self.config.retry_cap,
            ),
        };
        tracing::warn!(error.message = %error, retry_in_ms = ms(delay), "delivery failed; will retry");
        entry.last_error = Some(error.to_string());
        let _ = self.outbox.save(entry).await;
        if let Err(e) = self.outbox.set_due(entry.id(), now_ms() + ms(delay)).await {
            tracing::warn!(error.message = %e, "could not schedule the retry; the lease will expire instead");
        }
        Outcome::Deferred
    }

    /// Sends messages to the request's author; `false` when it should be retried.
    async fn tell(&self, entry: &Entry, messages: &[Msg]) -> bool {
        let out = &entry.outgoing;
        if self.store.is_blocked(out.chat_id).await.unwrap_or(false) {
            tracing::info!("the user blocked the bot; not messaging them");
            return true;
        }
        let text = messages
            .iter()
            .map(|m| self.i18n.render(&out.lang, m))
            .collect::<Vec<_>>()
            .join("\n");
        match send_text(&self.bot, &self.limits, ChatId(out.chat_id), text, None).await {
            Ok(()) => true,
            Err(teloxide::RequestError::Api(teloxide::ApiError::BotBlocked)) => {
                let _ = self.store.set_blocked(out.chat_id).await;
                tracing::info!("the user blocked the bot; the case is kept");
                true
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "could not tell the user");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_at_the_cap() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(600);
        let first = backoff(1, base, cap);
        assert!(first >= Duration::from_millis(1500) && first <= Duration::from_millis(2500));
        let fifth = backoff(5, base, cap);
        assert!(fifth >= Duration::from_secs(24) && fifth <= Duration::from_secs(40));
        for attempt in [20, 50, u32::MAX] {
            assert!(backoff(attempt, base, cap) <= cap);
        }
    }
}
