//! Meter serial numbers.
//!
//! WAVIoT does not fix a format (third-party meters are hosted too), and the API stores the
//! serial as a number. The bot accepts digits only, after removing spaces and dashes, 5–20
//! of them, and keeps them as a string so leading zeros survive.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::impl_str_conversions;
use crate::msg::Msg;

/// Message id: a char other than a digit, space or dash; `$char` is the first such char.
pub const ERR_CHARS: &str = "err-serial-chars";
/// Message id: wrong number of digits; `$len` given, `$min`–`$max` allowed.
pub const ERR_LENGTH: &str = "err-serial-length";

/// Fewest digits in a serial number.
pub const MIN_SERIAL_DIGITS: usize = 5;
/// Most digits in a serial number.
pub const MAX_SERIAL_DIGITS: usize = 20;

/// A meter serial number: 5–20 ASCII digits, leading zeros kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeterSerial(String);

impl MeterSerial {
    /// Parses a serial number, ignoring spaces and dashes (`-`, `‐`, `–`, `—`, `−`).
    ///
    /// # Errors
    ///
    /// [`ERR_CHARS`] when anything else than digits remains, [`ERR_LENGTH`] when there are
    /// fewer than [`MIN_SERIAL_DIGITS`] or more than [`MAX_SERIAL_DIGITS`] digits.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && !is_dash(*c))
            .collect();
        if let Some(bad) = compact.chars().find(|c| !c.is_ascii_digit()) {
            return Err(Msg::new(ERR_CHARS).arg("char", bad.to_string()));
        }
        // ASCII digits only, so the byte length is the digit count.
        let len = compact.len();
        if !(MIN_SERIAL_DIGITS..=MAX_SERIAL_DIGITS).contains(&len) {
            return Err(Msg::new(ERR_LENGTH)
                .arg("len", len)
                .arg("min", MIN_SERIAL_DIGITS)
                .arg("max", MAX_SERIAL_DIGITS));
        }
        Ok(Self(compact))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Dashes and minus signs people type between digit groups.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}'
    )
}

impl fmt::Display for MeterSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MeterSerial {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl_str_conversions!(MeterSerial, "meter serial");

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    #[test]
    fn spaces_and_dashes_are_removed_and_leading_zeros_kept() {
        let cases = [
            ("00012345", "00012345"),
            (" 123 456-789 ", "123456789"),
            ("12–34—56", "123456"),
            ("12345", "12345"),
            ("12345678901234567890", "12345678901234567890"),
            ("1\u{a0}2\t3\n4 5", "12345"),
        ];
        for (input, want) in cases {
            assert_eq!(
                MeterSerial::parse(input).unwrap().as_str(),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_non_digit_is_rejected_and_named() {
        for (input, bad) in [
            ("7A48AC", "A"),
            ("SN 12345", "S"),
            ("№12345", "№"),
            ("12345.6", "."),
        ] {
            let msg = MeterSerial::parse(input).unwrap_err();
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_CHARS).arg("char", bad), "{input:?}");
        }
    }

    #[test]
    fn too_short_or_too_long_is_rejected_with_the_length() {
        for (input, len) in [
            ("1234", 4_usize),
            ("", 0),
            (" - ", 0),
            ("123456789012345678901", 21),
        ] {
            let msg = MeterSerial::parse(input).unwrap_err();
            assert_known_id(&msg);
            assert_eq!(
                msg,
                Msg::new(ERR_LENGTH)
                    .arg("len", len)
                    .arg("min", 5_usize)
                    .arg("max", 20_usize),
                "{input:?}"
            );
        }
    }

    #[test]
    fn serde_round_trips_and_rejects_invalid_serials() {
        let serial = MeterSerial::parse("000-123-45").unwrap();
        let json = serde_json::to_string(&serial).unwrap();
        assert_eq!(json, "\"00012345\"");
        assert_eq!(serde_json::from_str::<MeterSerial>(&json).unwrap(), serial);
        assert!(serde_json::from_str::<MeterSerial>("\"12\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = MeterSerial::parse(&s);
        }

        #[test]
        fn reparsing_the_display_of_an_accepted_serial_gives_the_same_serial(
            s in "[0-9 \\-–]{0,30}"
        ) {
            if let Ok(serial) = MeterSerial::parse(&s) {
                prop_assert_eq!(MeterSerial::parse(&format!("{serial}")).unwrap(), serial);
            }
        }
    }
}
