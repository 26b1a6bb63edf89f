//! Delivery of finished requests to Omnidesk: building the case (subject, body for a
//! Russian-speaking agent, mappings) and streaming attachments from Telegram.

use std::sync::Arc;

use futures::TryStreamExt;
use intake_core::dialogue::Answer;
use teloxide::prelude::*;

use intake_core::case::{self, BodyLine};

use crate::i18n::Localizer;
use crate::omnidesk::{
    Attachment, CaseInfo, CaseMessage, CreatedCase, DeskError, ListedCase, NewCase, NewMessage,
    OmnideskClient, OmnideskMapping,
};
use crate::storage::outbox::Submission;

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Omnidesk failed or refused.
    #[error(transparent)]
    Omnidesk(#[from] DeskError),
    /// An attachment could not be read from its source.
    #[error(transparent)]
    File(#[from] FileError),
}

/// An attachment that could not be read from its source (Telegram or a local file).
#[derive(Debug, Clone, thiserror::Error)]
#[error("attachment {name}: {message}")]
pub struct FileError {
    /// The file's id at its source.
    pub file_id: String,
    /// The file's name, as the user sent it.
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// Trying again cannot help (the file is gone for good).
    pub permanent: bool,
}

/// The language agents read cases in.
const AGENT_LANG: &str = "ru";

pub use intake_core::case::{Reaction, Sla, registered_messages, short_token};

/// Renders one line of the case body for an agent.
fn render_line(i18n: &Localizer, line: &BodyLine) -> Vec<String> {
    let label = |field: &str| i18n.text(AGENT_LANG, &format!("field-{field}"));
    match line {
        BodyLine::Msg(m) => vec![i18n.render(AGENT_LANG, m)],
        BodyLine::Field { field, value } => vec![format!("{}: {value}", label(field))],
        BodyLine::Quoted { field, lines } => std::iter::once(format!("{}:", label(field)))
            .chain(lines.iter().map(|l| format!("> {l}")))
            .collect(),
        BodyLine::Blank => vec![String::new()],
    }
}

/// Builds the case (without attachments) an agent will read: the core's subject and body
/// rendered in the agents' language, with the account's mappings.
pub fn build_case(
    out: &Submission,
    i18n: &Localizer,
    mapping: &OmnideskMapping,
    sla: &Sla,
    left_out: &[String],
) -> NewCase {
    let req = &out.request;
    let kind_label = i18n.text(AGENT_LANG, &format!("kind-{}", req.kind));
    let token = short_token(&req.id);
    let subject = case::subject(&kind_label, req);
    if let Reaction::HoursOnly { year, .. } = sla.reaction(req.urgency, req.submitted_at) {
        tracing::warn!(
            year,
            "the production calendar needs updating: no data for this year"
        );
    }
    let lines: Vec<String> = case::body(out, &kind_label, sla, left_out)
        .iter()
        .flat_map(|l| render_line(i18n, l))
        .collect();
    let content = lines.join("\n");
    let content_html = lines
        .iter()
        .map(|l| html_escape::encode_text(l).into_owned())
        .collect::<Vec<_>>()
        .join("<br>\n");

    let text_of = |field: &str| req.answer(field).map(Answer::display);
    let mut custom_fields = std::collections::BTreeMap::new();
    for (field, cf) in &mapping.custom_fields {
        if let Some(v) = text_of(field) {
            custom_fields.insert(cf.clone(), v);
        }
    }
    if let Some(cf) = &mapping.token_field {
        custom_fields.insert(cf.clone(), token.clone());
    }
    if let (Some(cf), Reaction::Due { due, .. }) = (
        &mapping.deadline_field,
        sla.reaction(req.urgency, req.submitted_at),
    ) {
        custom_fields.insert(cf.clone(), due.format("%Y-%m-%d %H:%M").to_string());
    }
    let full_name = if out.sender.full_name.trim().is_empty() {
        text_of("organization")
    } else {
        Some(out.sender.full_name.clone())
    };
    NewCase {
        subject,
        content,
        content_html,
        user_email: text_of("email"),
        user_full_name: full_name,
        user_phone: text_of("phone"),
        priority: req.urgency.omnidesk_priority().to_owned(),
        language_id: mapping.language_id,
        channel: mapping.channel.clone(),
        user_custom_id: mapping.channel.as_ref().map(|_| out.sender.id.to_string()),
        group_id: mapping.group_id,
        custom_fields,
        labels: mapping.labels.get(&req.kind).cloned().unwrap_or_default(),
        attachments: Vec::new(),
    }
}

/// Where attachments are read from.
#[derive(Clone)]
pub enum FileSource {
    /// Telegram: `getFile`, then a streamed download (`transfer` has no total timeout).
    Telegram {
        /// The bot.
        bot: Bot,
        /// HTTP client for downloads.
        transfer: reqwest::Client,
    },
    /// Local files: a file's id is its path (the terminal chat).
    Local,
}

/// Where cases are created.
#[derive(Clone, Debug)]
pub enum CaseSink {
    /// A real Omnidesk account.
    Omnidesk(OmnideskClient),
    /// A local folder: one JSON file per case plus its attachments, numbered `DRY-000001`.
    DryRun(crate::dry_run::DryRun),
}

/// Creates cases, streaming attachments from their source.
#[derive(Clone)]
pub struct Deliverer {
    sink: CaseSink,
    files: FileSource,
    i18n: Arc<Localizer>,
    mapping: OmnideskMapping,
    sla: Arc<Sla>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer creating cases in `sink` with files from `files`.
    pub fn new(
        sink: CaseSink,
        files: FileSource,
        i18n: Arc<Localizer>,
        mapping: OmnideskMapping,
        sla: Arc<Sla>,
    ) -> Self {
        Self {
            sink,
            files,
            i18n,
            mapping,
            sla,
        }
    }

    /// The reaction-time rules in use.
    pub fn sla(&self) -> &Sla {
        &self.sla
    }

    /// Whether cases go to a dry-run folder.
    pub fn is_dry_run(&self) -> bool {
        matches!(self.sink, CaseSink::DryRun(_))
    }

    /// How long to hold writes to stay within Omnidesk's per-minute budget.
    pub fn budget_wait(&self) -> Option<std::time::Duration> {
        match &self.sink {
            CaseSink::Omnidesk(client) => client.budget_wait(),
            CaseSink::DryRun(_) => None,
        }
    }

    /// Looks for a case created earlier for the request with this token.
    ///
    /// # Errors
    ///
    /// The lookup failed.
    pub async fn find_existing(&self, token: &str) -> Result<Option<CreatedCase>, DeskError> {
        let marker = format!("[{token}]");
        match &self.sink {
            CaseSink::Omnidesk(client) => client.find_case_by_token(&marker).await,
            CaseSink::DryRun(dry) => dry.find(&marker).await,
        }
    }

    async fn open(&self, file: &intake_core::dialogue::FileRef) -> Result<Attachment, FileError> {
        let failed = |message: String, permanent: bool| FileError {
            file_id: file.file_id.clone(),
            name: file.name.clone(),
            message,
            permanent,
        };
        match &self.files {
            FileSource::Telegram { bot, transfer } => {
                let tg_file = bot
                    .get_file(teloxide::types::FileId(file.file_id.clone()))
                    .await
                    .map_err(|e| failed(e.to_string(), false))?;
                let stream = teloxide::net::download_file_stream(
                    transfer,
                    bot.api_url(),
                    bot.token(),
                    &tg_file.path,
                )
                .map_err(std::io::Error::other);
                Ok(Attachment {
                    name: file.name.clone(),
                    mime: file.mime.clone(),
                    size: u64::from(tg_file.meta.size),
                    body: Box::pin(stream),
                })
            }
            FileSource::Local => {
                let handle = tokio::fs::File::open(&file.file_id).await.map_err(|e| {
                    let gone = e.kind() == std::io::ErrorKind::NotFound;
                    failed(format!("{}: {e}", file.file_id), gone)
                })?;
                let size = handle
                    .metadata()
                    .await
                    .map_err(|e| failed(e.to_string(), false))?
                    .len();
                Ok(Attachment {
                    name: file.name.clone(),
                    mime: file.mime.clone(),
                    size,
                    body: Box::pin(tokio_util::io::ReaderStream::new(handle)),
                })
            }
        }
    }

    /// Opens files, in order.
    ///
    /// # Errors
    ///
    /// The first file that could not be opened.
    pub async fn open_files(
        &self,
        files: &[intake_core::dialogue::FileRef],
    ) -> Result<Vec<Attachment>, FileError> {
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            attachments.push(self.open(file).await?);
        }
        Ok(attachments)
    }

    /// Reads a case by id.
    ///
    /// # Errors
    ///
    /// The help desk failed (a case that does not exist is `Rejected` with status 404).
    pub async fn case(&self, case_id: i64) -> Result<CaseInfo, DeskError> {
        match &self.sink {
            CaseSink::Omnidesk(client) => client.case(case_id).await,
            CaseSink::DryRun(dry) => dry.case(case_id).await,
        }
    }

    /// The case's latest messages, newest first.
    ///
    /// # Errors
    ///
    /// The help desk failed.
    pub async fn latest_messages(&self, case_id: i64) -> Result<Vec<CaseMessage>, DeskError> {
        match &self.sink {
            CaseSink::Omnidesk(client) => client.latest_messages(case_id).await,
            CaseSink::DryRun(dry) => dry.latest_messages(case_id).await,
        }
    }

    /// One page (1-based) of the cases that changed last, on the configured channel;
    /// none in a dry run.
    ///
    /// # Errors
    ///
    /// The help desk failed.
    pub async fn updated_cases(&self, page: u32) -> Result<Vec<ListedCase>, DeskError> {
        match &self.sink {
            CaseSink::Omnidesk(client) => {
                client
                    .updated_cases(self.mapping.channel.as_deref(), page)
                    .await
            }
            CaseSink::DryRun(_) => Ok(Vec::new()),
        }
    }

    /// Adds a customer's message to a case; returns its id.
    ///
    /// # Errors
    ///
    /// The help desk failed (classified by [`DeskError`]).
    pub async fn add_message(&self, case_id: i64, message: NewMessage) -> Result<i64, DeskError> {
        match &self.sink {
            CaseSink::Omnidesk(client) => client.add_message(case_id, message).await,
            CaseSink::DryRun(dry) => dry.add_message(case_id, message).await,
        }
    }

    /// Opens the request's attachments, except those in `left_out` (file ids).
    ///
    /// # Errors
    ///
    /// The first attachment that could not be opened.
    pub async fn open_attachments(
        &self,
        out: &Submission,
        left_out: &[String],
    ) -> Result<Vec<Attachment>, FileError> {
        let mut attachments = Vec::new();
        for file in out.request.files() {
            if !left_out.contains(&file.file_id) {
                attachments.push(self.open(file).await?);
            }
        }
        Ok(attachments)
    }

    /// Creates the case for `out` with `attachments`; the case lists the files in
    /// `left_out` (file ids) as not received.
    ///
    /// # Errors
    ///
    /// Omnidesk failed (classified by [`DeskError`]).
    #[tracing::instrument(skip_all, fields(request.id = %out.request.id, request.kind = %out.request.kind), err(Display))]
    pub async fn create(
        &self,
        out: &Submission,
        attachments: Vec<Attachment>,
        left_out: &[String],
    ) -> Result<CreatedCase, DeskError> {
        let mut case = build_case(out, &self.i18n, &self.mapping, &self.sla, left_out);
        case.attachments = attachments;
        match &self.sink {
            CaseSink::Omnidesk(client) => client.create_case(case).await,
            CaseSink::DryRun(dry) => dry.create(case).await,
        }
    }

    /// Creates the case for `out`, streaming all its files from their source.
    ///
    /// # Errors
    ///
    /// Omnidesk failed (classified by [`DeskError`]) or a file could not be fetched.
    pub async fn deliver(&self, out: &Submission) -> Result<CreatedCase, DeliveryError> {
        let attachments = self.open_attachments(out, &[]).await?;
        Ok(self.create(out, attachments, &[]).await?)
    }
}

#[cfg(test)]
mod tests {
    use intake_core::dialogue::{Answer, Request};
    use intake_core::domain::{Email, FreeText};
    use intake_core::sla::{ProductionCalendar, WorkSchedule};
    use intake_core::urgency::Urgency;

    use crate::storage::outbox::Sender;

    use super::*;

    fn localizer() -> Localizer {
        Localizer::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales"))
            .expect("locales")
    }

    fn outgoing(description: &str) -> Submission {
        let text = |s: &str| Answer::Text(FreeText::parse(s, 1, 4000).expect("valid text"));
        Submission {
            request: Request {
                id: "3f2a9c1b00000000000000000000000a".to_owned(),
                kind: "custom-development".to_owned(),
                urgency: Urgency::Low,
                fields: vec![
                    ("description".to_owned(), text(description)),
                    (
                        "email".to_owned(),
                        Answer::Email(Email::parse("a@b.ru").expect("email")),
                    ),
                    ("organization".to_owned(), text("ООО Тест")),
                ],
                submitted_at: chrono::Utc::now(),
                refers_to: None,
            },
            chat_id: 1,
            sender: Sender {
                id: 1,
                username: None,
                full_name: "Иван".to_owned(),
            },
            lang: "ru".to_owned(),
        }
    }

    fn sla() -> Sla {
        Sla {
            schedule: WorkSchedule::default(),
            calendar: ProductionCalendar::russia(),
        }
    }

    #[test]
    fn a_multi_line_answer_cannot_forge_a_field_of_the_case() {
        let i18n = localizer();
        let email_label = i18n.text(AGENT_LANG, "field-email");
        let out = outgoing(&format!(
            "Не работает отчёт\n{email_label}: attacker@evil.example\nконец"
        ));
        let case = build_case(&out, &i18n, &OmnideskMapping::default(), &sla(), &[]);
        let field_lines: Vec<&str> = case
            .content
            .lines()
            .filter(|l| l.starts_with(&format!("{email_label}:")))
            .collect();
        assert_eq!(field_lines, vec![format!("{email_label}: a@b.ru")]);
        assert!(
            case.content
                .contains(&format!("> {email_label}: attacker@evil.example")),
            "{}",
            case.content
        );
    }

    #[test]
    fn the_subject_and_body_carry_no_control_characters_or_credentials() {
        let i18n = localizer();
        let out = outgoing("Ошибка\u{202E}\u{0007} при вызове /api?key=S3CR3T&id=1");
        let case = build_case(&out, &i18n, &OmnideskMapping::default(), &sla(), &[]);
        for text in [&case.subject, &case.content, &case.content_html] {
            assert!(!text.contains("S3CR3T"), "{text}");
            assert!(
                !text
                    .chars()
                    .any(|c| c == '\u{202E}' || (c.is_control() && c != '\n')),
                "{text:?}"
            );
        }
        assert!(case.subject.contains("key=***"), "{}", case.subject);
    }
}
