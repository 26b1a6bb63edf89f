//! The dialogue: a pure state machine from (session, profile, input, now) to a
//! [`Transition`] carrying the next session, the profile and effects to perform.
//!
//! Adapters (Telegram, tests) turn their events into [`Input`], call [`step`], persist the
//! returned session and profile, then carry out the [`Effect`]s in order. Nothing here
//! performs I/O, reads a clock or holds text: messages are fluent ids ([`crate::msg::Msg`]).

mod effect;
mod input;
mod machine;
mod sending;
mod state;

pub use effect::{Button, Effect, FollowUp, Keyboard, Part, Reply, ReplyRequest, Request};
pub use input::{Command, FileInput, Input};
pub use machine::{Ctx, FileLimits, Transition, step};
pub use sending::send_blocked_for;
pub use state::{
    Answer, Draft, FileKind, FileRef, GeoPoint, Offer, Phase, PlannedStep, Profile, Session,
    StoredSession,
};

/// Every fluent message id the dialogue machine itself produces (besides the catalog's
/// and the validators'); a test keeps this list in step with the source.
pub const MESSAGE_IDS: &[&str] = &[
    "accepted",
    "already-sent",
    "btn-back",
    "btn-cancel",
    "btn-cancel-no",
    "btn-cancel-yes",
    "btn-clear-files",
    "btn-done-files",
    "btn-edit",
    "btn-forget-no",
    "btn-forget-yes",
    "btn-host-no",
    "btn-host-yes",
    "btn-keep",
    "btn-menu-back",
    "btn-offer-no",
    "btn-offer-yes",
    "btn-my-requests",
    "btn-new-for-object",
    "btn-outdated",
    "btn-restart",
    "btn-resume-review",
    "btn-resume-step",
    "btn-send",
    "btn-share-contact",
    "btn-share-location",
    "btn-skip",
    "btn-skip-files",
    "btn-something-else",
    "cancel-confirm",
    "cancelled",
    "current-value",
    "deep-link-invalid",
    "draft-reset",
    "editing-field",
    "err-contact-not-here",
    "err-contact-not-own",
    "err-file-format",
    "err-file-not-here",
    "err-file-not-here-later",
    "err-file-too-big",
    "err-files-count",
    "err-files-expected",
    "err-files-total",
    "err-files-video",
    "err-location",
    "err-location-not-here",
    "err-sticker",
    "err-unsupported",
    "err-video",
    "err-voice",
    "example-line",
    "file-duplicate",
    "file-received",
    "follow-up-offer",
    "follow-up-prompt",
    "follow-up-unsupported",
    "forget-confirm",
    "forget-kept",
    "forgotten",
    "files-cleared",
    "files-limits",
    "files-so-far",
    "help",
    "idle-hint",
    "kind-chosen",
    "language-choose",
    "language-en",
    "language-ru",
    "language-set",
    "menu-choose-kind",
    "menu-title",
    "nothing-to-cancel",
    "object-choose-kind",
    "object-draft-offer",
    "object-greeting",
    "reply-keyboard-closed",
    "renew-started",
    "restarted",
    "resume-offer",
    "review-hint",
    "review-kind",
    "review-title",
    "review-use-buttons",
    "send-limit",
    "send-limit-hotline",
    "step-counter",
    "step-optional",
    "welcome",
    "urgency-critical",
    "urgency-high",
    "urgency-medium",
    "urgency-low",
];

#[cfg(test)]
mod tests {
    /// Every literal id passed to `msg(..)`, `Msg::new(..)` or `button(..)` in the machine
    /// is listed in [`super::MESSAGE_IDS`].
    #[test]
    fn message_ids_cover_every_literal_in_the_machine() {
        let source = include_str!("machine.rs");
        let mut missing = Vec::new();
        for pattern in ["msg(\"", "Msg::new(\"", "button(\""] {
            for (i, _) in source.match_indices(pattern) {
                let rest = &source[i + pattern.len()..];
                let id: String = rest.chars().take_while(|c| *c != '"').collect();
                if !super::MESSAGE_IDS.contains(&id.as_str())
                    && !crate::domain::MESSAGE_IDS.contains(&id.as_str())
                {
                    missing.push(id);
                }
            }
        }
        assert!(missing.is_empty(), "not in MESSAGE_IDS: {missing:?}");
    }
}
