//! Webhook mode: the secret is checked on every request, an update is handled before 200,
//! and stopping never deletes the webhook.

use std::time::Duration;

use serde_json::json;
use waviot_support_bot::config::WebhookSettings;

use crate::fake_telegram::TestUser;
use crate::helpers::{WAIT, spawn_app_configured};

const SECRET: &str = "s3cret_token-for-tests";

fn start_update(update_id: i64, user: &TestUser) -> serde_json::Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_764_000_000,
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": user.to_json(),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]
        }
    })
}

#[tokio::test]
async fn webhook_requests_are_checked_handled_before_200_and_the_webhook_survives_a_stop() {
    let mut app = spawn_app_configured(|s| {
        s.webhook = Some(WebhookSettings {
            url: "https://bot.example.com/telegram/hook"
                .parse()
                .expect("url"),
            secret: SECRET.to_owned().into(),
        });
    })
    .await;
    assert!(
        app.tg.wait_for_calls("setWebhook", 1, WAIT).await,
        "the webhook is registered"
    );
    let set = &app.tg.events_of("setWebhook")[0].params;
    assert_eq!(set["url"], "https://bot.example.com/telegram/hook");
    assert_eq!(set["secret_token"], SECRET);
    assert_eq!(set["allowed_updates"], json!(["message", "callback_query"]));

    let hook = format!("http://{}/telegram/hook", app.http_addr);
    let client = reqwest::Client::new();
    let user = TestUser::ru(810_001);
    for secret in [None, Some("wrong")] {
        let mut request = client.post(&hook).json(&start_update(1, &user));
        if let Some(s) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), 401, "secret {secret:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.tg.messages_to(user.chat_id()).is_empty(),
        "a refused request changes nothing"
    );

    let response = client
        .post(&hook)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&start_update(2, &user))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let replies = app.tg.messages_to(user.chat_id());
    assert!(
        replies
            .iter()
            .any(|m| m.text.contains(&app.tx("ru", "menu-title"))),
        "handled before 200: {replies:?}"
    );

    // The same update delivered again (Telegram retrying) is applied once.
    let before = app.tg.messages_to(user.chat_id()).len();
    let again = client
        .post(&hook)
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&start_update(2, &user))
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), 200);
    assert_eq!(
        app.tg.messages_to(user.chat_id()).len(),
        before,
        "a replayed update is skipped"
    );

    app.stop_bot().await;
    assert_eq!(
        app.tg.calls("deleteWebhook"),
        0,
        "stopping leaves the webhook for other replicas"
    );
    assert_eq!(app.tg.calls("getUpdates"), 0, "no polling in webhook mode");
}
