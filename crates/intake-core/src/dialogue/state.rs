//! Dialogue state: the session of a chat and the profile of a user.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    BaseStations, Email, FreeText, FullName, MeterSerial, ModemIds, ObjectLink, Phone,
};

/// How a file arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A compressed photo (JPEG).
    Photo,
    /// A file sent as a document.
    Document,
}

/// An accepted screenshot or photo: where to fetch it and what to call it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Messenger file id.
    pub file_id: String,
    /// Content id (duplicates are ignored).
    pub unique_id: String,
    /// File name to give the attachment.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// Photo or document.
    pub kind: FileKind,
}

/// A point on the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// A parsed answer to one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum Answer {
    /// Free text.
    Text(FreeText),
    /// Modem IDs.
    ModemIds(ModemIds),
    /// Meter serial.
    Serial(MeterSerial),
    /// Base stations.
    BaseStations(BaseStations),
    /// Personal-account link.
    Link(ObjectLink),
    /// E-mail.
    Email(Email),
    /// Phone.
    Phone(Phone),
    /// Full name.
    FullName(FullName),
    /// Files.
    Files(Vec<FileRef>),
    /// Shared location.
    Location(GeoPoint),
}

impl Answer {
    /// The value as one text, for summaries and the helpdesk case.
    pub fn display(&self) -> String {
        match self {
            Self::Text(v) => v.to_string(),
            Self::ModemIds(v) => v.to_string(),
            Self::Serial(v) => v.to_string(),
            Self::BaseStations(v) => v.to_string(),
            Self::Link(v) => v.to_string(),
            Self::Email(v) => v.to_string(),
            Self::Phone(v) => v.to_string(),
            Self::FullName(v) => v.to_string(),
            Self::Files(files) => files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Self::Location(p) => format!(
                "{:.6}, {:.6} (https://yandex.ru/maps/?pt={:.6},{:.6}&z=17)",
                p.lat, p.lon, p.lon, p.lat
            ),
        }
    }

    /// The files, when this answer holds files.
    pub fn files(&self) -> &[FileRef] {
        match self {
            Self::Files(f) => f,
            _ => &[],
        }
    }
}

/// One step of a draft's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Field id.
    pub field: String,
    /// May be skipped.
    pub optional: bool,
    /// Prompt override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Filled in advance (from the user's profile or a QR sticker); not asked, editable
    /// from the summary.
    #[serde(default)]
    pub prefilled: bool,
}

/// Where the draft is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    /// Asking step `index` of the plan; `edit` returns to the summary afterwards.
    Asking {
        /// Plan index.
        index: usize,
        /// Editing from the summary.
        edit: bool,
    },
    /// A link with an unfamiliar host was given; waiting for "yes, it's right".
    ConfirmHost {
        /// Plan index.
        index: usize,
        /// Editing from the summary.
        edit: bool,
        /// The link waiting for confirmation.
        link: ObjectLink,
    },
    /// Showing the summary with Send.
    Review,
}

/// A request being filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// Unique token; becomes the request id.
    pub id: String,
    /// Kind id.
    pub kind: String,
    /// Steps to ask, in order.
    pub plan: Vec<PlannedStep>,
    /// Answers so far, by field id.
    pub answers: BTreeMap<String, Answer>,
    /// Current phase.
    pub phase: Phase,
    /// When the kind was chosen.
    pub started_at: DateTime<Utc>,
    /// The closed case this request continues (its number), when started from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<String>,
}

impl Draft {
    /// Steps that are asked (not prefilled).
    pub fn asked_steps(&self) -> impl Iterator<Item = (usize, &PlannedStep)> {
        self.plan.iter().enumerate().filter(|(_, s)| !s.prefilled)
    }

    /// 1-based position of plan index `index` among asked steps, and their count.
    pub fn progress(&self, index: usize) -> (usize, usize) {
        let total = self.asked_steps().count();
        let pos = self.asked_steps().take_while(|(i, _)| *i < index).count() + 1;
        (pos.min(total.max(1)), total)
    }
}

/// The conversation state of one chat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Session {
    /// Nothing in progress.
    #[default]
    Idle,
    /// A request is being filled in.
    Drafting(Draft),
    /// Asked whether a message goes to the user's open case; the message waits here.
    Offering(Box<Offer>),
}

/// A message the user sent with no draft in progress while they have one open case: it
/// goes to that case if they say so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// Unique id of the offer.
    #[serde(default)]
    pub id: String,
    /// The case's id.
    pub case_id: i64,
    /// The case's number.
    pub case_number: String,
    /// The message's caption (photo or file).
    pub caption: Option<String>,
    /// The message.
    pub input: super::Input,
}

/// A versioned envelope for storing a [`Session`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSession {
    /// Format version; bump when [`Session`] changes incompatibly.
    pub v: u32,
    /// The session.
    pub session: Session,
    /// Id of the last update applied to this session (replays are skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_id: Option<i64>,
    /// When the last update was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Ids of the updates applied most recently, oldest first (at most
    /// [`Self::APPLIED_KEPT`]): an update handed out again is recognised even when a
    /// later one was applied before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<i64>,
}

impl StoredSession {
    /// Current format version.
    pub const VERSION: u32 = 1;

    /// How many applied update ids are kept.
    pub const APPLIED_KEPT: usize = 64;

    /// Whether update `id` was applied to this session already.
    pub fn has_applied(&self, id: i64) -> bool {
        if self.applied.is_empty() {
            // Written before ids were kept: only the last one is known.
            return self.last_update_id.is_some_and(|last| id <= last);
        }
        let full = self.applied.len() >= Self::APPLIED_KEPT;
        self.applied.contains(&id) || (full && self.applied.iter().all(|a| id < *a))
    }

    /// The session `session` after applying update `id` to this one.
    #[must_use]
    pub fn next(&self, session: Session, id: i64, at: DateTime<Utc>) -> Self {
        let mut applied = self.applied.clone();
        if applied.is_empty()
            && let Some(last) = self.last_update_id
        {
            applied.push(last);
        }
        applied.push(id);
        let excess = applied.len().saturating_sub(Self::APPLIED_KEPT);
        applied.drain(..excess);
        Self {
            v: Self::VERSION,
            session,
            last_update_id: Some(self.last_update_id.map_or(id, |last| last.max(id))),
            updated_at: Some(at),
            applied,
        }
    }

    /// A session that has seen no update.
    pub fn fresh() -> Self {
        Self {
            v: Self::VERSION,
            session: Session::Idle,
            last_update_id: None,
            updated_at: None,
            applied: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_applied_out_of_order_is_still_applied_once() {
        let now = Utc::now();
        let s = StoredSession::fresh().next(Session::Idle, 10, now);
        let s = s.next(Session::Idle, 12, now);
        assert!(s.has_applied(10) && s.has_applied(12));
        assert!(
            !s.has_applied(11),
            "an earlier update not yet applied is applied"
        );
        let s = s.next(Session::Idle, 11, now);
        assert!(s.has_applied(11));
        assert_eq!(s.last_update_id, Some(12));
    }

    #[test]
    fn the_kept_ids_are_bounded_and_older_ones_count_as_applied() {
        let now = Utc::now();
        let mut s = StoredSession::fresh();
        for id in 100..300 {
            s = s.next(Session::Idle, id, now);
        }
        assert_eq!(s.applied.len(), StoredSession::APPLIED_KEPT);
        assert!(s.has_applied(150), "older than every kept id");
        assert!(s.has_applied(299));
        assert!(!s.has_applied(300));
    }

    #[test]
    fn a_session_stored_before_ids_were_kept_falls_back_to_the_last_id() {
        let old: StoredSession =
            serde_json::from_str(r#"{"v":1,"session":{"state":"idle"},"last_update_id":7}"#)
                .expect("old format");
        assert!(old.has_applied(7) && old.has_applied(3));
        assert!(!old.has_applied(8));
        let next = old.next(Session::Idle, 9, Utc::now());
        assert_eq!(next.applied, vec![7, 9]);
        assert!(!next.has_applied(8));
    }
}

/// What the bot remembers about a user across requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Chosen language (`ru`, `en`); `None` follows the messenger's language.
    #[serde(default)]
    pub lang: Option<String>,
    /// Remembered answers (identification), by field id.
    #[serde(default)]
    pub saved: BTreeMap<String, Answer>,
}
