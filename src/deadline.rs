//! The `deadline` command: a reaction deadline in working hours, without Telegram, Omnidesk or Redis.

use anyhow::{Context, bail};
use chrono::{NaiveDateTime, TimeZone};
use intake_core::sla::{ProductionCalendar, WorkSchedule};
use intake_core::urgency::Urgency;

/// `deadline`: the reaction deadline of a request registered at `at` (read in the
/// schedule's zone, `YYYY-MM-DD HH:MM`), after `level`'s hours or `hours` working hours,
/// printed as `YYYY-MM-DD HH:MM` in the same zone.
///
/// # Errors
///
/// `at` is malformed or does not exist in the zone, the level has no fixed time (`low`),
/// or the calendar has no data for a year the computation needs.
pub fn deadline(
    schedule: &WorkSchedule,
    calendar: &ProductionCalendar,
    level: Option<Urgency>,
    hours: Option<u32>,
    at: &str,
) -> anyhow::Result<String> {
    let hours = match (level, hours) {
        (_, Some(h)) => h,
        (Some(level), None) => match level.reaction_hours() {
            Some(h) => h,
            None => bail!(
                "level `{}` has no fixed reaction time: it is agreed with support",
                level.as_str()
            ),
        },
        (None, None) => bail!("give --level or --hours"),
    };
    let naive = NaiveDateTime::parse_from_str(at.trim(), "%Y-%m-%d %H:%M")
        .with_context(|| format!("--at `{at}` is not of the form YYYY-MM-DD HH:MM"))?;
    let tz = schedule.time_zone();
    let local = tz
        .from_local_datetime(&naive)
        .earliest()
        .with_context(|| format!("--at `{at}` does not exist in {}", tz.name()))?;
    let due = intake_core::sla::deadline(local.with_timezone(&chrono::Utc), hours, schedule, calendar).map_err(|e| {
        anyhow::anyhow!(
            "the production calendar has no data for {}; add the year to crates/intake-core/data/production-calendar.toml",
            e.year
        )
    })?;
    Ok(due.format("%Y-%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(level: Option<Urgency>, hours: Option<u32>, at: &str) -> anyhow::Result<String> {
        deadline(
            &WorkSchedule::default(),
            &ProductionCalendar::russia(),
            level,
            hours,
            at,
        )
    }

    #[test]
    fn the_issue_example_prints_the_deadline_in_moscow_time() {
        assert_eq!(
            at(Some(Urgency::High), None, "2026-11-03 16:00").expect("ok"),
            "2026-11-05 13:00"
        );
    }

    #[test]
    fn hours_can_be_given_instead_of_a_level() {
        assert_eq!(
            at(None, Some(4), "2026-04-30 16:30").expect("ok"),
            "2026-05-04 12:30"
        );
    }

    #[test]
    fn low_level_and_years_outside_the_calendar_are_errors() {
        assert!(at(Some(Urgency::Low), None, "2026-11-03 16:00").is_err());
        let e = at(Some(Urgency::Critical), None, "2031-01-10 10:00").expect_err("no 2031 data");
        assert!(e.to_string().contains("2031"), "{e}");
        assert!(at(None, Some(1), "03.11.2026 16:00").is_err());
    }
}
