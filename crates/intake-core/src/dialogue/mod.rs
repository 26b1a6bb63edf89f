//! The dialogue: a pure state machine from (session, profile, input, now) to a
//! [`Transition`] carrying the next session, the profile and effects to perform.
//!
//! Adapters (Telegram, tests) turn their events into [`Input`], call [`step`], persist the
//! returned session and profile, then carry out the [`Effect`]s in order. Nothing here
//! performs I/O, reads a clock or holds text: messages are fluent ids ([`crate::msg::Msg`]).

mod effect;
mod input;
mod machine;
mod state;

pub use effect::{Button, Effect, Keyboard, Part, Reply, ReplyRequest, Request};
pub use input::{Command, FileInput, Input};
pub use machine::{Ctx, FileLimits, Transition, step};
pub use state::{
    Answer, Draft, FileKind, FileRef, GeoPoint, Phase, PlannedStep, Profile, Session, StoredSession,
};
