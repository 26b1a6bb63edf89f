//! Pacing of outgoing messages to stay under Telegram's limits: about 30 messages a
//! second overall and about one a second per chat (short bursts allowed). 429 answers
//! are still handled by waiting `retry_after` ([`super::Outbound`]).

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Rate limiters for sending.
pub struct SendLimits {
    overall: DefaultDirectRateLimiter,
    per_chat: DefaultKeyedRateLimiter<i64>,
    /// Counts Telegram's 429 answers.
    pub too_many_requests: prometheus_client::metrics::counter::Counter,
}

impl std::fmt::Debug for SendLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendLimits").finish_non_exhaustive()
    }
}

impl SendLimits {
    /// `overall` messages a second in total; `per_chat` a second per chat with bursts of
    /// `burst` (values of 0 are taken as 1); Telegram's 429 answers are counted in
    /// `too_many_requests`.
    pub fn new(
        overall: u32,
        per_chat: u32,
        burst: u32,
        too_many_requests: prometheus_client::metrics::counter::Counter,
    ) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            overall: RateLimiter::direct(Quota::per_second(nz(overall)).allow_burst(nz(overall))),
            per_chat: RateLimiter::keyed(Quota::per_second(nz(per_chat)).allow_burst(nz(burst))),
            too_many_requests,
        }
    }

    /// Waits until a message to `chat` may be sent.
    pub async fn wait(&self, chat: i64) {
        self.per_chat.until_key_ready(&chat).await;
        self.overall.until_ready().await;
        if self.per_chat.len() > 10_000 {
            self.per_chat.retain_recent();
        }
    }
}
