//! Contact details: e-mail, phone number and full name.

use std::fmt;

use email_address::{EmailAddress, Options};
use phonenumber::{Mode, country};
use serde::{Deserialize, Serialize};

use super::impl_str_conversions;
use crate::msg::Msg;

/// Message id: not an e-mail address.
pub const ERR_EMAIL: &str = "err-email";
/// Message id: not a valid phone number.
pub const ERR_PHONE: &str = "err-phone";
/// Message id: not a full name of 2–4 words.
pub const ERR_FULL_NAME: &str = "err-full-name";

/// Longest accepted e-mail address, in chars (RFC 5321 path limit).
const MAX_EMAIL_CHARS: usize = 254;
/// Digits in the shortest and longest phone numbers (E.164 allows at most 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;
/// Fewest and most chars in a full name.
const FULL_NAME_CHARS: std::ops::RangeInclusive<usize> = 3..=150;
/// Fewest and most words in a full name.
const FULL_NAME_WORDS: std::ops::RangeInclusive<usize> = 2..=4;

/// An e-mail address `local@domain` with a dotted domain; the domain is stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses a bare address (no display name, no `[IP]` domain).
    ///
    /// # Errors
    ///
    /// [`ERR_EMAIL`] when the input is not a valid address or its domain has no dot.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let err = || Msg::new(ERR_EMAIL);
        let s = input.trim();
        if s.chars().nth(MAX_EMAIL_CHARS).is_some()
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        {
            return Err(err());
        }
        let options = Options::default()
            .with_required_tld()
            .without_domain_literal()
            .without_display_text();
        let parsed = EmailAddress::parse_with_options(s, options).map_err(|_| err())?;
        let (local, domain) = (parsed.local_part(), parsed.domain());
        let dotted = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !dotted {
            return Err(err());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl_str_conversions!(Email, "e-mail");

/// A phone number in E.164 form, e.g. `+79123456789`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number. Without a `+` it is read as Russian: `8 912 345-67-89`,
    /// `89123456789`, `79123456789` and `9123456789` all give `+79123456789`. With a `+`
    /// any country is accepted. Spaces, dashes, dots and brackets are ignored.
    ///
    /// # Errors
    ///
    /// [`ERR_PHONE`] for other characters, a wrong number of digits, or a number that is
    /// not valid in its country's numbering plan.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let err = || Msg::new(ERR_PHONE);
        let s = input.trim();
        let (international, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let mut digits = String::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '\u{a0}' | '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' | '\u{2014}' | '.'
                | '(' | ')' => {}
                _ => return Err(err()),
            }
        }
        if !PHONE_DIGITS.contains(&digits.len()) {
            return Err(err());
        }
        // Hand the library only a clean `+digits` or national digits string: it is known to
        // panic on some malformed inputs.
        let number = if international {
            phonenumber::parse(None, format!("+{digits}"))
        } else {
            let national = match (digits.len(), digits.as_bytes().first()) {
                (11, Some(b'7' | b'8')) => digits.get(1..).unwrap_or_default(),
                (10, _) => digits.as_str(),
                _ => return Err(err()),
            };
            phonenumber::parse(Some(country::Id::RU), national)
        }
        .map_err(|_| err())?;
        if !phonenumber::is_valid(&number) {
            return Err(err());
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// The number in E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl_str_conversions!(Phone, "phone");

/// A person's full name: 2–4 words of letters (any script), 3–150 chars, single spaces.
///
/// Hyphens and apostrophes are allowed inside a word (`Салтыков-Щедрин`, `O'Brien`); the
/// case is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FullName(String);

impl FullName {
    /// Parses a full name, collapsing runs of whitespace into one space.
    ///
    /// # Errors
    ///
    /// [`ERR_FULL_NAME`] for fewer than 2 or more than 4 words, a word with something other
    /// than letters, inner hyphens and apostrophes, or a length outside 3–150 chars.
    pub fn parse(input: &str) -> Result<Self, Msg> {
        let words: Vec<&str> = input.split_whitespace().collect();
        if !FULL_NAME_WORDS.contains(&words.len()) || !words.iter().all(|w| is_name_word(w)) {
            return Err(Msg::new(ERR_FULL_NAME));
        }
        let name = words.join(" ");
        if !FULL_NAME_CHARS.contains(&name.chars().count()) {
            return Err(Msg::new(ERR_FULL_NAME));
        }
        Ok(Self(name))
    }

    /// The name, single-spaced.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Letters (and combining marks after them), with single hyphens or apostrophes between
/// letters.
fn is_name_word(word: &str) -> bool {
    let mut prev_letter = false;
    for c in word.chars() {
        if c.is_alphabetic() {
            prev_letter = true;
        } else if is_combining_mark(c) && prev_letter {
            // e.g. a decomposed "й" = "и" + U+0306
        } else if is_joiner(c) && prev_letter {
            prev_letter = false;
        } else {
            return false;
        }
    }
    prev_letter
}

/// Hyphens and apostrophes that may join parts of a name.
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\'' | '\u{2019}' | '\u{02bc}')
}

/// Combining diacritical marks (U+0300–U+036F).
fn is_combining_mark(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FullName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl_str_conversions!(FullName, "full name");

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    #[test]
    fn valid_emails_are_accepted_with_the_domain_lowercased() {
        let cases = [
            ("ivanov@waviot.ru", "ivanov@waviot.ru"),
            ("  Ivan.Ivanov@Mail.RU ", "Ivan.Ivanov@mail.ru"),
            ("a+tag@sub.example.com", "a+tag@sub.example.com"),
            ("user@почта.рф", "user@почта.рф"),
        ];
        for (input, want) in cases {
            assert_eq!(Email::parse(input).expect(input).as_str(), want);
        }
    }

    #[test]
    fn invalid_emails_are_rejected() {
        for input in [
            "",
            "ivanov",
            "ivanov@",
            "@waviot.ru",
            "ivanov@localhost",
            "ivanov@waviot..ru",
            "ivanov@waviot.ru.",
            "ivan ov@waviot.ru",
            "Ivan <ivanov@waviot.ru>",
            "ivanov@[127.0.0.1]",
            "ivanov@@waviot.ru",
        ] {
            let msg = Email::parse(input).expect_err(input);
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_EMAIL), "{input:?}");
        }
    }

    #[test]
    fn russian_phone_numbers_in_any_usual_form_become_e164() {
        for input in [
            "8 912 345-67-89",
            "89123456789",
            "+7 (912) 345-67-89",
            "9123456789",
            "79123456789",
            "+79123456789",
            "8(912)345.67.89",
        ] {
            assert_eq!(
                Phone::parse(input).expect(input).as_str(),
                "+79123456789",
                "{input:?}"
            );
        }
        assert_eq!(
            Phone::parse("8 (495) 123-45-67").unwrap().as_str(),
            "+74951234567"
        );
    }

    #[test]
    fn foreign_numbers_with_a_plus_are_accepted_in_e164() {
        let cases = [
            ("+44 20 7946 0958", "+442079460958"),
            ("+375 29 123-45-67", "+375291234567"),
            ("+1 (650) 253-0000", "+16502530000"),
        ];
        for (input, want) in cases {
            assert_eq!(Phone::parse(input).expect(input).as_str(), want);
        }
    }

    #[test]
    fn invalid_phone_numbers_are_rejected() {
        for input in [
            "",
            "12345",
            "8 912 345-67",
            "+7 000 000 00 00",
            "8 912 345 67 89 доб. 12",
            "89123456789012345",
            "+",
            "++79123456789",
            "phone",
            "59123456789",
            "+999 123 456 789",
        ] {
            let msg = Phone::parse(input).expect_err(input);
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_PHONE), "{input:?}");
        }
    }

    #[test]
    fn full_names_of_two_to_four_words_are_accepted_and_single_spaced() {
        let cases = [
            ("Иванов Иван Иванович", "Иванов Иван Иванович"),
            ("  Иванов   Иван\tИванович ", "Иванов Иван Иванович"),
            ("Салтыков-Щедрин Михаил", "Салтыков-Щедрин Михаил"),
            ("Seán O'Brien", "Seán O'Brien"),
            ("Ли Вэй", "Ли Вэй"),
            ("Оглы Мамедов Рашид Алиевич", "Оглы Мамедов Рашид Алиевич"),
            ("Йоханнес Ий", "Йоханнес Ий"),
            ("Аи\u{306} Бо", "Аи\u{306} Бо"),
        ];
        for (input, want) in cases {
            assert_eq!(FullName::parse(input).expect(input).as_str(), want);
        }
    }

    #[test]
    fn names_with_one_or_too_many_words_digits_or_stray_punctuation_are_rejected() {
        let too_long = format!("{} {}", "А".repeat(80), "Б".repeat(80));
        for input in [
            "Ivan",
            "12345",
            "",
            "Иванов И.И.",
            "Иванов Иван 2",
            "Иванов -Иван",
            "Иванов Иван-",
            "Иванов Ив--ан",
            "А Б В Г Д",
            "Иванов, Иван",
            too_long.as_str(),
        ] {
            let msg = FullName::parse(input).expect_err(input);
            assert_known_id(&msg);
            assert_eq!(msg, Msg::new(ERR_FULL_NAME), "{input:?}");
        }
    }

    #[test]
    fn contact_values_round_trip_through_serde() {
        let email = Email::parse("Ivan@Mail.RU").unwrap();
        let phone = Phone::parse("8 912 345-67-89").unwrap();
        let name = FullName::parse("Иванов  Иван").unwrap();
        assert_eq!(serde_json::to_string(&phone).unwrap(), "\"+79123456789\"");
        assert_eq!(
            serde_json::from_str::<Email>(&serde_json::to_string(&email).unwrap()).unwrap(),
            email
        );
        assert_eq!(
            serde_json::from_str::<Phone>(&serde_json::to_string(&phone).unwrap()).unwrap(),
            phone
        );
        assert_eq!(
            serde_json::from_str::<FullName>(&serde_json::to_string(&name).unwrap()).unwrap(),
            name
        );
        assert!(serde_json::from_str::<Phone>("\"12\"").is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = Email::parse(&s);
            let _ = Phone::parse(&s);
            let _ = FullName::parse(&s);
        }

        #[test]
        fn parsing_phone_like_text_never_panics_and_reparses_to_itself(
            s in "\\+?[0-9 ()\\-]{0,22}"
        ) {
            if let Ok(phone) = Phone::parse(&s) {
                prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone);
            }
        }

        #[test]
        fn reparsing_an_accepted_email_gives_the_same_email(
            s in "[a-zA-Z0-9._%+-]{1,20}@[a-zA-Zа-я0-9-]{1,10}(\\.[a-zA-Z0-9-]{1,10}){1,3}"
        ) {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
            }
        }

        #[test]
        fn reparsing_an_accepted_name_gives_the_same_name(
            s in "[А-Яа-яA-Za-z'\\- \t]{0,60}"
        ) {
            if let Ok(name) = FullName::parse(&s) {
                prop_assert_eq!(FullName::parse(name.as_str()).unwrap(), name);
            }
        }
    }
}
