//! The delivery worker: claims due requests from the [`Outbox`], creates their cases
//! exactly once, tells the users their case numbers, retries what failed.
//!
//! Every bot process runs one; they may share a store (see [`crate::storage::outbox`] for why that
//! is safe). A worker claims only as many requests as it has free slots
//! (`delivery-concurrency`), and claims again as soon as one frees up, so a delivery that
//! hangs until a timeout holds back no other. Every claimed request's lease is kept alive
//! while it is held; every write of its outcome carries the claim's fencing token, and a
//! worker that finds the request is no longer its own drops it and does nothing more.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use intake_core::msg::Msg;
use teloxide::prelude::*;
use teloxide::types::ChatId;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::delivery::{self, Deliverer, short_token};
use crate::i18n::Localizer;
use crate::omnidesk::DeskError;
use crate::sender::Outbound;
use crate::storage::outbox::{CaseRef, Claim, Entry, Outbox, millis, now_ms};
use crate::storage::{CaseRecord, Store};
use intake_core::case::Reaction;

/// Fetches of one attachment that may fail before it is left out of the case.
const MAX_FILE_TRIES: u32 = 3;

/// Attempts after which a case number that cannot be sent is given up on (the case stays).
const MAX_TELL_ATTEMPTS: u32 = 20;

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
    /// Requests delivered at once.
    pub concurrency: usize,
    /// How long Omnidesk is given to answer a create; after an unknown outcome, no new
    /// create goes out sooner than twice this after the last one was sent (the case is
    /// looked up first).
    pub create_timeout: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(600),
            poll: Duration::from_secs(1),
            concurrency: 32,
            create_timeout: Duration::from_secs(60),
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
    /// Another worker holds the request now (this one lost its lease); dropped here.
    Lost,
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
    /// Outgoing messages, one paced queue per chat (shared with the bot).
    pub outbound: Arc<Outbound>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
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

/// A queue's claim loop: claims as much work as there are free slots (of `concurrency`),
/// runs each claim as a task, and claims again as each one ends; when nothing was claimed,
/// waits for a wake-up, a finished task, `poll` or the stop (backing off while the store
/// does not answer). Returns once stopped and every task has ended.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn drive<T, O, Claimed, Ran>(
    stop: &CancellationToken,
    concurrency: usize,
    poll: Duration,
    wake: &Notify,
    queue: &str,
    mut claim: impl FnMut(usize) -> Claimed,
    run: impl Fn(T) -> Ran,
    mut finished: impl FnMut(Result<O, tokio::task::JoinError>),
) where
    Claimed: Future<Output = anyhow::Result<Vec<T>>>,
    Ran: Future<Output = O> + Send + 'static,
    O: Send + 'static,
{
    let mut running: JoinSet<O> = JoinSet::new();
    let mut store_errors = 0u32;
    loop {
        while let Some(done) = running.try_join_next() {
            finished(done);
        }
        let free = concurrency.saturating_sub(running.len());
        if !stop.is_cancelled() && free > 0 {
            match claim(free).await {
                Ok(claims) => {
                    store_errors = 0;
                    let claimed = !claims.is_empty();
                    for item in claims {
                        running.spawn(run(item));
                    }
                    if claimed {
                        continue;
                    }
                }
                Err(e) => {
                    store_errors += 1;
                    if store_errors == 1 {
                        tracing::warn!(error.message = %e, queue, "queue unavailable; will retry");
                    }
                }
            }
        }
        if stop.is_cancelled() && running.is_empty() {
            break;
        }
        let pause = if store_errors > 0 {
            backoff(
                store_errors,
                Duration::from_millis(200),
                Duration::from_secs(5),
            )
        } else {
            poll
        };
        let idle = !stop.is_cancelled();
        tokio::select! {
            Some(done) = running.join_next(), if !running.is_empty() => finished(done),
            () = stop.cancelled(), if idle => {},
            () = wake.notified(), if idle => {},
            () = tokio::time::sleep(pause), if idle => {},
        }
    }
}

/// How a held request leaves this worker's hands.
#[derive(Debug)]
enum Finish {
    /// Try again at `at_ms`.
    Retry {
        /// When.
        at_ms: i64,
        /// Why, for operators.
        error: String,
    },
    /// The case exists and the user was told (or cannot be).
    Complete(CaseRef),
    /// Omnidesk refused the request.
    Park(String),
}

/// Why an attempt stopped without a [`Finish`].
#[derive(Debug)]
enum Stop {
    /// The request is no longer held under this claim's token.
    Lost,
    /// The store did not answer; the lease will run out and the request be claimed again.
    Store(anyhow::Error),
}

/// Whether a message reached its user.
enum Told {
    /// Sent.
    Yes,
    /// The user can never be told (blocked the bot, deactivated, chat gone).
    Never,
    /// Failed this time.
    Failed(String),
}

impl Worker {
    /// Runs until `stop` is cancelled; finishes the requests in hand first.
    pub async fn run(self, stop: CancellationToken) {
        let this = Arc::new(self);
        let config = this.config;
        drive(
            &stop,
            config.concurrency,
            config.poll,
            &this.handle.wake,
            "outbox",
            |free| this.outbox.claim(config.lease, free),
            |claim| {
                let worker = this.clone();
                async move {
                    let id = claim.entry.id().to_owned();
                    (id, worker.process(claim).await)
                }
            },
            |done| this.finished(done),
        )
        .await;
    }

    /// Counts and reports the outcome of a finished delivery task.
    fn finished(&self, done: Result<(String, Outcome), tokio::task::JoinError>) {
        let (id, outcome) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error.message = %e, "a delivery task failed");
                return;
            }
        };
        match &outcome {
            Outcome::Delivered(_) => self.metrics.delivery("ok", true),
            Outcome::Parked => self.metrics.delivery("parked", true),
            Outcome::Deferred => self.metrics.delivery("retried", false),
            Outcome::Lost => self.metrics.delivery("lost", true),
        }
        self.handle.report(&id, outcome);
    }

    /// One attempt at one claimed request, its lease kept alive meanwhile.
    async fn process(&self, claim: Claim) -> Outcome {
        let Claim { mut entry, token } = claim;
        entry.attempts += 1;
        let span = tracing::info_span!(
            "delivery",
            request.id = %entry.id(),
            attempt = entry.attempts,
            claim = token
        );
        async move {
            let held_until = AtomicI64::new(now_ms() + millis(self.config.lease));
            let id = entry.id().to_owned();
            let finish = match self.hold(&entry, token).await {
                Err(stop) => Err(stop),
                Ok(()) => tokio::select! {
                    finish = self.attempt(&mut entry, token, &held_until) => finish,
                    stop = self.keep_lease(&id, token, &held_until) => Err(stop),
                },
            };
            match finish {
                Ok(finish) => self.finish(&mut entry, token, finish).await,
                Err(Stop::Lost) => {
                    tracing::warn!("another worker holds the request now; this copy is dropped");
                    Outcome::Lost
                }
                Err(Stop::Store(e)) => {
                    tracing::warn!(error.message = %e, "outbox unavailable; the request will be claimed again");
                    Outcome::Deferred
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Writes the entry while it is held under `token`.
    async fn hold(&self, entry: &Entry, token: i64) -> Result<(), Stop> {
        match self.outbox.save(entry, token).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Stop::Lost),
            Err(e) => Err(Stop::Store(e)),
        }
    }

    /// Extends the lease every third of it; returns once the request is lost (or the
    /// lease ran out while the store could not be reached).
    async fn keep_lease(&self, id: &str, token: i64, held_until: &AtomicI64) -> Stop {
        let lease = self.config.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            match self.outbox.extend(id, token, lease).await {
                Ok(true) => held_until.store(now_ms() + millis(lease), Ordering::SeqCst),
                Ok(false) => return Stop::Lost,
                Err(e) => {
                    tracing::warn!(error.message = %e, "could not extend the lease");
                    if now_ms() >= held_until.load(Ordering::SeqCst) {
                        return Stop::Lost;
                    }
                }
            }
        }
    }

    /// Writes how the attempt ended, under the claim's token.
    async fn finish(&self, entry: &mut Entry, token: i64, finish: Finish) -> Outcome {
        let written = match &finish {
            Finish::Retry { at_ms, error } => {
                tracing::warn!(error.message = %error, retry_in_ms = at_ms - now_ms(), "delivery failed; will retry");
                entry.last_error = Some(error.clone());
                self.outbox.reschedule(entry, token, *at_ms).await
            }
            Finish::Complete(case) => {
                let out = &entry.outgoing;
                let record = CaseRecord {
                    case_id: case.case_id,
                    case_number: case.case_number.clone(),
                    request_id: entry.id().to_owned(),
                    kind: out.request.kind.clone(),
                    user_id: out.sender.id,
                    chat_id: out.chat_id,
                    lang: out.lang.clone(),
                    sent_at_ms: out.request.submitted_at.timestamp_millis(),
                    first_reply_ms: None,
                    status: None,
                    reaction_due_ms: match self
                        .deliverer
                        .sla()
                        .reaction(out.request.urgency, out.request.submitted_at)
                    {
                        Reaction::Due { due, .. } => Some(due.timestamp_millis()),
                        _ => None,
                    },
                };
                self.outbox
                    .complete_with_case(entry.id(), token, &record)
                    .await
            }
            Finish::Park(error) => {
                tracing::error!(error = %error, "Omnidesk refused the request; parked");
                self.outbox.park(entry, token, error).await
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("another worker holds the request now; its outcome is theirs");
                return Outcome::Lost;
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "could not record the outcome; the request will be claimed again");
                return Outcome::Deferred;
            }
        }
        match finish {
            Finish::Retry { .. } => Outcome::Deferred,
            Finish::Complete(case) => Outcome::Delivered(case.case_number),
            Finish::Park(_) => {
                let _ = self.tell(entry, &[Msg::new("delivery-rejected")]).await;
                Outcome::Parked
            }
        }
    }

    async fn attempt(
        &self,
        entry: &mut Entry,
        token: i64,
        held_until: &AtomicI64,
    ) -> Result<Finish, Stop> {
        if entry.case.is_none()
            && let Some(finish) = self.create_case(entry, token, held_until).await?
        {
            return Ok(finish);
        }
        let Some(case) = entry.case.clone() else {
            return Ok(self.retry(entry, "no case recorded".to_owned()));
        };
        let messages = delivery::registered_messages(
            &entry.outgoing,
            &case.case_number,
            self.deliverer.sla(),
            &entry.left_out,
        );
        match self.tell(entry, &messages).await {
            Told::Yes | Told::Never => Ok(Finish::Complete(case)),
            Told::Failed(error) if entry.attempts >= MAX_TELL_ATTEMPTS => {
                tracing::warn!(error.message = %error, "the case number could not be sent; giving up, the case stays");
                Ok(Finish::Complete(case))
            }
            Told::Failed(error) => Ok(self.retry(entry, format!("telling the user: {error}"))),
        }
    }

    /// Makes sure the case exists and is recorded in `entry` (`None`), or says how the
    /// attempt ends.
    async fn create_case(
        &self,
        entry: &mut Entry,
        token: i64,
        held_until: &AtomicI64,
    ) -> Result<Option<Finish>, Stop> {
        if let Some(wait) = self.deliverer.budget_wait() {
            tracing::info!(
                wait_ms = millis(wait),
                "Omnidesk's per-minute budget is spent; waiting"
            );
            return Ok(Some(Finish::Retry {
                at_ms: now_ms() + millis(wait),
                error: "Omnidesk's per-minute budget is spent".to_owned(),
            }));
        }
        if entry.create_sent_at_ms.is_some() {
            // A create went out before and its case was not recorded: it may exist.
            match self.deliverer.find_existing(&short_token(entry.id())).await {
                Ok(Some(found)) => {
                    tracing::info!(
                        case.id = found.case_id,
                        "adopted the case an earlier attempt created"
                    );
                    entry.case = Some(CaseRef {
                        case_id: found.case_id,
                        case_number: found.case_number,
                    });
                    self.hold(entry, token).await?;
                    return Ok(None);
                }
                Ok(None) => {
                    if let Some(settled) = entry.settle_until_ms.filter(|t| now_ms() < *t) {
                        return Ok(Some(Finish::Retry {
                            at_ms: settled,
                            error: "waiting for Omnidesk to finish an earlier create".to_owned(),
                        }));
                    }
                }
                Err(e) => return Ok(Some(self.omnidesk_retry(entry, &e))),
            }
        }
        let attachments = loop {
            match self
                .deliverer
                .open_attachments(&entry.outgoing, &entry.left_out)
                .await
            {
                Ok(attachments) => break attachments,
                Err(e) => {
                    let failures = entry.file_failures.entry(e.file_id.clone()).or_insert(0);
                    *failures += 1;
                    if !e.permanent && *failures < MAX_FILE_TRIES {
                        return Ok(Some(self.retry(entry, e.to_string())));
                    }
                    tracing::warn!(error.message = %e, "the attachment is left out of the case");
                    self.metrics.attachments_left_out.inc();
                    entry.left_out.push(e.file_id);
                }
            }
        };
        // Recorded before the create leaves: whoever holds the request next looks first,
        // and gives Omnidesk time to finish it before creating again.
        let sent_at = now_ms();
        entry.create_sent_at_ms = Some(sent_at);
        entry.settle_until_ms = Some(sent_at + 2 * millis(self.config.create_timeout));
        self.hold(entry, token).await?;
        if now_ms() >= held_until.load(Ordering::SeqCst) {
            // This process was stalled past its lease: another may hold the request now.
            return Err(Stop::Lost);
        }
        match self
            .deliverer
            .create(&entry.outgoing, attachments, &entry.left_out)
            .await
        {
            Ok(case) => {
                tracing::info!(case.id = case.case_id, "case created");
                entry.case = Some(CaseRef {
                    case_id: case.case_id,
                    case_number: case.case_number,
                });
                entry.last_error = None;
                self.hold(entry, token).await?;
                Ok(None)
            }
            Err(DeskError::Rejected { status, body }) => {
                // Refused: nothing was created.
                entry.create_sent_at_ms = None;
                entry.settle_until_ms = None;
                Ok(Some(Finish::Park(format!("HTTP {status}: {body}"))))
            }
            Err(e) => {
                match &e {
                    // Omnidesk answered: the case is not being created any more.
                    DeskError::Unavailable(_) => entry.settle_until_ms = None,
                    // Omnidesk said it created nothing.
                    DeskError::RateLimited { .. } => {
                        entry.create_sent_at_ms = None;
                        entry.settle_until_ms = None;
                    }
                    DeskError::Unknown(_) | DeskError::Rejected { .. } => {}
                }
                Ok(Some(self.omnidesk_retry(entry, &e)))
            }
        }
    }

    /// When the next attempt comes, with exponential backoff.
    fn backoff_at(&self, entry: &Entry) -> i64 {
        let delay = backoff(
            entry.attempts,
            self.config.retry_base,
            self.config.retry_cap,
        );
        now_ms() + millis(delay)
    }

    /// A retry after `error`, with exponential backoff.
    fn retry(&self, entry: &Entry, error: String) -> Finish {
        Finish::Retry {
            at_ms: self.backoff_at(entry),
            error,
        }
    }

    /// A retry after an Omnidesk failure: its `retry_after` for 429; after an unknown
    /// outcome, no sooner than Omnidesk must have finished the create.
    fn omnidesk_retry(&self, entry: &Entry, error: &DeskError) -> Finish {
        match error {
            DeskError::RateLimited { retry_after } => {
                self.metrics.omnidesk_429.inc();
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(60))
                    .max(Duration::from_millis(100));
                Finish::Retry {
                    at_ms: now_ms() + millis(wait),
                    error: error.to_string(),
                }
            }
            DeskError::Unknown(_) => Finish::Retry {
                at_ms: self
                    .backoff_at(entry)
                    .max(entry.settle_until_ms.unwrap_or_default()),
                error: error.to_string(),
            },
            _ => self.retry(entry, error.to_string()),
        }
    }

    /// Sends messages to the request's author.
    async fn tell(&self, entry: &Entry, messages: &[Msg]) -> Told {
        use teloxide::ApiError;
        let out = &entry.outgoing;
        if self.store.is_blocked(out.chat_id).await.unwrap_or(false) {
            tracing::info!("the user blocked the bot; not messaging them");
            return Told::Never;
        }
        let text = messages
            .iter()
            .map(|m| self.i18n.render(&out.lang, m))
            .collect::<Vec<_>>()
            .join("\n");
        match self.outbound.send(ChatId(out.chat_id), text, None).await {
            Ok(()) => Told::Yes,
            Err(teloxide::RequestError::Api(ApiError::BotBlocked)) => {
                let _ = self.store.set_blocked(out.chat_id).await;
                tracing::info!("the user blocked the bot; the case is kept");
                Told::Never
            }
            Err(teloxide::RequestError::Api(
                e @ (ApiError::ChatNotFound
                | ApiError::UserDeactivated
                | ApiError::BotKicked
                | ApiError::CantInitiateConversation),
            )) => {
                tracing::info!(error.message = %e, "the user cannot be told; the case is kept");
                Told::Never
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "could not tell the user");
                Told::Failed(e.to_string())
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
