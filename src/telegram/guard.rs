//! Guards against a chat that sends too much: a flood of updates, and the "use a private
//! chat" reply in groups.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often the group notice may be repeated in one group.
const GROUP_NOTICE_EVERY: Duration = Duration::from_secs(3600);

/// Chats remembered before old entries are swept.
const SWEEP_ABOVE: usize = 10_000;

/// What to do with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Handle,
    /// Drop it, and tell the chat (once per flood) that it sends too much.
    DropAndNotify,
    /// Drop it silently.
    Drop,
}

#[derive(Debug)]
struct ChatFlow {
    /// Arrival times of the counted updates within the window.
    recent: Vec<Instant>,
    /// The media group of the last update (an album counts once).
    last_album: Option<String>,
    /// While flooding: when the chat last sent anything.
    muted_since_last: Option<Instant>,
    last_seen: Instant,
}

/// Counts each chat's updates in a sliding window; a chat over the limit is muted until
/// it has been quiet for a whole window.
#[derive(Debug)]
pub struct FloodGuard {
    max: usize,
    window: Duration,
    chats: Mutex<HashMap<i64, ChatFlow>>,
    group_notices: Mutex<HashMap<i64, Instant>>,
}

impl FloodGuard {
    /// At most `max` updates (an album counting as one) per `window` per chat.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
            window,
            chats: Mutex::new(HashMap::new()),
            group_notices: Mutex::new(HashMap::new()),
        }
    }

    /// Decides about an update of `chat` arriving now; `album` is its media group.
    pub fn check(&self, chat: i64, album: Option<&str>) -> Verdict {
        self.check_at(chat, album, Instant::now())
    }

    fn check_at(&self, chat: i64, album: Option<&str>, now: Instant) -> Verdict {
        let mut chats = self.chats.lock().unwrap_or_else(PoisonError::into_inner);
        if chats.len() > SWEEP_ABOVE {
            let window = self.window;
            chats.retain(|_, f| now.duration_since(f.last_seen) < window);
        }
        let flow = chats.entry(chat).or_insert_with(|| ChatFlow {
            recent: Vec::new(),
            last_album: None,
            muted_since_last: None,
            last_seen: now,
        });
        flow.last_seen = now;
        if let Some(last) = flow.muted_since_last {
            if now.duration_since(last) < self.window {
                flow.muted_since_last = Some(now);
                return Verdict::Drop;
            }
            // Quiet for a whole window: calmed down.
            flow.muted_since_last = None;
            flow.recent.clear();
            flow.last_album = None;
        }
        let same_album = album.is_some() && flow.last_album.as_deref() == album;
        flow.last_album = album.map(str::to_owned);
        if same_album {
            return Verdict::Handle;
        }
        let window = self.window;
        flow.recent.retain(|t| now.duration_since(*t) < window);
        if flow.recent.len() >= self.max {
            flow.muted_since_last = Some(now);
            return Verdict::DropAndNotify;
        }
        flow.recent.push(now);
        Verdict::Handle
    }

    /// Whether the "use a private chat" notice may be sent to `group` now (at most once
    /// an hour per group).
    pub fn group_notice_due(&self, group: i64) -> bool {
        let now = Instant::now();
        let mut notices = self
            .group_notices
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if notices.len() > SWEEP_ABOVE {
            notices.retain(|_, t| now.duration_since(*t) < GROUP_NOTICE_EVERY);
        }
        match notices.get(&group) {
            Some(t) if now.duration_since(*t) < GROUP_NOTICE_EVERY => false,
            _ => {
                notices.insert(group, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_over_the_limit_is_told_once_and_muted_until_quiet_for_a_window() {
        let guard = FloodGuard::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        for i in 0..3 {
            assert_eq!(guard.check_at(1, None, at(i)), Verdict::Handle);
        }
        assert_eq!(guard.check_at(1, None, at(5)), Verdict::DropAndNotify);
        assert_eq!(guard.check_at(1, None, at(6)), Verdict::Drop);
        // Another chat is not affected.
        assert_eq!(guard.check_at(2, None, at(7)), Verdict::Handle);
        // Still sending: still muted, even after the first window has passed.
        assert_eq!(guard.check_at(1, None, at(9_000)), Verdict::Drop);
        assert_eq!(guard.check_at(1, None, at(18_000)), Verdict::Drop);
        // Quiet for a whole window: handled again.
        assert_eq!(guard.check_at(1, None, at(28_001)), Verdict::Handle);
    }

    #[test]
    fn an_album_counts_as_one_update() {
        let guard = FloodGuard::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(
                guard.check_at(1, Some("album-1"), t0 + Duration::from_millis(i)),
                Verdict::Handle
            );
        }
        assert_eq!(guard.check_at(1, None, t0), Verdict::Handle);
        assert_eq!(guard.check_at(1, None, t0), Verdict::DropAndNotify);
    }

    #[test]
    fn the_group_notice_is_due_once_an_hour() {
        let guard = FloodGuard::new(20, Duration::from_secs(10));
        assert!(guard.group_notice_due(-100));
        assert!(!guard.group_notice_due(-100));
        assert!(guard.group_notice_due(-200));
    }
}
