//! Adding working time to an instant: the reaction deadline.
//!
//! The clock runs only inside the schedule's working windows on the calendar's working
//! days. A start outside working hours starts the clock at the next opening. A deadline that
//! falls exactly at a closing time (or at the start of the break) stays there rather than
//! moving to the next opening. The same rule makes adding working time associative: adding
//! `a` then `b` hours gives the same instant as adding `a + b` hours.
//!
//! Elapsed time is physical time: window bounds are turned into instants in the schedule's
//! zone, so a zone with daylight-saving shifts counts a window that spans the shift at its
//! real length (Moscow has had no shifts since 2014). A window bound that falls in a
//! spring-forward gap is taken as the moment the clock resumes; an ambiguous one as its
//! earlier reading.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::calendar::{OutOfCalendar, ProductionCalendar};
use super::schedule::WorkSchedule;
use crate::urgency::Urgency;

/// The instant `hours` working hours after `start`, in the schedule's time zone.
///
/// # Errors
///
/// Returns [`OutOfCalendar`] when the computation reaches a date in a year the calendar
/// does not cover (including the start's own year).
pub fn deadline(
    start: DateTime<Utc>,
    hours: u32,
    schedule: &WorkSchedule,
    calendar: &ProductionCalendar,
) -> Result<DateTime<Tz>, OutOfCalendar> {
    // u32 hours always fit a TimeDelta; the fallback only keeps this free of panics.
    let work = TimeDelta::try_hours(i64::from(hours)).unwrap_or(TimeDelta::MAX);
    add_working_time(start, work, schedule, calendar)
}

/// The instant `work` of working time after `start`, in the schedule's time zone; a
/// negative `work` counts as zero (the next working instant at or after `start`).
///
/// # Errors
///
/// Returns [`OutOfCalendar`] when the computation reaches a date in a year the calendar
/// does not cover (including the start's own year).
pub fn add_working_time(
    start: DateTime<Utc>,
    work: TimeDelta,
    schedule: &WorkSchedule,
    calendar: &ProductionCalendar,
) -> Result<DateTime<Tz>, OutOfCalendar> {
    let tz = schedule.time_zone();
    let mut remaining = work.max(TimeDelta::zero());
    let mut clock = start;
    let mut date = start.with_timezone(&tz).date_naive();
    loop {
        for window in schedule.working_windows(date, calendar)? {
            let open = instant(tz, date, window.start());
            let close = instant(tz, date, window.end());
            if clock > close {
                continue;
            }
            let from = clock.max(open);
            let available = (close - from).max(TimeDelta::zero());
            if remaining <= available {
                return Ok((from + remaining).with_timezone(&tz));
            }
            remaining -= available;
            clock = close;
        }
        // The calendar runs out long before chrono's last date does.
        date = date.succ_opt().ok_or(OutOfCalendar { year: date.year() })?;
    }
}

/// The reaction deadline for a request of `urgency` registered at `start`: `None` for
/// [`Urgency::Low`], whose reaction time is agreed case by case.
///
/// # Errors
///
/// As [`deadline`].
pub fn reaction_deadline(
    start: DateTime<Utc>,
    urgency: Urgency,
    schedule: &WorkSchedule,
    calendar: &ProductionCalendar,
) -> Result<Option<DateTime<Tz>>, OutOfCalendar> {
    urgency
        .reaction_hours()
        .map(|hours| deadline(start, hours, schedule, calendar))
        .transpose()
}

/// The instant of local `date` + `time` in `tz`.
fn instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => (1..=24 * 60)
            .filter_map(|minutes| local.checked_add_signed(TimeDelta::minutes(minutes)))
            .find_map(|later| tz.from_local_datetime(&later).earliest())
            .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;
    use proptest::prelude::*;

    use super::*;
    use crate::sla::schedule::{TimeRange, WeeklyHours};

    /// A Moscow wall-clock time as an instant.
    fn msk(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Tz::Europe__Moscow
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("test time exists in Moscow")
            .with_timezone(&Utc)
    }

    fn show(t: DateTime<Tz>) -> String {
        t.format("%a %d.%m.%Y %H:%M").to_string()
    }

    fn range(s: &str) -> TimeRange {
        s.parse().expect("test range is valid")
    }

    fn with_break() -> WorkSchedule {
        WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            Some(range("13:00-14:00")),
            true,
        )
        .expect("valid schedule")
    }

    /// Runs `(start, hours, expected "Ddd dd.mm.yyyy HH:MM")` rows with `schedule`.
    fn check(schedule: &WorkSchedule, rows: &[(DateTime<Utc>, u32, &str)]) {
        let calendar = ProductionCalendar::russia();
        for &(start, hours, expected) in rows {
            let got = deadline(start, hours, schedule, &calendar).map(show);

            assert_eq!(got.as_deref(), Ok(expected), "{start} + {hours} h");
        }
    }

    #[test]
    fn the_worked_examples_of_the_reference_are_reproduced() {
        check(
            &WorkSchedule::default(),
            &[
                (msk(2026, 4, 30, 16, 30), 4, "Mon 04.05.2026 12:30"),
                (msk(2026, 1, 3, 12, 0), 8, "Mon 12.01.2026 17:00"),
                (msk(2026, 2, 20, 17, 30), 1, "Tue 24.02.2026 09:30"),
            ],
        );
    }

    #[test]
    fn the_issue_example_high_due_26_11_2026_14_30_comes_from_a_request_at_09_30_that_day() {
        // 5 working hours ending Thu 26.11 14:30 need 09:30–14:30 that day: a request made
        // earlier (even the evening before) would start at 09:00 and be due at 14:00.
        check(
            &WorkSchedule::default(),
            &[
                (msk(2026, 11, 26, 9, 30), 5, "Thu 26.11.2026 14:30"),
                (msk(2026, 11, 25, 18, 30), 5, "Thu 26.11.2026 14:00"),
            ],
        );
        let calendar = ProductionCalendar::russia();
        let high = reaction_deadline(
            msk(2026, 11, 26, 9, 30),
            Urgency::High,
            &WorkSchedule::default(),
            &calendar,
        );
        assert_eq!(
            high.map(|t| t.map(show)),
            Ok(Some("Thu 26.11.2026 14:30".to_owned()))
        );
    }

    #[test]
    fn the_deadline_command_example_spans_the_shortened_3_november_and_the_4_november_holiday() {
        // 03.11.2026 is shortened (to 17:00), 04.11 is Unity Day.
        check(
            &WorkSchedule::default(),
            &[(msk(2026, 11, 3, 16, 0), 5, "Thu 05.11.2026 13:00")],
        );
    }

    #[test]
    fn new_year_holidays_stop_the_clock() {
        check(
            &WorkSchedule::default(),
            &[
                // 30.12.2025 is a full day (31.12 is only a moved day off); 31.12–11.01 off.
                (msk(2025, 12, 30, 16, 0), 5, "Mon 12.01.2026 12:00"),
                // 30.12.2026 is a full day; 31.12.2026–10.01.2027 off.
                (msk(2026, 12, 30, 17, 0), 3, "Mon 11.01.2027 11:00"),
                // Registered during the holidays: the clock starts on the first working day.
                (msk(2027, 1, 5, 10, 0), 15, "Tue 12.01.2027 15:00"),
            ],
        );
    }

    #[test]
    fn the_clock_reads_the_start_in_moscow_time_not_utc() {
        // 31.12.2024 22:00 UTC is 01:00 on 01.01.2025 in Moscow: a covered year, and the
        // clock starts on Thu 09.01.2025 after the New Year holidays.
        let start = Utc
            .with_ymd_and_hms(2024, 12, 31, 22, 0, 0)
            .single()
            .expect("valid UTC time");
        let calendar = ProductionCalendar::russia();

        let due = deadline(start, 3, &WorkSchedule::default(), &calendar).map(show);

        assert_eq!(due.as_deref(), Ok("Thu 09.01.2025 12:00"));
    }

    #[test]
    fn may_june_and_november_holidays_and_their_shortened_eves_stop_the_clock() {
        check(
            &WorkSchedule::default(),
            &[
                // 08.05.2026 shortened; 09–11.05 off.
                (msk(2026, 5, 8, 15, 0), 3, "Tue 12.05.2026 10:00"),
                // 11.06.2026 shortened; 12–14.06 off.
                (msk(2026, 6, 11, 16, 0), 2, "Mon 15.06.2026 10:00"),
                // 2025: 30.04 shortened, 01–04.05 off, then 08–11.05 off.
                (msk(2025, 4, 30, 16, 0), 3, "Mon 05.05.2025 11:00"),
                (msk(2025, 5, 7, 12, 0), 15, "Mon 12.05.2025 18:00"),
                // 2027: 03.11 shortened, 04–07.11 off.
                (msk(2027, 11, 3, 15, 0), 3, "Mon 08.11.2027 10:00"),
                // 12.06.2026 itself is a holiday: a request that day waits for Monday.
                (msk(2026, 6, 12, 11, 0), 1, "Mon 15.06.2026 10:00"),
            ],
        );
    }

    #[test]
    fn a_shortened_day_ends_at_17_00_and_a_deadline_may_land_exactly_there() {
        check(
            &WorkSchedule::default(),
            &[
                (msk(2026, 4, 30, 16, 0), 1, "Thu 30.04.2026 17:00"),
                (msk(2026, 4, 30, 17, 30), 1, "Mon 04.05.2026 10:00"),
                (msk(2026, 11, 3, 9, 0), 8, "Tue 03.11.2026 17:00"),
                (msk(2026, 11, 3, 9, 0), 9, "Thu 05.11.2026 10:00"),
            ],
        );
    }

    #[test]
    fn a_deadline_exactly_at_closing_time_does_not_roll_to_the_next_morning() {
        check(
            &WorkSchedule::default(),
            &[
                (msk(2026, 3, 2, 15, 0), 3, "Mon 02.03.2026 18:00"),
                (msk(2026, 3, 2, 9, 0), 9, "Mon 02.03.2026 18:00"),
                (msk(2026, 3, 2, 18, 0), 0, "Mon 02.03.2026 18:00"),
                (msk(2026, 3, 2, 18, 0), 1, "Tue 03.03.2026 10:00"),
            ],
        );
    }

    #[test]
    fn a_start_outside_working_hours_starts_the_clock_at_the_next_opening() {
        check(
            &WorkSchedule::default(),
            &[
                (msk(2026, 3, 2, 7, 15), 3, "Mon 02.03.2026 12:00"),
                (msk(2026, 3, 2, 19, 0), 3, "Tue 03.03.2026 12:00"),
                (msk(2026, 3, 6, 20, 0), 0, "Tue 10.03.2026 09:00"),
                (msk(2026, 3, 7, 12, 0), 3, "Tue 10.03.2026 12:00"),
            ],
        );
    }

    #[test]
    fn working_saturdays_count_as_shortened_working_days() {
        check(
            &WorkSchedule::default(),
            &[
                // Sat 01.11.2025 works 09:00–17:00; 02–04.11 off.
                (msk(2025, 10, 31, 17, 0), 3, "Sat 01.11.2025 11:00"),
                (msk(2025, 11, 1, 16, 0), 2, "Wed 05.11.2025 10:00"),
                // Sat 20.02.2027 works 09:00–17:00; 21–23.02 off.
                (msk(2027, 2, 19, 17, 0), 5, "Sat 20.02.2027 13:00"),
                (msk(2027, 2, 20, 15, 0), 4, "Wed 24.02.2027 11:00"),
            ],
        );
    }

    #[test]
    fn a_configured_break_stops_the_clock_and_a_deadline_may_land_at_its_start() {
        check(
            &with_break(),
            &[
                (msk(2026, 3, 2, 12, 0), 3, "Mon 02.03.2026 16:00"),
                (msk(2026, 3, 2, 10, 0), 3, "Mon 02.03.2026 13:00"),
                (msk(2026, 3, 2, 13, 30), 1, "Mon 02.03.2026 15:00"),
                (msk(2026, 3, 2, 9, 0), 8, "Mon 02.03.2026 18:00"),
                (msk(2026, 4, 30, 16, 30), 4, "Mon 04.05.2026 12:30"),
                (msk(2026, 4, 30, 16, 30), 5, "Mon 04.05.2026 14:30"),
            ],
        );
    }

    #[test]
    fn with_shortening_off_a_shortened_day_runs_to_18_00() {
        let schedule = WorkSchedule::new(
            Tz::Europe__Moscow,
            WeeklyHours::mon_fri(range("09:00-18:00")),
            None,
            false,
        )
        .expect("valid schedule");

        check(
            &schedule,
            &[(msk(2026, 4, 30, 16, 30), 4, "Mon 04.05.2026 11:30")],
        );
    }

    #[test]
    fn the_deadline_is_reported_in_the_schedules_zone() {
        let schedule: WorkSchedule =
            toml::from_str("time-zone = \"Asia/Yekaterinburg\"").expect("schedule parses");
        let calendar = ProductionCalendar::russia();
        // 08:00 MSK is 10:00 in Yekaterinburg (UTC+5), inside its 09:00–18:00.
        let due = deadline(msk(2026, 3, 2, 8, 0), 3, &schedule, &calendar).expect("covered");

        assert_eq!(
            due.format("%d.%m.%Y %H:%M %Z").to_string(),
            "02.03.2026 13:00 +05"
        );
    }

    #[test]
    fn a_date_outside_2025_to_2027_is_an_error_not_a_weekday_guess() {
        let calendar = ProductionCalendar::russia();
        let schedule = WorkSchedule::default();

        assert_eq!(
            deadline(msk(2024, 12, 30, 10, 0), 3, &schedule, &calendar),
            Err(OutOfCalendar { year: 2024 })
        );
        assert_eq!(
            deadline(msk(2028, 3, 1, 10, 0), 0, &schedule, &calendar),
            Err(OutOfCalendar { year: 2028 })
        );
        // 30.12.2027 has 8 h left; 31.12 is off; the rest would need January 2028.
        assert_eq!(
            deadline(msk(2027, 12, 30, 10, 0), 15, &schedule, &calendar),
            Err(OutOfCalendar { year: 2028 })
        );
        assert_eq!(
            reaction_deadline(
                msk(2027, 12, 30, 10, 0),
                Urgency::Medium,
                &schedule,
                &calendar
            ),
            Err(OutOfCalendar { year: 2028 })
        );
    }

    #[test]
    fn reaction_deadlines_follow_the_urgency_levels_and_low_has_none() {
        let calendar = ProductionCalendar::russia();
        let schedule = WorkSchedule::default();
        let start = msk(2026, 3, 2, 10, 0);
        let due =
            |urgency| reaction_deadline(start, urgency, &schedule, &calendar).map(|t| t.map(show));

        assert_eq!(
            due(Urgency::Critical),
            Ok(Some("Mon 02.03.2026 13:00".to_owned()))
        );
        assert_eq!(
            due(Urgency::High),
            Ok(Some("Mon 02.03.2026 15:00".to_owned()))
        );
        assert_eq!(
            due(Urgency::Medium),
            Ok(Some("Tue 03.03.2026 16:00".to_owned()))
        );
        assert_eq!(due(Urgency::Low), Ok(None));
        // Low needs no calendar, so it is fine even outside the loaded years.
        assert_eq!(
            reaction_deadline(msk(2030, 1, 1, 0, 0), Urgency::Low, &schedule, &calendar),
            Ok(None)
        );
    }

    #[test]
    fn working_time_below_an_hour_and_negative_work_are_handled() {
        let calendar = ProductionCalendar::russia();
        let schedule = WorkSchedule::default();
        let start = msk(2026, 3, 2, 17, 45);

        let quarter =
            add_working_time(start, TimeDelta::minutes(30), &schedule, &calendar).map(show);
        let negative =
            add_working_time(start, TimeDelta::minutes(-30), &schedule, &calendar).map(show);

        assert_eq!(quarter.as_deref(), Ok("Tue 03.03.2026 09:15"));
        assert_eq!(negative.as_deref(), Ok("Mon 02.03.2026 17:45"));
    }

    // ---- properties -------------------------------------------------------------------

    /// Starts from 2025-01-01 to 2027-12-01 (Moscow): any second, or on a round
    /// quarter-hour so that openings, closings and the break are hit often.
    fn start_strategy() -> impl Strategy<Value = DateTime<Utc>> {
        let first = msk(2025, 1, 1, 0, 0).timestamp();
        let last = msk(2027, 12, 1, 0, 0).timestamp();
        let any_second =
            (first..last).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default());
        let days = (last - first) / 86_400;
        let round = (
            0..days,
            0i64..24,
            prop::sample::select(vec![0i64, 15, 30, 45]),
        )
            .prop_map(move |(day, hour, minute)| {
                DateTime::from_timestamp(first + day * 86_400 + hour * 3_600 + minute * 60, 0)
                    .unwrap_or_default()
            });
        prop_oneof![any_second, round]
    }

    fn schedule_strategy() -> impl Strategy<Value = WorkSchedule> {
        prop_oneof![Just(WorkSchedule::default()), Just(with_break())]
    }

    fn is_in_a_working_window(
        t: DateTime<Tz>,
        schedule: &WorkSchedule,
        calendar: &ProductionCalendar,
    ) -> bool {
        let local = t.naive_local();
        schedule
            .working_windows(local.date(), calendar)
            .is_ok_and(|windows| windows.iter().any(|w| w.contains(local.time())))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_deadline_is_never_before_the_start(
            start in start_strategy(), hours in 0u32..=40, schedule in schedule_strategy(),
        ) {
            let calendar = ProductionCalendar::russia();

            let due = deadline(start, hours, &schedule, &calendar);

            prop_assert!(due.is_ok_and(|t| t >= start), "{start} + {hours} h gave {due:?}");
        }

        #[test]
        fn the_deadline_lies_inside_a_working_window_or_at_its_end(
            start in start_strategy(), hours in 0u32..=40, schedule in schedule_strategy(),
        ) {
            let calendar = ProductionCalendar::russia();

            let due = deadline(start, hours, &schedule, &calendar);

            prop_assert!(
                due.is_ok_and(|t| is_in_a_working_window(t, &schedule, &calendar)),
                "{start} + {hours} h gave {due:?}"
            );
        }

        #[test]
        fn adding_a_then_b_hours_equals_adding_a_plus_b_hours(
            start in start_strategy(), a in 0u32..=40, b in 0u32..=40, schedule in schedule_strategy(),
        ) {
            let calendar = ProductionCalendar::russia();

            let at_once = deadline(start, a + b, &schedule, &calendar);
            let in_steps = deadline(start, a, &schedule, &calendar)
                .and_then(|mid| deadline(mid.with_timezone(&Utc), b, &schedule, &calendar));

            prop_assert_eq!(at_once, in_steps, "{} + {} h + {} h", start, a, b);
        }

        #[test]
        fn each_working_hour_moves_the_deadline_by_at_least_an_hour(
            start in start_strategy(), hours in 0u32..=40,
        ) {
            let calendar = ProductionCalendar::russia();
            let schedule = WorkSchedule::default();

            let due = deadline(start, hours, &schedule, &calendar);
            let next = deadline(start, hours + 1, &schedule, &calendar);

            prop_assert!(
                matches!((due, next), (Ok(d), Ok(n)) if n - d >= TimeDelta::hours(1)),
                "{start} + {hours} h"
            );
        }
    }

    #[test]
    fn a_deadline_keeps_the_starts_seconds() {
        let calendar = ProductionCalendar::russia();
        let start = msk(2026, 3, 2, 10, 0) + TimeDelta::seconds(42);

        let due = deadline(start, 1, &WorkSchedule::default(), &calendar).expect("covered");

        assert_eq!((due.hour(), due.minute(), due.second()), (11, 0, 42));
    }
}
