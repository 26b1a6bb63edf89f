//! QR stickers: `/start <payload>` deep links open a request with the object filled in.

use intake_core::msg::Msg;
use serde_json::Value;

use crate::fake_telegram::{SentMessage, TestUser};
use crate::helpers::{TestApp, WAIT, spawn_app, step};

fn content(app: &TestApp) -> String {
    app.od.cases()[0]
        .fields
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn object(id: &str, kind: &str, number: &str) -> Msg {
    Msg::new(id).arg("object", kind).arg("id", number)
}

/// The greeting with the object's kinds, after `/start <payload>`.
async fn opens_sticker(app: &TestApp, user: &TestUser, payload: &str) -> SentMessage {
    app.says(user, &format!("/start {payload}"));
    app.expect(user, &app.tx("ru", "welcome")).await;
    app.expect(user, &app.tx("ru", "object-choose-kind")).await
}

/// Answers the identification steps `from..from+2` of `total` and skips the closing one.
async fn identifies(app: &TestApp, user: &TestUser, from: usize, total: usize) {
    for (n, answer) in [
        (from, "installer@example.ru"),
        (from + 1, "ООО Монтаж"),
        (from + 2, "montazh"),
    ] {
        app.expect(user, &step(app, n, total)).await;
        app.says(user, answer);
    }
    app.expect(user, &step(app, total, total)).await;
    app.skip(user, "ru").await;
}

#[tokio::test]
async fn a_station_sticker_skips_the_station_step_asks_the_location_first_and_files_a_map_link() {
    let app = spawn_app().await;
    let user = TestUser::ru(510_001);

    let menu = opens_sticker(&app, &user, "bs-1234").await;
    assert!(
        menu.text.contains("Базовая станция № 1234"),
        "{}",
        menu.text
    );
    let kinds: Vec<String> = menu.inline_buttons().into_iter().map(|b| b.0).collect();
    assert_eq!(
        kinds,
        [
            app.tx("ru", "kind-base-station-install"),
            app.tx("ru", "kind-batch-transfer"),
            app.tx("ru", "btn-something-else"),
        ]
    );
    app.taps(&user, &menu, &app.tx("ru", "kind-base-station-install"));

    let first = app.expect(&user, &step(&app, 1, 7)).await;
    assert!(
        first.text.contains(&app.tx("ru", "field-location-prompt")),
        "{}",
        first.text
    );
    let keyboard = first.reply_markup.clone().unwrap_or_default();
    assert_eq!(
        keyboard["keyboard"][0][0]["request_location"], true,
        "the location button comes first: {keyboard}"
    );
    app.tg.send_location(&user, 55.796, 49.108);
    app.expect(&user, &step(&app, 2, 7)).await;
    app.says(&user, "Станция не регистрируется в сети после монтажа");
    app.expect(&user, &step(&app, 3, 7)).await;
    app.skip(&user, "ru").await;
    identifies(&app, &user, 4, 7).await;

    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    assert!(
        summary.text.contains("Номер базовой станции: 1234"),
        "the prefilled station is on the summary: {}",
        summary.text
    );
    app.taps(
        &user,
        &summary,
        &app.t(
            "ru",
            &Msg::new("btn-edit").arg_ref("field", "field-base-station"),
        ),
    );
    let editing = app
        .expect(&user, &app.tx("ru", "field-base-station-prompt"))
        .await;
    assert!(
        editing.text.contains("1234"),
        "the current value is shown: {}",
        editing.text
    );
    app.taps(&user, &editing, &app.tx("ru", "btn-keep"));
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.od.wait_for_cases(1, WAIT).await.expect("one case");
    let content = content(&app);
    for expected in [
        "Номер базовой станции: 1234",
        "55.796000, 49.108000",
        "https://yandex.ru/maps/?pt=49.108000,55.796000&z=17",
    ] {
        assert!(content.contains(expected), "{expected:?} in\n{content}");
    }
}

#[tokio::test]
async fn a_modem_sticker_prefills_the_modem_and_the_summary_can_change_it() {
    let app = spawn_app().await;
    let user = TestUser::ru(510_002);

    let menu = opens_sticker(&app, &user, "m-7A48AC").await;
    assert!(menu.text.contains("Модем 7A48AC"), "{}", menu.text);
    assert!(
        menu.button_data(&app.tx("ru", "kind-base-station-install"))
            .is_none(),
        "station kinds are not offered for a modem"
    );
    app.taps(&user, &menu, &app.tx("ru", "kind-pre-warranty-check"));

    app.expect(&user, &step(&app, 1, 7)).await;
    app.says(&user, "0123-4567-8901");
    app.expect(&user, &step(&app, 2, 7)).await;
    app.says(&user, "Счётчик не включается после грозы");
    app.expect(&user, &step(&app, 3, 7)).await;
    app.skip(&user, "ru").await;
    identifies(&app, &user, 4, 7).await;

    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    assert!(
        summary.text.contains("ID модема (устройства): 7A48AC"),
        "{}",
        summary.text
    );
    app.taps(
        &user,
        &summary,
        &app.t(
            "ru",
            &Msg::new("btn-edit").arg_ref("field", "field-modem-id"),
        ),
    );
    app.expect(&user, &app.tx("ru", "field-modem-id-prompt"))
        .await;
    app.says(&user, "86145D");
    let summary = app.expect(&user, &app.tx("ru", "review-title")).await;
    assert!(
        summary.text.contains("ID модема (устройства): 86145D"),
        "{}",
        summary.text
    );
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.od.wait_for_cases(1, WAIT).await.expect("one case");
    let content = content(&app);
    assert!(
        content.contains("ID модема (устройства): 86145D"),
        "{content}"
    );
    assert!(!content.contains("7A48AC"), "{content}");
}

#[tokio::test]
async fn bad_payloads_get_a_notice_and_the_normal_start() {
    let app = spawn_app().await;
    for (n, payload) in ["bs-12x", "x-1234", "m-0", "bs-12345678901"]
        .into_iter()
        .enumerate()
    {
        let user = TestUser::ru(510_010 + n as i64);
        app.says(&user, &format!("/start {payload}"));
        app.expect(&user, &app.tx("ru", "welcome")).await;
        app.expect(&user, &app.tx("ru", "deep-link-invalid")).await;
        app.choose_kind(&user, "ru", Some("base-stations"), "base-station-install")
            .await;
        app.expect(&user, &step(&app, 1, 8)).await;
    }
}

#[tokio::test]
async fn a_sticker_during_a_draft_asks_whether_to_continue_it_or_start_anew() {
    let app = spawn_app().await;
    let user = TestUser::ru(510_020);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", Some("devices"), "modem-setup")
        .await;
    app.expect(&user, &step(&app, 1, 8)).await;
    app.says(&user, "7A48AC");
    app.expect(&user, &step(&app, 2, 8)).await;

    app.says(&user, "/start bs-1234");
    let offer = app
        .expect_msg(
            &user,
            "ru",
            &object("object-draft-offer", "station", "1234").arg_ref("kind", "kind-modem-setup"),
        )
        .await;
    app.taps(
        &user,
        &offer,
        &app.t(
            "ru",
            &Msg::new("btn-resume-step").arg("step", 2).arg("total", 8),
        ),
    );
    app.expect(&user, &step(&app, 2, 8)).await;

    app.says(&user, "/start bs-1234");
    let offer = app
        .expect(
            &user,
            &app.t("ru", &object("object-greeting", "station", "1234")),
        )
        .await;
    app.taps(
        &user,
        &offer,
        &app.t("ru", &object("btn-new-for-object", "station", "1234")),
    );
    app.expect(&user, &app.tx("ru", "restarted")).await;
    let menu = app.expect(&user, &app.tx("ru", "object-choose-kind")).await;
    app.taps(&user, &menu, &app.tx("ru", "kind-batch-transfer"));
    let first = app.expect(&user, &step(&app, 1, 6)).await;
    assert!(
        first
            .text
            .contains(&app.tx("ru", "field-description-prompt")),
        "the station is not asked again: {}",
        first.text
    );
}

#[tokio::test]
async fn the_qr_command_asks_telegram_for_the_bot_username_when_a_token_is_set() {
    let tg = crate::fake_telegram::FakeTelegram::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("sheet.svg");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
        .args(["qr", "--station", "1234", "--out"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("BOT_CONFIG")
        .env("TELOXIDE_TOKEN", crate::fake_telegram::FakeTelegram::TOKEN)
        .env("TELEGRAM_API_URL", tg.api_url().as_str())
        .output()
        .await
        .expect("the command runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("@{}", crate::fake_telegram::BOT_USERNAME)),
        "{stdout}"
    );
    assert_eq!(tg.calls("getMe"), 1);
    assert!(out.exists());
    tg.shutdown().await;
}
