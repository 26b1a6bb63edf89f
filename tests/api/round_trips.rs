//! What a dialogue update costs the store: one round trip (its commit), read included.

use crate::fake_telegram::TestUser;
use crate::helpers::{TestApp, spawn_app, spawn_app_on_file};

/// Updates `fill_custom_development` sends: /start, the kind, the description, two
/// skips, e-mail, organization, login and a last skip.
const UPDATES_TO_REVIEW: u64 = 9;

/// Walks a new user to the summary and returns the store calls the bot made meanwhile.
async fn calls_to_review(app: &TestApp, user: &TestUser) -> u64 {
    let before = app.store.backend_calls();
    app.fill_custom_development(user).await;
    app.store.backend_calls() - before
}

#[tokio::test]
async fn each_dialogue_update_costs_one_redis_round_trip() {
    // Arrange
    let app = spawn_app().await;
    let user = TestUser::ru(930_001);

    // Act
    let calls = calls_to_review(&app, &user).await;

    // Assert: the first update presumes a new chat, the others step on the cached state;
    // each commits once and reads nothing.
    assert_eq!(calls, UPDATES_TO_REVIEW, "one round trip per update");
}

#[tokio::test]
async fn each_dialogue_update_costs_one_transaction_on_the_file_store() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let app = spawn_app_on_file(&dir.path().join("bot.db")).await;
    let user = TestUser::ru(930_002);

    let calls = calls_to_review(&app, &user).await;

    assert_eq!(calls, UPDATES_TO_REVIEW, "one transaction per update");
}

#[tokio::test]
async fn after_a_restart_the_first_update_reads_and_the_next_ones_do_not() {
    // Arrange: a draft in progress, then a new process with an empty cache.
    let app = spawn_app().await;
    let user = TestUser::ru(930_003);
    app.fill_custom_development(&user).await;
    let app = app.restart().await;

    // Act: /cancel (a refused guess, answering the draft, then the commit), then /start.
    let before = app.store.backend_calls();
    app.says(&user, "/cancel");
    app.expect(&user, &app.tx("ru", "cancelled")).await;
    let first = app.store.backend_calls() - before;
    app.says(&user, "/start");
    app.expect(&user, &app.tx("ru", "menu-title")).await;
    let second = app.store.backend_calls() - before - first;

    // Assert
    assert_eq!(
        first, 2,
        "the presumed new chat is refused, answering the draft"
    );
    assert_eq!(second, 1, "cached from then on");
}

#[tokio::test]
async fn with_the_cache_off_each_update_reads_then_commits() {
    let app = crate::helpers::spawn_app_configured(|s| s.bot.session_cache_chats = 0).await;
    let user = TestUser::ru(930_004);

    let calls = calls_to_review(&app, &user).await;

    assert_eq!(
        calls,
        2 * UPDATES_TO_REVIEW,
        "a read and a commit per update"
    );
}
