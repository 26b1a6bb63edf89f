//! A user's whole conversation, from `/start` to the case number.

use intake_core::msg::Msg;
use serde_json::Value;

use crate::fake_telegram::TestUser;
use crate::helpers::{WAIT, spawn_app, step};

/// A small but real PNG (1×1 pixel).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn jpeg(seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..50_000u32).map(|i| (i as u8).wrapping_mul(seed)));
    v.extend([0xFF, 0xD9]);
    v
}

fn field_str<'a>(case: &'a std::collections::BTreeMap<String, Value>, key: &str) -> &'a str {
    case.get(key).and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test]
async fn device_malfunction_with_a_photo_and_a_png_reaches_omnidesk_with_every_field_and_both_files()
 {
    let app = spawn_app().await;
    let user = TestUser::ru(500_001);

    app.says(&user, "/start");
    app.expect(&user, &app.tx("ru", "welcome")).await;
    app.choose_kind(&user, "ru", Some("devices"), "device-malfunction")
        .await;

    app.expect(&user, &step(&app, 1, 10)).await;
    app.says(&user, "0x7a48ac");
    app.expect(&user, &step(&app, 2, 10)).await;
    app.says(&user, "0123 4567-8901");
    app.expect(&user, &step(&app, 3, 10)).await;
    app.says(
        &user,
        "https://lk.waviot.ru/?device=summary&id=195984&key=SECRETKEY42",
    );
    app.expect(&user, &app.tx("ru", "link-secret-removed"))
        .await;
    app.expect(&user, &step(&app, 4, 10)).await;
    app.says(&user, "С 20.11 модем не передаёт показания, питание есть.");
    app.expect(&user, &step(&app, 5, 10)).await;
    app.skip(&user, "ru").await;
    app.expect(&user, &step(&app, 6, 10)).await;

    let photo = jpeg(7);
    app.tg.send_photo(&user, photo.clone(), None, None);
    app.expect(&user, "photo-1.jpg").await;
    app.tg
        .send_document(&user, "screen.png", "image/png", PNG.to_vec());
    let received = app.expect(&user, "screen.png").await;
    app.taps(
        &user,
        &received,
        &app.t("ru", &Msg::new("btn-done-files").arg("count", 2)),
    );

    app.expect(&user, &step(&app, 7, 10)).await;
    app.says(&user, "Ivanov@Vodokanal.ru");
    app.expect(&user, &step(&app, 8, 10)).await;
    app.says(&user, "ООО «Водоканал»");
    app.expect(&user, &step(&app, 9, 10)).await;
    app.says(&user, "ivanov");
    app.expect(&user, &step(&app, 10, 10)).await;
    app.skip(&user, "ru").await;

    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    assert!(summary.text.contains("7A48AC"), "{}", summary.text);
    assert!(summary.text.contains("012345678901"), "{}", summary.text);
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));

    let cases = app
        .od
        .wait_for_cases(1, WAIT)
        .await
        .expect("one case created");
    let done = app.expect(&user, "664-245651").await;
    assert!(
        done.text
            .contains(&app.t("ru", &Msg::new("registered").arg("number", "664-245651")))
    );
    assert!(
        done.text.contains(
            "Уровень срочности: высокий. Время реакции — до 5 рабочих часов, ориентировочно до "
        ) && done.text.contains("(МСК)"),
        "level, reaction time and deadline: {}",
        done.text
    );
    assert!(
        !done.text.contains("2000"),
        "the internal case_id is never shown: {}",
        done.text
    );

    let case = &cases[0];
    let subject = field_str(&case.fields, "subject");
    assert!(
        subject.starts_with("Неполадка устройства: С 20.11 модем"),
        "{subject}"
    );
    assert!(subject.chars().count() <= 255);
    let content = field_str(&case.fields, "content");
    for expected in [
        "ID модема (устройства): 7A48AC",
        "Серийный номер счётчика: 012345678901",
        "https://lk.waviot.ru/?device=summary&id=195984",
        "С 20.11 модем не передаёт показания, питание есть.",
        "Ваш e-mail: Ivanov@vodokanal.ru",
        "Организация (клиент): ООО «Водоканал»",
        "Логин в личном кабинете: ivanov",
        "Уровень срочности: высокий",
    ] {
        assert!(
            content.contains(expected),
            "content lacks {expected:?}:\n{content}"
        );
    }
    assert!(field_str(&case.fields, "content_html").contains("ООО «Водоканал»"));
    assert_eq!(field_str(&case.fields, "user_email"), "Ivanov@vodokanal.ru");
    assert_eq!(field_str(&case.fields, "priority"), "high");

    assert_eq!(case.attachments.len(), 2);
    assert_eq!(
        case.attachments[0].bytes, photo,
        "the photo arrives byte for byte"
    );
    assert_eq!(
        case.attachments[0].content_type.as_deref(),
        Some("image/jpeg")
    );
    assert_eq!(case.attachments[1].file_name, "screen.png");
    assert_eq!(
        case.attachments[1].bytes, PNG,
        "the PNG arrives byte for byte"
    );
    assert!(
        case.content_length_header.is_some() && !case.was_chunked,
        "files are sent with a length"
    );

    let everything = format!("{:?}{:?}", app.od.cases(), app.tg.messages());
    assert!(
        !everything.contains("SECRETKEY42"),
        "the pasted key is never stored or echoed"
    );
    app.tg.assert_clean();
}

#[tokio::test]
async fn a_second_identical_request_reuses_the_saved_identification() {
    let app = spawn_app().await;
    let user = TestUser::ru(500_002);
    for round in 0..2 {
        app.says(&user, "/new");
        app.choose_kind(&user, "ru", Some("outage"), "services-down")
            .await;
        let total = if round == 0 { 7 } else { 4 };
        app.expect(&user, &step(&app, 1, total)).await;
        app.says(&user, "Личный кабинет не открывается, ошибка 502");
        app.expect(&user, &step(&app, 2, total)).await;
        app.skip(&user, "ru").await;
        app.expect(&user, &step(&app, 3, total)).await;
        app.skip(&user, "ru").await;
        if round == 0 {
            app.expect(&user, &step(&app, 4, 7)).await;
            app.says(&user, "petrov@example.ru");
            app.expect(&user, &step(&app, 5, 7)).await;
            app.says(&user, "АО Энергосбыт");
            app.expect(&user, &step(&app, 6, 7)).await;
            app.says(&user, "petrov");
        }
        app.expect(&user, &step(&app, total, total)).await;
        app.skip(&user, "ru").await;
        let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
        assert!(
            summary.text.contains("petrov@example.ru"),
            "saved e-mail on the summary"
        );
        app.taps(&user, &summary, &app.tx("ru", "btn-send"));
        app.expect(&user, &format!("664-24565{}", round + 1)).await;
    }
    let cases = app.od.cases();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[1].fields["user_email"], "petrov@example.ru");
    assert_eq!(cases[1].fields["priority"], "critical");
}

#[tokio::test]
async fn base_station_installation_on_site_with_a_location_and_photos() {
    let app = spawn_app().await;
    let user = TestUser::ru(500_003);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", Some("base-stations"), "base-station-install")
        .await;
    app.expect(&user, &step(&app, 1, 8)).await;
    app.says(&user, "БС номер сорок");
    app.expect_msg(
        &user,
        "ru",
        &Msg::new("example-line").arg_ref("example", "field-base-station-example"),
    )
    .await;
    app.says(&user, "1234");
    app.expect(&user, &step(&app, 2, 8)).await;
    app.tg.send_location(&user, 55.796, 49.108);
    app.expect(&user, &step(&app, 3, 8)).await;
    app.says(
        &user,
        "Станция не регистрируется в сети, индикатор мигает красным",
    );
    app.expect(&user, &step(&app, 4, 8)).await;
    app.tg.send_photo(&user, jpeg(3), None, None);
    let got = app.expect(&user, "photo-1.jpg").await;
    app.taps(
        &user,
        &got,
        &app.t("ru", &Msg::new("btn-done-files").arg("count", 1)),
    );
    app.expect(&user, &step(&app, 5, 8)).await;
    app.says(&user, "installer@example.ru");
    app.expect(&user, &step(&app, 6, 8)).await;
    app.says(&user, "ООО Монтаж");
    app.expect(&user, &step(&app, 7, 8)).await;
    app.says(&user, "montazh");
    app.expect(&user, &step(&app, 8, 8)).await;
    app.skip(&user, "ru").await;
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    let done = app.expect(&user, "664-245651").await;
    assert!(
        done.text.contains("8-800-550-51-89"),
        "critical kinds show the hotline"
    );
    let case = &app.od.cases()[0];
    let content = field_str(&case.fields, "content");
    assert!(content.contains("Номер базовой станции: 1234"), "{content}");
    assert!(content.contains("55.796000, 49.108000"), "{content}");
    assert_eq!(field_str(&case.fields, "priority"), "critical");
    assert_eq!(case.attachments.len(), 1);
}

#[tokio::test]
async fn an_access_request_in_english_with_a_shared_contact() {
    let app = spawn_app().await;
    let user = TestUser::en(500_004);
    app.says(&user, "/start");
    app.expect(&user, &app.tx("en", "welcome")).await;
    app.choose_kind(&user, "en", Some("access"), "access-request")
        .await;
    app.expect(
        &user,
        &app.t(
            "en",
            &Msg::new("step-counter").arg("step", 1).arg("total", 9),
        ),
    )
    .await;
    app.says(&user, "https://lk.waviot.ru/?id=195984");
    app.says(&user, "Petrov Petr Petrovich");
    app.says(&user, "petrov@client.ru");
    let phone_step = app
        .expect(&user, &app.tx("en", "field-responsible-phone-prompt"))
        .await;
    let sent = app.tg.events_of("sendMessage");
    let params = &sent
        .iter()
        .find(|e| e.params["text"] == phone_step.text.as_str())
        .expect("sent")
        .params;
    let keyboard = &params["reply_markup"];
    assert_eq!(
        keyboard["keyboard"][0][0]["request_contact"], true,
        "a contact button: {keyboard}"
    );
    app.tg.send_contact(&user, "+7 912 000-11-22", Some(999));
    app.expect(&user, "+79120001122").await;
    let en_step = |n: usize| {
        app.t(
            "en",
            &Msg::new("step-counter").arg("step", n).arg("total", 9),
        )
    };
    app.expect(&user, &en_step(5)).await;
    app.skip(&user, "en").await;
    app.expect(&user, &en_step(6)).await;
    app.says(&user, "client@client.ru");
    app.expect(&user, &en_step(7)).await;
    app.says(&user, "Client LLC");
    app.expect(&user, &en_step(8)).await;
    app.says(&user, "client");
    app.expect(&user, &en_step(9)).await;
    app.skip(&user, "en").await;
    let summary = app.expect(&user, &app.tx("en", "review-title")).await;
    app.taps(&user, &summary, &app.tx("en", "btn-send"));
    let done = app.expect(&user, "664-245651").await;
    assert!(
        done.text
            .contains("Urgency: critical. Reaction within 3 working hours, by about "),
        "{}",
        done.text
    );
    let case = &app.od.cases()[0];
    let content = field_str(&case.fields, "content");
    assert!(
        content.contains("ФИО ответственного: Petrov Petr Petrovich"),
        "agents read Russian: {content}"
    );
    assert!(
        content.contains("Телефон ответственного: +79120001122"),
        "{content}"
    );
}

#[tokio::test]
async fn without_redis_the_bot_keeps_its_state_in_the_embedded_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bot.db");
    let app = crate::helpers::spawn_app_on_file(&file).await;
    let user = TestUser::ru(500_005);
    let summary = app.fill_custom_development(&user).await;
    let app = app.restart().await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, "664-245651").await;
    assert_eq!(app.od.cases().len(), 1);
    assert!(file.exists(), "the state lives in {}", file.display());
}
