//! NB-Fi modem IDs: a 32-bit address that the personal account (LK) shows in hex and
//! `api.waviot.ru` takes in decimal.
//!
//! Input may be hex (1–8 digits, optional `0x`, any case) or decimal (≤ 4294967295). A token
//! of digits only is ambiguous: up to 6 chars it is read as hex (how the LK shows IDs), 7–10
//! digits as decimal (a 6-hex-digit ID is 7–8 decimal digits). Cyrillic А, В, С, Е typed by
//! mistake are read as the Latin hex digits. The canonical form is uppercase hex without a
//! prefix, e.g. `7A48AC`.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{echo, impl_str_conversions, latin_lookalike, list_tokens, write_joined};
use crate::msg::Msg;

/// Message id: no modem ID in the input.
pub const ERR_EMPTY: &str = "err-modem-id-empty";
/// Message id: a token is not a hex or decimal number; `$value` is the token.
pub const ERR_FORMAT: &str = "err-modem-id-format";
/// Message id: a number is 0 or does not fit in 32 bits; `$value` is the token.
pub const ERR_RANGE: &str = "err-modem-id-range";
/// Message id: more IDs than allowed; `$count` given, `$max` allowed.
pub const ERR_TOO_MANY: &str = "err-modem-id-too-many";
/// Message id (note): decimal input was converted to hex; `$conversions` lists
/// `decimal → HEX` pairs.
pub const NOTE_DECIMAL_CONVERTED: &str = "modem-id-decimal-converted";
/// Message id (note): some IDs are not 6 hex digits long, unlike every known ID; `$ids`
/// lists them.
pub const NOTE_UNUSUAL_LENGTH: &str = "modem-id-unusual-length";

/// Most IDs accepted in one answer.
pub const MAX_MODEM_IDS: usize = 50;

/// Digit-only tokens up to this many chars are read as hex, longer ones as decimal.
const MAX_DIGITS_READ_AS_HEX: usize = 6;
/// Hex digits in a 32-bit value.
const MAX_HEX_DIGITS: usize = 8;
/// Decimal digits in a 32-bit value.
const MAX_DEC_DIGITS: usize = 10;
/// Hex digits of every modem ID seen in the LK so far.
const USUAL_HEX_DIGITS: usize = 6;

/// One NB-Fi modem ID (32-bit, non-zero).
///
/// `Display` and serde use the canonical uppercase hex, e.g. `7A48AC`. Deserialization reads
/// that strictly as hex, so a stored `8013997` is the hex ID, not the decimal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModemId(u32);

/// How a token was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Radix {
    Hex,
    Decimal,
}

impl ModemId {
    /// Parses one modem ID (hex or decimal, see the module docs).
    ///
    /// # Errors
    ///
    /// [`ERR_EMPTY`] for blank input, [`ERR_FORMAT`] for anything that is not one number,
    /// [`ERR_RANGE`] for 0 or a value above `FFFFFFFF` / 4294967295.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let token = input.trim();
        if token.is_empty() {
            return Err(Msg::new(ERR_EMPTY));
        }
        parse_token(token).map(|(id, _)| id)
    }

    /// The ID as a number; its decimal form is what `api.waviot.ru` expects.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Reads the canonical form only: 1–8 hex digits (any case, optional `0x`), never
    /// decimal. `None` for anything else or zero.
    pub fn parse_canonical(s: &str) -> Option<Self> {
        Self::parse_hex_strict(s)
    }

    /// Parses the canonical form only: 1–8 hex digits with an optional `0x`.
    fn parse_hex_strict(s: &str) -> Option<Self> {
        let body = strip_hex_prefix(s).unwrap_or(s);
        if body.is_empty() || body.len() > MAX_HEX_DIGITS {
            return None;
        }
        if !body.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(body, 16)
            .ok()
            .filter(|v| *v != 0)
            .map(Self)
    }
}

impl fmt::Display for ModemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", self.0)
    }
}

impl std::str::FromStr for ModemId {
    type Err = super::InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).map_err(|m| super::InvalidValue::new("modem id", m))
    }
}

impl From<ModemId> for String {
    fn from(id: ModemId) -> Self {
        id.to_string()
    }
}

impl Serialize for ModemId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModemId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse_hex_strict(&s)
            .ok_or_else(|| serde::de::Error::custom("invalid modem id: expected 1-8 hex digits"))
    }
}

/// One or more distinct modem IDs, in the order typed (at most [`MAX_MODEM_IDS`]).
///
/// `Display` joins the canonical IDs with `", "`. Serde stores a list of hex strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<ModemId>", into = "Vec<ModemId>")]
pub struct ModemIds(Vec<ModemId>);

impl ModemIds {
    /// Parses IDs separated by commas, semicolons, spaces or new lines; drops repeats and
    /// keeps the first-seen order.
    ///
    /// # Errors
    ///
    /// [`ERR_EMPTY`] when there is no ID, [`ERR_FORMAT`] / [`ERR_RANGE`] for the first bad
    /// token, [`ERR_TOO_MANY`] for more than [`MAX_MODEM_IDS`] distinct IDs.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        Self::parse_with_notes(input).map(|(ids, _)| ids)
    }

    /// Like [`ModemIds::parse`], and also returns notes worth showing the user: which
    /// decimal numbers were converted to hex ([`NOTE_DECIMAL_CONVERTED`]) and which IDs do
    /// not have the usual 6 hex digits ([`NOTE_UNUSUAL_LENGTH`]).
    ///
    /// # Errors
    ///
    /// As [`ModemIds::parse`].
    pub fn parse_with_notes(input: &str) -> Result<(Self, Vec<Msg>), Msg> {
        let mut ids: Vec<ModemId> = Vec::new();
        let mut seen: HashSet<ModemId> = HashSet::new();
        let mut conversions: Vec<String> = Vec::new();
        for token in list_tokens(input.trim()) {
            let (id, radix) = parse_token(token)?;
            if !seen.insert(id) {
                continue;
            }
            if radix == Radix::Decimal {
                conversions.push(format!("{} → {id}", id.value()));
            }
            ids.push(id);
        }
        if ids.len() > MAX_MODEM_IDS {
            return Err(Msg::new(ERR_TOO_MANY)
                .arg("max", MAX_MODEM_IDS)
                .arg("count", ids.len()));
        }
        if ids.is_empty() {
            return Err(Msg::new(ERR_EMPTY));
        }

        let mut notes = Vec::new();
        if !conversions.is_empty() {
            notes.push(Msg::new(NOTE_DECIMAL_CONVERTED).arg("conversions", conversions.join(", ")));
        }
        let unusual: Vec<String> = ids
            .iter()
            .map(ToString::to_string)
            .filter(|hex| hex.len() != USUAL_HEX_DIGITS)
            .collect();
        if !unusual.is_empty() {
            notes.push(Msg::new(NOTE_UNUSUAL_LENGTH).arg("ids", unusual.join(", ")));
        }
        Ok((Self(ids), notes))
    }

    /// The IDs, in the order typed.
    pub fn ids(&self) -> &[ModemId] {
        &self.0
    }

    /// How many IDs there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a parsed list holds at least one ID.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ModemIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.0)
    }
}

impl_str_conversions!(ModemIds, "modem ids");

impl TryFrom<Vec<ModemId>> for ModemIds {
    type Error = String;

    fn try_from(ids: Vec<ModemId>) -> Result<Self, Self::Error> {
        if ids.is_empty() {
            return Err("modem id list is empty".to_owned());
        }
        if ids.len() > MAX_MODEM_IDS {
            return Err(format!("more than {MAX_MODEM_IDS} modem ids"));
        }
        for (i, id) in ids.iter().enumerate() {
            if ids.iter().take(i).any(|earlier| earlier == id) {
                return Err(format!("modem id {id} is repeated"));
            }
        }
        Ok(Self(ids))
    }
}

impl From<ModemIds> for Vec<ModemId> {
    fn from(ids: ModemIds) -> Self {
        ids.0
    }
}

/// `Some(rest)` when `s` starts with `0x` / `0X`.
fn strip_hex_prefix(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Parses one non-empty token, telling how it was read.
fn parse_token(token: &str) -> Result<(ModemId, Radix), Msg> {
    let format_err = || Msg::new(ERR_FORMAT).arg("value", echo(token));
    let range_err = || Msg::new(ERR_RANGE).arg("value", echo(token));

    let normalized: String = token.chars().map(latin_lookalike).collect();
    let (body, prefixed) = match strip_hex_prefix(&normalized) {
        Some(rest) => (rest, true),
        None => (normalized.as_str(), false),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format_err());
    }
    // All chars are ASCII from here on, so byte lengths equal char counts.
    let digits_only = body.chars().all(|c| c.is_ascii_digit());
    let significant = body.trim_start_matches('0');
    let (value, radix) = if prefixed || !digits_only || body.len() <= MAX_DIGITS_READ_AS_HEX {
        if significant.len() > MAX_HEX_DIGITS {
            return Err(range_err());
        }
        let v = u32::from_str_radix(body, 16).map_err(|_| range_err())?;
        (v, Radix::Hex)
    } else {
        if significant.len() > MAX_DEC_DIGITS {
            return Err(range_err());
        }
        let v: u32 = body.parse().map_err(|_| range_err())?;
        (v, Radix::Decimal)
    };
    if value == 0 {
        return Err(range_err());
    }
    Ok((ModemId(value), radix))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    fn one(input: &str) -> String {
        ModemId::parse(input).expect(input).to_string()
    }

    fn err_id(input: &str) -> String {
        let msg = ModemIds::parse(input).expect_err(input);
        assert_known_id(&msg);
        msg.id
    }

    #[test]
    fn known_hex_ids_match_their_decimal_values() {
        for (hex, dec) in [
            ("7A48AC", 8_013_996),
            ("7A48AD", 8_013_997),
            ("86145D", 8_787_037),
            ("865D2E", 8_805_678),
        ] {
            assert_eq!(ModemId::parse(hex).unwrap().value(), dec, "{hex}");
            assert_eq!(one(&dec.to_string()), hex, "{dec}");
        }
    }

    #[test]
    fn hex_input_is_normalized_to_uppercase_without_prefix() {
        let cases = [
            ("865d2e", "865D2E"),
            ("0x7a48ac", "7A48AC"),
            ("0X7A48AC", "7A48AC"),
            ("  7a48Ac \n", "7A48AC"),
            ("ffffffff", "FFFFFFFF"),
            ("0xFFFFFFFF", "FFFFFFFF"),
            ("1", "1"),
        ];
        for (input, want) in cases {
            assert_eq!(one(input), want, "{input:?}");
        }
    }

    #[test]
    fn digit_only_tokens_up_to_six_chars_are_read_as_hex() {
        assert_eq!(ModemId::parse("721234").unwrap().value(), 0x72_1234);
        assert_eq!(ModemId::parse("10").unwrap().value(), 0x10);
    }

    #[test]
    fn digit_only_tokens_of_seven_to_ten_chars_are_read_as_decimal() {
        assert_eq!(one("8013997"), "7A48AD");
        assert_eq!(one("4294967295"), "FFFFFFFF");
        assert_eq!(one("0x8013997"), "8013997");
    }

    #[test]
    fn cyrillic_lookalike_letters_are_read_as_latin_hex_digits() {
        // "7А48АС" typed with Cyrillic А and С.
        assert_eq!(one("7\u{410}48\u{410}\u{421}"), "7A48AC");
        assert_eq!(one("86145\u{415}"), "86145E");
    }

    #[test]
    fn out_of_range_and_malformed_tokens_are_rejected_with_the_right_id() {
        let cases = [
            ("4294967296", ERR_RANGE),
            ("99999999999", ERR_RANGE),
            ("1FFFFFFFF", ERR_RANGE),
            ("0x100000000", ERR_RANGE),
            ("0", ERR_RANGE),
            ("0x0", ERR_RANGE),
            ("7A48AG", ERR_FORMAT),
            ("0x", ERR_FORMAT),
            ("модем", ERR_FORMAT),
            ("-5", ERR_FORMAT),
            ("7A48AC/", ERR_FORMAT),
            ("", ERR_EMPTY),
            (" , ; \n ", ERR_EMPTY),
        ];
        for (input, want) in cases {
            assert_eq!(err_id(input), want, "{input:?}");
        }
    }

    #[test]
    fn leading_zeros_do_not_count_towards_the_digit_limit() {
        assert_eq!(one("0x0000007A48AC"), "7A48AC");
        assert_eq!(one("0008013997"), "7A48AD");
    }

    #[test]
    fn format_error_names_the_offending_token() {
        let msg = ModemIds::parse("7A48AC, 12З4").unwrap_err();
        assert_eq!(msg, Msg::new(ERR_FORMAT).arg("value", "12З4"));
    }

    #[test]
    fn several_ids_split_on_commas_semicolons_spaces_and_newlines_keep_order_without_repeats() {
        let ids = ModemIds::parse("7a48ac, 86145D;865d2e\n8013996 7A48AD,,0x86145d").unwrap();
        assert_eq!(ids.to_string(), "7A48AC, 86145D, 865D2E, 7A48AD");
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.ids()[3].value(), 8_013_997);
    }

    #[test]
    fn more_than_fifty_distinct_ids_are_rejected_with_the_count() {
        let list: Vec<String> = (1..=52).map(|i| format!("{:X}", 0x10_0000 + i)).collect();
        let msg = ModemIds::parse(&list.join(",")).unwrap_err();
        assert_eq!(
            msg,
            Msg::new(ERR_TOO_MANY)
                .arg("max", 50_usize)
                .arg("count", 52_usize)
        );
        let exactly_fifty = list[..50].join(" ");
        assert_eq!(ModemIds::parse(&exactly_fifty).unwrap().len(), 50);
    }

    #[test]
    fn repeats_do_not_count_towards_the_limit() {
        let repeated = vec!["7A48AC"; 200].join(",");
        assert_eq!(ModemIds::parse(&repeated).unwrap().len(), 1);
    }

    #[test]
    fn notes_report_decimal_conversions_and_unusual_lengths() {
        let (ids, notes) = ModemIds::parse_with_notes("8013997, 7A48AC, ABC").unwrap();
        assert_eq!(ids.to_string(), "7A48AD, 7A48AC, ABC");
        assert_eq!(
            notes,
            vec![
                Msg::new(NOTE_DECIMAL_CONVERTED).arg("conversions", "8013997 → 7A48AD"),
                Msg::new(NOTE_UNUSUAL_LENGTH).arg("ids", "ABC"),
            ]
        );
        notes.iter().for_each(assert_known_id);
        let (_, none) = ModemIds::parse_with_notes("7A48AC").unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn serde_stores_canonical_hex_and_reads_it_back_as_hex() {
        let id = ModemId::parse("0x8013997").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"8013997\"");
        assert_eq!(serde_json::from_str::<ModemId>(&json).unwrap(), id);

        let ids = ModemIds::parse("7a48ac 865d2e").unwrap();
        let json = serde_json::to_string(&ids).unwrap();
        assert_eq!(json, r#"["7A48AC","865D2E"]"#);
        assert_eq!(serde_json::from_str::<ModemIds>(&json).unwrap(), ids);
    }

    #[test]
    fn serde_rejects_invalid_stored_lists() {
        for bad in [r#"[]"#, r#"["7A48AC","7A48AC"]"#, r#"["xyz"]"#, r#"["0"]"#] {
            assert!(serde_json::from_str::<ModemIds>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = ModemId::parse(&s);
            let _ = ModemIds::parse_with_notes(&s);
        }

        #[test]
        fn parsing_id_like_text_never_panics(s in "(0[xX])?[0-9a-fA-FАВСЕасе ,;\n]{0,40}") {
            let _ = ModemIds::parse_with_notes(&s);
        }

        #[test]
        fn any_nonzero_value_round_trips_through_hex_and_serde(v in 1..=u32::MAX) {
            let id = ModemId(v);
            prop_assert_eq!(ModemId::parse(&format!("0x{id}")).unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<ModemId>(&json).unwrap(), id);
            // Decimal input of 7+ digits reads back to the same ID.
            if v >= 1_000_000 {
                prop_assert_eq!(ModemId::parse(&v.to_string()).unwrap(), id);
            }
        }

        #[test]
        fn reparsing_the_display_of_accepted_ids_gives_the_same_ids(
            s in "[0-9a-fA-F]{1,8}([ ,;][0-9a-fA-F]{1,8}){0,5}"
        ) {
            if let Ok(ids) = ModemIds::parse(&s) {
                // Canonical forms of 7–8 chars that are all digits would be re-read as
                // decimal; prefix them to keep the reading unambiguous.
                let shown: Vec<String> = ids.ids().iter().map(|id| format!("0x{id}")).collect();
                prop_assert_eq!(ModemIds::parse(&shown.join(", ")).unwrap(), ids.clone());
                let unambiguous = ids.ids().iter().all(|id| {
                    let hex = id.to_string();
                    hex.len() <= MAX_DIGITS_READ_AS_HEX || hex.chars().any(|c| c.is_ascii_alphabetic())
                });
                if unambiguous {
                    prop_assert_eq!(ModemIds::parse(&ids.to_string()).unwrap(), ids);
                }
            }
        }
    }
}
