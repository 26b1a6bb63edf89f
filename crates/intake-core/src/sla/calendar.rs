//! The Russian production calendar: which dates are days off, working days, or shortened
//! working days.
//!
//! The data is a reviewed table, `data/production-calendar.toml`, embedded at compile time
//! and deserialized strictly (see [`ProductionCalendar::from_toml`] for what is rejected).
//! The calendar knows exactly the years in the table; asking about any other year gives
//! [`OutOfCalendar`], never a Monday–Friday guess.
//!
//! # Adding a year
//!
//! Append a `[[years]]` block to the data file from the government decree for that year,
//! then extend the tests with the published number of working days and hours
//! (`working_days_per_year_match_the_published_247` here and
//! `yearly_totals_match_the_published_figures` in [`schedule`](super::schedule)) and the
//! years of `every_date_agrees_with_the_official_data_of_holidays_ru`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// The reviewed table behind [`ProductionCalendar::russia`].
const RUSSIA_TOML: &str = include_str!("../../data/production-calendar.toml");

/// How the production calendar classifies one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// A weekend, a public holiday or a moved day off: no working hours.
    Off,
    /// An ordinary working day, including a Saturday or Sunday made working by decree.
    Working,
    /// A working day one hour shorter, before a public holiday (TK RF art. 95).
    Shortened,
}

impl DayKind {
    /// Whether any work happens on a day of this kind.
    pub fn is_working(self) -> bool {
        !matches!(self, Self::Off)
    }
}

/// A computation needed a date in a year the production calendar has no data for.
///
/// The caller should state the reaction time without a clock time and log that the
/// calendar needs updating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("the production calendar has no data for {year}; add that year to the calendar")]
pub struct OutOfCalendar {
    /// The year that is missing.
    pub year: i32,
}

/// The Russian federal production calendar (five-day week) for the years it was loaded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionCalendar {
    years: BTreeMap<i32, YearTable>,
}

impl ProductionCalendar {
    /// The reviewed calendar for 2025, 2026 and 2027 shipped with the crate.
    ///
    /// # Panics
    ///
    /// Never in practice: the embedded table is compile-time data and a unit test checks
    /// that it loads.
    pub fn russia() -> Self {
        Self::from_toml(RUSSIA_TOML).expect("the embedded production calendar is valid (tested)")
    }

    /// Loads a calendar from a TOML table in the format of `data/production-calendar.toml`.
    ///
    /// # Errors
    ///
    /// Returns [`CalendarDataError`] on a TOML or schema error (unknown or missing keys),
    /// a repeated year, a date outside its year block, dates out of ascending order or
    /// repeated, a Saturday or Sunday listed in `days-off`, a weekday listed in
    /// `working-weekends`, or a `shortened` date that is not a working day.
    pub fn from_toml(text: &str) -> Result<Self, CalendarDataError> {
        let file: CalendarFile =
            toml::from_str(text).map_err(|e| CalendarDataError::Toml(Box::new(e)))?;
        let mut years = BTreeMap::new();
        for block in file.years {
            let year = block.year;
            let table = YearTable::try_from(block)?;
            if years.insert(year, table).is_some() {
                return Err(CalendarDataError::DuplicateYear { year });
            }
        }
        Ok(Self { years })
    }

    /// Whether the calendar has data for `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The years the calendar has data for, in ascending order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The legal source (decree) recorded for `year`, if the year is covered.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|t| t.source.as_str())
    }

    /// Classifies `date`.
    ///
    /// # Errors
    ///
    /// Returns [`OutOfCalendar`] when the calendar has no data for the date's year.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, OutOfCalendar> {
        let year = date.year();
        let table = self.years.get(&year).ok_or(OutOfCalendar { year })?;
        let working = if is_weekend(date) {
            table.working_weekends.contains(&date)
        } else {
            !table.days_off.contains(&date)
        };
        Ok(match (working, table.shortened.contains(&date)) {
            (false, _) => DayKind::Off,
            (true, false) => DayKind::Working,
            (true, true) => DayKind::Shortened,
        })
    }
}

/// Why a production-calendar table was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CalendarDataError {
    /// The text is not valid TOML or does not match the schema.
    #[error("the production calendar is not valid: {0}")]
    Toml(Box<toml::de::Error>),
    /// Two blocks describe the same year.
    #[error("the production calendar describes {year} twice")]
    DuplicateYear {
        /// The repeated year.
        year: i32,
    },
    /// A date is listed under another year's block.
    #[error("the production calendar for {year} lists {date} in `{list}`, which is not in {year}")]
    WrongYear {
        /// The block's year.
        year: i32,
        /// The list the date is in.
        list: ListName,
        /// The offending date.
        date: NaiveDate,
    },
    /// Dates of a list are repeated or not in ascending order.
    #[error("the production calendar lists {date} in `{list}` out of ascending order or twice")]
    NotAscending {
        /// The list the date is in.
        list: ListName,
        /// The first date that breaks the order.
        date: NaiveDate,
    },
    /// A date is on the wrong kind of weekday for its list.
    #[error(
        "the production calendar lists {date} ({weekday}) in `{list}`, which only takes {expected}"
    )]
    WrongWeekday {
        /// The list the date is in.
        list: ListName,
        /// The offending date.
        date: NaiveDate,
        /// Its weekday.
        weekday: Weekday,
        /// What the list accepts.
        expected: &'static str,
    },
    /// A shortened day is not a working day.
    #[error("the production calendar lists {date} in `shortened` but it is not a working day")]
    ShortenedDayOff {
        /// The offending date.
        date: NaiveDate,
    },
}

/// The lists of a year block, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListName {
    /// `days-off`.
    DaysOff,
    /// `working-weekends`.
    WorkingWeekends,
    /// `shortened`.
    Shortened,
}

impl fmt::Display for ListName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DaysOff => "days-off",
            Self::WorkingWeekends => "working-weekends",
            Self::Shortened => "shortened",
        })
    }
}

/// One year of the calendar, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct YearTable {
    source: String,
    days_off: BTreeSet<NaiveDate>,
    working_weekends: BTreeSet<NaiveDate>,
    shortened: BTreeSet<NaiveDate>,
}

/// The data file: `[[years]]` blocks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CalendarFile {
    /// One block per year.
    years: Vec<YearBlock>,
}

/// One `[[years]]` block as written; every key is required (lists may be empty).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct YearBlock {
    /// The calendar year.
    year: i32,
    /// The decree the dates come from.
    source: String,
    /// Monday–Friday dates that are days off.
    days_off: Vec<NaiveDate>,
    /// Saturdays and Sundays that are working days.
    working_weekends: Vec<NaiveDate>,
    /// Working days shortened by one hour.
    shortened: Vec<NaiveDate>,
}

impl TryFrom<YearBlock> for YearTable {
    type Error = CalendarDataError;

    fn try_from(block: YearBlock) -> Result<Self, Self::Error> {
        let year = block.year;
        let days_off = checked_list(year, ListName::DaysOff, &block.days_off)?;
        let working_weekends =
            checked_list(year, ListName::WorkingWeekends, &block.working_weekends)?;
        let shortened = checked_list(year, ListName::Shortened, &block.shortened)?;
        for &date in &days_off {
            if is_weekend(date) {
                return Err(wrong_weekday(ListName::DaysOff, date, "Monday to Friday"));
            }
        }
        for &date in &working_weekends {
            if !is_weekend(date) {
                return Err(wrong_weekday(
                    ListName::WorkingWeekends,
                    date,
                    "Saturday or Sunday",
                ));
            }
        }
        for &date in &shortened {
            let working = if is_weekend(date) {
                working_weekends.contains(&date)
            } else {
                !days_off.contains(&date)
            };
            if !working {
                return Err(CalendarDataError::ShortenedDayOff { date });
            }
        }
        Ok(Self {
            source: block.source,
            days_off,
            working_weekends,
            shortened,
        })
    }
}

/// Checks that every date is in `year` and that the list is strictly ascending.
fn checked_list(
    year: i32,
    list: ListName,
    dates: &[NaiveDate],
) -> Result<BTreeSet<NaiveDate>, CalendarDataError> {
    let mut previous: Option<NaiveDate> = None;
    for &date in dates {
        if date.year() != year {
            return Err(CalendarDataError::WrongYear { year, list, date });
        }
        if previous.is_some_and(|p| p >= date) {
            return Err(CalendarDataError::NotAscending { list, date });
        }
        previous = Some(date);
    }
    Ok(dates.iter().copied().collect())
}

fn wrong_weekday(list: ListName, date: NaiveDate, expected: &'static str) -> CalendarDataError {
    CalendarDataError::WrongWeekday {
        list,
        date,
        weekday: date.weekday(),
        expected,
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date is valid")
    }

    fn dates_of(year: i32) -> impl Iterator<Item = NaiveDate> {
        d(year, 1, 1)
            .iter_days()
            .take_while(move |x| x.year() == year)
    }

    #[test]
    fn the_embedded_calendar_loads_and_covers_exactly_2025_to_2027() {
        let calendar = ProductionCalendar::from_toml(RUSSIA_TOML).expect("embedded calendar loads");

        assert_eq!(calendar.years().collect::<Vec<_>>(), vec![2025, 2026, 2027]);
        assert!(!calendar.covers(2024));
        assert!(calendar.covers(2025));
        assert!(calendar.covers(2027));
        assert!(!calendar.covers(2028));
        assert_eq!(
            calendar.source(2026),
            Some("Постановление Правительства РФ от 24.09.2025 № 1466")
        );
    }

    #[test]
    fn a_date_outside_the_loaded_years_is_an_error_not_a_weekday_guess() {
        let calendar = ProductionCalendar::russia();

        assert_eq!(
            calendar.day_kind(d(2024, 12, 31)),
            Err(OutOfCalendar { year: 2024 })
        );
        assert_eq!(
            calendar.day_kind(d(2028, 1, 3)),
            Err(OutOfCalendar { year: 2028 })
        );
    }

    #[test]
    fn the_2026_weekday_days_off_and_shortened_days_match_the_reference() {
        let calendar = ProductionCalendar::russia();
        let weekday_days_off: Vec<_> = dates_of(2026)
            .filter(|&x| !is_weekend(x) && calendar.day_kind(x) == Ok(DayKind::Off))
            .collect();
        let shortened: Vec<_> = dates_of(2026)
            .filter(|&x| calendar.day_kind(x) == Ok(DayKind::Shortened))
            .collect();

        let expected_off = [
            (1, 1),
            (1, 2),
            (1, 5),
            (1, 6),
            (1, 7),
            (1, 8),
            (1, 9),
            (2, 23),
            (3, 9),
            (5, 1),
            (5, 11),
            (6, 12),
            (11, 4),
            (12, 31),
        ];
        assert_eq!(
            weekday_days_off,
            expected_off.map(|(m, x)| d(2026, m, x)).to_vec()
        );
        assert_eq!(
            shortened,
            vec![
                d(2026, 4, 30),
                d(2026, 5, 8),
                d(2026, 6, 11),
                d(2026, 11, 3)
            ]
        );
        assert!(
            dates_of(2026).all(|x| !is_weekend(x) || calendar.day_kind(x) == Ok(DayKind::Off)),
            "2026 has no working Saturdays or Sundays"
        );
    }

    #[test]
    fn working_saturdays_of_2025_and_2027_are_shortened_working_days() {
        let calendar = ProductionCalendar::russia();

        assert_eq!(calendar.day_kind(d(2025, 11, 1)), Ok(DayKind::Shortened));
        assert_eq!(calendar.day_kind(d(2027, 2, 20)), Ok(DayKind::Shortened));
        assert_eq!(calendar.day_kind(d(2025, 11, 2)), Ok(DayKind::Off));
        assert_eq!(calendar.day_kind(d(2027, 2, 21)), Ok(DayKind::Off));
        assert_eq!(calendar.day_kind(d(2025, 11, 3)), Ok(DayKind::Off));
        assert_eq!(calendar.day_kind(d(2027, 2, 22)), Ok(DayKind::Off));
    }

    #[test]
    fn the_day_before_a_merely_moved_day_off_is_not_shortened() {
        let calendar = ProductionCalendar::russia();

        assert_eq!(calendar.day_kind(d(2025, 12, 30)), Ok(DayKind::Working));
        assert_eq!(calendar.day_kind(d(2026, 12, 30)), Ok(DayKind::Working));
        assert_eq!(calendar.day_kind(d(2027, 12, 30)), Ok(DayKind::Working));
    }

    #[test]
    fn working_days_per_year_match_the_published_247() {
        let calendar = ProductionCalendar::russia();

        for year in [2025, 2026, 2027] {
            let working = dates_of(year)
                .filter(|&x| calendar.day_kind(x).is_ok_and(DayKind::is_working))
                .count();
            assert_eq!(working, 247, "working days in {year}");
        }
    }

    #[test]
    fn every_date_agrees_with_the_official_data_of_holidays_ru() {
        let calendar = ProductionCalendar::russia();

        for year in [2025, 2026, 2027] {
            for date in dates_of(year) {
                let month = u8::try_from(date.month()).expect("month fits u8");
                let day = u8::try_from(date.day()).expect("day fits u8");
                let Some(holidays_ru::Resolved::Fact(flags)) =
                    holidays_ru::flags_ymd::<holidays_ru::Federal>(year, month, day)
                else {
                    panic!("holidays-ru has no official data for {date}");
                };
                let theirs = match (flags.is_day_off(), flags.is_short_day()) {
                    (true, _) => DayKind::Off,
                    (false, false) => DayKind::Working,
                    (false, true) => DayKind::Shortened,
                };

                assert_eq!(calendar.day_kind(date), Ok(theirs), "{date}");
            }
        }
    }

    fn block(days_off: &str, working_weekends: &str, shortened: &str) -> String {
        format!(
            "[[years]]\nyear = 2026\nsource = \"test\"\ndays-off = [{days_off}]\n\
             working-weekends = [{working_weekends}]\nshortened = [{shortened}]\n"
        )
    }

    #[test]
    fn a_table_with_mistakes_is_rejected() {
        let cases = [
            (block("\"2026-01-03\"", "", ""), "a Saturday in days-off"),
            (
                block("", "\"2026-01-05\"", ""),
                "a Monday in working-weekends",
            ),
            (
                block("\"2026-01-05\"", "", "\"2026-01-05\""),
                "a day off in shortened",
            ),
            (
                block("", "", "\"2026-01-10\""),
                "a plain Saturday in shortened",
            ),
            (block("\"2027-01-05\"", "", ""), "a date of another year"),
            (
                block("\"2026-01-06\", \"2026-01-05\"", "", ""),
                "dates out of order",
            ),
            (
                block("\"2026-01-05\", \"2026-01-05\"", "", ""),
                "a repeated date",
            ),
            (block("\"2026-02-30\"", "", ""), "an impossible date"),
            (
                format!("{}colour = \"red\"\n", block("", "", "")),
                "an unknown key",
            ),
            (
                format!("{}{}", block("", "", ""), block("", "", "")),
                "a repeated year",
            ),
            (
                "[[years]]\nyear = 2026\nsource = \"x\"\ndays-off = []\nshortened = []\n"
                    .to_owned(),
                "a missing list",
            ),
        ];

        for (text, what) in cases {
            assert!(
                ProductionCalendar::from_toml(&text).is_err(),
                "accepted {what}"
            );
        }
        assert!(ProductionCalendar::from_toml(&block("\"2026-01-05\"", "", "")).is_ok());
    }
}
