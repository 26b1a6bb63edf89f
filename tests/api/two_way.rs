//! The conversation after the case number: agents' replies posted by Omnidesk to the
//! bot's webhook reach the user once and in order; the user's follow-ups land in the case
//! once; status changes told from a rule webhook.

use serde_json::json;
use waviot_support_bot::storage::Store;

use crate::fake_omnidesk::{Behaviour, FakeOmnidesk, WebhookEncoding};
use crate::fake_telegram::{Failure, SentMessage, TestUser};
use crate::helpers::{HOOK_SECRET, TestApp, WAIT, redis_url, spawn_app};

const CASE_ID: u64 = 2000;
const NUMBER: &str = "664-245651";

/// Sends the shortest request and waits for its case number.
async fn case_for(app: &TestApp, user: &TestUser) {
    let summary = app.fill_custom_development(user).await;
    app.taps(user, &summary, &app.tx("ru", "btn-send"));
    app.expect(user, NUMBER).await;
    app.drain_outbox().await;
}

fn hook_url(app: &TestApp, tail: &str) -> String {
    let addr = app.webhook_addr.expect("the Omnidesk webhook is served");
    format!("http://{addr}/omnidesk/{HOOK_SECRET}{tail}")
}

/// An agent's reply `message_id` to the test case, with `text`.
fn reply(message_id: u64, text: &str, user: &TestUser) -> serde_json::Value {
    json!({
        "message_id": message_id,
        "case_id": CASE_ID,
        "staff_id": 7235,
        "user_id": 201,
        "custom_user_id": user.id.to_string(),
        "content": text,
        "note": 0,
        "sent_via_rule": 0,
    })
}

fn relayed(app: &TestApp, user: &TestUser, needle: &str) -> Vec<SentMessage> {
    app.tg
        .messages_to(user.chat_id())
        .into_iter()
        .filter(|m| m.text.contains(needle))
        .collect()
}

async fn relay_depth(app: &TestApp) -> i64 {
    Store::connect(
        &redis_url(),
        &app.prefix,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("redis")
    .relay()
    .depth()
    .await
    .expect("relay depth")
}

#[tokio::test]
async fn an_agent_reply_sent_twice_reaches_the_user_once_and_replies_keep_their_order() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_001);
    case_for(&app, &user).await;
    let url = hook_url(&app, "");
    let first = reply(42_001, "Перезагрузите модем, пожалуйста.", &user);
    let second = reply(
        42_002,
        "Если не поможет — пришлите фото индикаторов.",
        &user,
    );
    // Omnidesk repeats the first (in both encodings), then sends the second.
    for (body, encoding) in [
        (&first, WebhookEncoding::Json),
        (&first, WebhookEncoding::Form),
        (&second, WebhookEncoding::Form),
    ] {
        assert_eq!(FakeOmnidesk::post_webhook(&url, encoding, body).await, 200);
    }
    let last = app.expect(&user, "пришлите фото индикаторов").await;
    let header = app.t(
        "ru",
        &intake_core::msg::Msg::new("agent-reply-header").arg("number", NUMBER),
    );
    assert!(last.text.contains(&header), "{}", last.text);
    assert_eq!(last.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(
        last.button_data(&app.tx("ru", "btn-reply")).as_deref(),
        Some(format!("reply:{CASE_ID}:{NUMBER}").as_str())
    );
    let firsts = relayed(&app, &user, "Перезагрузите модем");
    assert_eq!(firsts.len(), 1, "the repeated reply is relayed once");
    assert!(
        firsts[0].message_id < last.message_id,
        "replies keep their order"
    );
    assert_eq!(relay_depth(&app).await, 0);
    app.tg.assert_clean();
}

#[tokio::test]
async fn notes_customer_messages_unknown_cases_and_wrong_paths_are_not_relayed() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_002);
    case_for(&app, &user).await;
    let url = hook_url(&app, "");
    let mut note = reply(43_001, "Внутренняя заметка: проверить БС", &user);
    note["note"] = json!(1);
    let mut own = reply(43_002, "Сообщение клиента", &user);
    own["staff_id"] = json!(0);
    let mut stranger = reply(43_003, "Ответ по чужому обращению", &user);
    stranger["case_id"] = json!(999_999);
    for body in [&note, &own, &stranger] {
        assert_eq!(
            FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, body).await,
            200
        );
    }
    let wrong = hook_url(&app, "").replace(HOOK_SECRET, "guessed-secret-000000000");
    let real = reply(43_004, "Настоящий ответ", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&wrong, WebhookEncoding::Json, &real).await,
        404
    );
    assert_eq!(relay_depth(&app).await, 0, "nothing stored");
    // A real reply after them all: once it has arrived, nothing else came before it.
    let mut after = real.clone();
    after["message_id"] = json!(43_005);
    assert_eq!(
        FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, &after).await,
        200
    );
    app.expect(&user, "Настоящий ответ").await;
    for text in ["Внутренняя заметка", "Сообщение клиента", "чужому"]
    {
        assert!(relayed(&app, &user, text).is_empty(), "{text} not relayed");
    }
    assert_eq!(relayed(&app, &user, "Настоящий ответ").len(), 1);
}

#[tokio::test]
async fn a_reply_survives_telegram_429_and_is_dropped_for_a_user_who_blocked_the_bot() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_003);
    case_for(&app, &user).await;
    let url = hook_url(&app, "");
    app.tg.fail_next(
        "sendMessage",
        1,
        Failure::TooManyRequests { retry_after: 1 },
    );
    let body = reply(44_001, "Ответ после лимита", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, &body).await,
        200
    );
    app.expect(&user, "Ответ после лимита").await;
    assert_eq!(relayed(&app, &user, "Ответ после лимита").len(), 1);

    app.tg.set_blocked(user.chat_id(), true);
    let blocked = reply(44_002, "Ответ заблокировавшему", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, &blocked).await,
        200
    );
    let store = Store::connect(
        &redis_url(),
        &app.prefix,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("redis");
    let start = std::time::Instant::now();
    while !store.is_blocked(user.chat_id()).await.expect("store") {
        assert!(start.elapsed() < WAIT, "the chat is marked blocked");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        relay_depth(&app).await,
        0,
        "the reply is not retried forever"
    );
}

#[tokio::test]
async fn a_follow_up_with_a_photo_lands_in_the_case_once_even_when_the_answer_is_lost() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_004);
    case_for(&app, &user).await;
    let url = hook_url(&app, "");
    let body = reply(45_001, "Пришлите фото индикаторов.", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, &body).await,
        200
    );
    let relayed_reply = app.expect(&user, "Пришлите фото индикаторов").await;
    // "Reply" opens a reply box naming the case.
    app.taps(&user, &relayed_reply, &app.tx("ru", "btn-reply"));
    let prompt = app.expect(&user, "✍️").await;
    assert!(prompt.text.contains(NUMBER));
    assert_eq!(
        prompt
            .reply_markup
            .as_ref()
            .and_then(|m| m.get("force_reply")),
        Some(&json!(true))
    );
    // Omnidesk adds the message but the answer is lost on the way back.
    app.od.push_behaviour(Behaviour::CreateThenDropConnection);
    let photo = app.tg.photo_fields(
        vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
        Some("Индикаторы мигают красным"),
        None,
    );
    app.tg.reply_to(&user, &prompt, photo);
    let added = app.t(
        "ru",
        &intake_core::msg::Msg::new("follow-up-added").arg("number", NUMBER),
    );
    app.expect(&user, &added).await;
    let messages = app.od.messages();
    assert_eq!(messages.len(), 1, "one message in the case: {messages:?}");
    assert_eq!(messages[0].case_id, CASE_ID);
    assert_eq!(
        messages[0].fields.get("content").and_then(|v| v.as_str()),
        Some("Индикаторы мигают красным")
    );
    assert_eq!(messages[0].attachments.len(), 1);
    // A plain reply to the relayed message goes to the case too; the draft-free chat is
    // not disturbed (no menu, no hint).
    app.tg.reply_to(
        &user,
        &relayed_reply,
        json!({"text": "Модем 7A48AC перезагружен"}),
    );
    app.od
        .wait_for_messages(2, WAIT)
        .await
        .expect("the second follow-up arrives");
    assert_eq!(relay_depth(&app).await, 0);
    assert!(relayed(&app, &user, &app.tx("ru", "idle-hint")).is_empty());
}

#[tokio::test]
async fn a_follow_up_to_a_closed_case_is_not_written_and_the_user_is_told() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_005);
    case_for(&app, &user).await;
    let body = reply(46_001, "Готово, закрываем.", &user);
    let url = hook_url(&app, "");
    assert_eq!(
        FakeOmnidesk::post_webhook(&url, WebhookEncoding::Json, &body).await,
        200
    );
    let relayed_reply = app.expect(&user, "Готово, закрываем").await;
    assert!(app.od.set_case_status(CASE_ID, "closed"));
    app.tg
        .reply_to(&user, &relayed_reply, json!({"text": "Опять не работает"}));
    let closed = app.t(
        "ru",
        &intake_core::msg::Msg::new("follow-up-closed").arg("number", NUMBER),
    );
    let closed_message = app.expect(&user, &closed).await;
    assert!(app.od.messages().is_empty());
    // The offered new request continues the closed one.
    assert_eq!(
        closed_message
            .inline_buttons()
            .first()
            .map(|(_, d)| d.as_str()),
        Some(format!("renew:custom-development:{NUMBER}").as_str())
    );
    app.taps(&user, &closed_message, NUMBER);
    let renew = app.t(
        "ru",
        &intake_core::msg::Msg::new("renew-started").arg("number", NUMBER),
    );
    app.expect(&user, &renew).await;
}

#[tokio::test]
async fn a_rule_webhook_re_reads_the_case_and_tells_the_user_it_was_closed() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_006);
    case_for(&app, &user).await;
    assert!(app.od.set_case_status(CASE_ID, "closed"));
    // The admin's template; its "status" is not trusted, the case is read back.
    let status = reqwest::Client::new()
        .post(hook_url(&app, "/event"))
        .json(&json!({"case_id": CASE_ID.to_string(), "status": "open"}))
        .send()
        .await
        .expect("the bot answers")
        .status();
    assert_eq!(status, 200);
    let told = app.t(
        "ru",
        &intake_core::msg::Msg::new("case-closed").arg("number", NUMBER),
    );
    let notice = app.expect(&user, &told).await;
    assert!(
        notice
            .button_data(NUMBER)
            .is_some_and(|d| d.starts_with("renew:")),
        "{:?}",
        notice.inline_buttons()
    );
    assert!(
        app.od
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.uri.starts_with(&format!("/api/cases/{CASE_ID}.json"))),
        "the case was read back from Omnidesk"
    );
}

#[tokio::test]
async fn status_opens_each_case_not_closed_with_its_last_messages_and_a_reply_button() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_007);
    case_for(&app, &user).await;
    let body = reply(47_001, "Первый ответ", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&hook_url(&app, ""), WebhookEncoding::Json, &body).await,
        200
    );
    app.expect(&user, "Первый ответ").await;
    app.says(&user, "/status");
    let listed = app.expect(&user, &app.tx("ru", "status-title")).await;
    assert!(listed.text.contains(NUMBER));
    // The request is of low urgency: no deadline, so the answer's timing has no verdict.
    let timing = app.t(
        "ru",
        &intake_core::msg::Msg::new("status-replied")
            .arg("hours", 0)
            .arg("minutes", 0)
            .arg_ref("verdict", "status-no-deadline"),
    );
    assert!(listed.text.contains(&timing), "{}", listed.text);
    let reply_data = format!("reply:{CASE_ID}:{NUMBER}");
    assert!(
        listed
            .inline_buttons()
            .iter()
            .any(|(_, data)| *data == reply_data),
        "{:?}",
        listed.inline_buttons()
    );
    app.taps(&user, &listed, &app.tx("ru", "btn-reply"));
    let prompt = app.expect(&user, "✍️").await;
    assert!(prompt.text.contains(NUMBER));
    // The case's button opens its last messages, read from Omnidesk, with "Reply".
    app.od.agent_answers(CASE_ID, "Проверили: БС 123 работает");
    app.taps(&user, &listed, &format!("№ {NUMBER}"));
    let title = app.t(
        "ru",
        &intake_core::msg::Msg::new("case-view-title").arg("number", NUMBER),
    );
    let view = app.expect(&user, &title).await;
    assert!(
        view.text.contains("Проверили: БС 123 работает"),
        "{}",
        view.text
    );
    assert!(view.text.contains(&app.tx("ru", "case-view-agent")));
    assert_eq!(
        view.button_data(&app.tx("ru", "btn-reply")).as_deref(),
        Some(reply_data.as_str())
    );
}

/// `GET /api/cases.json?sort=updated_at_desc…` calls so far (the poller's list calls).
fn list_calls(app: &TestApp) -> usize {
    app.od
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.contains("sort=updated_at_desc"))
        .count()
}

#[tokio::test]
async fn polling_mode_relays_replies_and_a_closed_status_without_any_webhook() {
    let app = crate::helpers::spawn_app_configured(|s| {
        s.omnidesk.webhook_secret = None;
        s.bot.omnidesk_poll_secs = 1;
    })
    .await;
    assert!(
        app.webhook_addr.is_none(),
        "no listener without a public address"
    );
    let user = TestUser::ru(810_008);
    case_for(&app, &user).await;
    app.od.agent_answers(CASE_ID, "Ответ без вебхука");
    let relayed_reply = app.expect(&user, "Ответ без вебхука").await;
    assert!(
        relayed_reply
            .button_data(&app.tx("ru", "btn-reply"))
            .is_some()
    );
    assert!(app.od.set_case_status(CASE_ID, "closed"));
    let told = app.t(
        "ru",
        &intake_core::msg::Msg::new("case-closed").arg("number", NUMBER),
    );
    app.expect(&user, &told).await;
    // Two more polls see the same case and messages again: nothing is relayed twice.
    let seen = list_calls(&app);
    assert!(
        app.od
            .wait_until(|_| list_calls(&app) >= seen + 2, WAIT)
            .await,
        "the bot keeps polling"
    );
    app.drain_outbox().await;
    assert_eq!(relay_depth(&app).await, 0);
    assert_eq!(relayed(&app, &user, "Ответ без вебхука").len(), 1);
    assert_eq!(relayed(&app, &user, &told).len(), 1);
    // Within the budget: per poll one list call and message reads only of changed cases.
    let reads = app
        .od
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.uri.contains("/messages.json"))
        .count();
    assert!(
        reads <= list_calls(&app),
        "{reads} message reads for {} polls",
        list_calls(&app)
    );
}

#[tokio::test]
async fn with_one_open_case_a_plain_message_is_offered_to_it_and_added_on_yes() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_009);
    case_for(&app, &user).await;
    app.says(&user, "Модем опять не отвечает");
    let offer_text = app.t(
        "ru",
        &intake_core::msg::Msg::new("follow-up-offer").arg("number", NUMBER),
    );
    let offer = app.expect(&user, &offer_text).await;
    assert!(
        app.od.messages().is_empty(),
        "nothing goes before the user says so"
    );
    app.taps(&user, &offer, &app.tx("ru", "btn-offer-yes"));
    let added = app.t(
        "ru",
        &intake_core::msg::Msg::new("follow-up-added").arg("number", NUMBER),
    );
    app.expect(&user, &added).await;
    let messages = app.od.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].fields.get("content").and_then(|v| v.as_str()),
        Some("Модем опять не отвечает"),
        "typed once, added as typed"
    );
    // Once the case is closed (known from a status event), a message gets the menu.
    assert!(app.od.set_case_status(CASE_ID, "closed"));
    let status = reqwest::Client::new()
        .post(hook_url(&app, "/event"))
        .json(&json!({ "case_id": CASE_ID }))
        .send()
        .await
        .expect("the bot answers")
        .status();
    assert_eq!(status, 200);
    app.says(&user, "Другой вопрос");
    app.expect(&user, &app.tx("ru", "idle-hint")).await;
}

#[tokio::test]
async fn after_forget_the_cases_are_unknown_and_their_replies_are_not_relayed() {
    let app = spawn_app().await;
    let user = TestUser::ru(810_010);
    case_for(&app, &user).await;
    app.says(&user, "/forget");
    let ask = app.expect(&user, &app.tx("ru", "forget-confirm")).await;
    app.taps(&user, &ask, &app.tx("ru", "btn-forget-yes"));
    app.expect(&user, &app.tx("ru", "forgotten")).await;
    let store = Store::connect(
        &redis_url(),
        &app.prefix,
        std::time::Duration::from_secs(60),
    )
    .await
    .expect("redis");
    assert_eq!(store.case(CASE_ID as i64).await.expect("store"), None);
    let body = reply(48_001, "Ответ после удаления данных", &user);
    assert_eq!(
        FakeOmnidesk::post_webhook(&hook_url(&app, ""), WebhookEncoding::Json, &body).await,
        200
    );
    assert_eq!(
        relay_depth(&app).await,
        0,
        "nothing stored for a forgotten case"
    );
    assert!(relayed(&app, &user, "Ответ после удаления данных").is_empty());
}
