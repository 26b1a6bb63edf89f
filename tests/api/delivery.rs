//! Delivery when Omnidesk fails: retries, rate limits, lost answers, slowness, refusals.

use std::time::{Duration, Instant};

use waviot_support_bot::storage::Store;

use crate::fake_omnidesk::Behaviour;
use crate::fake_telegram::TestUser;
use crate::helpers::{TestApp, WAIT, redis_url, spawn_app, spawn_app_configured};

/// Fills the shortest kind and presses Send.
async fn send_request(app: &TestApp, user: &TestUser) {
    let summary = app.fill_custom_development(user).await;
    app.taps(user, &summary, &app.tx("ru", "btn-send"));
    app.expect(user, &app.tx("ru", "sending")).await;
}

async fn outbox_of(app: &TestApp) -> waviot_support_bot::outbox::Outbox {
    Store::connect(&redis_url(), &app.prefix, Duration::from_secs(60))
        .await
        .expect("redis")
        .outbox()
}

#[tokio::test]
async fn omnidesk_down_three_times_then_one_case_and_the_number_follows() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.od.push_behaviour(Behaviour::ServiceUnavailable);
    }
    let user = TestUser::ru(700_001);
    send_request(&app, &user).await;
    app.expect(&user, &app.tx("ru", "registered-saved")).await;
    app.expect(&user, "664-245651").await;
    assert_eq!(app.od.cases().len(), 1);
    assert!(
        outbox_of(&app)
            .await
            .pending()
            .await
            .expect("outbox")
            .is_empty()
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let app = spawn_app().await;
    app.od.push_behaviour(Behaviour::TooManyRequests {
        retry_after: Some(1),
    });
    let user = TestUser::ru(700_002);
    let started = Instant::now();
    send_request(&app, &user).await;
    app.expect(&user, "664-245651").await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited retry_after"
    );
    assert_eq!(app.od.cases().len(), 1);
}

#[tokio::test]
async fn a_case_created_before_the_connection_dropped_is_adopted_not_duplicated() {
    // Looked up again 2 s after the create went out (twice the create timeout).
    let app = spawn_app_configured(|s| s.bot.omnidesk_create_timeout_secs = 1).await;
    app.od.push_behaviour(Behaviour::CreateThenDropConnection);
    let user = TestUser::ru(700_003);
    send_request(&app, &user).await;
    app.expect(&user, "664-245651").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cases = app.od.cases();
    assert_eq!(cases.len(), 1, "no second case after a lost answer");
    assert!(cases[0].response_dropped);
}

#[tokio::test]
async fn a_slow_omnidesk_gets_saved_now_and_the_number_later() {
    let app = spawn_app().await;
    app.od
        .push_behaviour(Behaviour::Delay(Duration::from_secs(7)));
    let user = TestUser::ru(700_004);
    send_request(&app, &user).await;
    app.expect(&user, &app.tx("ru", "registered-saved")).await;
    let done = app
        .tg
        .wait_for_message(
            user.chat_id(),
            |m| m.text.contains("664-245651"),
            Duration::from_secs(15),
        )
        .await;
    assert!(done.is_some(), "the number follows");
    assert_eq!(app.od.cases().len(), 1);
}

#[tokio::test]
async fn a_refused_request_is_parked_whole_and_replayed_by_retry() {
    let app = spawn_app().await;
    app.od.push_behaviour(Behaviour::Reject400 {
        message: "group_id is invalid".to_owned(),
    });
    let user = TestUser::ru(700_005);
    send_request(&app, &user).await;
    app.expect(&user, &app.tx("ru", "delivery-rejected")).await;
    let outbox = outbox_of(&app).await;
    let parked = outbox.parked().await.expect("parked");
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].error.contains("group_id is invalid"),
        "{}",
        parked[0].error
    );
    assert!(
        parked[0]
            .entry
            .outgoing
            .request
            .answer("description")
            .is_some(),
        "every byte kept"
    );
    assert!(app.od.cases().is_empty());

    assert!(outbox.retry(parked[0].entry.id()).await.expect("retry"));
    app.expect(&user, "664-245651").await;
    assert_eq!(app.od.cases().len(), 1);
    assert!(outbox.parked().await.expect("parked").is_empty());
}

#[tokio::test]
async fn a_user_who_blocked_the_bot_still_gets_a_case() {
    let app = spawn_app().await;
    let user = TestUser::ru(700_006);
    app.od
        .push_behaviour(Behaviour::Delay(Duration::from_millis(1500)));
    send_request(&app, &user).await;
    app.tg.set_blocked(user.chat_id(), true);
    assert!(app.od.wait_for_cases(1, WAIT).await.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        outbox_of(&app)
            .await
            .pending()
            .await
            .expect("outbox")
            .is_empty(),
        "not retried forever"
    );
}
