//! What is kept about people, and for how long: submission limits, `/forget`, profile
//! expiry; and answers that start with `/`.

use std::time::Duration;

use intake_core::msg::Msg;
use waviot_support_bot::storage::{Retention, Store};

use crate::fake_telegram::TestUser;
use crate::helpers::{WAIT, redis_url, spawn_app, spawn_app_configured, step};

#[tokio::test]
async fn over_the_hourly_limit_send_keeps_the_draft_and_says_when() {
    let app = spawn_app_configured(|s| {
        s.bot.submissions_per_hour = 2;
        s.bot.submissions_per_day = 30;
    })
    .await;
    let user = TestUser::ru(920_001);
    let summary = app.fill_custom_development(&user).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, "664-245651").await;
    // The identification is remembered now: four steps.
    let again = async || {
        app.says(&user, "/new");
        app.choose_kind(&user, "ru", None, "custom-development")
            .await;
        app.expect(&user, &step(&app, 1, 4)).await;
        app.says(&user, "Ещё одна форма отчёта, для отопления");
        for n in 2..=4 {
            app.expect(&user, &step(&app, n, 4)).await;
            app.skip(&user, "ru").await;
        }
        let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
        app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    };
    again().await;
    app.expect(&user, "664-245652").await;
    again().await;
    let refused = app
        .expect(
            &user,
            &app.t("ru", &Msg::new("send-limit").arg("minutes", 60)),
        )
        .await;
    assert!(!refused.text.contains("8-800"), "not a critical kind");
    assert_eq!(app.od.cases().len(), 2, "the third was not sent");
    // The draft is kept: its summary's Send still works once the limit allows it (here:
    // it is still at the review, so Back/Edit remain).
    let store = Store::connect(&redis_url(), &app.prefix, Duration::from_secs(60))
        .await
        .expect("redis");
    let read = store
        .load_chat(user.chat_id(), user.id as u64)
        .await
        .expect("load");
    let waviot_support_bot::storage::LoadedSession::Found(stored) = read.session else {
        panic!("the draft is stored")
    };
    assert!(
        matches!(
            stored.session,
            intake_core::dialogue::Session::Drafting(ref d)
                if d.phase == intake_core::dialogue::Phase::Review
        ),
        "{:?}",
        stored.session
    );
    assert_eq!(read.sent.len(), 2);
}

#[tokio::test]
async fn forget_deletes_the_profile_and_the_draft_after_a_confirmation() {
    let app = spawn_app().await;
    let user = TestUser::ru(920_002);
    let summary = app.fill_custom_development(&user).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, "664-").await;
    // A new draft in progress, identification remembered.
    app.says(&user, "/new");
    app.choose_kind(&user, "ru", None, "custom-development")
        .await;
    app.expect(&user, &step(&app, 1, 4)).await;
    app.says(&user, "/forget");
    let ask = app.expect(&user, &app.tx("ru", "forget-confirm")).await;
    app.taps(&user, &ask, &app.tx("ru", "btn-forget-no"));
    app.expect(&user, &app.tx("ru", "forget-kept")).await;
    let store = Store::connect(&redis_url(), &app.prefix, Duration::from_secs(60))
        .await
        .expect("redis");
    assert!(
        store
            .load_profile(user.id as u64)
            .await
            .expect("profile")
            .saved
            .contains_key("email"),
        "kept after No"
    );
    app.says(&user, "/forget");
    let ask = app.expect(&user, &app.tx("ru", "forget-confirm")).await;
    app.taps(&user, &ask, &app.tx("ru", "btn-forget-yes"));
    app.expect(&user, &app.tx("ru", "forgotten")).await;
    let profile = store.load_profile(user.id as u64).await.expect("profile");
    assert!(
        profile.saved.is_empty(),
        "identification deleted: {profile:?}"
    );
    let read = store
        .load_chat(user.chat_id(), user.id as u64)
        .await
        .expect("load");
    let waviot_support_bot::storage::LoadedSession::Found(stored) = read.session else {
        panic!("a session record")
    };
    assert_eq!(
        stored.session,
        intake_core::dialogue::Session::Idle,
        "the draft is gone"
    );
    // The sent request is untouched, and identification is asked again.
    assert_eq!(app.od.cases().len(), 1);
    let _ = app.fill_custom_development(&user).await;
}

#[tokio::test]
async fn a_profile_unused_for_the_retention_reads_as_new_and_use_renews_it() {
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let retention = Retention {
        draft: Duration::from_secs(60),
        profile: Duration::from_millis(600),
    };
    let store = Store::connect_with(&redis_url(), &prefix, retention)
        .await
        .expect("redis");
    let profile = intake_core::dialogue::Profile {
        lang: Some("en".to_owned()),
        ..Default::default()
    };
    let session = intake_core::dialogue::StoredSession::fresh();
    assert!(
        store
            .commit(1, 0, &session, Some((11, &profile)), None)
            .await
            .expect("commit")
    );
    store.set_blocked(1).await.expect("blocked");
    // Used (read for an update) before it expires: renewed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.load_chat(1, 11).await.expect("load").profile, profile);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.load_chat(1, 11).await.expect("load").profile, profile);
    // Unused for the whole retention: gone, and the blocked mark too.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let read = store.load_chat(1, 11).await.expect("load");
    assert_eq!(read.profile, intake_core::dialogue::Profile::default());
    assert!(!read.blocked);
    let _ = WAIT;
}

#[tokio::test]
async fn an_answer_starting_with_a_slash_is_an_answer() {
    let app = spawn_app().await;
    let user = TestUser::ru(920_003);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", None, "custom-development")
        .await;
    app.says(
        &user,
        "/api/v1/meters returns 500 for every meter since Monday",
    );
    app.expect(&user, &step(&app, 2, 7)).await;
    app.skip(&user, "ru").await;
    app.expect(&user, &step(&app, 3, 7)).await;
    app.skip(&user, "ru").await;
    for (n, answer) in [(4, "a@b.ru"), (5, "ООО Тест"), (6, "test")] {
        app.expect(&user, &step(&app, n, 7)).await;
        app.says(&user, answer);
    }
    app.expect(&user, &step(&app, 7, 7)).await;
    app.skip(&user, "ru").await;
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    assert!(
        summary.text.contains("/api/v1/meters returns 500"),
        "{}",
        summary.text
    );
}

#[tokio::test]
async fn status_lists_the_numbers_with_their_desk_state_and_a_request_waiting_for_its_number() {
    let app = spawn_app().await;
    let user = TestUser::ru(920_010);
    // From the main menu's button.
    app.says(&user, "/start");
    let menu = app.expect(&user, &app.tx("ru", "menu-title")).await;
    app.taps(&user, &menu, &app.tx("ru", "btn-my-requests"));
    app.expect(&user, &app.tx("ru", "status-none")).await;
    let summary = app.fill_custom_development(&user).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, "664-245651").await;
    // A second request whose create Omnidesk holds.
    app.od.hold();
    app.says(&user, "/new");
    app.choose_kind(&user, "ru", None, "custom-development")
        .await;
    app.expect(&user, &step(&app, 1, 4)).await;
    app.says(&user, "Вторая форма отчёта, для газа");
    for n in 2..=4 {
        app.expect(&user, &step(&app, n, 4)).await;
        app.skip(&user, "ru").await;
    }
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, &app.tx("ru", "sending")).await;
    assert!(app.od.wait_for_requests(2, WAIT).await);
    app.says(&user, "/status");
    let listed = app.expect(&user, &app.tx("ru", "status-title")).await;
    let kind = app.tx("ru", "kind-custom-development");
    assert!(
        listed.text.contains("№ 664-245651")
            && listed.text.contains(&kind)
            && listed.text.contains(&app.tx("ru", "status-open")),
        "{}",
        listed.text
    );
    assert!(
        listed.text.contains("ожидает номера"),
        "the held one is waiting: {}",
        listed.text
    );
    let lines: Vec<&str> = listed.text.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("ожидает номера"),
        "newest first: {lines:?}"
    );
    app.od.release();
    app.expect(&user, "664-245652").await;
}
