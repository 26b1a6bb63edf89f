//! Trouble around the bot: Telegram rate limits, Redis going away and coming back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fake_omnidesk::FakeOmnidesk;
use crate::fake_telegram::{Failure, FakeTelegram, TestUser};
use crate::helpers::{API_KEY, STAFF_EMAIL, TestApp, WAIT, spawn_app, start_with};

#[tokio::test]
async fn a_telegram_429_is_waited_out_and_the_message_still_arrives() {
    let app = spawn_app().await;
    let user = TestUser::ru(800_001);
    app.tg.fail_next(
        "sendMessage",
        1,
        Failure::TooManyRequests { retry_after: 1 },
    );
    let started = Instant::now();
    app.says(&user, "/help");
    app.expect(&user, "8-800-550-51-89").await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        app.tg.calls("sendMessage"),
        2,
        "the refused send and the resend"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn redis_server(port: u16) -> Option<Child> {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

async fn wait_for_port(port: u16) {
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("redis on {port} did not start");
}

#[tokio::test]
async fn while_redis_is_down_users_are_told_to_repeat_and_the_bot_recovers_by_itself() {
    let port = free_port();
    let Some(mut redis) = redis_server(port) else {
        panic!("redis-server is needed for this test (scripts/test.sh installs it)");
    };
    wait_for_port(port).await;
    let tg = FakeTelegram::start().await;
    let od = FakeOmnidesk::start(STAFF_EMAIL, API_KEY).await;
    let app: TestApp = start_with(
        tg,
        od,
        "outage:".to_owned(),
        format!("redis://127.0.0.1:{port}"),
    )
    .await;
    let user = TestUser::ru(800_002);
    app.says(&user, "/start");
    app.expect(&user, &app.tx("ru", "menu-title")).await;

    let _ = redis.kill();
    let _ = redis.wait();
    app.says(&user, "/start");
    app.expect(&user, &app.tx("ru", "temporarily-unavailable"))
        .await;

    let mut redis = redis_server(port).expect("redis restarts");
    wait_for_port(port).await;
    let deadline = Instant::now() + WAIT;
    let mut recovered = false;
    while Instant::now() < deadline && !recovered {
        app.says(&user, "/help");
        recovered = app
            .tg
            .wait_for_message(
                user.chat_id(),
                |m| m.text.contains("8-800-550-51-89"),
                Duration::from_secs(1),
            )
            .await
            .is_some();
    }
    let _ = redis.kill();
    let _ = redis.wait();
    assert!(recovered, "the bot answers again once Redis is back");
}

#[tokio::test]
async fn metrics_count_an_intake_and_healthz_reports_storage() {
    let app = spawn_app().await;
    let user = TestUser::ru(800_003);
    let summary = app.fill_custom_development(&user).await;
    app.taps(&user, &summary, &app.tx("ru", "btn-send"));
    app.expect(&user, "664-245651").await;

    let base = format!("http://{}", app.http_addr);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in\n{metrics}"))
    };
    assert_eq!(value("waviot_bot_requests_submitted_total"), 1.0);
    assert_eq!(value("waviot_bot_deliveries_total{result=\"ok\"}"), 1.0);
    assert_eq!(
        value("waviot_bot_updates_handled_total{kind=\"message\"}"),
        5.0
    );
    assert!(value("waviot_bot_updates_handled_total{kind=\"callback_query\"}") >= 4.0);
    assert_eq!(value("waviot_bot_outbox_depth"), 0.0);
    assert!(metrics.contains("waviot_bot_update_handling_seconds_bucket"));

    let health: serde_json::Value = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("healthz")
        .json()
        .await
        .expect("json");
    assert_eq!(health["storage"], "ok");
    assert_eq!(health["omnidesk"], "ok");
}

#[tokio::test]
async fn an_update_is_confirmed_to_telegram_only_after_it_was_handled() {
    // On the embedded store, a write lock held by the test keeps the bot's commit (and so
    // the update) in hand until the test lets go.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bot.db");
    let app = crate::helpers::spawn_app_on_file(&file).await;
    let user = TestUser::ru(800_004);
    let first = app.says(&user, "/help");
    assert!(app.tg.wait_for_confirmed(first, WAIT).await);
    let lock = rusqlite::Connection::open(&file).expect("open");
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock");
    let id = app.says(&user, "/start");
    // The poller keeps polling meanwhile (it fetched the update and asks again), but from
    // the update in hand. The lock is let go well within the store's 5 s busy timeout.
    let polls = app.tg.calls("getUpdates");
    assert!(
        app.tg.wait_for_calls("getUpdates", polls + 3, WAIT).await,
        "polling goes on while the update is in hand"
    );
    assert!(
        app.tg.confirmed_offset() <= id,
        "update {id} confirmed while still being handled (offset {})",
        app.tg.confirmed_offset()
    );
    lock.execute_batch("COMMIT").expect("let go");
    assert!(
        app.tg.wait_for_confirmed(id, Duration::from_secs(20)).await,
        "confirmed once handled"
    );
    assert!(
        app.tg
            .wait_for_message(
                user.chat_id(),
                |m| m.text.contains(&app.tx("ru", "menu-title")),
                WAIT
            )
            .await
            .is_some()
    );
}

#[tokio::test]
async fn a_rediss_url_connects_over_tls_and_an_untrusted_server_is_refused_by_name() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let server_key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.crt"), ca.pem()).expect("write");
    let mut other_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other_ca = CertifiedIssuer::self_signed(other_params, KeyPair::generate().expect("key"))
        .expect("another CA");
    std::fs::write(path("other-ca.crt"), other_ca.pem()).expect("write");
    std::fs::write(path("server.crt"), server.pem()).expect("write");
    std::fs::write(path("server.key"), server_key.serialize_pem()).expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let tls_redis = || {
        std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--tls-cert-file")
            .arg(path("server.crt"))
            .arg("--tls-key-file")
            .arg(path("server.key"))
            .arg("--tls-ca-cert-file")
            .arg(path("ca.crt"))
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts")
    };
    let mut redis = tls_redis();
    wait_for_port(port).await;
    // The trusted roots come from SSL_CERT_FILE, as on a host with its own CA.
    let list = |roots: std::path::PathBuf| {
        std::process::Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
            .args(["outbox", "list"])
            .env("REDIS_URL", format!("rediss://127.0.0.1:{port}"))
            .env("SSL_CERT_FILE", roots)
            .env_remove("BOT_CONFIG")
            .output()
            .expect("the command runs")
    };
    let trusted = list(path("ca.crt"));
    let _ = (redis.kill(), redis.wait());
    let untrusted = {
        // Started again for the refusal, so that nothing else answers on the port.
        let mut again = tls_redis();
        wait_for_port(port).await;
        let out = list(path("other-ca.crt"));
        let _ = (again.kill(), again.wait());
        out
    };
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(String::from_utf8_lossy(&trusted.stdout).contains("waiting: 0"));
    assert!(
        !untrusted.status.success(),
        "an untrusted server is refused"
    );
    let said = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        said.contains("Redis") && said.contains("certificate"),
        "{said}"
    );
}
