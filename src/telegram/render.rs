//! Core replies → Telegram text and keyboards.

use intake_core::dialogue::{Button, Keyboard, Part, Reply, ReplyRequest};
use teloxide::types::{
    ButtonRequest, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
    KeyboardMarkup, KeyboardRemove, ReplyMarkup,
};

use crate::i18n::Localizer;

/// Telegram's limit on message text.
const MAX_TEXT_CHARS: usize = 4096;

/// The text of a reply, cut to Telegram's limit.
pub fn text(i18n: &Localizer, lang: &str, reply: &Reply) -> String {
    let mut out = String::new();
    let mut previous_was_field = false;
    for part in &reply.parts {
        let (rendered, is_field) = match part {
            Part::Msg(m) => (i18n.render(lang, m), false),
            Part::Field { label, value } => {
                (format!("{}: {value}", i18n.render(lang, label)), true)
            }
        };
        if !out.is_empty() {
            // Fields of a summary form one block; other parts are paragraphs.
            out.push_str(if is_field && previous_was_field {
                "\n"
            } else {
                "\n\n"
            });
        }
        out.push_str(&rendered);
        previous_was_field = is_field;
    }
    clip(&out)
}

/// Cuts `s` to fit a Telegram message (counted in UTF-16 units, which is never less
/// than what Telegram counts).
pub fn clip(s: &str) -> String {
    let mut units = 0;
    let mut out = String::new();
    for c in s.chars() {
        units += c.len_utf16();
        if units > MAX_TEXT_CHARS - 1 {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out
}

fn inline_button(i18n: &Localizer, lang: &str, b: &Button) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(i18n.render(lang, &b.label), b.data.clone())
}

/// The inline keyboard of a reply, if it has one.
pub fn inline(i18n: &Localizer, lang: &str, keyboard: &Keyboard) -> Option<InlineKeyboardMarkup> {
    match keyboard {
        Keyboard::Inline(rows) => Some(InlineKeyboardMarkup::new(rows.iter().map(|row| {
            row.iter()
                .map(|b| inline_button(i18n, lang, b))
                .collect::<Vec<_>>()
        }))),
        _ => None,
    }
}

/// The reply markup to send with a new message.
pub fn markup(i18n: &Localizer, lang: &str, keyboard: &Keyboard) -> Option<ReplyMarkup> {
    match keyboard {
        Keyboard::None => None,
        Keyboard::Inline(_) => inline(i18n, lang, keyboard).map(ReplyMarkup::InlineKeyboard),
        Keyboard::RemoveReply => Some(ReplyMarkup::KeyboardRemove(KeyboardRemove::new())),
        Keyboard::ForceReply => Some(ReplyMarkup::ForceReply(ForceReply::new())),
        Keyboard::Reply { request, buttons } => {
            let (kind, label) = request;
            let share = KeyboardButton::new(i18n.render(lang, label)).request(match kind {
                ReplyRequest::Contact => ButtonRequest::Contact,
                ReplyRequest::Location => ButtonRequest::Location,
            });
            let others: Vec<KeyboardButton> = buttons
                .iter()
                .map(|b| KeyboardButton::new(i18n.render(lang, &b.label)))
                .collect();
            let mut rows = vec![vec![share]];
            if !others.is_empty() {
                rows.push(others);
            }
            Some(ReplyMarkup::Keyboard(
                KeyboardMarkup::new(rows)
                    .resize_keyboard()
                    .one_time_keyboard(),
            ))
        }
    }
}

/// Reply-keyboard labels that stand for buttons, in every language: (label, data).
pub fn reply_labels(i18n: &Localizer) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for lang in crate::i18n::LANGUAGES {
        for (id, data) in [
            ("btn-back", "back"),
            ("btn-skip", "skip"),
            ("btn-cancel", "cancel"),
            ("btn-keep", "keep"),
        ] {
            out.push((i18n.text(lang, id), data.to_owned()));
        }
    }
    out
}
