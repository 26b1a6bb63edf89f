//! WAVIoT support-intake bot: a Telegram conversation that ends in an Omnidesk case.
//!
//! # Layout
//!
//! Layers, each using only those below it (`tests/layers.rs` keeps it so):
//!
//! 1. The pure core, `intake_core` (its own crate: no I/O, no async).
//! 2. Adapters: [`storage`] (sessions, profiles, the outbox and its records), [`omnidesk`]
//!    (the API client and its mapping), [`i18n`], [`metrics`], [`sender`] (outgoing
//!    Telegram messages, one paced queue per chat), [`telemetry`], [`deadline`]; then
//!    [`dry_run`] (cases into a folder).
//! 3. [`delivery`] (building a case, streaming its files), then [`worker`] (the outbox
//!    worker).
//! 4. [`telegram`]: the update handler and the polling/webhook listeners; it talks to the
//!    worker through a small handle.
//! 5. [`ops`] (`/healthz`, `/metrics`), [`config`] (settings, read by the entry points
//!    only), [`check`], [`startup`] (builds the application).
//! 6. Entry points: `main`, [`chat`], [`qr`].

pub mod chat;
pub mod check;
pub mod config;
pub mod conversation;
pub mod deadline;
pub mod delivery;
pub mod desk_hooks;
pub mod dry_run;
pub mod i18n;
pub mod metrics;
pub mod omnidesk;
pub mod ops;
pub mod qr;
pub mod sender;
pub mod startup;
pub mod storage;
pub mod telegram;
pub mod telemetry;
pub mod worker;
