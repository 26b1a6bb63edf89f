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
/// Clean enough to go into a case as it is: control characters (tabs become spaces) and
/// bidirectional overrides, embeddings and isolates are removed, and the value of a
/// credential written as `key=…`, `token=…`, `api_key=…` (the names of
/// [`super::link`]'s secret parameters) is masked as `***`.
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
        let text = input.replace("\r\n", "\n").replace('\r', "\n");
        let text = mask_credentials(&strip_controls(&text));
        let text = text.trim().to_owned();
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

/// Bidirectional formatting characters that can make text read differently from what it
/// is (overrides, embeddings, isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Removes control characters (keeping line breaks; a tab becomes a space) and
/// bidirectional formatting characters.
fn strip_controls(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect()
}

/// Masks the value after `name=` (or `name: `) for every credential name, up to the next
/// space, `&`, quote or bracket.
fn mask_credentials(text: &str) -> String {
    // ASCII lowercasing keeps byte offsets, and every credential name is ASCII.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if let Some(start) = credential_value_start(&lower, i) {
            out.push_str(&text[i..start]);
            let rest = &text[start..];
            let value_len = rest.find(is_value_end).unwrap_or(rest.len());
            if value_len > 0 {
                out.push_str("***");
            }
            i = start + value_len;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Where the value starts when a credential name followed by `=` or `:` begins at byte
/// `i` of `lower` (and is not the tail of a longer word).
fn credential_value_start(lower: &str, i: usize) -> Option<usize> {
    let before = lower[..i].chars().next_back();
    if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    let rest = &lower[i..];
    super::link::SECRET_PARAMS.iter().find_map(|name| {
        let after = rest.strip_prefix(name)?;
        let value = match after.as_bytes().first()? {
            b'=' => &after[1..],
            b':' => after[1..].trim_start_matches(' '),
            _ => return None,
        };
        Some(lower.len() - value.len())
    })
}

fn is_value_end(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | '"' | '\'' | '<' | '>' | ')' | ']' | '}' | ',' | ';'
        )
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

    #[test]
    fn control_and_bidi_characters_are_removed() {
        let t = FreeText::parse(
            "Счёт\u{202E}txt.exe\u{202C} за\tмай\u{0007}\u{2066}!\u{2069}",
            1,
            100,
        )
        .unwrap();
        assert_eq!(t.as_str(), "Счётtxt.exe за май!");
    }

    #[test]
    fn credentials_written_in_text_are_masked() {
        let cases = [
            (
                "GET /api?key=S3CR3T&id=5 returns 500",
                "GET /api?key=***&id=5 returns 500",
            ),
            (
                "мой token: abc.def.ghi, проверьте",
                "мой token: ***, проверьте",
            ),
            (
                "API_KEY=AbC123\nвторая строка",
                "API_KEY=***\nвторая строка",
            ),
            ("access_token=xyz jwt=eyJ.a.b", "access_token=*** jwt=***"),
            // Not a credential: part of a longer word, or no value.
            ("monkey=3 keys=2 key= пусто", "monkey=3 keys=2 key= пусто"),
        ];
        for (input, want) in cases {
            assert_eq!(
                FreeText::parse(input, 1, 500).unwrap().as_str(),
                want,
                "{input:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn no_control_character_survives(s in any::<String>()) {
            if let Ok(t) = FreeText::parse(&s, 1, usize::MAX) {
                prop_assert!(t.as_str().chars().all(|c| c == '\n' || !(c.is_control() || is_bidi_control(c))));
            }
        }
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
