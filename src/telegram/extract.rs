//! Telegram messages → core [`Input`].

use intake_core::dialogue::{Command, FileInput, Input};
use teloxide::types::{FileMeta, Message, User};

/// Parses a bot command (`/new`, `/start@bot payload`); `None` when `text` is not one.
pub fn command(text: &str) -> Option<Command> {
    Command::parse(text).map(|(c, _)| c)
}

fn file(meta: &FileMeta, name: Option<String>, mime: Option<String>) -> FileInput {
    FileInput {
        file_id: meta.id.to_string(),
        unique_id: meta.unique_id.to_string(),
        name,
        mime,
        size: Some(u64::from(meta.size)),
    }
}

/// What a message means to the dialogue.
pub fn input(msg: &Message, from: Option<&User>) -> Input {
    if let Some(text) = msg.text() {
        return Input::from_command_line(text).unwrap_or_else(|| Input::Text(text.to_owned()));
    }
    if let Some(sizes) = msg.photo() {
        return match sizes
            .iter()
            .max_by_key(|p| (p.width * p.height, p.file.size))
        {
            Some(largest) => Input::Photo(file(&largest.file, None, Some("image/jpeg".to_owned()))),
            None => Input::Other,
        };
    }
    if let Some(doc) = msg.document() {
        return Input::Document(file(
            &doc.file,
            doc.file_name.clone(),
            doc.mime_type.as_ref().map(ToString::to_string),
        ));
    }
    if let Some(contact) = msg.contact() {
        let own = match (contact.user_id, from) {
            (Some(cid), Some(user)) => cid == user.id,
            _ => false,
        };
        return Input::Contact {
            phone: contact.phone_number.clone(),
            own,
        };
    }
    if let Some(loc) = msg.location() {
        return Input::Location {
            lat: loc.latitude,
            lon: loc.longitude,
        };
    }
    if msg.sticker().is_some() {
        return Input::Sticker;
    }
    if msg.voice().is_some() || msg.audio().is_some() {
        return Input::Voice;
    }
    if msg.video().is_some() || msg.video_note().is_some() || msg.animation().is_some() {
        return Input::Video;
    }
    Input::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_bot_names_and_payloads() {
        assert_eq!(command("/start"), Some(Command::Start));
        assert_eq!(command("/start@waviot_bot abc"), Some(Command::Start));
        assert_eq!(command("/NEW"), Some(Command::New));
        assert_eq!(command("/whatever"), None);
        assert_eq!(command("/api/v1/meters returns 500"), None);
        assert_eq!(command("7A48AC"), None);
        assert_eq!(command(""), None);
    }

    #[test]
    fn a_deep_link_start_carries_its_payload() {
        let msg: Message = serde_json::from_value(serde_json::json!({
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 7, "type": "private", "first_name": "A"},
            "from": {"id": 7, "is_bot": false, "first_name": "A"},
            "text": "/start bs-1234",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]
        }))
        .expect("a message");
        assert_eq!(input(&msg, None), Input::StartPayload("bs-1234".to_owned()));
    }
}
