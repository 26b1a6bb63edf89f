//! Base-station numbers.
//!
//! A station ID is a 32-bit value on the device side, but how the personal account shows it
//! (decimal or hex, with or without a prefix) is not known. So each number is accepted as
//! decimal (up to 10 digits, kept as typed) or hex (up to 8 digits, `0x` allowed, stored
//! uppercase without the prefix), and the raw text is kept for the support engineer.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{echo, impl_str_conversions, latin_lookalike, list_tokens, write_joined};
use crate::msg::Msg;

/// Message id: a token is not a station number; `$value` is the token.
pub const ERR_FORMAT: &str = "err-base-station-format";
/// Message id: no station number in the input.
pub const ERR_EMPTY: &str = "err-base-station-empty";

/// Most digits of a decimal station number.
const MAX_DEC_DIGITS: usize = 10;
/// Most digits of a hex station number.
const MAX_HEX_DIGITS: usize = 8;

/// One or more base-station numbers, with the text as the user typed it.
///
/// `Display` joins the normalized numbers with `", "`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BaseStationsRepr")]
pub struct BaseStations {
    raw: String,
    ids: Vec<String>,
}

impl BaseStations {
    /// Parses numbers separated by commas, semicolons, spaces or new lines. A `№` or `#`
    /// before a number and the words `БС` / `BS` are ignored; repeats are dropped.
    ///
    /// # Errors
    ///
    /// [`ERR_EMPTY`] when there is no number, [`ERR_FORMAT`] for the first token that is
    /// neither a decimal nor a hex number of the allowed length.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let raw = input.trim();
        let mut ids: Vec<String> = Vec::new();
        for token in list_tokens(raw) {
            if is_filler_word(token) {
                continue;
            }
            let id = normalize_token(token)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Err(Msg::new(ERR_EMPTY));
        }
        Ok(Self {
            raw: raw.to_owned(),
            ids,
        })
    }

    /// The input as typed, trimmed.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The normalized numbers: decimal as typed, hex uppercase without `0x`.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
}

impl fmt::Display for BaseStations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.ids)
    }
}

impl_str_conversions!(BaseStations, "base stations");

/// The stored shape; deserialization re-parses `raw` and checks `ids` against it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseStationsRepr {
    raw: String,
    ids: Vec<String>,
}

impl TryFrom<BaseStationsRepr> for BaseStations {
    type Error = String;

    fn try_from(repr: BaseStationsRepr) -> Result<Self, Self::Error> {
        let parsed =
            Self::parse(&repr.raw).map_err(|m| format!("invalid base stations: {}", m.id))?;
        if parsed.raw != repr.raw || parsed.ids != repr.ids {
            return Err("base station ids do not match their raw text".to_owned());
        }
        Ok(parsed)
    }
}

/// Words people put around station numbers that carry no number.
fn is_filler_word(token: &str) -> bool {
    let lower = token.to_lowercase();
    matches!(lower.as_str(), "бс" | "bs" | "№" | "#")
}

/// Normalizes one token or says why it is not a station number.
fn normalize_token(token: &str) -> Result<String, Msg> {
    let format_err = || Msg::new(ERR_FORMAT).arg("value", echo(token));

    let body = token
        .strip_prefix('№')
        .or_else(|| token.strip_prefix('#'))
        .unwrap_or(token);
    let body: String = body.chars().map(latin_lookalike).collect();
    let (digits, prefixed) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(rest) => (rest, true),
        None => (body.as_str(), false),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format_err());
    }
    // ASCII only from here on: byte length is the digit count.
    let decimal = !prefixed && digits.chars().all(|c| c.is_ascii_digit());
    if decimal {
        return if digits.len() <= MAX_DEC_DIGITS {
            Ok(digits.to_owned())
        } else {
            Err(format_err())
        };
    }
    if digits.len() <= MAX_HEX_DIGITS {
        Ok(digits.to_ascii_uppercase())
    } else {
        Err(format_err())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    fn ids(input: &str) -> Vec<String> {
        BaseStations::parse(input).expect(input).ids().to_vec()
    }

    #[test]
    fn decimal_numbers_are_kept_as_typed_and_hex_is_uppercased() {
        let cases: [(&str, &[&str]); 7] = [
            ("12345", &["12345"]),
            ("0012", &["0012"]),
            ("4294967295", &["4294967295"]),
            ("0x1a2b", &["1A2B"]),
            ("ab12cd", &["AB12CD"]),
            ("0x0012", &["0012"]),
            ("12, 0xff;A1B2 \n 7", &["12", "FF", "A1B2", "7"]),
        ];
        for (input, want) in cases {
            assert_eq!(ids(input), want, "{input:?}");
        }
    }

    #[test]
    fn the_raw_text_is_kept_trimmed_and_display_lists_normalized_numbers() {
        let bs = BaseStations::parse("  БС №12, 0xff ").unwrap();
        assert_eq!(bs.raw(), "БС №12, 0xff");
        assert_eq!(bs.ids(), ["12", "FF"]);
        assert_eq!(bs.to_string(), "12, FF");
    }

    #[test]
    fn repeated_numbers_are_listed_once() {
        assert_eq!(ids("12 12, 0xFF ff"), ["12", "FF"]);
    }

    #[test]
    fn malformed_or_too_long_tokens_are_rejected_and_named() {
        for (input, bad) in [
            ("12, станция", "станция"),
            ("12345678901", "12345678901"),
            ("0x123456789", "0x123456789"),
            ("ABCDEF123", "ABCDEF123"),
            ("0x", "0x"),
            ("БС-12", "БС-12"),
            ("-1", "-1"),
        ] {
            let msg = BaseStations::parse(input).unwrap_err();
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_FORMAT).arg("value", bad), "{input:?}");
        }
    }

    #[test]
    fn input_without_a_number_is_empty() {
        for input in ["", "  ", ", ;", "БС", "№"] {
            let msg = BaseStations::parse(input).unwrap_err();
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_EMPTY), "{input:?}");
        }
    }

    #[test]
    fn serde_round_trips_and_rejects_tampered_ids() {
        let bs = BaseStations::parse("БС 12, 0xff").unwrap();
        let json = serde_json::to_string(&bs).unwrap();
        assert_eq!(json, r#"{"raw":"БС 12, 0xff","ids":["12","FF"]}"#);
        assert_eq!(serde_json::from_str::<BaseStations>(&json).unwrap(), bs);
        let tampered = r#"{"raw":"12","ids":["13"]}"#;
        assert!(serde_json::from_str::<BaseStations>(tampered).is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = BaseStations::parse(&s);
        }

        #[test]
        fn reparsing_the_display_gives_the_same_numbers(
            s in "(0x)?[0-9a-fA-F]{1,10}([ ,;](0x)?[0-9a-fA-F]{1,10}){0,4}"
        ) {
            if let Ok(bs) = BaseStations::parse(&s) {
                let again = BaseStations::parse(&bs.to_string()).unwrap();
                prop_assert_eq!(again.ids(), bs.ids());
                let json = serde_json::to_string(&bs).unwrap();
                prop_assert_eq!(serde_json::from_str::<BaseStations>(&json).unwrap(), bs);
            }
        }
    }
}
