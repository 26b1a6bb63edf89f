//! Long polling that keeps fetching while handlers run, and confirms an update to Telegram
//! only once it has been handled.
//!
//! teloxide's own `Polling` asks for the next batch — which confirms the previous one to
//! Telegram — as soon as the batch is queued, before the handlers run, so a crash at that
//! moment loses those updates. Waiting for a whole batch before asking again (as this
//! listener once did) makes the slowest chat of a batch set everyone's latency. Instead,
//! this listener keeps polling and asks Telegram for updates from the *oldest update still
//! in hand* ([`InFlight`]): everything before it was handled and is confirmed by that
//! offset; what Telegram hands out again from there and was already handed out is skipped.
//! After a crash Telegram hands out everything from that offset again, and the session's
//! record of applied updates skips what was handled.
//!
//! What is in hand is bounded ([`MAX_IN_HAND`]): past it the listener waits for handlers
//! before fetching more (backpressure on the poller, not on one chat). Per-chat order is
//! the dispatcher's (one queue per chat).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::*;
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::{AllowedUpdate, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};
use tokio::sync::watch;

/// Updates in hand (handed to the dispatcher, not yet handled) past which the listener
/// waits for handlers before fetching more.
pub const MAX_IN_HAND: usize = 90;

/// Updates asked for per `getUpdates` (Telegram's maximum).
const BATCH: u8 = 100;

/// How long an update may stay in hand before it no longer holds the offset back (a
/// handler that never reports back must not stop confirmations for good).
const MAX_IN_HAND_TIME: Duration = Duration::from_secs(300);

/// While updates are in hand and a poll brought nothing new, the next poll waits for a
/// handler to finish or this long.
const REPOLL_PAUSE: Duration = Duration::from_millis(200);

/// Updates handed to the dispatcher and not yet handled, by update id.
#[derive(Debug)]
pub struct InFlight {
    in_hand: Mutex<BTreeMap<u32, Instant>>,
    /// Counts finished updates; a receiver taken before a poll sees every finish after it.
    finished: watch::Sender<u64>,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            in_hand: Mutex::default(),
            finished: watch::channel(0).0,
        }
    }
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Instant>> {
        self.in_hand.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&self, id: u32) {
        self.lock().insert(id, Instant::now());
    }

    /// Update `id` was handled.
    pub fn end(&self, id: u32) {
        self.lock().remove(&id);
        self.finished.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every update finished from now on.
    fn watch(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// Updates in hand.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no update is in hand.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The oldest update still in hand; one held longer than [`MAX_IN_HAND_TIME`] is
    /// given up on (logged) and no longer counts.
    fn oldest(&self) -> Option<u32> {
        let mut in_hand = self.lock();
        let stale: Vec<u32> = in_hand
            .iter()
            .filter(|(_, since)| since.elapsed() > MAX_IN_HAND_TIME)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            tracing::warn!(
                update.id = id,
                "an update was not handled in time; confirming past it"
            );
            in_hand.remove(&id);
        }
        in_hand.keys().next().copied()
    }

    /// Waits until a handler finishes after `since` was taken, or `limit` passes.
    async fn wait_change(since: &mut watch::Receiver<u64>, limit: Duration) {
        let _ = tokio::time::timeout(limit, since.changed()).await;
    }
}

/// The listener.
pub struct AckPolling {
    bot: Bot,
    timeout: Duration,
    /// The offset confirming everything handed out so far (when nothing is in hand).
    next_offset: i32,
    /// The highest update id handed out.
    highest: Option<u32>,
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
            .field("next_offset", &self.next_offset)
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
            next_offset: 0,
            highest: None,
            buffer: VecDeque::new(),
            in_flight,
            stop_token,
            stop_flag,
            errors: 0,
            finished: false,
        }
    }

    /// The offset to ask from: the oldest update in hand, else past everything seen.
    fn offset(&self) -> i32 {
        self.in_flight
            .oldest()
            .map_or(self.next_offset, |id| i32::try_from(id).unwrap_or(i32::MAX))
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
            if self.stop_flag.is_stopped() {
                self.finish().await;
                return None;
            }
            let mut since = self.in_flight.watch();
            if self.in_flight.len() >= MAX_IN_HAND {
                // Backpressure: let handlers catch up before fetching more.
                InFlight::wait_change(&mut since, REPOLL_PAUSE).await;
                continue;
            }
            let busy = !self.in_flight.is_empty();
            let request = self
                .bot
                .get_updates()
                .offset(self.offset())
                .limit(BATCH)
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
                    let fresh = self.take(updates);
                    if fresh == 0 && busy {
                        // Only updates still in hand came back: wait for a handler (one
                        // that finished during the poll counts at once).
                        InFlight::wait_change(&mut since, REPOLL_PAUSE).await;
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

    /// Hands out the updates not handed out before; returns how many.
    fn take(&mut self, updates: Vec<Update>) -> usize {
        let mut fresh = 0;
        for update in updates {
            let id = update.id.0;
            if self.highest.is_some_and(|h| id <= h) {
                continue;
            }
            self.highest = Some(id);
            self.next_offset = update.id.as_offset();
            if matches!(update.kind, UpdateKind::Error(_)) {
                tracing::warn!(
                    update.id = id,
                    "an update teloxide cannot parse was skipped"
                );
                continue;
            }
            fresh += 1;
            self.in_flight.begin(id);
            self.buffer.push_back(update);
        }
        fresh
    }

    /// After a stop: waits for the updates in hand (bounded), then confirms what was
    /// handled; anything this returns stays unconfirmed.
    async fn finish(&mut self) {
        let started = Instant::now();
        let mut since = self.in_flight.watch();
        while !self.in_flight.is_empty() && started.elapsed() < Duration::from_secs(30) {
            InFlight::wait_change(&mut since, REPOLL_PAUSE).await;
        }
        let _ = self
            .bot
            .get_updates()
            .offset(self.offset())
            .limit(1)
            .timeout(0)
            .await;
        self.finished = true;
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
