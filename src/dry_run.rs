//! A dry-run "helpdesk": cases written to a local folder instead of Omnidesk, so the whole
//! flow can be tried with no accounts. Each case is `DRY-000001.json` (every field of the
//! case, as it would be sent) plus its attachments in `DRY-000001/`.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::omnidesk::{CaseInfo, CaseMessage, CreatedCase, DeskError, NewCase, NewMessage};

/// A folder receiving cases.
#[derive(Debug, Clone)]
pub struct DryRun {
    dir: PathBuf,
}

fn io_err(e: impl std::fmt::Display) -> DeskError {
    DeskError::Unavailable(format!("dry-run folder: {e}"))
}

/// A safe file name for an attachment (no path separators, never empty).
fn safe_name(name: &str, index: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        format!("file-{index}")
    } else {
        cleaned
    }
}

impl DryRun {
    /// Cases go to `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a case and its attachments; numbers are `DRY-000001`, `DRY-000002`, …
    ///
    /// # Errors
    ///
    /// The folder or a file cannot be written, or an attachment cannot be read.
    pub async fn create(&self, case: NewCase) -> Result<CreatedCase, DeskError> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(io_err)?;
        let (n, json_path) = self.reserve().await?;
        let number = format!("DRY-{n:06}");
        let files_dir = self.dir.join(&number);
        let mut attachments = Vec::new();
        if !case.attachments.is_empty() {
            tokio::fs::create_dir_all(&files_dir)
                .await
                .map_err(io_err)?;
        }
        for (i, mut a) in case.attachments.into_iter().enumerate() {
            let name = safe_name(&a.name, i + 1);
            let path = files_dir.join(&name);
            let mut file = tokio::fs::File::create(&path).await.map_err(io_err)?;
            let mut written = 0u64;
            while let Some(chunk) = a.body.next().await {
                let chunk = chunk.map_err(io_err)?;
                written += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(io_err)?;
            }
            file.flush().await.map_err(io_err)?;
            attachments.push(json!({
                "name": a.name, "mime": a.mime, "size": written, "file": format!("{number}/{name}"),
            }));
        }
        let body = json!({
            "case_number": number,
            "subject": case.subject,
            "content": case.content,
            "content_html": case.content_html,
            "user_email": case.user_email,
            "user_full_name": case.user_full_name,
            "user_phone": case.user_phone,
            "priority": case.priority,
            "language_id": case.language_id,
            "group_id": case.group_id,
            "custom_fields": case.custom_fields,
            "labels": case.labels,
            "attachments": attachments,
        });
        let text = serde_json::to_string_pretty(&body).map_err(io_err)?;
        tokio::fs::write(&json_path, text).await.map_err(io_err)?;
        Ok(CreatedCase {
            case_id: i64::from(n),
            case_number: number,
            status: Some("open".to_owned()),
        })
    }

    /// Reserves the next number by creating its JSON file exclusively.
    async fn reserve(&self) -> Result<(u32, PathBuf), DeskError> {
        let mut n = 1 + self.count().await?;
        loop {
            let path = self.dir.join(format!("DRY-{n:06}.json"));
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(_) => return Ok((n, path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    async fn count(&self) -> Result<u32, DeskError> {
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(io_err)?;
        let mut count = 0u32;
        while let Some(e) = entries.next_entry().await.map_err(io_err)? {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("DRY-") && name.ends_with(".json") {
                count += 1;
            }
        }
        Ok(count)
    }

    /// A case whose subject contains `marker`.
    ///
    /// # Errors
    ///
    /// The folder cannot be read.
    pub async fn find(&self, marker: &str) -> Result<Option<CreatedCase>, DeskError> {
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return Ok(None);
        };
        while let Some(e) = entries.next_entry().await.map_err(io_err)? {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(text) = tokio::fs::read_to_string(&path).await else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if v["subject"].as_str().is_some_and(|s| s.contains(marker)) {
                let number = v["case_number"].as_str().unwrap_or_default().to_owned();
                let id = number.trim_start_matches("DRY-").parse().unwrap_or(0);
                return Ok(Some(CreatedCase {
                    case_id: id,
                    case_number: number,
                    status: Some("open".to_owned()),
                }));
            }
        }
        Ok(None)
    }

    /// The case file of `case_id`.
    fn case_path(&self, case_id: i64) -> PathBuf {
        self.dir.join(format!("DRY-{case_id:06}.json"))
    }

    /// The follow-ups file of `case_id`: one JSON message per line.
    fn messages_path(&self, case_id: i64) -> PathBuf {
        self.dir.join(format!("DRY-{case_id:06}.messages.jsonl"))
    }

    /// A written case (always open: nobody answers in the dry run).
    ///
    /// # Errors
    ///
    /// There is no such case (`Rejected`, 404).
    pub async fn case(&self, case_id: i64) -> Result<CaseInfo, DeskError> {
        if tokio::fs::try_exists(self.case_path(case_id))
            .await
            .unwrap_or(false)
        {
            Ok(CaseInfo {
                case_id,
                case_number: format!("DRY-{case_id:06}"),
                status: Some("open".to_owned()),
                user_id: None,
            })
        } else {
            Err(DeskError::Rejected {
                status: 404,
                body: r#"{"error":"case_not_found"}"#.to_owned(),
            })
        }
    }

    /// The follow-ups written beside a case, newest first.
    ///
    /// # Errors
    ///
    /// The file cannot be read.
    pub async fn latest_messages(&self, case_id: i64) -> Result<Vec<CaseMessage>, DeskError> {
        let text = match tokio::fs::read_to_string(self.messages_path(case_id)).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(e)),
        };
        let mut messages: Vec<CaseMessage> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|v| CaseMessage {
                message_id: v["message_id"].as_i64().unwrap_or(0),
                staff_id: 0,
                content: v["content"].as_str().unwrap_or_default().to_owned(),
                content_html: String::new(),
                note: false,
                created_at: None,
            })
            .collect();
        messages.reverse();
        Ok(messages)
    }

    /// Appends a follow-up beside its case (`DRY-000001.messages.jsonl`), its files in the
    /// case's folder.
    ///
    /// # Errors
    ///
    /// There is no such case, or a file cannot be written.
    pub async fn add_message(&self, case_id: i64, message: NewMessage) -> Result<i64, DeskError> {
        self.case(case_id).await?;
        let existing = self.latest_messages(case_id).await?.len();
        let message_id = i64::try_from(existing).unwrap_or(i64::MAX - 1) + 1;
        let files_dir = self.dir.join(format!("DRY-{case_id:06}"));
        let mut names = Vec::new();
        for (i, mut a) in message.attachments.into_iter().enumerate() {
            tokio::fs::create_dir_all(&files_dir)
                .await
                .map_err(io_err)?;
            let name = safe_name(&format!("m{message_id}-{}", a.name), i + 1);
            let mut file = tokio::fs::File::create(files_dir.join(&name))
                .await
                .map_err(io_err)?;
            while let Some(chunk) = a.body.next().await {
                file.write_all(&chunk.map_err(io_err)?)
                    .await
                    .map_err(io_err)?;
            }
            file.flush().await.map_err(io_err)?;
            names.push(name);
        }
        let line = json!({
            "message_id": message_id,
            "content": message.content,
            "attachments": names,
            "written_at": chrono::Utc::now().to_rfc3339(),
        });
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.messages_path(case_id))
            .await
            .map_err(io_err)?;
        file.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(io_err)?;
        file.flush().await.map_err(io_err)?;
        Ok(message_id)
    }
}
