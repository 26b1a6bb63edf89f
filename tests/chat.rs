//! The terminal chat driven through a pipe, ending in a dry-run case file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `chat` (with `args`) in `dir` without Omnidesk settings, so cases go to
/// `dir/dry-run`; feeds it `script` and returns what it printed at the end of the input.
fn run_chat(dir: &Path, args: &[&str], script: &[u8]) -> Output {
    let repo = env!("CARGO_MANIFEST_DIR");
    let config = dir.join("bot.toml");
    std::fs::write(
        &config,
        format!(
            "dialogues-dir = \"{repo}/dialogues\"\nlocales-dir = \"{repo}/locales\"\ndry-run-dir = \"{}\"\n",
            dir.join("dry-run").display()
        ),
    )
    .expect("config written");
    let mut child = Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
        .arg("chat")
        .args(args)
        .env("BOT_CONFIG", &config)
        .env_remove("OMNIDESK_URL")
        .env_remove("OMNIDESK_EMAIL")
        .env_remove("OMNIDESK_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chat starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script)
        .expect("script written");
    child.wait_with_output().expect("chat ends at EOF")
}

#[test]
fn a_scripted_chat_from_a_pipe_ends_in_a_dry_run_case_with_every_field_and_the_attachment() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 3000][..]].concat();
    let shot = dir.join("shot.png");
    std::fs::write(&shot, &png).expect("png written");
    // Menu: 2 = devices, then 1 = device malfunction; "2" skips an optional step
    // (Back is 1 there); after the file, 1 = Done; on the summary, 1 = Send.
    let script = format!(
        "2\n1\n0x7a48ac\n0123-4567-8901\nhttps://lk.waviot.ru/?id=5&key=SECRET\n\
         Модем не выходит на связь третьи сутки\n2\n/attach {}\n1\nme@example.ru\nООО Тест\ntest\n2\n1\n",
        shot.display()
    );
    let output = run_chat(dir, &[], script.as_bytes());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("DRY-000001"), "{stdout}");
    assert!(
        stdout.contains("Пробный режим"),
        "the bot says it is a dry run: {stdout}"
    );

    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dry-run/DRY-000001.json")).expect("case file"),
    )
    .expect("case JSON");
    let content = case["content"].as_str().expect("content");
    for expected in [
        "ID модема (устройства): 7A48AC",
        "Серийный номер счётчика: 012345678901",
        "Ссылка на объект: https://lk.waviot.ru/?id=5",
        "Описание проблемы: Модем не выходит на связь третьи сутки",
        "Скриншоты: 1 (shot.png)",
        "Ваш e-mail: me@example.ru",
        "Организация (клиент): ООО Тест",
        "Логин в личном кабинете: test",
    ] {
        assert!(content.contains(expected), "{expected:?} in\n{content}");
    }
    assert!(
        !std::fs::read_to_string(dir.join("dry-run/DRY-000001.json"))
            .expect("file")
            .contains("SECRET")
    );
    assert_eq!(case["priority"], "high");
    assert_eq!(case["attachments"][0]["file"], "DRY-000001/shot.png");
    let copied = std::fs::read(dir.join("dry-run/DRY-000001/shot.png")).expect("attachment copied");
    assert_eq!(copied, png);
}

#[test]
fn a_sticker_link_typed_as_start_with_a_payload_prefills_the_modem_in_chat_mode() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    // 1 = device malfunction on the modem's menu; the modem step is not asked; "2" skips
    // the optional steps (Back is 1 there), "1" skips the screenshots; 1 = Send.
    let script = "/start m-7A48AC\n1\n0123-4567-8901\nhttps://lk.waviot.ru/?id=5\n\
                  Модем не выходит на связь третьи сутки\n2\n1\nme@example.ru\nООО Тест\ntest\n2\n1\n";
    let output = run_chat(dir, &[], script.as_bytes());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Модем 7A48AC"),
        "greets with the object: {stdout}"
    );
    assert!(
        stdout.contains("Шаг 1 из 9"),
        "the modem step is not asked: {stdout}"
    );
    let case: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("dry-run/DRY-000001.json")).expect("case file"),
    )
    .expect("case JSON");
    let content = case["content"].as_str().expect("content");
    assert!(
        content.contains("ID модема (устройства): 7A48AC"),
        "{content}"
    );
}

#[test]
fn a_line_that_is_not_utf8_is_answered_and_the_session_goes_on() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let script = b"\xff\xfe broken \xc3\x28\n/help\n";
    let output = run_chat(tmp.path(), &["--lang", "en"], script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("not UTF-8"), "{stdout}");
    assert!(
        stdout.contains("/forget"),
        "the session went on to /help: {stdout}"
    );
}

#[test]
fn the_whole_loop_in_the_terminal_an_agent_reply_and_a_follow_up_beside_the_dry_run_case() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[9u8; 500][..]].concat();
    let shot = dir.join("leds.png");
    std::fs::write(&shot, &png).expect("png written");
    // The sticker flow above up to Send; then `/agent` before any case is refused, after
    // it the reply shows with its button (1); a text and a screenshot go to the case.
    let script = format!(
        "/agent too early\n/start m-7A48AC\n1\n0123-4567-8901\nhttps://lk.waviot.ru/?id=5\n\
         Модем не выходит на связь третьи сутки\n2\n1\nme@example.ru\nООО Тест\ntest\n2\n1\n\
         /agent Перезагрузите модем, пожалуйста.\n1\nМодем перезагружен, не помогло\n/attach {}\n",
        shot.display()
    );
    let output = run_chat(dir, &[], script.as_bytes());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Сначала отправьте обращение"), "{stdout}");
    assert!(
        stdout.contains("💬 Ответ по обращению № DRY-000001:\nПерезагрузите модем, пожалуйста."),
        "{stdout}"
    );
    assert!(
        stdout.contains("✍️ Напишите дополнение к обращению № DRY-000001"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("📎 Добавлено к обращению № DRY-000001.")
            .count(),
        2,
        "{stdout}"
    );
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(dir.join("dry-run/DRY-000001.messages.jsonl"))
            .expect("follow-ups beside the case")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["content"], "Модем перезагружен, не помогло");
    assert_eq!(lines[1]["content"], "📎 leds.png");
    let file = lines[1]["attachments"][0].as_str().expect("a file name");
    let copied = std::fs::read(dir.join("dry-run/DRY-000001").join(file)).expect("copied");
    assert_eq!(copied, png);
}
