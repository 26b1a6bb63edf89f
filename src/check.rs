//! `waviot-support-bot check`: validates the configuration, every dialogue file and every
//! locale, and reports each problem as `file: key: what is wrong`. Support staff who edit
//! dialogues or texts run it to know an edit is safe.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use intake_core::form::Catalog;

use crate::config::BotFile;
use crate::i18n::LANGUAGES;

/// Message ids the adapters (Telegram, delivery, terminal chat) use.
pub const ADAPTER_MESSAGE_IDS: &[&str] = &[
    "agent-reply-header",
    "btn-renew",
    "btn-case",
    "btn-reply",
    "case-closed",
    "case-files-missing",
    "case-kind",
    "case-refers-to",
    "case-sent-at",
    "case-sent-by",
    "case-view-agent",
    "case-view-empty",
    "case-view-title",
    "case-view-you",
    "case-waiting",
    "chat-agent-hint",
    "chat-agent-no-case",
    "chat-agent-usage",
    "chat-attach-missing",
    "chat-dry-run",
    "chat-dry-run-saved",
    "chat-follow-up-saved",
    "chat-intro",
    "chat-invalid-utf8",
    "cmd-cancel",
    "cmd-forget",
    "cmd-help",
    "cmd-language",
    "cmd-new",
    "cmd-start",
    "cmd-status",
    "delivery-rejected",
    "flood-notice",
    "follow-up-added",
    "follow-up-closed",
    "follow-up-failed",
    "group-only-private",
    "notice-hotline",
    "reaction-agreed",
    "reaction-due",
    "reaction-hours",
    "registered",
    "registered-file-missing",
    "registered-saved",
    "sending",
    "state-reset",
    "status-chat",
    "status-closed",
    "status-in-time",
    "status-late",
    "status-line",
    "status-line-waiting",
    "status-no-deadline",
    "status-none",
    "status-open",
    "status-replied",
    "status-reply-due",
    "status-title",
    "status-unknown",
    "status-waiting",
    "sticker-hotline",
    "sticker-instruction",
    "sticker-title",
    "temporarily-unavailable",
    "urgency-name-critical",
    "urgency-name-high",
    "urgency-name-low",
    "urgency-name-medium",
    "zone-moscow",
];

/// What was checked, when nothing was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Request kinds.
    pub kinds: usize,
    /// Fields.
    pub messages: usize,
}

/// Every message id the code and the catalog need.
pub fn needed_ids(catalog: &Catalog) -> BTreeSet<String> {
    let mut ids = catalog.message_ids();
    for list in [
        intake_core::domain::MESSAGE_IDS,
        intake_core::dialogue::MESSAGE_IDS,
        ADAPTER_MESSAGE_IDS,
    ] {
        ids.extend(list.iter().map(|s| (*s).to_owned()));
    }
    ids
}

fn line_of(source: &str, byte: usize) -> usize {
    source[..byte.min(source.len())].matches('\n').count() + 1
}

/// Message ids defined in one `.ftl` file, or its syntax problems.
fn ftl_ids(path: &Path, problems: &mut Vec<String>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let source = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("{}: -: cannot be read: {e}", path.display()));
            return ids;
        }
    };
    let resource = match fluent_syntax::parser::parse(source.as_str()) {
        Ok(r) => r,
        Err((r, errors)) => {
            for e in errors {
                problems.push(format!(
                    "{}: line {}: {}",
                    path.display(),
                    line_of(&source, e.pos.start),
                    e.kind
                ));
            }
            r
        }
    };
    for entry in resource.body {
        if let fluent_syntax::ast::Entry::Message(m) = entry {
            if m.value.is_none() {
                problems.push(format!("{}: {}: has no value", path.display(), m.id.name));
            }
            if !ids.insert(m.id.name.to_owned()) {
                problems.push(format!("{}: {}: defined twice", path.display(), m.id.name));
            }
        }
    }
    ids
}

/// Checks everything; returns the problems (empty when all is well).
pub fn run(config: Option<&Path>) -> Result<Summary, Vec<String>> {
    let mut problems = Vec::new();
    let file = match config {
        Some(path) => match BotFile::load(path) {
            Ok(f) => f,
            Err(e) => {
                problems.push(e.to_string());
                BotFile::default()
            }
        },
        None => BotFile::default(),
    };
    let catalog = check_dialogues(&file.dialogues_dir, &mut problems);

    let mut per_lang = Vec::new();
    for lang in LANGUAGES {
        let dir = file.locales_dir.join(lang);
        let mut ids = BTreeSet::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                    .collect();
                paths.sort();
                for path in paths {
                    for id in ftl_ids(&path, &mut problems) {
                        if !ids.insert(id.clone()) {
                            problems.push(format!(
                                "{}: {id}: defined in another file of {lang} too",
                                path.display()
                            ));
                        }
                    }
                }
            }
            Err(e) => problems.push(format!("{}: -: cannot be read: {e}", dir.display())),
        }
        per_lang.push((lang, dir, ids));
    }
    let mut needed = catalog.as_ref().map(needed_ids).unwrap_or_default();
    for (_, _, ids) in &per_lang {
        needed.extend(ids.iter().cloned());
    }
    for (lang, dir, ids) in &per_lang {
        for id in &needed {
            if !ids.contains(id) {
                problems.push(format!("{}: {id}: not defined in {lang}", dir.display()));
            }
        }
    }
    if let Some(catalog) = &catalog {
        for kind in catalog.kinds() {
            for data in std::iter::once(format!("k:{}", kind.id))
                .chain(kind.steps.iter().map(|s| format!("edit:{}", s.field)))
            {
                if data.len() > 64 {
                    problems.push(format!(
                        "{}: {}: button data `{data}` is over 64 bytes",
                        file.dialogues_dir.display(),
                        kind.id
                    ));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    match (catalog, problems.is_empty()) {
        (Some(catalog), true) => Ok(Summary {
            kinds: catalog.kinds().count(),
            messages: needed.len(),
        }),
        _ => Err(problems),
    }
}

/// The `*.toml` files of the dialogues folder as (file name, text), sorted by name; a
/// file that cannot be read is listed as `path: -: problem` in `problems`.
pub fn dialogue_files(dir: &Path, problems: &mut Vec<String>) -> Vec<(String, String)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: -: cannot be read: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push((name, text)),
                Err(e) => problems.push(format!("{}: -: cannot be read: {e}", path.display())),
            }
        }
    }
    files.sort();
    files
}

fn check_dialogues(dir: &Path, problems: &mut Vec<String>) -> Option<Catalog> {
    let mut unreadable = Vec::new();
    let files = dialogue_files(dir, &mut unreadable);
    let folder_unreadable = files.is_empty() && !unreadable.is_empty();
    problems.append(&mut unreadable);
    if folder_unreadable {
        return None;
    }
    match Catalog::parse(&files) {
        Ok(c) => Some(c),
        Err(errors) => {
            for e in errors {
                let problem = e
                    .problem
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                problems.push(format!(
                    "{}: {}: {problem}",
                    dir.join(&e.file).display(),
                    e.key
                ));
            }
            None
        }
    }
}
