//! The bot's counters for `/metrics`, shared by the update handler, the delivery worker
//! and the operations endpoint.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of the update counter: the kind of update (`message`, `callback_query`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind.
    pub kind: String,
}

/// Label of the delivery counter: how an attempt ended (`ok`, `retried`, `parked`, `lost`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// The result.
    pub result: String,
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
    pub deliveries: Family<ResultLabel, Counter>,
    /// Messages carried between cases and chats, by result (`reply`, `follow-up`,
    /// `duplicate`, `blocked`, `closed`, `given-up`).
    pub relayed: Family<ResultLabel, Counter>,
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
        let deliveries = Family::<ResultLabel, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by result (ok, retried, parked, lost)",
            deliveries.clone(),
        );
        let relayed = Family::<ResultLabel, Counter>::default();
        registry.register(
            "relayed",
            "Messages carried between cases and chats, by result",
            relayed.clone(),
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
            relayed,
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
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
        let state = if omnidesk_ok {
            OMNIDESK_OK
        } else {
            OMNIDESK_FAILING
        };
        self.omnidesk_state.store(state, Ordering::Relaxed);
    }

    /// Counts a relayed message's result.
    pub fn relayed(&self, result: &str) {
        self.relayed
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Sets the numbers of waiting and parked requests.
    pub fn set_depth(&self, waiting: i64, parked: i64) {
        self.outbox_depth.set(waiting);
        self.parked_depth.set(parked);
    }

    /// Sets the number of overdue requests.
    pub fn set_overdue(&self, overdue: i64) {
        self.outbox_overdue.set(overdue);
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> Option<String> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .ok()
            .map(|()| text)
    }

    /// What the last delivery attempt said about Omnidesk: `ok`, `failing` or `unknown`.
    pub fn omnidesk_state(&self) -> &'static str {
        match self.omnidesk_state.load(Ordering::Relaxed) {
            OMNIDESK_OK => "ok",
            OMNIDESK_FAILING => "failing",
            _ => "unknown",
        }
    }
}
