//! This process's cache of chat states, so that a dialogue update costs one round trip to
//! the store (its commit) instead of two (a read, then the commit).
//!
//! # Why it is safe
//!
//! The cache is written through: an entry is what this process committed last (session,
//! revision, profile, recent sends), put in only after the store confirmed the commit.
//! An update steps on the cached entry without reading the store, and its commit names
//! the cached revision, so the store refuses it when anything changed the chat meanwhile:
//! another process committed it, its keys expired (the revision then reads 0), or a user
//! was forgotten (forgetting moves the revision on). A refused commit answers with the
//! state the store holds, in the same round trip, and the update is stepped again on that.
//! Correctness rests on the revision check alone; the cache only saves the read.
//!
//! What the revision does not cover is kept out of the cache: the blocked mark is read
//! inside the commit, and the profile's expiry is renewed by the commit when the entry's
//! renewal is due (at most daily, as a read renews it).
//!
//! # Why it is bounded, and by what
//!
//! An entry holds a draft (about 1 to 2 KB), so the number of chats is capped
//! (`session-cache-chats`) and the chat used least recently goes first. Taking an entry
//! for an update removes it; the commit puts the new state back. An update that fails
//! half-way (the store unreachable) thus leaves no entry behind, and the next update of
//! the chat reads the store.

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use intake_core::dialogue::{Profile, StoredSession};
use lru::LruCache;

use super::Retention;

/// A profile's expiry is renewed on use at most this often.
pub(crate) const RENEW_PROFILE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// What this process committed last for a chat.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    /// The chat's user.
    pub(crate) user_id: u64,
    /// The session committed.
    pub(crate) session: StoredSession,
    /// The session's revision after the commit.
    pub(crate) revision: u64,
    /// The user's profile after the commit.
    pub(crate) profile: Profile,
    /// When the user sent requests (Unix ms), as of the commit.
    pub(crate) sent: Vec<i64>,
    /// No later than the store set the session's expiry.
    pub(crate) committed: Instant,
    /// No later than the store last pushed the profile's expiry forward.
    pub(crate) renewed: Instant,
}

/// A bounded map chat id → [`Cached`], least recently used out first.
pub(crate) struct ChatCache {
    entries: Option<Mutex<LruCache<i64, Cached>>>,
    retention: Retention,
}

impl std::fmt::Debug for ChatCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCache")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl ChatCache {
    /// A cache of at most `chats` chats (none for 0) of a store keeping data for
    /// `retention`.
    pub(crate) fn new(chats: usize, retention: Retention) -> Self {
        Self {
            entries: NonZeroUsize::new(chats).map(|n| Mutex::new(LruCache::new(n))),
            retention,
        }
    }

    /// Whether it caches anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The most chats it holds.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| lock(e).cap().get())
    }

    /// How many chats it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| lock(e).len())
    }

    /// Takes the chat's entry out, if there is one for `user_id` that the store still
    /// holds: its session not past the draft TTL, its profile not past the retention.
    pub(crate) fn take(&self, chat_id: i64, user_id: u64) -> Option<Cached> {
        let cached = lock(self.entries.as_ref()?).pop(&chat_id)?;
        let alive = cached.user_id == user_id
            && cached.committed.elapsed() < self.retention.draft
            && cached.renewed.elapsed() < self.retention.profile;
        alive.then_some(cached)
    }

    /// Whether an entry's profile expiry is due to be renewed.
    pub(crate) fn renewal_due(&self, cached: &Cached) -> bool {
        cached.renewed.elapsed() >= RENEW_PROFILE_EVERY.min(self.retention.profile / 2)
    }

    /// Puts a chat's entry in, evicting the least recently used one when full.
    pub(crate) fn put(&self, chat_id: i64, cached: Cached) {
        if let Some(entries) = &self.entries {
            lock(entries).put(chat_id, cached);
        }
    }

    /// Drops a chat's entry.
    pub(crate) fn drop_chat(&self, chat_id: i64) {
        if let Some(entries) = &self.entries {
            lock(entries).pop(&chat_id);
        }
    }
}

/// The map, even after a panic elsewhere held the lock (every change is one call, so it
/// is never left half-done).
fn lock(
    entries: &Mutex<LruCache<i64, Cached>>,
) -> std::sync::MutexGuard<'_, LruCache<i64, Cached>> {
    entries.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(user_id: u64, revision: u64) -> Cached {
        Cached {
            user_id,
            session: StoredSession::fresh(),
            revision,
            profile: Profile::default(),
            sent: Vec::new(),
            committed: Instant::now(),
            renewed: Instant::now(),
        }
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let cache = ChatCache::new(3, Retention::drafts(Duration::from_secs(60)));
        for chat in 0..10 {
            cache.put(chat, cached(1, 1));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.take(0, 1).is_none(), "the oldest went first");
        assert_eq!(cache.take(9, 1).map(|c| c.revision), Some(1));
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let cache = ChatCache::new(0, Retention::drafts(Duration::from_secs(60)));
        cache.put(1, cached(1, 1));
        assert!(!cache.enabled());
        assert!(cache.take(1, 1).is_none());
    }

    #[test]
    fn an_entry_is_taken_once_and_only_for_its_user() {
        let cache = ChatCache::new(10, Retention::drafts(Duration::from_secs(60)));
        cache.put(1, cached(1, 4));
        assert!(cache.take(1, 2).is_none(), "another user");
        cache.put(1, cached(1, 4));
        assert_eq!(cache.take(1, 1).map(|c| c.revision), Some(4));
        assert!(cache.take(1, 1).is_none(), "taken out");
    }

    #[test]
    fn an_entry_past_the_draft_ttl_is_not_taken() {
        let cache = ChatCache::new(10, Retention::drafts(Duration::from_millis(20)));
        cache.put(1, cached(1, 4));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.take(1, 1).is_none());
    }

    #[test]
    fn renewal_is_due_after_half_a_short_retention() {
        let retention = Retention {
            draft: Duration::from_secs(60),
            profile: Duration::from_millis(40),
        };
        let cache = ChatCache::new(10, retention);
        let entry = cached(1, 1);
        assert!(!cache.renewal_due(&entry));
        std::thread::sleep(Duration::from_millis(25));
        assert!(cache.renewal_due(&entry));
    }
}
