//! How many requests a user may send: at most so many an hour and so many a day.

use chrono::{DateTime, Duration, Utc};

/// How long until a user who sent requests at `sent` may send another at `now`, with at
/// most `per_hour` in any hour and `per_day` in any day; `None` when they may now.
pub fn send_blocked_for(
    sent: &[DateTime<Utc>],
    now: DateTime<Utc>,
    per_hour: u32,
    per_day: u32,
) -> Option<Duration> {
    [(per_hour, Duration::hours(1)), (per_day, Duration::days(1))]
        .into_iter()
        .filter_map(|(limit, window)| {
            let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
            let mut recent: Vec<DateTime<Utc>> = sent
                .iter()
                .copied()
                .filter(|t| *t > now - window && *t <= now)
                .collect();
            if recent.len() < limit {
                return None;
            }
            recent.sort();
            // Free again once the one that fills the limit has left the window.
            let freed = recent[recent.len() - limit] + window;
            Some(freed - now)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::minutes(minutes_ago)
    }

    #[test]
    fn under_the_limits_sending_is_free() {
        let now = Utc::now();
        assert_eq!(send_blocked_for(&[], now, 10, 30), None);
        let sent: Vec<_> = (0..9).map(|i| at(i, now)).collect();
        assert_eq!(send_blocked_for(&sent, now, 10, 30), None);
    }

    #[test]
    fn the_hourly_limit_frees_up_when_the_oldest_of_the_hour_is_an_hour_old() {
        let now = Utc::now();
        // Ten in the last 50 minutes: the oldest of them was 50 minutes ago.
        let sent: Vec<_> = (0..10).map(|i| at(50 - i * 5, now)).collect();
        assert_eq!(
            send_blocked_for(&sent, now, 10, 30),
            Some(Duration::minutes(10))
        );
        // Older sends do not count.
        let mut more = sent.clone();
        more.push(at(120, now));
        assert_eq!(
            send_blocked_for(&more, now, 10, 30),
            Some(Duration::minutes(10))
        );
    }

    #[test]
    fn the_daily_limit_counts_the_whole_day() {
        let now = Utc::now();
        let sent: Vec<_> = (0..30).map(|i| at(23 * 60 - i * 40, now)).collect();
        let wait = send_blocked_for(&sent, now, 10, 30).expect("blocked");
        assert_eq!(wait, Duration::minutes(60));
    }
}
