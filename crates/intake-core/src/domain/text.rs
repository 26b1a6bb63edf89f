//! Free text with a length range, such as a problem description.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::msg::Msg;

/// Message id: the text is blank.
pub const ERR_EMPTY: &str = "err-text-empty";
/// Message id: fewer chars than required; `$min` required, `$len` given.
pub const ERR_TOO_SHORT: &str = "err-text-too-short";
/// Message id: more chars than allowed; `$max` allowed, `$len` given.
pub const ERR_TOO_LONG: &str = "err-text-too-long";

/// Non-blank text, trimmed at both ends, with inner line breaks kept (as `\n`).
///
/// The length range is the caller's (it depends on the question); serde accepts any
/// non-blank, trimmed text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FreeText(String);

impl FreeText {
    /// Parses text of `min_chars..=max_chars` characters (Unicode scalar values, not
    /// bytes), counted after trimming and turning `\r\n` and `\r` into `\n`.
    ///
    /// # Errors
    ///
    /// [`ERR_EMPTY`] for blank input, [`ERR_TOO_SHORT`] / [`ERR_TOO_LONG`] outside the range.
    pub fn parse(input: &str, min_chars: usize, max_chars: usize) -> Result<Self, Msg> {
        let text = input.trim().replace("\r\n", "\n").replace('\r', "\n");
        if text.is_empty() {
            return Err(Msg::new(ERR_EMPTY));
        }
        let len = text.chars().count();
        if len < min_chars {
            return Err(Msg::new(ERR_TOO_SHORT)
                .arg("min", min_chars)
                .arg("len", len));
        }
        if len > max_chars {
            return Err(Msg::new(ERR_TOO_LONG).arg("max", max_chars).arg("len", len));
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length in chars.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Display for FreeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FreeText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FreeText {
    type Error = super::InvalidValue;

    /// Accepts any non-blank text (no length limit); trims it like [`FreeText::parse`].
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s, 1, usize::MAX).map_err(|m| super::InvalidValue::new("text", m))
    }
}

impl From<FreeText> for String {
    fn from(t: FreeText) -> Self {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    #[test]
    fn text_is_trimmed_and_inner_line_breaks_are_kept() {
        let t = FreeText::parse("  \n Нет данных\r\nс 5 мая.\n\n", 5, 100).unwrap();
        assert_eq!(t.as_str(), "Нет данных\nс 5 мая.");
        assert_eq!(t.char_count(), 19);
    }

    #[test]
    fn length_is_counted_in_chars_not_bytes() {
        // 10 Cyrillic chars are 20 bytes.
        assert!(FreeText::parse("абвгдеёжзи", 10, 10).is_ok());
        let msg = FreeText::parse("абвгдеёжзи", 1, 9).unwrap_err();
        assert_eq!(
            msg,
            Msg::new(ERR_TOO_LONG)
                .arg("max", 9_usize)
                .arg("len", 10_usize)
        );
    }

    #[test]
    fn blank_short_and_long_texts_are_rejected_with_lengths() {
        let cases = [
            ("", Msg::new(ERR_EMPTY)),
            (" \n\t ", Msg::new(ERR_EMPTY)),
            (
                "Нет",
                Msg::new(ERR_TOO_SHORT)
                    .arg("min", 10_usize)
                    .arg("len", 3_usize),
            ),
            (
                &"я".repeat(21),
                Msg::new(ERR_TOO_LONG)
                    .arg("max", 20_usize)
                    .arg("len", 21_usize),
            ),
        ];
        for (input, want) in cases {
            let msg = FreeText::parse(input, 10, 20).unwrap_err();
            assert_known_id(&msg);
            assert_eq!(msg, want, "{input:?}");
        }
    }

    #[test]
    fn serde_round_trips_and_rejects_blank_text() {
        let t = FreeText::parse("Строка 1\nСтрока 2", 1, 100).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<FreeText>(&json).unwrap(), t);
        assert!(serde_json::from_str::<FreeText>("\"  \"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics_and_reparses_to_itself(
            s in any::<String>(), min in 0_usize..20, extra in 0_usize..200,
        ) {
            if let Ok(t) = FreeText::parse(&s, min, min + extra) {
                prop_assert_eq!(FreeText::parse(&format!("{t}"), min, min + extra).unwrap(), t.clone());
                let json = serde_json::to_string(&t).unwrap();
                prop_assert_eq!(serde_json::from_str::<FreeText>(&json).unwrap(), t);
            }
        }
    }
}
