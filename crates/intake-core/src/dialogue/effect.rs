//! What the adapter must do after a step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::msg::Msg;
use crate::urgency::Urgency;

use super::state::Answer;

/// A button: a label message and the data it sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// Label (fluent message).
    pub label: Msg,
    /// Callback data (at most 64 bytes).
    pub data: String,
}

impl Button {
    /// A button with a label message id and data.
    pub fn new(label: Msg, data: impl Into<String>) -> Self {
        Self {
            label,
            data: data.into(),
        }
    }
}

/// What a reply keyboard asks the messenger to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplyRequest {
    /// The user's own phone contact.
    Contact,
    /// The user's location.
    Location,
}

/// The keyboard attached to a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Keyboard {
    /// No keyboard.
    None,
    /// Inline buttons, in rows.
    Inline(Vec<Vec<Button>>),
    /// A reply keyboard: a share button, then plain buttons whose labels come back as text.
    Reply {
        /// The share button and its label.
        request: (ReplyRequest, Msg),
        /// Navigation buttons (labels are matched back to their data by the adapter).
        buttons: Vec<Button>,
    },
    /// Remove a reply keyboard shown earlier.
    RemoveReply,
    /// Open the messenger's reply box on this message (the answer comes back as a reply
    /// to it).
    ForceReply,
}

/// One paragraph of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Part {
    /// A localized message.
    Msg(Msg),
    /// A field of a summary: label and the user's value (shown verbatim).
    Field {
        /// Field label.
        label: Msg,
        /// Value as text.
        value: String,
    },
}

/// A message to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Paragraphs, joined with blank lines.
    pub parts: Vec<Part>,
    /// Keyboard.
    pub keyboard: Keyboard,
    /// Replace the message whose button was pressed instead of sending a new one.
    pub edit_origin: bool,
}

/// A finished request, handed to delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Unique token of the request (also the draft id).
    pub id: String,
    /// Kind id.
    pub kind: String,
    /// Urgency level of the kind.
    pub urgency: Urgency,
    /// Answered fields in the order they were asked.
    pub fields: Vec<(String, Answer)>,
    /// When the user pressed Send.
    pub submitted_at: DateTime<Utc>,
    /// The closed case this request continues (its number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<String>,
}

impl Request {
    /// The answer for a field, if given.
    pub fn answer(&self, field: &str) -> Option<&Answer> {
        self.fields.iter().find(|(f, _)| f == field).map(|(_, a)| a)
    }

    /// Every attached file, in the order of the fields.
    pub fn files(&self) -> impl Iterator<Item = &super::FileRef> {
        self.fields.iter().flat_map(|(_, a)| a.files())
    }
}

/// A message a user adds to a sent request's case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The case's id.
    pub case_id: i64,
    /// The case's number.
    pub case_number: String,
    /// The text (or a file's caption; may be empty when a file is sent).
    pub text: String,
    /// Attached photos or image files.
    pub files: Vec<super::FileRef>,
    /// For a message the user agreed to add (an [`super::Offer`]), the offer's id: the
    /// same message added twice (two presses) is one message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Send (or edit into place) a message.
    Say(Reply),
    /// Show a short notice on the pressed button (answerCallbackQuery text).
    Toast(Msg),
    /// Remove the inline keyboard of the message whose button was pressed.
    ClearOriginKeyboard,
    /// Hand the finished request over to delivery.
    Submit(Box<Request>),
    /// Delete what is kept about the user (profile, blocked mark); the draft is already
    /// gone from the session.
    Forget,
    /// List the user's recent requests with their state (the adapter knows them).
    ShowRequests,
    /// Add a message to a sent request's case (the adapter queues it for delivery).
    FollowUp(Box<FollowUp>),
    /// Show a case's last messages with a "Reply" button (the adapter reads them).
    ShowCase {
        /// The case's id.
        case_id: i64,
        /// The case's number.
        case_number: String,
    },
}
