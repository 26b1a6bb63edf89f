//! WAVIoT support-intake bot: a Telegram conversation that ends in an Omnidesk case.
//!
//! # Layout
//!
//! - [`config`]: settings from the environment and `BOT_CONFIG`.
//! - [`startup`]: [`startup::Application`], built the same way by `main` and the tests.
//! - [`telegram`]: the Telegram adapter around the pure dialogue of `intake_core`.
//! - [`storage`]: sessions, profiles and the outbox, in Redis or an embedded SQLite file.
//! - [`delivery`] and [`omnidesk`]: turning a finished request into an Omnidesk case.
//! - [`i18n`]: fluent texts; [`telemetry`]: logging.
//! - [`qr`]: QR sticker sheets whose codes open the bot with a station or modem known.

pub mod chat;
pub mod check;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dry_run;
pub mod i18n;
pub mod omnidesk;
pub mod ops;
pub mod outbox;
pub mod qr;
pub mod startup;
pub mod storage;
pub mod telegram;
pub mod telemetry;
pub mod worker;
