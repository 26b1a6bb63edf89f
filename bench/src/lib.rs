//! Load driver for the WAVIoT support bot.
//!
//! The bot under test runs as a child process, pointed at fakes served by this process
//! on 127.0.0.1 and at a real Redis:
//!
//! - [`fake_telegram`]: a fast fake Bot API whose `getUpdates` is fed by synthetic users
//!   walking complete device-malfunction intakes ([`scenario`]); it records the bot's
//!   answers and measures each update's latency from hand-out to complete answer;
//! - [`fake_omnidesk`]: answers case creation with `201`, counting streamed bytes;
//! - [`redis_probe`]: Redis commands and round trips per update;
//! - [`peer`]: starting the bots (this repository's, the teloxide peer in
//!   `bench/peers/teloxide/` and the aiogram 3 reference in `bench/peers/aiogram/`) and
//!   reading their RSS from `/proc`;
//! - [`run`]: the phases (calibration, offered load, saturation, attachments), then, for
//!   this repository's bot, [`relay`] (agents' replies through the Omnidesk webhook) and
//!   [`fairness`] (a flooding chat beside paced users, default pacing) and [`drafts`]
//!   (RSS with many chats that each started a draft: the cache of chat states is bounded);
//! - [`report`]: the table and the verdicts against the targets;
//! - [`stats`]: percentiles and latency summaries.
//!
//! `scripts/bench.sh` builds everything and runs the three bots; see `BENCHMARKS.md`.

#![warn(missing_docs)]

pub mod drafts;
pub mod fairness;
pub mod fake_omnidesk;
pub mod fake_telegram;
pub mod peer;
pub mod redis_probe;
pub mod relay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
