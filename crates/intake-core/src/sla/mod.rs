//! Working-hours deadlines on the Russian production calendar (regulation item 8).
//!
//! Pure: time is always a parameter (no clock is read here), and the calendar data is
//! compiled in, so the same inputs always give the same deadline.
//!
//! # Layout
//!
//! - [`calendar`]: [`ProductionCalendar`], which classifies a date as
//!   [`DayKind::Off`], [`DayKind::Working`] or [`DayKind::Shortened`] for the years it
//!   covers, and [`OutOfCalendar`] for the rest.
//! - [`schedule`]: [`WorkSchedule`], the desk's configurable hours (zone, hours per
//!   weekday, a break, shortening), and the working windows of a date.
//! - [`deadline`](mod@deadline): [`deadline()`], [`add_working_time`] and
//!   [`reaction_deadline`].
//!
//! # Why a data file and not the `holidays-ru` crate
//!
//! The calendar is a reviewed TOML table in the repository,
//! `crates/intake-core/data/production-calendar.toml`, embedded with `include_str!` and
//! deserialized strictly:
//!
//! - It is 20–30 dates a year, readable in a code review next to the decree; the sources
//!   disagree in places (reference §3.4), so the exact dates we rely on should be visible
//!   and pinned in this repository, not inside a dependency's generated tables.
//! - Coverage is explicit: the years in the file are the years we answer for. `holidays-ru`
//!   answers for every year 1900–2100 and marks guesses as `Predict`; we would have to
//!   filter those out and still fix a year range by hand.
//! - Adding a year (or fixing a date, e.g. the unconfirmed November 2027) is a data change,
//!   not a dependency upgrade; [`ProductionCalendar::from_toml`] also lets a deployment load
//!   its own table.
//!
//! `holidays-ru` (official `Fact` data only) is still used, as a dev-dependency: a test
//! checks every date of every year in the file against it, so the table has two
//! independent sources.

pub mod calendar;
pub mod deadline;
pub mod schedule;

pub use calendar::{CalendarDataError, DayKind, OutOfCalendar, ProductionCalendar};
pub use deadline::{add_working_time, deadline, reaction_deadline};
pub use schedule::{ScheduleError, TimeRange, WeeklyHours, WorkSchedule};
