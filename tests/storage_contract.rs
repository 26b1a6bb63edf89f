//! The storage contract (see `waviot_support_bot::storage`), run against both backends: every test
//! below is generated once for Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`, a
//! unique key prefix per test, removed afterwards) and once for the file store (a fresh
//! file in a temporary folder per test).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use intake_core::dialogue::{Answer, Profile, Session, StoredSession};
use intake_core::domain::Email;

use waviot_support_bot::storage::outbox::{Claim, Entry, now_ms};
use waviot_support_bot::storage::relay::{
    AgentReply, Attachment, FollowUp, Held, Job, Relay, RelayEntry,
};
use waviot_support_bot::storage::{CaseRecord, Change, ChatState, Committed, LoadedSession, Store};

#[path = "common/keys.rs"]
mod keys;
#[path = "common/sample.rs"]
mod sample;
use sample::entry;

const TTL: Duration = Duration::from_secs(60);
const LEASE: Duration = Duration::from_secs(60);

/// A backend to open stores on; the same harness opens several stores sharing the data.
enum Harness {
    Redis {
        url: String,
        prefix: String,
    },
    File {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
}

impl Harness {
    fn redis() -> Self {
        Self::Redis {
            url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
            prefix: format!("contract-{}:", uuid::Uuid::new_v4().simple()),
        }
    }

    fn file() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("nested").join("bot.db");
        Self::File { _dir: dir, path }
    }

    async fn store(&self) -> Store {
        self.store_with_ttl(TTL).await
    }

    /// A store caching the states of at most `chats` chats.
    async fn cached_store(&self, chats: usize) -> Store {
        self.store().await.with_chat_cache(chats)
    }

    async fn store_with_ttl(&self, ttl: Duration) -> Store {
        match self {
            Self::Redis { url, prefix } => Store::connect(url, prefix, ttl)
                .await
                .expect("Redis answers (tests need one at REDIS_URL)"),
            Self::File { path, .. } => Store::open_file(path, ttl).await.expect("the file opens"),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Self::Redis { url, prefix } = self {
            keys::delete_prefix(url, prefix);
        }
    }
}

/// Generates `redis::<name>` and `file::<name>` for each contract test.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod redis_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(&super::Harness::redis()).await;
                }
            )*
        }
        mod file_backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(&super::Harness::file()).await;
                }
            )*
        }
    };
}

contract!(
    session_round_trip,
    undecodable_sessions_read_as_undecodable,
    profile_default_and_round_trip,
    commit_writes_session_profile_and_entry_together,
    a_commit_at_a_stale_revision_writes_nothing,
    sessions_expire_after_the_draft_ttl,
    blocked_marks,
    a_claimed_entry_is_not_claimed_again_within_the_lease,
    a_claim_returns_at_most_max,
    an_entry_is_claimed_again_after_the_lease_expires,
    reschedule_in_the_future_hides_an_entry,
    save_updates_a_held_entry_and_ignores_a_completed_one,
    writes_under_a_superseded_claim_are_refused,
    extend_keeps_a_claim_from_other_claimers,
    tokens_grow_across_claims_and_stores,
    complete_records_the_number_and_removes_the_entry,
    park_parked_and_retry,
    depth_counts_waiting_and_parked,
    concurrent_claimers_never_share_an_entry,
    my_requests_are_listed_newest_first_per_user_and_forgotten,
    case_records_round_trip_newest_first_and_are_forgotten,
    complete_with_case_records_the_number_and_the_case,
    complete_with_case_under_a_stale_token_writes_nothing,
    relay_push_stores_an_id_once,
    concurrent_pushes_of_one_id_store_it_once,
    relay_is_fifo_per_chain,
    a_rescheduled_head_holds_its_chain_back_until_due,
    relay_writes_under_a_superseded_claim_are_refused,
    relay_done_of_the_last_entry_leaves_nothing_pending,
    relay_dedup_outlives_delivery,
    relay_tokens_come_from_the_outbox_counter,
    a_relay_claim_returns_at_most_max,
    concurrent_relay_workers_keep_each_chain_in_order,
    a_cached_chat_costs_one_call_per_update,
    a_commit_on_a_stale_cached_revision_is_refused_and_answers_the_fresh_state,
    a_presumed_new_chat_is_checked_by_the_commit,
    forget_drops_the_cached_profile_in_every_process,
    the_commit_reads_the_blocked_mark,
    a_cached_session_past_the_draft_ttl_reads_as_none,
    the_cache_never_grows_past_its_bound,
);

/// The entries of claims, in order.
fn claimed(claims: &[Claim]) -> Vec<Entry> {
    claims.iter().map(|c| c.entry.clone()).collect()
}

/// Claims exactly one entry (the only one due) and returns its claim.
async fn claim_one(outbox: &waviot_support_bot::storage::outbox::Outbox, lease: Duration) -> Claim {
    let mut claims = outbox.claim(lease, 10).await.expect("claim");
    assert_eq!(claims.len(), 1, "one entry claimed");
    claims.remove(0)
}

fn session(update: i64) -> StoredSession {
    StoredSession {
        v: StoredSession::VERSION,
        session: Session::Idle,
        last_update_id: Some(update),
        updated_at: Some(chrono::Utc::now()),
        applied: vec![update],
    }
}

fn profile() -> Profile {
    Profile {
        lang: Some("en".to_owned()),
        saved: BTreeMap::from([(
            "email".to_owned(),
            Answer::Email(Email::parse("user@example.com").expect("email")),
        )]),
    }
}

fn found(loaded: LoadedSession) -> StoredSession {
    match loaded {
        LoadedSession::Found(s) => *s,
        other => panic!("expected a session, got {other:?}"),
    }
}

fn ids(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.id().to_owned()).collect()
}

async fn session_round_trip(h: &Harness) {
    let store = h.store().await;
    assert!(matches!(
        store.load_session(1).await.expect("load"),
        LoadedSession::None
    ));
    let first = session(10);
    store
        .commit(1, 0, &first, None, None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(found(store.load_session(1).await.expect("load")), first);
    let second = session(11);
    store
        .commit(1, 1, &second, None, None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(found(store.load_session(1).await.expect("load")), second);
    assert!(matches!(
        store.load_session(2).await.expect("load"),
        LoadedSession::None
    ));
    // Another store on the same backend sees it.
    let other = h.store().await;
    assert_eq!(found(other.load_session(1).await.expect("load")), second);
}

async fn undecodable_sessions_read_as_undecodable(h: &Harness) {
    let store = h.store().await;
    store
        .write_raw_session(5, "{not json")
        .await
        .expect("write");
    assert!(matches!(
        store.load_session(5).await.expect("load"),
        LoadedSession::Undecodable
    ));
    let mut future = session(1);
    future.v = StoredSession::VERSION + 1;
    store
        .commit(6, 0, &future, None, None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert!(matches!(
        store.load_session(6).await.expect("load"),
        LoadedSession::Undecodable
    ));
    // A good commit replaces it.
    store
        .commit(5, 0, &session(2), None, None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(
        found(store.load_session(5).await.expect("load")).last_update_id,
        Some(2)
    );
}

async fn profile_default_and_round_trip(h: &Harness) {
    let store = h.store().await;
    assert_eq!(
        store.load_profile(42).await.expect("load"),
        Profile::default()
    );
    let p = profile();
    store
        .commit(1, 0, &session(1), Some((42, &p)), None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(store.load_profile(42).await.expect("load"), p);
    assert_eq!(
        store.load_profile(43).await.expect("load"),
        Profile::default()
    );
    let changed = Profile {
        lang: Some("ru".to_owned()),
        ..p
    };
    store
        .commit(1, 1, &session(2), Some((42, &changed)), None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(store.load_profile(42).await.expect("load"), changed);
}

async fn commit_writes_session_profile_and_entry_together(h: &Harness) {
    let store = h.store().await;
    let outbox = store.outbox();
    let e = entry(1);
    let s = session(7);
    let p = profile();
    let before = now_ms();
    store
        .commit(9, 0, &s, Some((90, &p)), Some(&e))
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    assert_eq!(found(store.load_session(9).await.expect("load")), s);
    assert_eq!(store.load_profile(90).await.expect("load"), p);
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, e);
    assert!(
        pending[0].1 >= before && pending[0].1 <= now_ms(),
        "due now"
    );
    assert_eq!(
        claimed(&outbox.claim(LEASE, 10).await.expect("claim")),
        vec![e]
    );
}

/// Two writers read the chat at the same revision; the second to commit writes nothing
/// (no session, no profile, no outbox entry) and reads the first one's result.
async fn a_commit_at_a_stale_revision_writes_nothing(h: &Harness) {
    let a = h.store().await;
    let b = h.store().await;
    let read_a = a.load_chat(4, 40).await.expect("load");
    let read_b = b.load_chat(4, 40).await.expect("load");
    assert_eq!((read_a.revision, read_b.revision), (0, 0));
    assert!(
        a.commit(4, read_a.revision, &session(1), None, None)
            .await
            .expect("commit")
    );
    let mut p = profile();
    p.lang = Some("en".to_owned());
    let e = entry(1);
    assert!(
        !b.commit(4, read_b.revision, &session(2), Some((40, &p)), Some(&e))
            .await
            .expect("commit"),
        "a stale revision is refused"
    );
    let again = b.load_chat(4, 40).await.expect("load");
    assert_eq!(again.revision, 1);
    assert_eq!(found(again.session).last_update_id, Some(1));
    assert_eq!(again.profile, Profile::default(), "no profile written");
    assert_eq!(b.outbox().depth().await.expect("depth"), (0, 0));
    assert!(
        b.commit(4, again.revision, &session(2), Some((40, &p)), Some(&e))
            .await
            .expect("commit")
    );
    let last = a.load_chat(4, 40).await.expect("load");
    assert_eq!(last.revision, 2);
    assert_eq!(found(last.session).last_update_id, Some(2));
    assert_eq!(last.profile, p);
    assert_eq!(a.outbox().depth().await.expect("depth"), (1, 0));
}

async fn sessions_expire_after_the_draft_ttl(h: &Harness) {
    let store = h.store_with_ttl(Duration::from_millis(400)).await;
    let p = profile();
    store
        .commit(3, 0, &session(1), Some((30, &p)), None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    found(store.load_session(3).await.expect("load"));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(
        store.load_session(3).await.expect("load"),
        LoadedSession::None
    ));
    assert_eq!(
        store.load_profile(30).await.expect("load"),
        p,
        "profiles do not expire"
    );
    // A commit restarts the clock.
    store
        .commit(3, 0, &session(2), None, None)
        .await
        .expect("commit")
        .then_some(())
        .expect("committed");
    found(store.load_session(3).await.expect("load"));
}

async fn blocked_marks(h: &Harness) {
    let store = h.store().await;
    assert!(!store.is_blocked(1).await.expect("read"));
    store.set_blocked(1).await.expect("set");
    store.set_blocked(1).await.expect("set twice");
    assert!(store.is_blocked(1).await.expect("read"));
    assert!(!store.is_blocked(2).await.expect("read"));
    store.clear_blocked(1).await.expect("clear");
    assert!(!store.is_blocked(1).await.expect("read"));
    store.clear_blocked(1).await.expect("clear when not set");
}

async fn a_claimed_entry_is_not_claimed_again_within_the_lease(h: &Harness) {
    let outbox = h.store().await.outbox();
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    assert_eq!(
        claimed(&outbox.claim(LEASE, 10).await.expect("claim")),
        vec![e]
    );
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
    let other = h.store().await.outbox();
    assert!(other.claim(LEASE, 10).await.expect("claim").is_empty());
    // Still waiting (claimed is not delivered).
    assert_eq!(outbox.depth().await.expect("depth"), (1, 0));
}

async fn a_claim_returns_at_most_max(h: &Harness) {
    let outbox = h.store().await.outbox();
    let entries: Vec<Entry> = (0..5).map(entry).collect();
    for e in &entries {
        outbox.enqueue(e).await.expect("enqueue");
    }
    let mut seen = BTreeSet::new();
    for expected in [2, 2, 1, 0] {
        let got = claimed(&outbox.claim(LEASE, 2).await.expect("claim"));
        assert_eq!(got.len(), expected);
        for id in ids(&got) {
            assert!(seen.insert(id), "claimed twice");
        }
    }
    assert_eq!(seen, ids(&entries).into_iter().collect());
}

async fn an_entry_is_claimed_again_after_the_lease_expires(h: &Harness) {
    let outbox = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let short = Duration::from_millis(300);
    assert_eq!(
        claimed(&outbox.claim(short, 10).await.expect("claim")),
        vec![e.clone()]
    );
    assert!(outbox.claim(short, 10).await.expect("claim").is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        claimed(&outbox.claim(LEASE, 10).await.expect("claim")),
        vec![e]
    );
}

async fn reschedule_in_the_future_hides_an_entry(h: &Harness) {
    let outbox = h.store().await.outbox();
    let mut e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let claim = claim_one(&outbox, LEASE).await;
    let later = now_ms() + 60_000;
    e.last_error = Some("HTTP 503".to_owned());
    assert!(
        outbox
            .reschedule(&e, claim.token, later)
            .await
            .expect("reschedule")
    );
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending, vec![(e.clone(), later)]);
    assert!(
        outbox
            .reschedule(&e, claim.token, now_ms())
            .await
            .expect("reschedule")
    );
    assert_eq!(
        claimed(&outbox.claim(LEASE, 10).await.expect("claim")),
        vec![e]
    );
    // Rescheduling an unknown id adds nothing.
    assert!(
        !outbox
            .reschedule(&entry(2), claim.token, now_ms())
            .await
            .expect("reschedule")
    );
    assert_eq!(outbox.depth().await.expect("depth"), (1, 0));
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
}

async fn save_updates_a_held_entry_and_ignores_a_completed_one(h: &Harness) {
    let outbox = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let Claim {
        entry: mut e,
        token,
    } = claim_one(&outbox, LEASE).await;
    e.attempts = 3;
    e.last_error = Some("timeout".to_owned());
    e.create_sent_at_ms = Some(now_ms());
    assert!(outbox.save(&e, token).await.expect("save"));
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, e);
    assert!(pending[0].1 > now_ms(), "save keeps the lease");

    assert!(
        outbox
            .complete(e.id(), token, "1001")
            .await
            .expect("complete")
    );
    e.attempts = 4;
    assert!(!outbox.save(&e, token).await.expect("a late save"));
    assert!(outbox.pending().await.expect("pending").is_empty());
    assert_eq!(outbox.depth().await.expect("depth"), (0, 0));
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
    // Nor does it resurrect a never-enqueued one.
    assert!(!outbox.save(&entry(2), token).await.expect("save"));
    assert!(outbox.pending().await.expect("pending").is_empty());
}

/// A claimer frozen past its lease comes back after another claimed the entry: none of
/// its writes lands, and the new holder's do.
async fn writes_under_a_superseded_claim_are_refused(h: &Harness) {
    let outbox = h.store().await.outbox();
    let other = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let short = Duration::from_millis(200);
    let stale = claim_one(&outbox, short).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh = claim_one(&other, LEASE).await;
    assert_ne!(stale.token, fresh.token);

    let mut stale_copy = stale.entry.clone();
    stale_copy.attempts = 99;
    assert!(!outbox.save(&stale_copy, stale.token).await.expect("save"));
    assert!(
        !outbox
            .extend(e.id(), stale.token, LEASE)
            .await
            .expect("extend")
    );
    assert!(
        !outbox
            .reschedule(&stale_copy, stale.token, now_ms())
            .await
            .expect("reschedule")
    );
    assert!(
        !outbox
            .complete(e.id(), stale.token, "666")
            .await
            .expect("complete")
    );
    assert!(
        !outbox
            .park(&stale_copy, stale.token, "stale")
            .await
            .expect("park")
    );
    let pending = outbox.pending().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, e, "the stale copy wrote nothing");
    assert!(pending[0].1 > now_ms(), "the fresh lease stands");
    assert_eq!(outbox.delivered(e.id()).await.expect("read"), None);
    assert!(outbox.parked().await.expect("parked").is_empty());

    assert!(
        other
            .extend(e.id(), fresh.token, LEASE)
            .await
            .expect("extend")
    );
    assert!(
        other
            .complete(e.id(), fresh.token, "664-1")
            .await
            .expect("complete")
    );
    assert_eq!(
        outbox.delivered(e.id()).await.expect("read").as_deref(),
        Some("664-1")
    );
    // A parked and retried entry does not take back an old token either.
    let e2 = entry(2);
    outbox.enqueue(&e2).await.expect("enqueue");
    let first = claim_one(&outbox, LEASE).await;
    assert!(
        outbox
            .park(&e2, first.token, "HTTP 400")
            .await
            .expect("park")
    );
    assert!(outbox.retry(e2.id()).await.expect("retry"));
    assert!(!outbox.save(&e2, first.token).await.expect("save"));
    let again = claim_one(&outbox, LEASE).await;
    assert!(again.token > first.token);
}

async fn extend_keeps_a_claim_from_other_claimers(h: &Harness) {
    let outbox = h.store().await.outbox();
    let other = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let short = Duration::from_millis(300);
    let claim = claim_one(&outbox, short).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            outbox
                .extend(e.id(), claim.token, short)
                .await
                .expect("extend")
        );
        assert!(other.claim(LEASE, 10).await.expect("claim").is_empty());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(claim_one(&other, LEASE).await.entry, e);
}

async fn tokens_grow_across_claims_and_stores(h: &Harness) {
    let a = h.store().await.outbox();
    let b = h.store().await.outbox();
    let mut last = 0;
    for i in 0..6 {
        let outbox = if i % 2 == 0 { &a } else { &b };
        outbox.enqueue(&entry(i)).await.expect("enqueue");
        let claim = claim_one(outbox, LEASE).await;
        assert!(claim.token > last, "token {} after {last}", claim.token);
        last = claim.token;
    }
}

async fn complete_records_the_number_and_removes_the_entry(h: &Harness) {
    let outbox = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    assert_eq!(outbox.delivered(e.id()).await.expect("read"), None);
    let claim = claim_one(&outbox, LEASE).await;
    assert!(
        outbox
            .complete(e.id(), claim.token, "12345")
            .await
            .expect("complete")
    );
    assert_eq!(
        outbox.delivered(e.id()).await.expect("read"),
        Some("12345".to_owned())
    );
    assert!(outbox.pending().await.expect("pending").is_empty());
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());
    assert_eq!(outbox.delivered("other").await.expect("read"), None);
}

async fn park_parked_and_retry(h: &Harness) {
    let outbox = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let claim = claim_one(&outbox, LEASE).await;
    let before = now_ms();
    assert!(
        outbox
            .park(&claim.entry, claim.token, "HTTP 400: bad field")
            .await
            .expect("park")
    );
    let parked = outbox.parked().await.expect("parked");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].entry, e);
    assert_eq!(parked[0].error, "HTTP 400: bad field");
    assert!(parked[0].parked_at_ms >= before);
    assert!(outbox.pending().await.expect("pending").is_empty());
    assert_eq!(outbox.depth().await.expect("depth"), (0, 1));
    assert!(outbox.claim(LEASE, 10).await.expect("claim").is_empty());

    assert!(!outbox.retry("no-such-id").await.expect("retry"));
    assert!(outbox.retry(e.id()).await.expect("retry"));
    assert!(outbox.parked().await.expect("parked").is_empty());
    assert!(
        !outbox.retry(e.id()).await.expect("retry"),
        "only once per parking"
    );
    assert_eq!(outbox.depth().await.expect("depth"), (1, 0));
    let back = claimed(&outbox.claim(LEASE, 10).await.expect("claim"));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id(), e.id());
    assert_eq!(back[0].outgoing, e.outgoing);
    assert_eq!(back[0].last_error.as_deref(), Some("HTTP 400: bad field"));
}

async fn depth_counts_waiting_and_parked(h: &Harness) {
    let outbox = h.store().await.outbox();
    assert_eq!(outbox.depth().await.expect("depth"), (0, 0));
    let entries: Vec<Entry> = (0..3).map(entry).collect();
    for e in &entries {
        outbox.enqueue(e).await.expect("enqueue");
    }
    // Enqueueing the same id again replaces it.
    outbox.enqueue(&entries[0]).await.expect("enqueue again");
    assert_eq!(outbox.depth().await.expect("depth"), (3, 0));
    let claims = outbox.claim(LEASE, 10).await.expect("claim");
    let token_of = |id: &str| {
        claims
            .iter()
            .find(|c| c.entry.id() == id)
            .map(|c| c.token)
            .expect("claimed")
    };
    assert!(
        outbox
            .park(&entries[1], token_of(entries[1].id()), "refused")
            .await
            .expect("park")
    );
    assert_eq!(outbox.depth().await.expect("depth"), (2, 1));
    assert!(
        outbox
            .complete(entries[2].id(), token_of(entries[2].id()), "7")
            .await
            .expect("complete")
    );
    assert_eq!(outbox.depth().await.expect("depth"), (1, 1));
}

async fn my_requests_are_listed_newest_first_per_user_and_forgotten(h: &Harness) {
    let store = h.store().await;
    let mut sent = Vec::new();
    for i in 0..3 {
        let mut e = entry(1);
        e.outgoing.request.submitted_at = chrono::Utc::now() + chrono::Duration::seconds(i);
        e.outgoing.request.kind = format!("kind-{i}");
        let read = store.load_chat(e.outgoing.chat_id, 0).await.expect("load");
        assert!(
            store
                .commit(
                    e.outgoing.chat_id,
                    read.revision,
                    &session(i),
                    None,
                    Some(&e)
                )
                .await
                .expect("commit")
        );
        sent.push(e);
    }
    store
        .commit(5, 0, &session(1), None, Some(&entry(5)))
        .await
        .expect("another user's");
    let user = sent[0].outgoing.sender.id;
    let mine = store.my_requests(user, 2).await.expect("mine");
    let kinds: Vec<&str> = mine.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["kind-2", "kind-1"], "newest first, at most 2");
    assert_eq!(mine[0].id, sent[2].id());
    store
        .forget(user, sent[0].outgoing.chat_id)
        .await
        .expect("forget");
    assert!(store.my_requests(user, 5).await.expect("mine").is_empty());
    assert_eq!(store.my_requests(900_005, 5).await.expect("mine").len(), 1);
}

async fn concurrent_claimers_never_share_an_entry(h: &Harness) {
    const N: usize = 60;
    let a = h.store().await.outbox();
    let b = h.store().await.outbox();
    let entries: Vec<Entry> = (0..N).map(entry).collect();
    for e in &entries {
        a.enqueue(e).await.expect("enqueue");
    }
    // Two stores, two claiming tasks each, claiming small batches in parallel.
    let mut tasks = Vec::new();
    for outbox in [a.clone(), a, b.clone(), b] {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 3 {
                let batch = claimed(&outbox.claim(LEASE, 2).await.expect("claim"));
                if batch.is_empty() {
                    empty_in_a_row += 1;
                    tokio::task::yield_now().await;
                } else {
                    empty_in_a_row = 0;
                    got.extend(ids(&batch));
                }
            }
            got
        }));
    }
    let mut all = Vec::new();
    let mut claimers_with_work = 0;
    for t in tasks {
        let got = t.await.expect("task");
        if !got.is_empty() {
            claimers_with_work += 1;
        }
        all.extend(got);
    }
    let unique: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(all.len(), unique.len(), "an entry was claimed twice");
    assert_eq!(unique, ids(&entries).into_iter().collect());
    assert!(claimers_with_work >= 2, "the claims did not overlap");
}

// ---- case records ----

/// A case record of `user`, sent at `sent_at_ms`.
fn case_record(case_id: i64, user_id: u64, sent_at_ms: i64) -> CaseRecord {
    CaseRecord {
        case_id,
        case_number: format!("{case_id}-000"),
        request_id: format!("req-{case_id}"),
        kind: "custom-development".to_owned(),
        user_id,
        chat_id: i64::try_from(user_id).expect("small"),
        lang: "ru".to_owned(),
        sent_at_ms,
        first_reply_ms: None,
        reaction_due_ms: None,
        status: None,
    }
}

async fn case_records_round_trip_newest_first_and_are_forgotten(h: &Harness) {
    let store = h.store().await;
    assert_eq!(store.case(1).await.expect("read"), None);
    assert!(store.cases_of(7).await.expect("read").is_empty());
    let now = now_ms();
    let older = case_record(1, 7, now - 2_000);
    let newer = case_record(2, 7, now - 1_000);
    let others = case_record(3, 8, now);
    for r in [&older, &newer, &others] {
        store.save_case(r).await.expect("save");
    }
    assert_eq!(store.case(1).await.expect("read"), Some(older.clone()));
    assert_eq!(
        store.cases_of(7).await.expect("read"),
        vec![newer.clone(), older.clone()]
    );
    // Saving again replaces the record.
    let mut replied = older.clone();
    replied.first_reply_ms = Some(now);
    replied.status = Some("waiting".to_owned());
    store.save_case(&replied).await.expect("save");
    assert_eq!(store.case(1).await.expect("read"), Some(replied.clone()));
    let other_store = h.store().await;
    assert_eq!(
        other_store.cases_of(7).await.expect("read"),
        vec![newer, replied]
    );
    store.forget(7, 7).await.expect("forget");
    assert!(store.cases_of(7).await.expect("read").is_empty());
    assert_eq!(store.case(1).await.expect("read"), None);
    assert_eq!(store.case(2).await.expect("read"), None);
    assert_eq!(store.case(3).await.expect("read"), Some(others.clone()));
    assert_eq!(store.cases_of(8).await.expect("read"), vec![others]);
}

async fn complete_with_case_records_the_number_and_the_case(h: &Harness) {
    let store = h.store().await;
    let outbox = store.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let claim = claim_one(&outbox, LEASE).await;
    let record = case_record(
        42,
        e.outgoing.sender.id,
        e.outgoing.request.submitted_at.timestamp_millis(),
    );
    assert!(
        outbox
            .complete_with_case(e.id(), claim.token, &record)
            .await
            .expect("complete")
    );
    assert_eq!(
        outbox.delivered(e.id()).await.expect("read").as_deref(),
        Some(record.case_number.as_str())
    );
    assert!(outbox.pending().await.expect("pending").is_empty());
    assert_eq!(outbox.depth().await.expect("depth"), (0, 0));
    assert_eq!(store.case(42).await.expect("read"), Some(record.clone()));
    assert_eq!(
        store.cases_of(e.outgoing.sender.id).await.expect("read"),
        vec![record.clone()]
    );
    // Done once: a second completion under the same token is refused.
    assert!(
        !outbox
            .complete_with_case(e.id(), claim.token, &case_record(43, 1, 0))
            .await
            .expect("complete")
    );
    assert_eq!(store.case(43).await.expect("read"), None);
}

async fn complete_with_case_under_a_stale_token_writes_nothing(h: &Harness) {
    let store = h.store().await;
    let outbox = store.outbox();
    let other = h.store().await.outbox();
    let e = entry(1);
    outbox.enqueue(&e).await.expect("enqueue");
    let stale = claim_one(&outbox, Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh = claim_one(&other, LEASE).await;
    let record = case_record(50, e.outgoing.sender.id, now_ms());
    assert!(
        !outbox
            .complete_with_case(e.id(), stale.token, &record)
            .await
            .expect("complete")
    );
    assert_eq!(outbox.delivered(e.id()).await.expect("read"), None);
    assert_eq!(store.case(50).await.expect("read"), None);
    assert!(
        store
            .cases_of(e.outgoing.sender.id)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(outbox.depth().await.expect("depth"), (1, 0));
    assert!(
        other
            .complete_with_case(e.id(), fresh.token, &record)
            .await
            .expect("complete")
    );
    assert_eq!(store.case(50).await.expect("read"), Some(record));
}

// ---- relay ----

/// An agent's reply `n` to the chat of `chain`, as a relay entry with id `id`.
fn reply(id: &str, chain: &str, n: i64) -> RelayEntry {
    RelayEntry::new(
        id,
        chain,
        Job::User(AgentReply {
            message_id: n,
            case_id: 4_200,
            case_number: "4200-000".to_owned(),
            chat_id: 900_001,
            lang: "ru".to_owned(),
            html: format!("<b>Ответ</b> {n}"),
            attachments: vec![Attachment {
                name: "log.txt".to_owned(),
                url: format!("https://example.com/files/{n}"),
            }],
            received_at_ms: now_ms(),
            notice: false,
            renew_kind: None,
        }),
    )
}

/// A user's follow-up to the case of `chain`, as a relay entry with id `id`.
fn follow_up(id: &str, chain: &str) -> RelayEntry {
    RelayEntry::new(
        id,
        chain,
        Job::Case(FollowUp {
            case_id: 4_200,
            case_number: "4200-000".to_owned(),
            chat_id: 900_001,
            user_id: 900_001,
            lang: "en".to_owned(),
            text: "It happens again".to_owned(),
            files: Vec::new(),
            sent_at_ms: now_ms(),
        }),
    )
}

/// The ids of held entries, sorted.
fn held_ids(held: &[Held]) -> Vec<String> {
    let mut ids: Vec<String> = held.iter().map(|h| h.entry.id.clone()).collect();
    ids.sort();
    ids
}

/// The ids of relay entries, in order.
fn relay_ids(entries: &[RelayEntry]) -> Vec<String> {
    entries.iter().map(|e| e.id.clone()).collect()
}

/// Claims exactly one relay entry (the only one due) and returns it.
async fn hold_one(relay: &Relay, lease: Duration) -> Held {
    let mut held = relay.claim(lease, 10).await.expect("claim");
    assert_eq!(held.len(), 1, "one entry claimed");
    held.remove(0)
}

async fn relay_push_stores_an_id_once(h: &Harness) {
    let relay = h.store().await.relay();
    assert_eq!(relay.depth().await.expect("depth"), 0);
    assert!(relay.claim(LEASE, 10).await.expect("claim").is_empty());
    let first = reply("om-1", "chat-1", 1);
    assert!(relay.push(&first).await.expect("push"));
    let mut changed = reply("om-1", "chat-1", 2);
    changed.attempts = 5;
    assert!(!relay.push(&changed).await.expect("push"), "a duplicate");
    let other = h.store().await.relay();
    assert!(
        !other.push(&first).await.expect("push"),
        "from another store"
    );
    let up = follow_up("tg-1-5", "case-4200");
    assert!(relay.push(&up).await.expect("push"));
    assert_eq!(relay.depth().await.expect("depth"), 2);
    assert_eq!(
        relay.pending().await.expect("pending"),
        vec![up.clone(), first.clone()],
        "by chain name, stored as first pushed"
    );
    let held = relay.claim(LEASE, 10).await.expect("claim");
    let entries: Vec<RelayEntry> = held.iter().map(|h| h.entry.clone()).collect();
    assert_eq!(entries.len(), 2);
    assert!(entries.contains(&first) && entries.contains(&up));
    assert_eq!(held[0].token, held[1].token, "one claim, one token");
}

async fn concurrent_pushes_of_one_id_store_it_once(h: &Harness) {
    let a = h.store().await.relay();
    let b = h.store().await.relay();
    let pushes = (0..8).map(|i| {
        let relay = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            relay
                .push(&reply("om-7", &format!("chat-{}", i % 3), i))
                .await
                .expect("push")
        }
    });
    let added = futures::future::join_all(pushes).await;
    assert_eq!(added.iter().filter(|added| **added).count(), 1, "{added:?}");
    assert_eq!(a.depth().await.expect("depth"), 1);
    assert_eq!(relay_ids(&b.pending().await.expect("pending")), ["om-7"]);
    assert_eq!(hold_one(&a, LEASE).await.entry.id, "om-7");
    assert!(b.claim(LEASE, 10).await.expect("claim").is_empty());
}

async fn relay_is_fifo_per_chain(h: &Harness) {
    let relay = h.store().await.relay();
    let other = h.store().await.relay();
    for (id, chain) in [
        ("a1", "chat-a"),
        ("a2", "chat-a"),
        ("b1", "chat-b"),
        ("a3", "chat-a"),
    ] {
        assert!(relay.push(&reply(id, chain, 1)).await.expect("push"));
    }
    let held = relay.claim(LEASE, 10).await.expect("claim");
    assert_eq!(held_ids(&held), ["a1", "b1"], "only the heads");
    assert!(other.claim(LEASE, 10).await.expect("claim").is_empty());
    assert_eq!(
        relay_ids(&relay.pending().await.expect("pending")),
        ["a1", "a2", "a3", "b1"]
    );
    let a1 = held.iter().find(|h| h.entry.id == "a1").expect("a1");
    assert!(relay.done("a1", a1.token).await.expect("done"));
    let a2 = hold_one(&other, LEASE).await;
    assert_eq!(a2.entry.id, "a2");
    assert!(a2.token > a1.token);
    assert!(relay.claim(LEASE, 10).await.expect("claim").is_empty());
    assert!(other.done("a2", a2.token).await.expect("done"));
    assert_eq!(hold_one(&relay, LEASE).await.entry.id, "a3");
    assert_eq!(relay.depth().await.expect("depth"), 2);
}

async fn a_rescheduled_head_holds_its_chain_back_until_due(h: &Harness) {
    let relay = h.store().await.relay();
    for id in ["a1", "a2", "a3"] {
        assert!(relay.push(&reply(id, "chat-a", 1)).await.expect("push"));
    }
    let a1 = hold_one(&relay, LEASE).await;
    assert!(relay.done("a1", a1.token).await.expect("done"));
    let Held {
        entry: mut a2,
        token,
    } = hold_one(&relay, LEASE).await;
    a2.attempts = 1;
    a2.last_error = Some("Too Many Requests".to_owned());
    let soon = now_ms() + 400;
    assert!(
        relay
            .reschedule(&a2, token, soon)
            .await
            .expect("reschedule")
    );
    assert!(
        relay.claim(LEASE, 10).await.expect("claim").is_empty(),
        "a3 waits behind a2"
    );
    let pending = relay.pending().await.expect("pending");
    assert_eq!(relay_ids(&pending), ["a2", "a3"]);
    assert_eq!(pending[0], a2, "rescheduled with its state");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = hold_one(&relay, LEASE).await;
    assert_eq!(again.entry, a2, "the saved state comes back");
    assert!(again.token > token);
    assert!(relay.done("a2", again.token).await.expect("done"));
    assert_eq!(hold_one(&relay, LEASE).await.entry.id, "a3");
}

/// A claimer frozen past its lease comes back after another claimed the entry: none of
/// its writes lands, and the new holder's do.
async fn relay_writes_under_a_superseded_claim_are_refused(h: &Harness) {
    let relay = h.store().await.relay();
    let other = h.store().await.relay();
    let e = reply("om-1", "chat-1", 1);
    let next = reply("om-2", "chat-1", 2);
    assert!(relay.push(&e).await.expect("push"));
    assert!(relay.push(&next).await.expect("push"));
    let stale = hold_one(&relay, Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let fresh = hold_one(&other, LEASE).await;
    assert_eq!(fresh.entry, e);
    assert!(fresh.token > stale.token);

    let mut stale_copy = stale.entry.clone();
    stale_copy.attempts = 99;
    assert!(!relay.save(&stale_copy, stale.token).await.expect("save"));
    assert!(
        !relay
            .extend(&e.id, stale.token, LEASE)
            .await
            .expect("extend")
    );
    assert!(
        !relay
            .reschedule(&stale_copy, stale.token, now_ms())
            .await
            .expect("reschedule")
    );
    assert!(!relay.done(&e.id, stale.token).await.expect("done"));
    assert_eq!(
        relay.pending().await.expect("pending"),
        vec![e.clone(), next]
    );
    assert!(
        relay.claim(LEASE, 10).await.expect("claim").is_empty(),
        "the fresh lease stands, the chain waits"
    );
    // Nor do writes land on an entry never claimed, or an unknown one.
    assert!(
        !relay
            .save(&reply("om-2", "chat-1", 2), fresh.token)
            .await
            .expect("save")
    );
    assert!(!relay.done("om-2", 0).await.expect("done"));
    assert!(!relay.done("no-such-id", fresh.token).await.expect("done"));

    let mut saved = fresh.entry.clone();
    saved.attempts = 1;
    saved.sent_at_ms = Some(now_ms());
    assert!(other.save(&saved, fresh.token).await.expect("save"));
    assert!(
        other
            .extend(&e.id, fresh.token, LEASE)
            .await
            .expect("extend")
    );
    assert_eq!(relay.pending().await.expect("pending")[0], saved);
    assert!(relay.claim(LEASE, 10).await.expect("claim").is_empty());
    assert!(other.done(&e.id, fresh.token).await.expect("done"));
    assert!(!other.done(&e.id, fresh.token).await.expect("done twice"));
    assert_eq!(hold_one(&relay, LEASE).await.entry.id, "om-2");
}

async fn relay_done_of_the_last_entry_leaves_nothing_pending(h: &Harness) {
    let relay = h.store().await.relay();
    let entries = [
        reply("om-1", "chat-1", 1),
        follow_up("tg-1-1", "case-1"),
        follow_up("tg-1-2", "case-1"),
    ];
    for (i, e) in entries.iter().enumerate() {
        assert!(relay.push(e).await.expect("push"));
        assert_eq!(
            relay.depth().await.expect("depth"),
            i64::try_from(i + 1).expect("small")
        );
    }
    let mut left = 3;
    while left > 0 {
        let held = relay.claim(LEASE, 10).await.expect("claim");
        assert!(!held.is_empty(), "a chain stalled");
        for one in held {
            assert!(relay.done(&one.entry.id, one.token).await.expect("done"));
            left -= 1;
            assert_eq!(relay.depth().await.expect("depth"), left);
        }
    }
    assert!(relay.pending().await.expect("pending").is_empty());
    assert!(relay.claim(LEASE, 10).await.expect("claim").is_empty());
    // A chain emptied starts afresh: its next entry is due at once.
    assert!(
        relay
            .push(&follow_up("tg-1-3", "case-1"))
            .await
            .expect("push")
    );
    assert_eq!(hold_one(&relay, LEASE).await.entry.id, "tg-1-3");
}

async fn relay_dedup_outlives_delivery(h: &Harness) {
    let relay = h.store().await.relay();
    let e = reply("om-9", "chat-9", 9);
    assert!(relay.push(&e).await.expect("push"));
    let held = hold_one(&relay, LEASE).await;
    assert!(relay.done(&e.id, held.token).await.expect("done"));
    assert!(!relay.push(&e).await.expect("push again"));
    let later = h.store().await.relay();
    assert!(!later.push(&e).await.expect("push from another store"));
    assert_eq!(relay.depth().await.expect("depth"), 0);
    assert!(relay.claim(LEASE, 10).await.expect("claim").is_empty());
}

async fn relay_tokens_come_from_the_outbox_counter(h: &Harness) {
    let store = h.store().await;
    let outbox = store.outbox();
    let relay = h.store().await.relay();
    let mut last = 0;
    let mut outbox_tokens = Vec::new();
    for i in 0..3 {
        outbox.enqueue(&entry(i)).await.expect("enqueue");
        let claim = claim_one(&outbox, LEASE).await;
        assert!(claim.token > last);
        outbox_tokens.push(claim.token);
        assert!(
            relay
                .push(&reply(&format!("om-{i}"), &format!("chat-{i}"), 1))
                .await
                .expect("push")
        );
        let held = hold_one(&relay, LEASE).await;
        assert!(held.token > claim.token);
        last = held.token;
    }
    // An outbox claim's token does not hold a relay entry.
    for token in outbox_tokens {
        assert!(!relay.done("om-0", token).await.expect("done"));
    }
    assert_eq!(relay.depth().await.expect("depth"), 3);
}

async fn a_relay_claim_returns_at_most_max(h: &Harness) {
    let relay = h.store().await.relay();
    for i in 0..5 {
        assert!(
            relay
                .push(&reply(&format!("om-{i}"), &format!("chat-{i}"), i))
                .await
                .expect("push")
        );
    }
    assert!(relay.claim(LEASE, 0).await.expect("claim").is_empty());
    let mut seen = BTreeSet::new();
    for expected in [2, 2, 1, 0] {
        let held = relay.claim(LEASE, 2).await.expect("claim");
        assert_eq!(held.len(), expected);
        for id in held_ids(&held) {
            assert!(seen.insert(id), "claimed twice");
        }
    }
    assert_eq!(seen.len(), 5);
}

/// Workers of two stores drain several chains at once: every entry is delivered once, and
/// each chain's entries in the order they were pushed.
async fn concurrent_relay_workers_keep_each_chain_in_order(h: &Harness) {
    const CHAINS: usize = 3;
    const PER_CHAIN: usize = 8;
    let a = h.store().await.relay();
    let b = h.store().await.relay();
    for n in 0..PER_CHAIN {
        for c in 0..CHAINS {
            let e = follow_up(&format!("tg-{c}-{n}"), &format!("case-{c}"));
            assert!(a.push(&e).await.expect("push"));
        }
    }
    let delivered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<RelayEntry>::new()));
    let mut tasks = Vec::new();
    for relay in [a.clone(), a.clone(), b.clone(), b] {
        let delivered = delivered.clone();
        tasks.push(tokio::spawn(async move {
            let mut idle = 0;
            while idle < 20 {
                let held = relay.claim(LEASE, 2).await.expect("claim");
                if held.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                for one in held {
                    // Recorded before `done`: the next of its chain is not claimable yet.
                    delivered.lock().expect("lock").push(one.entry.clone());
                    assert!(relay.done(&one.entry.id, one.token).await.expect("done"));
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let delivered = delivered.lock().expect("lock").clone();
    assert_eq!(delivered.len(), CHAINS * PER_CHAIN, "each entry once");
    for c in 0..CHAINS {
        let chain = format!("case-{c}");
        let order: Vec<String> = delivered
            .iter()
            .filter(|e| e.chain == chain)
            .map(|e| e.id.clone())
            .collect();
        let pushed: Vec<String> = (0..PER_CHAIN).map(|n| format!("tg-{c}-{n}")).collect();
        assert_eq!(order, pushed, "chain {chain} out of order");
    }
    assert_eq!(a.depth().await.expect("depth"), 0);
}

// ---- file store only ----

mod file_only {
    use super::*;

    /// A commit that fails half-way (here: a user id out of range, after the session
    /// row is written) leaves nothing behind.
    #[tokio::test]
    async fn a_failed_commit_writes_nothing() {
        let h = Harness::file();
        let store = h.store().await;
        let e = entry(1);
        let err = store
            .commit(1, 0, &session(1), Some((u64::MAX, &profile())), Some(&e))
            .await;
        assert!(err.is_err());
        assert!(matches!(
            store.load_session(1).await.expect("load"),
            LoadedSession::None
        ));
        assert_eq!(store.outbox().depth().await.expect("depth"), (0, 0));
    }

    /// What a process committed is in the file after it is killed (no clean close, the
    /// write-ahead log not checkpointed) and the file is opened again.
    #[tokio::test]
    async fn committed_data_survives_a_killed_process() {
        let h = Harness::file();
        let Harness::File { path, .. } = &h else {
            unreachable!()
        };
        let exe = std::env::current_exe().expect("the test binary");
        let name = format!(
            "{}::crash_child",
            module_path!().split_once("::").map_or("", |(_, rest)| rest)
        );
        let status = std::process::Command::new(exe)
            .args(["--exact", &name, "--test-threads=1", "--nocapture"])
            .env(CRASH_FILE, path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the child runs");
        assert!(!status.success(), "the child aborts: {status:?}");
        let store = h.store().await;
        let loaded = found(store.load_session(77).await.expect("load"));
        assert_eq!(loaded.last_update_id, Some(77));
        assert_eq!(store.load_profile(770).await.expect("load"), profile());
        let pending = store.outbox().pending().await.expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(
            pending[0].0.outgoing.sender.full_name, "User 77",
            "the entry came back whole"
        );
        assert!(store.is_blocked(77).await.expect("read"));
    }

    const CRASH_FILE: &str = "WAVIOT_STORAGE_CRASH_FILE";

    /// The child of [`committed_data_survives_a_killed_process`]: commits, then aborts.
    /// Does nothing in a normal test run.
    #[tokio::test]
    async fn crash_child() {
        let Some(path) = std::env::var_os(CRASH_FILE) else {
            return;
        };
        let store = Store::open_file(std::path::Path::new(&path), TTL)
            .await
            .expect("open");
        store
            .commit(
                77,
                0,
                &session(77),
                Some((770, &profile())),
                Some(&entry(77)),
            )
            .await
            .expect("commit");
        store.set_blocked(77).await.expect("block");
        std::process::abort();
    }

    /// A file written by the first schema (no claim tokens, no session revisions) opens,
    /// keeps its data and works under the current rules.
    #[tokio::test]
    async fn a_schema_1_file_is_migrated() {
        let h = Harness::file();
        let Harness::File { path, .. } = &h else {
            unreachable!()
        };
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
        let e = entry(1);
        {
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute_batch(
                "CREATE TABLE sessions (chat_id INTEGER PRIMARY KEY, data TEXT NOT NULL, expires_ms INTEGER NOT NULL);
                 CREATE TABLE profiles (user_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
                 CREATE TABLE blocked (chat_id INTEGER PRIMARY KEY);
                 CREATE TABLE outbox (id TEXT PRIMARY KEY, entry TEXT NOT NULL, due_ms INTEGER NOT NULL);
                 CREATE INDEX outbox_due ON outbox (due_ms);
                 CREATE TABLE parked (id TEXT PRIMARY KEY, parked TEXT NOT NULL);
                 CREATE TABLE delivered (id TEXT PRIMARY KEY, case_number TEXT NOT NULL, expires_ms INTEGER NOT NULL);
                 PRAGMA user_version = 1;",
            )
            .expect("schema 1");
            conn.execute(
                "INSERT INTO sessions VALUES (8, ?1, ?2)",
                rusqlite::params![
                    serde_json::to_string(&session(8)).expect("json"),
                    now_ms() + 60_000
                ],
            )
            .expect("session");
            conn.execute(
                "INSERT INTO outbox VALUES (?1, ?2, 0)",
                rusqlite::params![e.id(), serde_json::to_string(&e).expect("json")],
            )
            .expect("entry");
        }
        let store = h.store().await;
        let read = store.load_chat(8, 80).await.expect("load");
        assert_eq!(read.revision, 0);
        assert_eq!(found(read.session).last_update_id, Some(8));
        assert!(
            store
                .commit(8, 0, &session(9), None, None)
                .await
                .expect("commit")
        );
        let outbox = store.outbox();
        let claim = claim_one(&outbox, LEASE).await;
        assert_eq!(claim.entry, e);
        assert!(
            outbox
                .complete(e.id(), claim.token, "1")
                .await
                .expect("complete")
        );
        assert_eq!(schema_version(path), 3);
        uses_the_schema_3_tables(&store).await;
    }

    /// The schema version of the file at `path`.
    fn schema_version(path: &std::path::Path) -> i64 {
        rusqlite::Connection::open(path)
            .expect("open")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("user_version")
    }

    /// Writes and reads a case record and a relay entry.
    async fn uses_the_schema_3_tables(store: &Store) {
        let record = case_record(77, 7, now_ms());
        store.save_case(&record).await.expect("save");
        assert_eq!(store.cases_of(7).await.expect("read"), vec![record]);
        let relay = store.relay();
        let e = reply("om-1", "chat-7", 1);
        assert!(relay.push(&e).await.expect("push"));
        assert!(!relay.push(&e).await.expect("push again"));
        let held = hold_one(&relay, LEASE).await;
        assert!(relay.done(&e.id, held.token).await.expect("done"));
    }

    /// A file written by schema 2 (no case records, no relay) opens as schema 3, keeps
    /// its data, and its claim tokens keep growing.
    #[tokio::test]
    async fn a_schema_2_file_opens_as_3() {
        let h = Harness::file();
        let Harness::File { path, .. } = &h else {
            unreachable!()
        };
        std::fs::create_dir_all(path.parent().expect("folder")).expect("folder");
        let e = entry(1);
        {
            let conn = rusqlite::Connection::open(path).expect("open");
            conn.execute_batch(
                "CREATE TABLE sessions (chat_id INTEGER PRIMARY KEY, data TEXT NOT NULL, expires_ms INTEGER NOT NULL, rev INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE profiles (user_id INTEGER PRIMARY KEY, data TEXT NOT NULL, expires_ms INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE blocked (chat_id INTEGER PRIMARY KEY, expires_ms INTEGER NOT NULL DEFAULT 0);
                 CREATE TABLE sent (user_id INTEGER NOT NULL, at_ms INTEGER NOT NULL);
                 CREATE INDEX sent_user ON sent (user_id, at_ms);
                 CREATE TABLE mine (request_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, data TEXT NOT NULL, at_ms INTEGER NOT NULL);
                 CREATE INDEX mine_user ON mine (user_id, at_ms);
                 CREATE TABLE outbox (id TEXT PRIMARY KEY, entry TEXT NOT NULL, due_ms INTEGER NOT NULL, token INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX outbox_due ON outbox (due_ms);
                 CREATE TABLE parked (id TEXT PRIMARY KEY, parked TEXT NOT NULL);
                 CREATE TABLE delivered (id TEXT PRIMARY KEY, case_number TEXT NOT NULL, expires_ms INTEGER NOT NULL);
                 CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 INSERT INTO counters VALUES ('token', 41);
                 PRAGMA user_version = 2;",
            )
            .expect("schema 2");
            conn.execute(
                "INSERT INTO outbox VALUES (?1, ?2, 0, 0)",
                rusqlite::params![e.id(), serde_json::to_string(&e).expect("json")],
            )
            .expect("entry");
        }
        let store = h.store().await;
        assert_eq!(schema_version(path), 3);
        let outbox = store.outbox();
        let claim = claim_one(&outbox, LEASE).await;
        assert_eq!(claim.entry, e);
        assert_eq!(claim.token, 42);
        uses_the_schema_3_tables(&store).await;
        // Opening again changes nothing.
        drop(store);
        let again = h.store().await;
        assert_eq!(schema_version(path), 3);
        assert_eq!(again.outbox().depth().await.expect("depth"), (1, 0));
        assert_eq!(
            again.case(77).await.expect("read").map(|r| r.user_id),
            Some(7)
        );
    }

    /// Opening a file written by a newer schema is refused rather than misread.
    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let h = Harness::file();
        drop(h.store().await);
        let Harness::File { path, .. } = &h else {
            unreachable!()
        };
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
        drop(conn);
        let err = Store::open_file(path, TTL).await.expect_err("refused");
        assert!(err.to_string().contains("newer version"), "{err:#}");
    }
}

// ---- the chat-state cache ----

/// Steps `read` to `session(update)` (with `profile` written when given) and commits it.
async fn commit_step(
    store: &Store,
    chat: i64,
    user: u64,
    read: &ChatState,
    update: i64,
    profile: Option<Profile>,
) -> Committed {
    store
        .commit_update(
            chat,
            user,
            read,
            Change {
                session: session(update),
                profile_changed: profile.is_some(),
                profile: profile.unwrap_or_else(|| read.profile.clone()),
                outgoing: None,
            },
        )
        .await
        .expect("commit")
}

fn written(committed: &Committed) -> bool {
    matches!(committed, Committed::Written { .. })
}

/// The first update of a new chat and every later one cost one call each: the commit.
async fn a_cached_chat_costs_one_call_per_update(h: &Harness) {
    let store = h.cached_store(100).await;
    let before = store.backend_calls();
    let read = store.chat_for_update(1, 10, true).await.expect("read");
    assert!(read.is_presumed(), "nothing cached: a new chat presumed");
    assert!(written(
        &commit_step(&store, 1, 10, &read, 1, Some(profile())).await
    ));
    for update in 2..=4 {
        let read = store.chat_for_update(1, 10, true).await.expect("read");
        assert!(!read.is_presumed());
        assert_eq!(read.revision, u64::try_from(update - 1).expect("small"));
        assert_eq!(read.profile, profile(), "the cached profile");
        assert_eq!(last_update(&read), Some(update - 1));
        assert!(written(
            &commit_step(&store, 1, 10, &read, update, None).await
        ));
    }
    assert_eq!(store.backend_calls() - before, 4, "one call per update");
    let stored = h.store().await.load_chat(1, 10).await.expect("load");
    assert_eq!(stored.revision, 4);
    assert_eq!(found(stored.session).last_update_id, Some(4));
    assert_eq!(stored.profile, profile());
}

/// Two processes on one chat: one steps on its cached state after the other committed;
/// its commit is refused, writes nothing, and answers the other's state.
async fn a_commit_on_a_stale_cached_revision_is_refused_and_answers_the_fresh_state(h: &Harness) {
    let a = h.cached_store(100).await;
    let b = h.cached_store(100).await;
    let read = a.chat_for_update(4, 40, true).await.expect("read");
    assert!(written(&commit_step(&a, 4, 40, &read, 1, None).await));
    // The other process commits the chat (through its own cache: a miss, then a refusal
    // answering the state, then a write).
    let read_b = b.chat_for_update(4, 40, true).await.expect("read");
    let Committed::Stale(fresh_b) = commit_step(&b, 4, 40, &read_b, 9, None).await else {
        panic!("the chat is not new")
    };
    assert_eq!(fresh_b.revision, 1);
    assert!(written(
        &commit_step(&b, 4, 40, &fresh_b, 2, Some(profile())).await
    ));
    // The first process's cached revision is stale now.
    let stale = a.chat_for_update(4, 40, true).await.expect("read");
    assert_eq!(stale.revision, 1, "from the cache");
    let Committed::Stale(fresh) = commit_step(&a, 4, 40, &stale, 3, None).await else {
        panic!("a stale revision is refused")
    };
    assert_eq!(fresh.revision, 2);
    assert_eq!(fresh.profile, profile(), "the other process's profile");
    assert_eq!(last_update(&fresh), Some(2));
    let stored = h.store().await.load_chat(4, 40).await.expect("load");
    assert_eq!(
        found(stored.session).last_update_id,
        Some(2),
        "nothing written"
    );
    // Stepped again on the answered state, the commit goes through and is cached.
    assert!(written(&commit_step(&a, 4, 40, &fresh, 3, None).await));
    let next = a.chat_for_update(4, 40, true).await.expect("read");
    assert_eq!(next.revision, 3);
    assert_eq!(next.profile, profile());
    assert_eq!(found(next.session).last_update_id, Some(3));
}

/// A process with nothing cached presumes a new chat; the commit refuses the guess when
/// the chat has a session (even an undecodable one) or the user a profile.
async fn a_presumed_new_chat_is_checked_by_the_commit(h: &Harness) {
    let plain = h.store().await;
    let store = h.cached_store(100).await;
    // A profile but no session (the draft expired, say).
    let p = profile();
    assert!(
        plain
            .commit(5, 0, &session(1), Some((50, &p)), None)
            .await
            .expect("commit")
    );
    plain
        .write_raw_session(6, "{not json")
        .await
        .expect("write");
    let read = store.chat_for_update(5, 50, true).await.expect("read");
    assert!(read.is_presumed());
    let Committed::Stale(fresh) = commit_step(&store, 5, 50, &read, 2, None).await else {
        panic!("the chat is not new")
    };
    assert_eq!(fresh.profile, p);
    let read = store.chat_for_update(6, 60, true).await.expect("read");
    let Committed::Stale(fresh) = commit_step(&store, 6, 60, &read, 2, None).await else {
        panic!("the chat has a session")
    };
    assert!(matches!(fresh.session, LoadedSession::Undecodable));
    // Without `presume`, or with the cache off, the store is read.
    assert!(
        !store
            .chat_for_update(7, 70, false)
            .await
            .expect("read")
            .is_presumed()
    );
    assert!(
        !plain
            .chat_for_update(7, 70, true)
            .await
            .expect("read")
            .is_presumed()
    );
}

/// Forgetting a user drops their cached state here, and moves the revision on so that
/// another process's cached state is refused too.
async fn forget_drops_the_cached_profile_in_every_process(h: &Harness) {
    let a = h.cached_store(100).await;
    let b = h.cached_store(100).await;
    for (chat, user) in [(8, 80), (9, 90)] {
        for store in [&a, &b] {
            let read = store
                .chat_for_update(chat, user, false)
                .await
                .expect("read");
            assert!(written(
                &commit_step(store, chat, user, &read, read_next(&read), Some(profile())).await
            ));
        }
    }
    // `b`'s entries are current, `a`'s stale; `a` forgets user 80.
    a.forget(80, 8).await.expect("forget");
    let read = a.chat_for_update(8, 80, false).await.expect("read");
    assert_eq!(read.profile, Profile::default(), "read from the store");
    let cached_elsewhere = b.chat_for_update(8, 80, false).await.expect("read");
    assert_eq!(cached_elsewhere.profile, profile(), "b's copy");
    let Committed::Stale(fresh) = commit_step(&b, 8, 80, &cached_elsewhere, 10, None).await else {
        panic!("forgetting moved the revision on")
    };
    assert_eq!(fresh.profile, Profile::default());
    // The other user is untouched.
    let other = b.chat_for_update(9, 90, false).await.expect("read");
    assert!(written(&commit_step(&b, 9, 90, &other, 10, None).await));
}

/// The last update applied to a read's session.
fn last_update(read: &ChatState) -> Option<i64> {
    match &read.session {
        LoadedSession::Found(s) => s.last_update_id,
        _ => None,
    }
}

/// The next update id after a read's session.
fn read_next(read: &ChatState) -> i64 {
    match &read.session {
        LoadedSession::Found(s) => s.last_update_id.unwrap_or(0) + 1,
        _ => 1,
    }
}

/// The blocked mark, set and cleared outside the commit, is read by it.
async fn the_commit_reads_the_blocked_mark(h: &Harness) {
    let store = h.cached_store(100).await;
    let read = store.chat_for_update(3, 30, true).await.expect("read");
    assert!(matches!(
        commit_step(&store, 3, 30, &read, 1, None).await,
        Committed::Written { blocked: false }
    ));
    store.set_blocked(3).await.expect("set");
    let read = store.chat_for_update(3, 30, true).await.expect("read");
    assert!(matches!(
        commit_step(&store, 3, 30, &read, 2, None).await,
        Committed::Written { blocked: true }
    ));
    store.clear_blocked(3).await.expect("clear");
    let read = store.chat_for_update(3, 30, true).await.expect("read");
    assert!(matches!(
        commit_step(&store, 3, 30, &read, 3, None).await,
        Committed::Written { blocked: false }
    ));
}

/// A cached session older than the draft TTL reads as none, as the stored one does.
async fn a_cached_session_past_the_draft_ttl_reads_as_none(h: &Harness) {
    let store = h
        .store_with_ttl(Duration::from_millis(400))
        .await
        .with_chat_cache(100);
    let read = store.chat_for_update(2, 20, true).await.expect("read");
    assert!(written(&commit_step(&store, 2, 20, &read, 1, None).await));
    tokio::time::sleep(Duration::from_millis(900)).await;
    let read = store.chat_for_update(2, 20, true).await.expect("read");
    assert!(matches!(read.session, LoadedSession::None));
    assert!(written(&commit_step(&store, 2, 20, &read, 2, None).await));
    let stored = h.store().await.load_chat(2, 20).await.expect("load");
    assert_eq!(found(stored.session).last_update_id, Some(2));
}

async fn the_cache_never_grows_past_its_bound(h: &Harness) {
    let store = h.cached_store(3).await;
    for chat in 0..10 {
        let user = u64::try_from(chat).expect("small");
        let read = store.chat_for_update(chat, user, true).await.expect("read");
        assert!(written(
            &commit_step(&store, chat, user, &read, 1, None).await
        ));
        assert!(store.cached_chats() <= 3, "{} cached", store.cached_chats());
    }
    assert_eq!(store.cached_chats(), 3);
    // The least recently used went first.
    let last = store.chat_for_update(9, 9, true).await.expect("read");
    assert!(!last.is_presumed(), "cached");
    let first = store.chat_for_update(0, 0, true).await.expect("read");
    assert!(first.is_presumed(), "evicted");
}
