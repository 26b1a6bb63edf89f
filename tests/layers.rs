//! `src/` reads top-down in layers: each module uses only modules of lower layers (so no
//! import cycle is possible), and only the entry points read the settings.
//!
//! A module is a file of `src/` or a folder with its files; an edge is a `crate::name`
//! path in its code (comments are not code).

use std::collections::BTreeMap;
use std::path::Path;

/// The layers, lowest first; a module may use modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    // Adapters and records with no other module below them.
    &[
        "i18n",
        "telemetry",
        "metrics",
        "omnidesk",
        "storage",
        "sender",
        "cli",
    ],
    &["dry_run"],
    &["delivery"],
    &["worker"],
    &["conversation"],
    &["telegram", "desk_hooks"],
    &["ops"],
    &["config"],
    &["check"],
    &["startup"],
    &["chat", "qr"],
];

/// Who may read the settings (besides `main.rs`, which uses the crate from outside).
const READ_CONFIG: &[&str] = &["startup", "chat", "check"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The modules each module of `src/` uses, with the file that uses them.
fn edges(src: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let first = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            for line in text.lines() {
                let code = line.split("//").next().unwrap_or("");
                let mut rest = code;
                while let Some(i) = rest.find("crate::") {
                    rest = &rest[i + "crate::".len()..];
                    let used: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !used.is_empty() && used != module {
                        out.entry(module.clone())
                            .or_default()
                            .push((used, rel.display().to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_module_uses_only_lower_layers_and_only_entry_points_read_the_settings() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, uses) in edges(&src) {
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{module}: not placed in a layer (add it to LAYERS)"
            ));
            continue;
        };
        for (used, file) in uses {
            match layer_of(&used) {
                None => problems.push(format!("{file}: uses `{used}`, which is in no layer")),
                Some(l) if l >= own => problems.push(format!(
                    "{file}: `{module}` (layer {own}) uses `{used}` (layer {l}), which is not below it"
                )),
                Some(_) => {}
            }
            if used == "config" && !READ_CONFIG.contains(&module.as_str()) {
                problems.push(format!(
                    "{file}: `{module}` reads the settings; only {READ_CONFIG:?} and main may"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_notices_a_module_using_one_above_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("storage.rs"),
        "use crate::worker::Worker;\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("worker.rs"), "use crate::storage::Store;\n").expect("write");
    let found = edges(dir.path());
    let storage_uses: Vec<&str> = found["storage"].iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(storage_uses, ["worker"]);
    assert!(layer_of("worker") > layer_of("storage"));
}
