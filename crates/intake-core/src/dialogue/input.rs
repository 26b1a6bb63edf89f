//! What a user can send, independent of Telegram.

use serde::{Deserialize, Serialize};

/// A bot command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// `/start`: greet, then resume or show the menu.
    Start,
    /// `/new`: a new request (offers to resume an unfinished one).
    New,
    /// `/cancel`: drop the current draft.
    Cancel,
    /// `/help`: what the bot does and the urgency levels.
    Help,
    /// `/language`: choose the language.
    Language,
}

/// A file the user sent (photo or document), as announced by the messenger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInput {
    /// Messenger's id to download the file by.
    pub file_id: String,
    /// Stable id of the content (same file sent twice has the same one).
    pub unique_id: String,
    /// File name, if the messenger gave one.
    pub name: Option<String>,
    /// MIME type, if given.
    pub mime: Option<String>,
    /// Size in bytes, if given.
    pub size: Option<u64>,
}

/// One user action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// A command.
    Command(Command),
    /// Plain text.
    Text(String),
    /// A pressed inline button (its callback data) or a mapped reply-keyboard label.
    Button(String),
    /// A compressed photo (always JPEG).
    Photo(FileInput),
    /// A file sent as a document.
    Document(FileInput),
    /// A shared contact; `own` is true when it is the sender's own contact.
    Contact {
        /// The phone number as shared.
        phone: String,
        /// The contact is the sender's own.
        own: bool,
    },
    /// A shared location.
    Location {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
    },
    /// A sticker.
    Sticker,
    /// A voice or audio message.
    Voice,
    /// A video or video note.
    Video,
    /// Anything else (poll, dice, game…).
    Other,
}
