//! Equipment a QR sticker points at, and the `/start` payload that names it.
//!
//! A sticker opens `https://t.me/<bot>?start=<payload>`. Telegram allows 1–64 characters of
//! `A-Z a-z 0-9 _ -` in a payload. Ours is
//!
//! ```text
//! payload   = object *( "_" qualifier )
//! object    = prefix "-" value          ; "bs-1234", "m-7A48AC"
//! qualifier = 1*( ALPHA / DIGIT / "-" ) ; reserved, ignored today
//! ```
//!
//! Prefixes: `bs` a base station (the value is read by the same validator as a typed station
//! number, one number only), `m` a modem (canonical uppercase hex, the form the bot stores;
//! digits-only values are hex here, unlike typed answers where 7+ digits mean decimal, so a
//! printed ID can never be misread). Prefixes compare without regard to case.
//!
//! # Growing the format
//!
//! Printed stickers live for years, so a payload once printed must keep its meaning: a
//! prefix is never reused or reinterpreted. A new object gets a new prefix (e.g. `t-13678`
//! for a personal-account tree element); an unknown prefix reads as "not recognised" and the
//! user gets the normal start, so a new sticker on an old bot degrades gracefully. Extra
//! information about an object goes into `_`-separated qualifiers, which readers ignore
//! unless they know them, so adding one never breaks a sticker or an older bot.

use std::fmt;

use super::base_station::BaseStations;
use super::modem::{ModemId, ModemIds};
use crate::msg::Msg;

/// Longest payload Telegram passes to `/start`.
pub const MAX_PAYLOAD_LEN: usize = 64;

/// Message id: a sheet line names neither a station nor a modem; `$value` is the line.
pub const ERR_SHEET_LINE: &str = "err-sheet-line";

/// A piece of equipment identified by a sticker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SiteObject {
    /// A base station, by its normalized number (decimal as given, hex uppercase).
    Station(String),
    /// A modem.
    Modem(ModemId),
}

/// Why a `/start` payload names no object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Empty, longer than 64 characters, or a character Telegram does not allow.
    #[error("not a Telegram start payload")]
    Malformed,
    /// The object prefix is not known (a newer sticker, or a typo).
    #[error("unknown object prefix")]
    UnknownObject,
    /// The prefix is known but the value does not validate.
    #[error("invalid object value")]
    InvalidValue,
}

impl SiteObject {
    /// Reads a `/start` payload (see the module docs for the grammar).
    ///
    /// # Errors
    ///
    /// [`PayloadError`] says whether the payload is malformed, names an unknown object, or
    /// carries a value that does not validate.
    pub fn from_payload(payload: &str) -> Result<Self, PayloadError> {
        let well_formed = !payload.is_empty()
            && payload.len() <= MAX_PAYLOAD_LEN
            && payload
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !well_formed {
            return Err(PayloadError::Malformed);
        }
        let object = payload.split('_').next().unwrap_or_default();
        let (prefix, value) = object.split_once('-').ok_or(PayloadError::UnknownObject)?;
        match prefix.to_ascii_lowercase().as_str() {
            "bs" => Self::station(value).map_err(|_| PayloadError::InvalidValue),
            "m" => ModemId::parse_canonical(value)
                .map(Self::Modem)
                .ok_or(PayloadError::InvalidValue),
            _ => Err(PayloadError::UnknownObject),
        }
    }

    /// The canonical payload, e.g. `bs-1234` or `m-7A48AC` (at most 13 characters).
    pub fn payload(&self) -> String {
        match self {
            Self::Station(id) => format!("bs-{id}"),
            Self::Modem(id) => format!("m-{id}"),
        }
    }

    /// One base-station number, read as a typed answer is.
    ///
    /// # Errors
    ///
    /// The station validator's message; [`ERR_SHEET_LINE`] when the text holds several
    /// numbers.
    pub fn station(input: &str) -> Result<Self, Msg> {
        let parsed = BaseStations::parse(input)?;
        match parsed.ids() {
            [one] => Ok(Self::Station(one.clone())),
            _ => Err(Msg::new(ERR_SHEET_LINE).arg("value", super::echo(input.trim()))),
        }
    }

    /// One modem ID, read as a typed answer is (hex, or decimal of 7+ digits).
    ///
    /// # Errors
    ///
    /// The modem validator's message.
    pub fn modem(input: &str) -> Result<Self, Msg> {
        ModemId::parse(input).map(Self::Modem)
    }

    /// One line of a sticker list: `station,1234`, `modem,7A48AC`, or a bare station number.
    /// `;` and tabs separate as well as `,`, cells may be quoted; the kind word may be
    /// Russian (`бс`, `модем`).
    ///
    /// # Errors
    ///
    /// [`ERR_SHEET_LINE`] for an unknown kind word, else the validator's message.
    pub fn from_sheet_line(line: &str) -> Result<Self, Msg> {
        let line = line.trim();
        let cell = |s: &str| s.trim().trim_matches('"').trim().to_owned();
        let Some((kind, value)) = line.split_once([',', ';', '\t']) else {
            return Self::station(&cell(line));
        };
        match cell(kind).to_lowercase().as_str() {
            "station" | "bs" | "бс" | "base-station" | "станция" => {
                Self::station(&cell(value))
            }
            "modem" | "m" | "модем" => Self::modem(&cell(value)),
            _ => Err(Msg::new(ERR_SHEET_LINE).arg("value", super::echo(line))),
        }
    }

    /// The object's id as shown to people: `1234`, `7A48AC`.
    pub fn id(&self) -> String {
        match self {
            Self::Station(id) => id.clone(),
            Self::Modem(id) => id.to_string(),
        }
    }

    /// `station` or `modem`: the selector value of the object messages in the locales.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Station(_) => "station",
            Self::Modem(_) => "modem",
        }
    }

    /// The object as a station answer, if it is a station.
    pub fn stations(&self) -> Option<BaseStations> {
        match self {
            Self::Station(id) => BaseStations::parse(id).ok(),
            Self::Modem(_) => None,
        }
    }

    /// The object as a modem answer, if it is a modem.
    pub fn modems(&self) -> Option<ModemIds> {
        match self {
            Self::Modem(id) => ModemIds::try_from(vec![*id]).ok(),
            Self::Station(_) => None,
        }
    }
}

impl fmt::Display for SiteObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.payload())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    fn modem(hex: &str) -> SiteObject {
        SiteObject::Modem(ModemId::parse_canonical(hex).expect(hex))
    }

    #[test]
    fn station_and_modem_payloads_are_read() {
        let cases = [
            ("bs-1234", SiteObject::Station("1234".to_owned())),
            ("BS-ab12", SiteObject::Station("AB12".to_owned())),
            ("bs-0012", SiteObject::Station("0012".to_owned())),
            ("m-7A48AC", modem("7A48AC")),
            ("m-7a48ac", modem("7A48AC")),
            ("M-12345678", modem("12345678")),
        ];
        for (payload, want) in cases {
            assert_eq!(SiteObject::from_payload(payload), Ok(want), "{payload}");
        }
    }

    #[test]
    fn qualifiers_after_an_underscore_are_ignored() {
        assert_eq!(
            SiteObject::from_payload("bs-1234_v2_x-y"),
            Ok(SiteObject::Station("1234".to_owned()))
        );
    }

    #[test]
    fn digits_in_a_modem_payload_are_hex_unlike_a_typed_answer() {
        assert_eq!(
            SiteObject::from_payload("m-8013997").map(|o| o.id()),
            Ok("8013997".to_owned())
        );
        assert_eq!(
            SiteObject::modem("8013997").map(|o| o.id()),
            Ok("7A48AD".to_owned())
        );
    }

    #[test]
    fn bad_payloads_say_why() {
        use PayloadError::*;
        let long = format!("bs-{}", "1".repeat(62));
        for (payload, want) in [
            ("", Malformed),
            ("bs 1234", Malformed),
            ("bs-12.3", Malformed),
            ("бс-1234", Malformed),
            (long.as_str(), Malformed),
            ("1234", UnknownObject),
            ("x-1234", UnknownObject),
            ("t-13678", UnknownObject),
            ("bs-", InvalidValue),
            ("bs-12345678901", InvalidValue),
            ("bs-12-34", InvalidValue),
            ("bs-bs", InvalidValue),
            ("m-", InvalidValue),
            ("m-0", InvalidValue),
            ("m-XYZ", InvalidValue),
            ("m-123456789", InvalidValue),
        ] {
            assert_eq!(SiteObject::from_payload(payload), Err(want), "{payload:?}");
        }
    }

    #[test]
    fn sheet_lines_name_a_kind_or_are_a_bare_station_number() {
        let cases = [
            ("station,1234", SiteObject::Station("1234".to_owned())),
            (" modem , 7a48ac ", modem("7A48AC")),
            ("модем;8013996", modem("7A48AC")),
            ("1234", SiteObject::Station("1234".to_owned())),
            ("БС\t77", SiteObject::Station("77".to_owned())),
            ("\"modem\",\"7A48AC\"", modem("7A48AC")),
            ("\"1234\"", SiteObject::Station("1234".to_owned())),
        ];
        for (line, want) in cases {
            assert_eq!(SiteObject::from_sheet_line(line), Ok(want), "{line}");
        }
        for line in ["meter,123", "station,12 13", "modem,XYZ", "станция"] {
            let err = SiteObject::from_sheet_line(line).expect_err(line);
            assert_known_id(&err);
        }
    }

    proptest! {
        #[test]
        fn every_payload_of_an_object_reads_back_as_that_object(
            station in "[0-9]{1,10}|[0-9A-F]{1,8}",
            value in 1u32..,
        ) {
            let objects = [SiteObject::station(&station).expect("valid"), SiteObject::Modem(
                ModemId::parse_canonical(&format!("{value:X}")).expect("non-zero"),
            )];
            for object in objects {
                let payload = object.payload();
                prop_assert!(payload.len() <= 13);
                prop_assert_eq!(SiteObject::from_payload(&payload), Ok(object));
            }
        }

        #[test]
        fn any_text_as_a_payload_never_panics(s in "\\PC{0,80}") {
            let _ = SiteObject::from_payload(&s);
            let _ = SiteObject::from_sheet_line(&s);
        }
    }
}
