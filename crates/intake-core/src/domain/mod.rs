//! Parsed value types for request fields ("parse, don't validate").
//!
//! Each type has a `parse` that either returns the canonical value or a [`Msg`] that says
//! what was wrong; the dialogue machine adds the field's example to that message.
//!
//! # Layout
//!
//! - [`modem`]: NB-Fi modem IDs ([`ModemId`], [`ModemIds`]), hex or decimal input, hex out.
//! - [`serial`]: meter serial numbers ([`MeterSerial`]).
//! - [`base_station`]: base-station numbers ([`BaseStations`]).
//! - [`link`]: links to the personal account ([`ObjectLink`], [`HostPolicy`]), with secrets
//!   stripped.
//! - [`contact`]: [`Email`], [`Phone`], [`FullName`].
//! - [`text`]: bounded free text ([`FreeText`]).
//! - [`site_object`]: the station or modem a QR sticker names ([`SiteObject`]), and its
//!   `/start` payload.
//!
//! # Adding a type
//!
//! Give it private fields, a `parse(&str) -> Result<Self, Msg>`, `Display` with the canonical
//! form and serde that round-trips. Add every message id it can produce to [`MESSAGE_IDS`]
//! and to `locales/*/validation.ftl`; the locale test below fails otherwise.

use std::fmt;

use crate::msg::Msg;

pub mod base_station;
pub mod contact;
pub mod link;
pub mod modem;
pub mod serial;
pub mod site_object;
pub mod text;

pub use base_station::BaseStations;
pub use contact::{Email, FullName, Phone};
pub use link::{HostPolicy, ObjectLink};
pub use modem::{ModemId, ModemIds};
pub use serial::MeterSerial;
pub use site_object::{PayloadError, SiteObject};
pub use text::FreeText;

/// Every fluent message id the validators in this module can produce (errors and notes).
///
/// Each id must be defined in `locales/<lang>/validation.ftl` for every language.
pub const MESSAGE_IDS: &[&str] = &[
    // modem.rs
    modem::ERR_EMPTY,
    modem::ERR_FORMAT,
    modem::ERR_RANGE,
    modem::ERR_TOO_MANY,
    modem::NOTE_DECIMAL_CONVERTED,
    modem::NOTE_UNUSUAL_LENGTH,
    // serial.rs
    serial::ERR_CHARS,
    serial::ERR_LENGTH,
    // base_station.rs
    base_station::ERR_EMPTY,
    base_station::ERR_FORMAT,
    // link.rs
    link::ERR_FORMAT,
    link::ERR_HTTPS,
    link::NOTE_SECRET_REMOVED,
    link::NOTE_HOST_UNKNOWN,
    // contact.rs
    contact::ERR_EMAIL,
    contact::ERR_PHONE,
    contact::ERR_FULL_NAME,
    // site_object.rs
    site_object::ERR_SHEET_LINE,
    // text.rs
    text::ERR_EMPTY,
    text::ERR_TOO_SHORT,
    text::ERR_TOO_LONG,
];

/// A value that failed to parse, as a typed error for `FromStr`, `TryFrom` and serde.
///
/// It carries the same [`Msg`] that `parse` returns; its `Display` names only the field
/// and the message id, never the rejected input (which may hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {}", msg.id)]
pub struct InvalidValue {
    field: &'static str,
    msg: Msg,
}

impl InvalidValue {
    /// Wraps the message of a failed parse of `field`.
    pub fn new(field: &'static str, msg: Msg) -> Self {
        Self { field, msg }
    }

    /// The name of the field that failed, e.g. `modem id`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The localizable message explaining what was wrong.
    pub fn msg(&self) -> &Msg {
        &self.msg
    }

    /// Consumes the error, returning its message.
    pub fn into_msg(self) -> Msg {
        self.msg
    }
}

impl From<InvalidValue> for Msg {
    fn from(e: InvalidValue) -> Self {
        e.msg
    }
}

/// Implements `FromStr`, `TryFrom<String>`, `TryFrom<&str>` and `From<T> for String` for a
/// type with `parse(&str) -> Result<Self, Msg>` and a canonical `Display`.
macro_rules! impl_str_conversions {
    ($ty:ty, $field:literal) => {
        impl ::std::str::FromStr for $ty {
            type Err = $crate::domain::InvalidValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).map_err(|m| $crate::domain::InvalidValue::new($field, m))
            }
        }

        impl ::std::convert::TryFrom<String> for $ty {
            type Error = $crate::domain::InvalidValue;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::convert::TryFrom<&str> for $ty {
            type Error = $crate::domain::InvalidValue;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::convert::From<$ty> for String {
            fn from(v: $ty) -> Self {
                v.to_string()
            }
        }
    };
}
pub(crate) use impl_str_conversions;

/// Longest excerpt of user input echoed back inside an error message, in chars.
const ECHO_MAX_CHARS: usize = 40;

/// A char-safe excerpt of user input for an error message: at most [`ECHO_MAX_CHARS`]
/// chars, with `…` when cut, and control characters replaced by spaces.
pub(crate) fn echo(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(ECHO_MAX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if input.chars().nth(ECHO_MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Maps Cyrillic letters that look like the Latin hex digits A, B, C, E (a common slip on a
/// Russian keyboard layout) to their Latin twins; leaves every other char alone.
pub(crate) fn latin_lookalike(c: char) -> char {
    match c {
        'А' => 'A',
        'а' => 'a',
        'В' => 'B',
        'С' => 'C',
        'с' => 'c',
        'Е' => 'E',
        'е' => 'e',
        other => other,
    }
}

/// Splits a list typed by a user on commas, semicolons and any whitespace (incl. newlines),
/// skipping empty pieces.
pub(crate) fn list_tokens(input: &str) -> impl Iterator<Item = &str> {
    input
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

/// Writes `items` separated by `", "`.
pub(crate) fn write_joined<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl IntoIterator<Item = T>,
) -> fmt::Result {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Asserts that a message produced by a validator is one the locales know about.
    pub(crate) fn assert_known_id(msg: &Msg) {
        assert!(
            MESSAGE_IDS.contains(&msg.id.as_str()),
            "message id {} is missing from MESSAGE_IDS",
            msg.id
        );
    }

    fn ftl_ids(lang: &str) -> HashSet<String> {
        let path = format!(
            "{}/../../locales/{lang}/validation.ftl",
            env!("CARGO_MANIFEST_DIR")
        );
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        text.lines()
            .filter_map(|line| {
                let (id, _) = line.split_once('=')?;
                let id = id.trim_end();
                let is_id = !id.is_empty()
                    && !line.starts_with(char::is_whitespace)
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                is_id.then(|| id.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_message_id_is_defined_in_russian_and_english_locales() {
        for lang in ["ru", "en"] {
            let defined = ftl_ids(lang);
            let missing: Vec<_> = MESSAGE_IDS
                .iter()
                .filter(|id| !defined.contains(**id))
                .collect();
            assert!(
                missing.is_empty(),
                "{lang}/validation.ftl lacks {missing:?}"
            );
        }
    }

    #[test]
    fn locales_define_the_same_validation_ids() {
        assert_eq!(ftl_ids("ru"), ftl_ids("en"));
    }

    #[test]
    fn message_ids_are_unique() {
        let unique: HashSet<_> = MESSAGE_IDS.iter().collect();
        assert_eq!(unique.len(), MESSAGE_IDS.len());
    }

    #[test]
    fn echo_cuts_long_cyrillic_input_on_char_boundaries() {
        let long = "я".repeat(100);
        let e = echo(&long);
        assert_eq!(e.chars().count(), ECHO_MAX_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(echo("коротко"), "коротко");
    }

    #[test]
    fn invalid_value_display_names_field_and_id_but_not_the_input() {
        let err = InvalidValue::new("e-mail", Msg::new("err-email").arg("value", "secret@x"));
        let shown = err.to_string();
        assert_eq!(shown, "invalid e-mail: err-email");
        assert!(!shown.contains("secret"));
    }
}
