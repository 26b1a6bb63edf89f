//! Pure core of the WAVIoT support-intake bot.
//!
//! No I/O, no async: everything here is a function of its inputs, so the Telegram
//! adapter, the terminal chat and the tests all drive the same logic.
//!
//! # Layout
//!
//! - [`msg`]: localizable messages (fluent id + arguments).
//! - [`urgency`]: the four urgency levels of the support regulation.
//! - [`domain`]: parsed value types for every field a request can carry.
//! - [`form`]: the request kinds and fields, loaded from `dialogues/*.toml`.
//! - [`dialogue`]: the state machine that walks a user through a kind.
//! - [`sla`]: working-hours deadlines on the Russian production calendar.
//! - [`case`]: what a sent request becomes in the helpdesk (token, subject, body, the
//!   urgency line).

pub mod case;
pub mod dialogue;
pub mod domain;
pub mod form;
pub mod msg;
pub mod sla;
pub mod urgency;
