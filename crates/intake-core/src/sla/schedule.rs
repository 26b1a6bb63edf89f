//! The support desk's working hours: time zone, opening hours per weekday, an optional break,
//! and whether shortened pre-holiday days end an hour early.
//!
//! A [`WorkSchedule`] is always valid: it is built by [`WorkSchedule::new`], by `Default`,
//! or by deserializing the config section below, and all three check it.
//!
//! ```toml
//! time-zone = "Europe/Moscow"   # IANA name; default Europe/Moscow
//! shorten-pre-holiday = true    # shortened days end one hour early; default true
//! break = "13:00-14:00"         # optional, applies to every working day; default none
//!
//! [hours]                       # default: mon–fri 09:00-18:00; a weekday not listed is closed
//! mon = "09:00-18:00"
//! tue = "09:00-18:00"
//! wed = "09:00-18:00"
//! thu = "09:00-18:00"
//! fri = "09:00-16:45"
//! ```
//!
//! The production calendar decides *whether* a date is worked; the schedule decides the
//! hours of a worked date by its weekday. Ordinary Saturdays and Sundays are days off in the
//! (five-day-week) calendar whatever the schedule says. A Saturday or Sunday that the
//! calendar makes a working day takes its own hours if the schedule has them, otherwise
//! those of the closest earlier weekday that has hours (Friday in the default schedule).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::calendar::{DayKind, OutOfCalendar, ProductionCalendar};

/// A time-of-day interval `start..end` within one day, written `"HH:MM-HH:MM"`.
///
/// Always non-empty: `start < end`. The latest possible end is 23:59.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeRange {
    start: NaiveTime,
    end: NaiveTime,
}

impl TimeRange {
    /// The interval `start..end`.
    ///
    /// # Errors
    ///
    /// Returns [`ScheduleError::EmptyRange`] unless `start < end`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, ScheduleError> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(ScheduleError::EmptyRange { start, end })
        }
    }

    /// When the interval begins.
    pub fn start(self) -> NaiveTime {
        self.start
    }

    /// When the interval ends.
    pub fn end(self) -> NaiveTime {
        self.end
    }

    /// The length of the interval.
    pub fn duration(self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether `time` lies in the interval, both ends included.
    pub fn contains(self, time: NaiveTime) -> bool {
        self.start <= time && time <= self.end
    }
}

impl FromStr for TimeRange {
    type Err = ScheduleError;

    /// Parses `"HH:MM-HH:MM"` (spaces around the parts are allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ScheduleError::BadTimeRange {
            input: s.to_owned(),
        };
        let (start, end) = s.split_once('-').ok_or_else(bad)?;
        let parse = |part: &str| NaiveTime::parse_from_str(part.trim(), "%H:%M").map_err(|_| bad());
        Self::new(parse(start)?, parse(end)?)
    }
}

impl TryFrom<String> for TimeRange {
    type Error = ScheduleError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TimeRange> for String {
    fn from(range: TimeRange) -> Self {
        range.to_string()
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// Opening hours per weekday; `None` means closed that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WeeklyHours {
    /// Monday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon: Option<TimeRange>,
    /// Tuesday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tue: Option<TimeRange>,
    /// Wednesday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wed: Option<TimeRange>,
    /// Thursday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thu: Option<TimeRange>,
    /// Friday.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fri: Option<TimeRange>,
    /// Saturday (used only on Saturdays the calendar makes working days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sat: Option<TimeRange>,
    /// Sunday (used only on Sundays the calendar makes working days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sun: Option<TimeRange>,
}

impl WeeklyHours {
    /// The same hours Monday to Friday, closed at the weekend.
    pub fn mon_fri(hours: TimeRange) -> Self {
        Self {
            mon: Some(hours),
            tue: Some(hours),
            wed: Some(hours),
            thu: Some(hours),
            fri: Some(hours),
            sat: None,
            sun: None,
        }
    }

    /// The hours of `weekday`, `None` if closed.
    pub fn get(&self, weekday: Weekday) -> Option<TimeRange> {
        match weekday {
            Weekday::Mon => self.mon,
            Weekday::Tue => self.tue,
            Weekday::Wed => self.wed,
            Weekday::Thu => self.thu,
            Weekday::Fri => self.fri,
            Weekday::Sat => self.sat,
            Weekday::Sun => self.sun,
        }
    }
}

/// The desk's working schedule; see the [module docs](self) for the config format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WorkScheduleConfig", into = "WorkScheduleConfig")]
pub struct WorkSchedule {
    time_zone: Tz,
    hours: WeeklyHours,
    lunch_break: Option<TimeRange>,
    shorten_pre_holiday: bool,
}

impl Default for WorkSchedule {
    /// Monday–Friday 09:00–18:00 Europe/Moscow, no break, shortened days end at 17:00.
    fn default() -> Self {
        Self {
            time_zone: defaults::time_zone(),
            hours: defaults::hours(),
            lunch_break: None,
            shorten_pre_holiday: defaults::shorten_pre_holiday(),
        }
    }
}

impl WorkSchedule {
    /// A schedule from its parts.
    ///
    /// # Errors
    ///
    /// Returns [`ScheduleError::NoOpenDay`] if no weekday has hours, and
    /// [`ScheduleError::BreakOutsideHours`] unless the break lies strictly inside the hours
    /// of every open weekday.
    pub fn new(
        time_zone: Tz,
        hours: WeeklyHours,
        lunch_break: Option<TimeRange>,
        shorten_pre_holiday: bool,
    ) -> Result<Self, ScheduleError> {
        let schedule = Self {
            time_zone,
            hours,
            lunch_break,
            shorten_pre_holiday,
        };
        schedule.validate()?;
        Ok(schedule)
    }

    /// The time zone the hours are in.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// Opening hours per weekday.
    pub fn hours(&self) -> &WeeklyHours {
        &self.hours
    }

    /// The daily break, if any.
    pub fn lunch_break(&self) -> Option<TimeRange> {
        self.lunch_break
    }

    /// Whether shortened pre-holiday days end one hour early.
    pub fn shortens_pre_holiday_days(&self) -> bool {
        self.shorten_pre_holiday
    }

    /// Checks the invariants [`WorkSchedule::new`] documents. Every `WorkSchedule` already
    /// satisfies them; this is for callers that want to re-check a value they assembled.
    ///
    /// # Errors
    ///
    /// As [`WorkSchedule::new`].
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let open_days: Vec<(Weekday, TimeRange)> = ALL_WEEKDAYS
            .into_iter()
            .filter_map(|day| self.hours.get(day).map(|h| (day, h)))
            .collect();
        if open_days.is_empty() {
            return Err(ScheduleError::NoOpenDay);
        }
        if let Some(pause) = self.lunch_break {
            for (weekday, hours) in open_days {
                if !(hours.start < pause.start && pause.end < hours.end) {
                    return Err(ScheduleError::BreakOutsideHours {
                        weekday,
                        hours,
                        lunch_break: pause,
                    });
                }
            }
        }
        Ok(())
    }

    /// The working intervals of `date` in local time, in order: none on a day off, the
    /// weekday's hours minus the break otherwise, ending an hour early on a shortened day
    /// when the schedule says so.
    ///
    /// # Errors
    ///
    /// Returns [`OutOfCalendar`] when the calendar has no data for the date's year.
    pub fn working_windows(
        &self,
        date: NaiveDate,
        calendar: &ProductionCalendar,
    ) -> Result<Vec<TimeRange>, OutOfCalendar> {
        let kind = calendar.day_kind(date)?;
        if !kind.is_working() {
            return Ok(Vec::new());
        }
        let Some(hours) = self.hours_of_working_day(date.weekday()) else {
            return Ok(Vec::new());
        };
        let end = if kind == DayKind::Shortened && self.shorten_pre_holiday {
            // A day of an hour or less has nothing left; never wrap past midnight.
            match hours.end.overflowing_sub_signed(TimeDelta::hours(1)) {
                (end, 0) => end.max(hours.start),
                _ => hours.start,
            }
        } else {
            hours.end
        };
        let pieces = match self.lunch_break {
            Some(pause) => [(hours.start, pause.start.min(end)), (pause.end, end)],
            None => [(hours.start, end), (end, end)],
        };
        Ok(pieces
            .into_iter()
            .filter_map(|(start, end)| TimeRange::new(start, end).ok())
            .collect())
    }

    /// The total working time of `date`.
    ///
    /// # Errors
    ///
    /// Returns [`OutOfCalendar`] when the calendar has no data for the date's year.
    pub fn working_time_on(
        &self,
        date: NaiveDate,
        calendar: &ProductionCalendar,
    ) -> Result<TimeDelta, OutOfCalendar> {
        Ok(self
            .working_windows(date, calendar)?
            .into_iter()
            .map(TimeRange::duration)
            .sum())
    }

    /// The hours of a date the calendar says is worked. A weekday closed in the schedule
    /// stays closed; a working Saturday or Sunday without its own hours borrows those of the
    /// closest earlier weekday that has them.
    fn hours_of_working_day(&self, weekday: Weekday) -> Option<TimeRange> {
        if let Some(hours) = self.hours.get(weekday) {
            return Some(hours);
        }
        if !matches!(weekday, Weekday::Sat | Weekday::Sun) {
            return None;
        }
        let mut day = weekday;
        for _ in 0..6 {
            day = day.pred();
            if let Some(hours) = self.hours.get(day) {
                return Some(hours);
            }
        }
        None
    }
}

/// Why a schedule was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A time range is not `"HH:MM-HH:MM"`.
    #[error("`{input}` is not a time range like \"09:00-18:00\"")]
    BadTimeRange {
        /// What was given.
        input: String,
    },
    /// A time range does not start before it ends.
    #[error("the time range {start}-{end} does not start before it ends")]
    EmptyRange {
        /// Its start.
        start: NaiveTime,
        /// Its end.
        end: NaiveTime,
    },
    /// The time zone name is not in the IANA database.
    #[error("`{name}` is not an IANA time zone name such as \"Europe/Moscow\"")]
    UnknownTimeZone {
        /// What was given.
        name: String,
    },
    /// No weekday has opening hours.
    #[error("the schedule has no open weekday")]
    NoOpenDay,
    /// The break is not strictly inside an open day's hours.
    #[error("the break {lunch_break} is not inside the {weekday} hours {hours}")]
    BreakOutsideHours {
        /// The weekday whose hours don't contain the break.
        weekday: Weekday,
        /// Its hours.
        hours: TimeRange,
        /// The break.
        lunch_break: TimeRange,
    },
}

const ALL_WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The schedule as written in config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WorkScheduleConfig {
    /// IANA time zone of the hours; default `Europe/Moscow`.
    #[serde(default = "defaults::time_zone", with = "tz_name")]
    time_zone: Tz,
    /// Opening hours per weekday (`mon` … `sun`); a weekday not listed is closed.
    /// Default: `mon`–`fri` `"09:00-18:00"`.
    #[serde(default = "defaults::hours")]
    hours: WeeklyHours,
    /// A daily break such as `"13:00-14:00"`, inside every open day's hours; default none.
    #[serde(default, rename = "break", skip_serializing_if = "Option::is_none")]
    lunch_break: Option<TimeRange>,
    /// Whether shortened pre-holiday days end one hour early; default `true`.
    #[serde(default = "defaults::shorten_pre_holiday")]
    shorten_pre_holiday: bool,
}

impl TryFrom<WorkScheduleConfig> for WorkSchedule {
    type Error = ScheduleError;

    fn try_from(c: WorkScheduleConfig) -> Result<Self, Self::Error> {
        Self::new(c.time_zone, c.hours, c.lunch_break, c.shorten_pre_holiday)
    }
}

impl From<WorkSchedule> for WorkScheduleConfig {
    fn from(s: WorkSchedule) -> Self {
        Self {
            time_zone: s.time_zone,
            hours: s.hours,
            lunch_break: s.lunch_break,
            shorten_pre_holiday: s.shorten_pre_holiday,
        }
    }
}

mod defaults {
    use chrono::NaiveTime;
    use chrono_tz::Tz;

    use super::{TimeRange, WeeklyHours};

    /// 09:00, checked at compile time.
    const OPEN: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
        Some(time) => time,
        None => panic!("09:00 is a valid time"),
    };

    /// 18:00, checked at compile time.
    const CLOSE: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
        Some(time) => time,
        None => panic!("18:00 is a valid time"),
    };

    pub(super) fn time_zone() -> Tz {
        Tz::Europe__Moscow
    }

    pub(super) fn hours() -> WeeklyHours {
        WeeklyHours::mon_fri(TimeRange {
            start: OPEN,
            end: CLOSE,
        })
    }

    pub(super) fn shorten_pre_holiday() -> bool {
        true
    }
}

/// Serializes a [`Tz`] as its IANA name.
mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ScheduleError;

    pub(super) fn serialize<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(tz.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse()
            .map_err(|_| serde::de::Error::custom(ScheduleError::UnknownTimeZone { name }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("test time is valid")
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date is valid")
    }

    fn range(s: &str) -> TimeRange {
        s.parse().expect("test range is valid")
    }

    #[test]
    fn the_default_schedule_is_mon_to_fri_nine_to_six_moscow_without_a_break() {
        let schedule = WorkSchedule::default();

        assert_eq!(schedule.time_zone(), Tz::Europe__Moscow);
        assert_eq!(schedule.hours().mon, Some(range("09:00-18:00")));
        assert_eq!(schedule.hours().fri, Some(range("09:00-18:00")));
        assert_eq!(schedule.hours().sat, None);
        assert_eq!(schedule.hours().sun, None);
        assert_eq!(schedule.lunch_break(), None);
        assert!(schedule.shortens_pre_holiday_days());
        assert_eq!(schedule.validate(), Ok(()));
    }

    #[test]
    fn an_empty_config_section_gives_the_default_schedule() {
        let schedule: WorkSchedule = toml::from_str("").expect("empty section parses");

        assert_eq!(schedule, WorkSchedule::default());
    }

    #[test]
    fn a_full_config_section_parses() {
        let text = r#"
            time-zone = "Asia/Yekaterinburg"
            shorten-pre-holiday = false
            break = "13:00-14:00"

            [hours]
            mon = "08:30-17:30"
            tue = "08:30-17:30"
            wed = "08:30-17:30"
            thu = "08:30-17:30"
            fri = "08:30-16:15"
        "#;

        let schedule: WorkSchedule = toml::from_str(text).expect("sample parses");

        assert_eq!(schedule.time_zone(), Tz::Asia__Yekaterinburg);
        assert!(!schedule.shortens_pre_holiday_days());
        assert_eq!(schedule.lunch_break(), Some(range("13:00-14:00")));
        assert_eq!(schedule.hours().fri, Some(range("08:30-16:15")));
        assert_eq!(schedule.hours().sat, None);
    }

    #[test]
    fn a_schedule_survives_a_round_trip_through_toml() {
        let schedule = WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            Some(range("13:00-14:00")),
            true,
        )
        .expect("valid schedule");

        let text = toml::to_string(&schedule).expect("serializes");
        let back: WorkSchedule = toml::from_str(&text).expect("parses back");

        assert_eq!(back, schedule);
    }

    #[test]
    fn bad_config_sections_are_rejected() {
        let cases = [
            ("colour = \"red\"", "an unknown key"),
            (
                "[hours]\nmonday = \"09:00-18:00\"",
                "an unknown weekday key",
            ),
            ("time-zone = \"Mars/Olympus\"", "an unknown zone"),
            (
                "[hours]\nmon = \"18:00-09:00\"",
                "hours that end before they start",
            ),
            ("[hours]\nmon = \"09:00-09:00\"", "empty hours"),
            ("[hours]\nmon = \"9 to 6\"", "a malformed range"),
            ("[hours]\nmon = \"09:00-24:00\"", "24:00"),
            ("[hours]", "no open day"),
            (
                "break = \"08:00-09:30\"",
                "a break that starts before opening",
            ),
            ("break = \"17:30-18:00\"", "a break that touches closing"),
        ];

        for (text, what) in cases {
            assert!(
                toml::from_str::<WorkSchedule>(text).is_err(),
                "accepted {what}"
            );
        }
    }

    #[test]
    fn a_working_day_with_a_break_has_two_windows() {
        let calendar = ProductionCalendar::russia();
        let schedule = WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            Some(range("13:00-14:00")),
            true,
        )
        .expect("valid schedule");

        let monday = schedule.working_windows(d(2026, 3, 2), &calendar);
        let shortened = schedule.working_windows(d(2026, 4, 30), &calendar);

        assert_eq!(monday, Ok(vec![range("09:00-13:00"), range("14:00-18:00")]));
        assert_eq!(
            shortened,
            Ok(vec![range("09:00-13:00"), range("14:00-17:00")])
        );
    }

    #[test]
    fn shortened_days_end_at_five_unless_shortening_is_off() {
        let calendar = ProductionCalendar::russia();
        let unshortened = WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            None,
            false,
        )
        .expect("valid schedule");

        let shortened = WorkSchedule::default().working_windows(d(2026, 4, 30), &calendar);
        let full = unshortened.working_windows(d(2026, 4, 30), &calendar);

        assert_eq!(shortened, Ok(vec![range("09:00-17:00")]));
        assert_eq!(full, Ok(vec![range("09:00-18:00")]));
    }

    #[test]
    fn a_working_saturday_takes_fridays_hours_when_saturday_has_none() {
        let calendar = ProductionCalendar::russia();
        let mut hours = WeeklyHours::mon_fri(range("09:00-18:00"));
        hours.fri = Some(range("10:00-16:00"));
        let schedule =
            WorkSchedule::new(Tz::Europe__Moscow, hours, None, true).expect("valid schedule");

        let working_saturday = schedule.working_windows(d(2025, 11, 1), &calendar);
        let plain_saturday = schedule.working_windows(d(2025, 11, 8), &calendar);

        assert_eq!(working_saturday, Ok(vec![range("10:00-15:00")]));
        assert_eq!(plain_saturday, Ok(vec![]));
    }

    #[test]
    fn windows_outside_the_calendar_are_an_error() {
        let calendar = ProductionCalendar::russia();

        let result = WorkSchedule::default().working_windows(d(2028, 1, 10), &calendar);

        assert_eq!(result, Err(OutOfCalendar { year: 2028 }));
    }

    #[test]
    fn yearly_totals_match_the_published_figures() {
        // The published hours assume the 40-hour week: an 8-hour day, 7 hours when
        // shortened. 09:00–18:00 with a 13:00–14:00 break is such a day.
        let calendar = ProductionCalendar::russia();
        let schedule = WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            Some(range("13:00-14:00")),
            true,
        )
        .expect("valid schedule");
        let hours_in = |year: i32, month: Option<u32>| -> (usize, i64) {
            let days: Vec<TimeDelta> = d(year, 1, 1)
                .iter_days()
                .take_while(|x| x.year() == year)
                .filter(|x| month.is_none_or(|m| x.month() == m))
                .map(|x| {
                    schedule
                        .working_time_on(x, &calendar)
                        .expect("year is covered")
                })
                .filter(|time| *time > TimeDelta::zero())
                .collect();
            (days.len(), days.into_iter().sum::<TimeDelta>().num_hours())
        };

        for year in [2025, 2026, 2027] {
            assert_eq!(hours_in(year, None), (247, 1972), "{year}");
        }
        let days_2026 = [15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22];
        let hours_2026 = [120, 152, 168, 175, 151, 167, 184, 168, 176, 176, 159, 176];
        for (month, (days, hours)) in (1..=12).zip(days_2026.into_iter().zip(hours_2026)) {
            assert_eq!(
                hours_in(2026, Some(month)),
                (days, hours),
                "2026-{month:02}"
            );
        }
    }

    #[test]
    fn time_ranges_print_as_they_are_written() {
        assert_eq!(range(" 09:00 - 18:00 ").to_string(), "09:00-18:00");
        assert_eq!(TimeRange::new(t(13, 0), t(14, 0)), Ok(range("13:00-14:00")));
    }
}
