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

    let hook = format!(
        "http://{}/telegram/hook",
        app.webhook_addr.expect("a webhook listener")
    );
    // The operations listener serves no webhook, and the webhook listener no metrics.
    let client = reqwest::Client::new();
    let on_ops = client
        .post(format!("http://{}/telegram/hook", app.http_addr))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .json(&start_update(1, &TestUser::ru(810_002)))
        .send()
        .await
        .expect("answered");
    assert_eq!(on_ops.status(), 404);
    let metrics_on_hooks = client
        .get(format!(
            "http://{}/metrics",
            app.webhook_addr.expect("a webhook listener")
        ))
        .send()
        .await
        .expect("answered");
    assert_eq!(metrics_on_hooks.status(), 404);
    let user = TestUser::ru(810_001);
    for secret in [None, Some("wrong")] {
        let mut request = client.post(&hook).json(&start_update(1, &user));
        if let Some(s) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), 401, "secret {secret:?}");
    }
    // Refused before anything was read: there is nothing to wait for.
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
    // Handled (committed) before 200; the reply follows from the chat's send queue.
    let menu = app.tx("ru", "menu-title");
    assert!(
        app.tg
            .wait_for_message(user.chat_id(), |m| m.text.contains(&menu), WAIT)
            .await
            .is_some(),
        "the update was handled: {:?}",
        app.tg.messages_to(user.chat_id())
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

/// A webhook replica on the app's fakes and store (a second bot process behind the same
/// webhook URL). Dropping the sender stops it.
async fn replica(
    app: &crate::helpers::TestApp,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut settings = crate::helpers::settings(&app.tg, &app.od, &app.prefix);
    settings.webhook = Some(WebhookSettings {
        url: "https://bot.example.com/telegram/hook"
            .parse()
            .expect("url"),
        secret: SECRET.to_owned().into(),
    });
    let built = waviot_support_bot::startup::Application::build(settings)
        .await
        .expect("a replica builds");
    let addr = built.webhook_addr().expect("a webhook listener");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(built.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[tokio::test]
async fn two_replicas_handling_one_chat_at_once_lose_no_answer_and_apply_none_twice() {
    // A user is brought to the screenshots step by one bot, which then stops.
    let mut app = crate::helpers::spawn_app().await;
    let user = TestUser::ru(810_020);
    app.says(&user, "/start");
    app.choose_kind(&user, "ru", None, "custom-development")
        .await;
    app.says(&user, "Нужна выгрузка показаний по всем подъездам");
    app.expect(&user, &crate::helpers::step(&app, 2, 7)).await;
    app.skip(&user, "ru").await;
    app.expect(&user, &crate::helpers::step(&app, 3, 7)).await;
    app.stop_bot().await;

    // Two replicas; eight photos, each handed to both at once (a retried delivery racing
    // the first one), all sixteen requests in flight together.
    let (a, stop_a) = replica(&app).await;
    let (b, stop_b) = replica(&app).await;
    let photos: Vec<i64> = (0..8u8)
        .map(|i| {
            app.tg
                .send_photo(&user, vec![0xFF, 0xD8, i, 0xFF, 0xD9], None, None)
        })
        .collect();
    let pushed = app.tg.pushed_updates();
    let client = reqwest::Client::new();
    let mut posts = Vec::new();
    for id in &photos {
        let update = pushed
            .iter()
            .find(|u| u["update_id"].as_i64() == Some(*id))
            .expect("pushed")
            .clone();
        for addr in [a, b] {
            posts.push(
                client
                    .post(format!("http://{addr}/telegram/hook"))
                    .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                    .json(&update)
                    .send(),
            );
        }
    }
    for answer in futures::future::join_all(posts).await {
        assert_eq!(answer.expect("answered").status(), 200);
    }
    let received: Vec<String> = app
        .tg
        .messages_to(user.chat_id())
        .into_iter()
        .map(|m| m.text)
        .filter(|t| t.contains("photo-"))
        .collect();
    assert_eq!(received.len(), 8, "one answer per photo: {received:#?}");
    // Every photo is in the draft once.
    let store = waviot_support_bot::storage::Store::connect(
        &crate::helpers::redis_url(),
        &app.prefix,
        Duration::from_secs(60),
    )
    .await
    .expect("redis");
    let read = store.load_chat(user.chat_id(), 0).await.expect("load");
    let waviot_support_bot::storage::LoadedSession::Found(stored) = read.session else {
        panic!("a session is stored")
    };
    let intake_core::dialogue::Session::Drafting(draft) = stored.session else {
        panic!("a draft is in progress")
    };
    let files = draft
        .answers
        .get("screenshots")
        .map(|a| a.files().len())
        .unwrap_or_default();
    assert_eq!(files, 8, "no photo lost, none counted twice");
    let _ = (stop_a.send(()), stop_b.send(()));
}
