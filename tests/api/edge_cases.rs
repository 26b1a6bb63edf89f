//! Wrong answers, odd messages, double taps, restarts, groups.

use intake_core::msg::Msg;

use crate::fake_telegram::TestUser;
use crate::helpers::{TestApp, WAIT, redis_url, spawn_app, step};

fn example(app: &TestApp, field: &str) -> String {
    app.t(
        "ru",
        &Msg::new("example-line").arg_ref("example", format!("field-{field}-example")),
    )
}

/// Starts the report-problem kind (object link, description, screenshots, identification…).
async fn start_report(app: &TestApp, user: &TestUser) {
    app.says(user, "/start");
    app.choose_kind(user, "ru", None, "report-problem").await;
    app.expect(user, &step(app, 1, 7)).await;
}

#[tokio::test]
async fn a_wrong_answer_at_every_step_is_explained_with_an_example_and_asked_again() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_001);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", Some("devices"), "device-malfunction")
        .await;
    app.expect(&user, &step(&app, 1, 10)).await;
    let steps: [(&str, &str, &str); 9] = [
        ("modem-id", "модем номер пять", "7A48AC"),
        ("meter-serial", "12", "012345678901"),
        (
            "object-link",
            "http://lk.waviot.ru/?id=1",
            "https://lk.waviot.ru/?id=1",
        ),
        (
            "description",
            "сломан",
            "Модем не выходит на связь вторые сутки",
        ),
        (
            "steps-to-reproduce",
            "1",
            "Открыть карточку модема и обновить",
        ),
        ("screenshots", "вот скрин", ""),
        ("email", "ivanov@", "ivanov@example.ru"),
        ("organization", "О", "ООО Ромашка"),
        ("login", "x", "romashka"),
    ];
    for (i, (field, wrong, right)) in steps.iter().enumerate() {
        app.says(&user, wrong);
        let answer = app.expect(&user, &example(&app, field)).await;
        assert!(
            !answer.text.contains(&step(&app, i + 2, 10)),
            "{field}: the step did not advance"
        );
        if field == &"screenshots" {
            app.taps(&user, &answer, &app.tx("ru", "btn-skip-files"));
        } else {
            app.says(&user, right);
        }
        app.expect(&user, &step(&app, i + 2, 10)).await;
    }
    app.skip(&user, "ru").await;
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    for kept in [
        "7A48AC",
        "012345678901",
        "romashka",
        "ООО Ромашка",
        "Открыть карточку модема",
    ] {
        assert!(summary.text.contains(kept), "{kept} kept: {}", summary.text);
    }
    app.tg.assert_clean();
}

#[tokio::test]
async fn stickers_voice_and_photos_at_a_text_step_get_specific_answers() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_002);
    start_report(&app, &user).await;
    app.says(&user, "https://lk.waviot.ru/?id=5");
    app.expect(&user, &step(&app, 2, 7)).await;
    app.tg.send_sticker(&user);
    app.expect(&user, &app.tx("ru", "err-sticker")).await;
    app.tg.send_voice(&user);
    app.expect(&user, &app.tx("ru", "err-voice")).await;
    app.tg
        .send_photo(&user, vec![0xFF, 0xD8, 0xFF, 0xD9], None, None);
    app.expect(&user, &app.tx("ru", "err-file-not-here-later"))
        .await;
    app.says(&user, "Отчёт «Баланс» за октябрь пустой");
    app.expect(&user, &step(&app, 3, 7)).await;
}

#[tokio::test]
async fn an_album_of_three_photos_becomes_three_attachments() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_003);
    start_report(&app, &user).await;
    app.says(&user, "https://lk.waviot.ru/?id=5");
    app.says(&user, "Отчёт «Баланс» за октябрь пустой");
    app.expect(&user, &step(&app, 3, 7)).await;
    let photos: Vec<Vec<u8>> = (1..=3u8)
        .map(|i| vec![0xFF, 0xD8, i, i, i, 0xFF, 0xD9])
        .collect();
    for p in &photos {
        app.tg.send_photo(&user, p.clone(), None, Some("album-1"));
    }
    let third = app.expect(&user, "photo-3.jpg").await;
    app.taps(
        &user,
        &third,
        &app.t("ru", &Msg::new("btn-done-files").arg("count", 3)),
    );
    app.says(&user, "a@b.ru");
    app.expect(&user, &step(&app, 5, 7)).await;
    app.says(&user, "ООО Тест");
    app.expect(&user, &step(&app, 6, 7)).await;
    app.says(&user, "test");
    app.expect(&user, &step(&app, 7, 7)).await;
    app.skip(&user, "ru").await;
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    let cases = app.od.wait_for_cases(1, WAIT).await.expect("a case");
    let got: Vec<Vec<u8>> = cases[0]
        .attachments
        .iter()
        .map(|a| a.bytes.clone())
        .collect();
    assert_eq!(got, photos);
}

#[tokio::test]
async fn a_30_mb_file_and_a_pdf_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_004);
    start_report(&app, &user).await;
    app.says(&user, "https://lk.waviot.ru/?id=5");
    app.says(&user, "Отчёт «Баланс» за октябрь пустой");
    app.expect(&user, &step(&app, 3, 7)).await;
    app.tg
        .send_document_of_size(&user, "screen.png", "image/png", 30 * 1024 * 1024);
    app.expect_msg(
        &user,
        "ru",
        &Msg::new("err-file-too-big")
            .arg("name", "screen.png")
            .arg("size_mb", 30)
            .arg("max_mb", 20),
    )
    .await;
    app.tg.send_document(
        &user,
        "act.pdf",
        "application/pdf",
        b"%PDF-1.4 fake".to_vec(),
    );
    let refused = app
        .expect_msg(
            &user,
            "ru",
            &Msg::new("err-file-format").arg("name", "act.pdf"),
        )
        .await;
    assert!(refused.text.contains("JPG, PNG, GIF"), "{}", refused.text);
    app.tg
        .send_document(&user, "ok.png", "image/png", vec![1, 2, 3]);
    app.expect(&user, "ok.png").await;
    assert_eq!(
        app.tg.calls("getFile"),
        0,
        "nothing is downloaded before Send"
    );
}

#[tokio::test]
async fn a_double_tap_on_send_creates_one_case() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_005);
    let summary = app.fill_custom_development(&user).await;
    let send = summary
        .button_data(&app.tx("ru", "btn-send"))
        .expect("send button");
    app.tg.press_button(&user, summary.message_id, &send);
    app.tg
        .press_button_unchecked(&user, summary.message_id, &send);
    let done = app.expect(&user, "664-245651").await;
    assert!(
        done.text
            .contains("Уровень срочности: низкий, срок согласуется со специалистом."),
        "{}",
        done.text
    );
    app.drain_outbox().await;
    assert_eq!(app.od.cases().len(), 1, "one case for two taps");
    let answers = app.tg.callback_answers();
    assert!(
        answers
            .iter()
            .any(|a| a.text.as_deref() == Some(app.tx("ru", "already-sent").as_str())),
        "the second tap is told the request was sent: {answers:?}"
    );
    let summary_now = app.tg.message(summary.message_id).expect("summary");
    assert!(
        !summary_now.has_inline_keyboard(),
        "the keyboard disappears after Send"
    );
}

#[tokio::test]
async fn a_restart_mid_dialogue_continues_the_draft() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_006);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", Some("devices"), "device-malfunction")
        .await;
    app.says(&user, "7A48AC");
    app.expect(&user, &step(&app, 2, 10)).await;
    app.says(&user, "012345678901");
    app.expect(&user, &step(&app, 3, 10)).await;

    let app = app.restart().await;

    app.says(&user, "/start");
    let offer = app
        .expect_msg(
            &user,
            "ru",
            &Msg::new("resume-offer").arg_ref("kind", "kind-device-malfunction"),
        )
        .await;
    let resume = app.t(
        "ru",
        &Msg::new("btn-resume-step").arg("step", 3).arg("total", 10),
    );
    app.taps(&user, &offer, &resume);
    app.expect(&user, &step(&app, 3, 10)).await;
    app.says(&user, "https://lk.waviot.ru/?id=195984");
    app.expect(&user, &step(&app, 4, 10)).await;

    let mut redis = redis::Client::open(redis_url())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let key = format!("{}session:{}", app.prefix, user.chat_id());
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("ttl");
    assert!(
        ttl > 6 * 86_400 && ttl <= 7 * 86_400,
        "drafts expire after 7 days: {ttl}"
    );
}

#[tokio::test]
async fn in_a_group_the_bot_only_points_to_a_private_chat() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_007);
    app.tg.send_group_text(-100_123, &user, "/start");
    let m = app
        .tg
        .wait_for_message(
            -100_123,
            |m| m.text.contains("https://t.me/waviot_test_bot"),
            WAIT,
        )
        .await;
    assert!(m.is_some(), "the group is pointed to a private chat");
    let chatter = app.tg.send_group_text(-100_123, &user, "просто разговор");
    assert!(app.tg.wait_for_confirmed(chatter, WAIT).await, "handled");
    assert_eq!(
        app.tg.messages_to(-100_123).len(),
        1,
        "ordinary group chatter is ignored"
    );
}

#[tokio::test]
async fn commands_are_published_in_russian_and_english() {
    let app = spawn_app().await;
    assert!(app.tg.wait_for_calls("setMyCommands", 3, WAIT).await);
    let ru = app
        .tg
        .my_commands(Some("ru"))
        .expect("ru commands")
        .to_string();
    let en = app
        .tg
        .my_commands(Some("en"))
        .expect("en commands")
        .to_string();
    for c in ["start", "new", "cancel", "help", "language"] {
        assert!(
            ru.contains(&format!("\"{c}\"")) && en.contains(&format!("\"{c}\"")),
            "{c}"
        );
    }
    assert!(ru.contains("Новое обращение") && en.contains("New request"));
}

#[tokio::test]
async fn language_switches_with_the_language_command() {
    let app = spawn_app().await;
    let user = TestUser::ru(600_008);
    app.says(&user, "/language");
    let choose = app.expect(&user, &app.tx("ru", "language-choose")).await;
    app.taps(&user, &choose, "English");
    app.expect(&user, &app.tx("en", "language-set")).await;
    app.expect(&user, &app.tx("en", "menu-title")).await;
    app.says(&user, "/help");
    app.expect(&user, "Urgency levels").await;
}
