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
    /// `/forget`: delete what the bot keeps about the user (after a confirmation).
    Forget,
    /// `/status`: the user's recent requests and their state.
    Status,
}

impl Command {
    /// Reads a command line (`/new`, `/start@bot payload`): the command and the trimmed
    /// text after it. `None` when `text` is not one of the bot's commands: an answer that
    /// happens to start with `/` (`/api/v1/meters returns 500`) is an answer.
    pub fn parse(text: &str) -> Option<(Self, &str)> {
        let text = text.trim_start();
        let word = text.split_whitespace().next()?;
        let name = word.strip_prefix('/')?;
        let name = name.split('@').next().unwrap_or(name).to_ascii_lowercase();
        let command = match name.as_str() {
            "start" => Self::Start,
            "new" => Self::New,
            "cancel" => Self::Cancel,
            "help" => Self::Help,
            "language" | "lang" => Self::Language,
            "forget" => Self::Forget,
            "status" | "my" => Self::Status,
            _ => return None,
        };
        Some((command, text[word.len()..].trim()))
    }
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
    /// `/start PAYLOAD`: a deep link, e.g. from a QR sticker (the payload as received).
    StartPayload(String),
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
    /// A message meant for a sent request's case: a reply to the bot's message about
    /// that case (a relayed agent reply, or the prompt of its "Reply" button).
    FollowUp {
        /// The case's id.
        case_id: i64,
        /// The case's number, as shown to people.
        case_number: String,
        /// The caption of a photo or file.
        caption: Option<String>,
        /// What the message is (text, photo, file…).
        inner: Box<Input>,
    },
}

impl Input {
    /// What a command line means: `/start PAYLOAD` is [`Input::StartPayload`], any other
    /// command [`Input::Command`]. `None` when `text` is not a command.
    pub fn from_command_line(text: &str) -> Option<Self> {
        let (command, rest) = Command::parse(text)?;
        Some(match command {
            Command::Start if !rest.is_empty() => Self::StartPayload(rest.to_owned()),
            other => Self::Command(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_with_a_payload_is_a_deep_link_and_other_commands_drop_their_text() {
        let cases = [
            ("/start", Input::Command(Command::Start)),
            ("/start bs-1234", Input::StartPayload("bs-1234".to_owned())),
            (
                "/start@waviot_bot  m-7A48AC ",
                Input::StartPayload("m-7A48AC".to_owned()),
            ),
            ("/new something", Input::Command(Command::New)),
            ("/HELP", Input::Command(Command::Help)),
            ("/forget", Input::Command(Command::Forget)),
        ];
        for (text, want) in cases {
            assert_eq!(Input::from_command_line(text), Some(want), "{text}");
        }
        for not_a_command in ["7A48AC", "", "/whatever", "/api/v1/meters returns 500"] {
            assert_eq!(
                Input::from_command_line(not_a_command),
                None,
                "{not_a_command}"
            );
        }
    }
}
