//! `waviot-support-bot check` on the repository's files and on broken copies.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}

/// A copy of `dialogues/` and `locales/` with a config pointing at it.
fn broken_copy(name: &str) -> (PathBuf, PathBuf) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&repo.join("dialogues"), &dir.join("dialogues"));
    copy_dir(&repo.join("locales"), &dir.join("locales"));
    let config = dir.join("bot.toml");
    std::fs::write(
        &config,
        format!(
            "dialogues-dir = \"{}\"\nlocales-dir = \"{}\"\n",
            dir.join("dialogues").display(),
            dir.join("locales").display()
        ),
    )
    .expect("config");
    (dir, config)
}

fn check(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_waviot-support-bot"))
        .arg("check")
        .env("BOT_CONFIG", config)
        .output()
        .expect("check runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("readable");
    assert!(text.contains(from), "{from:?} in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("written");
}

#[test]
fn the_repository_files_pass() {
    let (dir, config) = broken_copy("clean");
    let (ok, out) = check(&config);
    assert!(ok, "{out}");
    assert!(out.starts_with("ok: 14 request kinds"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unknown_field_a_typo_in_a_key_and_a_missing_message_are_each_named() {
    let (dir, config) = broken_copy("broken");
    edit(
        &dir.join("dialogues/devices.toml"),
        "{ field = \"meter-serial\" }",
        "{ field = \"meter-serail\" }",
    );
    edit(
        &dir.join("dialogues/reports.toml"),
        "urgency = \"high\"",
        "urgency = \"high\"\ncolour = \"red\"",
    );
    edit(
        &dir.join("locales/en/forms.ftl"),
        "kind-modem-setup = ",
        "kind-modem-setupp = ",
    );
    edit(
        &dir.join("locales/ru/bot.ftl"),
        "btn-send = 📨 Отправить",
        "btn-send = { $",
    );
    let (ok, out) = check(&config);
    assert!(!ok, "{out}");
    let devices = dir.join("dialogues/devices.toml");
    let lines: Vec<&str> = out.lines().collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        has(&format!(
            "{}: kinds[0].steps[1].field: unknown field `meter-serail`",
            devices.display()
        )),
        "{out}"
    );
    assert!(has("reports.toml") && has("colour"), "{out}");
    assert!(
        has(&format!(
            "{}: kind-modem-setup: not defined in en",
            dir.join("locales/en").display()
        )),
        "{out}"
    );
    assert!(
        has(&format!(
            "{}: line",
            dir.join("locales/ru/bot.ftl").display()
        )),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
