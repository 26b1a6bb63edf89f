//! Omnidesk API client: creates a case, with attachments streamed as multipart parts,
//! reads cases and their messages, adds messages; and what Omnidesk sends back
//! ([`channel`]).

pub mod channel;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The bytes of an attachment, as they arrive from their source.
pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// A file to attach, streamed from its source.
pub struct Attachment {
    /// File name shown to agents.
    pub name: String,
    /// MIME type.
    pub mime: String,
    /// Exact length in bytes (sent as the part's length, so the request has a Content-Length).
    pub size: u64,
    /// The bytes.
    pub body: ByteStream,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("mime", &self.mime)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A case to create.
#[derive(Debug, Default)]
pub struct NewCase {
    /// Subject (at most 255 characters).
    pub subject: String,
    /// Plain-text body.
    pub content: String,
    /// HTML body (escaped).
    pub content_html: String,
    /// Customer e-mail.
    pub user_email: Option<String>,
    /// Customer name.
    pub user_full_name: Option<String>,
    /// Customer phone.
    pub user_phone: Option<String>,
    /// `low`, `normal`, `high` or `critical`.
    pub priority: String,
    /// Language id.
    pub language_id: Option<u64>,
    /// Custom channel (`cchNNN`) the case is created on, so agents' replies come back to
    /// the bot.
    pub channel: Option<String>,
    /// The user's id on that channel (the Telegram user id).
    pub user_custom_id: Option<String>,
    /// Group id.
    pub group_id: Option<u64>,
    /// `cf_N` → value.
    pub custom_fields: BTreeMap<String, String>,
    /// Label ids.
    pub labels: Vec<u64>,
    /// Files.
    pub attachments: Vec<Attachment>,
}

/// A created case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedCase {
    /// Internal id, used in URLs.
    pub case_id: i64,
    /// Number shown to people, e.g. `664-245651`.
    pub case_number: String,
    /// Its status (`open`, `waiting`, `closed`…), when the answer said.
    pub status: Option<String>,
}

/// A case as read back from Omnidesk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInfo {
    /// Internal id.
    pub case_id: i64,
    /// Number shown to people.
    pub case_number: String,
    /// `open`, `waiting`, `closed`…, when given.
    pub status: Option<String>,
    /// The customer's Omnidesk user id, when given.
    pub user_id: Option<i64>,
}

/// A case in a list, with when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCase {
    /// The case.
    pub info: CaseInfo,
    /// When it last changed, when the list said.
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A message to add to a case, authored by its customer.
#[derive(Debug, Default)]
pub struct NewMessage {
    /// The customer's Omnidesk user id.
    pub user_id: Option<i64>,
    /// The customer's id on the custom channel.
    pub user_custom_id: Option<String>,
    /// Plain text.
    pub content: String,
    /// Files.
    pub attachments: Vec<Attachment>,
}

/// A message of a case, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMessage {
    /// Message id.
    pub message_id: i64,
    /// Staff author (0 for the customer).
    pub staff_id: i64,
    /// Plain text.
    pub content: String,
    /// HTML.
    pub content_html: String,
    /// An internal note.
    pub note: bool,
    /// When it was written, when the answer said.
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why the help desk (Omnidesk, or the dry-run folder) failed a create or a lookup.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// Nothing was created; trying again may succeed (connect error, 5xx).
    #[error("Omnidesk is unavailable: {0}")]
    Unavailable(String),
    /// The request may or may not have created a case (timeout, connection lost mid-answer).
    #[error("Omnidesk's answer was lost: {0}")]
    Unknown(String),
    /// Rate limited; wait before the next call.
    #[error("Omnidesk rate limit, retry after {retry_after:?}")]
    RateLimited {
        /// How long Omnidesk asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The request was refused and will be refused again (4xx).
    #[error("Omnidesk refused the case ({status}): {body}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Response body (truncated).
        body: String,
    },
}

/// What Omnidesk last said about the account's request budget (`api_calls_left`).
#[derive(Debug, Default)]
struct Budget {
    left: Option<i64>,
    seen_at: Option<std::time::Instant>,
}

/// Client for one Omnidesk account.
#[derive(Clone)]
pub struct OmnideskClient {
    http: reqwest::Client,
    base: reqwest::Url,
    email: String,
    api_key: SecretString,
    budget: std::sync::Arc<std::sync::Mutex<Budget>>,
}

impl std::fmt::Debug for OmnideskClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmnideskClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl OmnideskClient {
    /// A client for `base` (e.g. `https://waviot.omnidesk.ru`) with Basic auth.
    ///
    /// # Errors
    ///
    /// The HTTP client cannot be built.
    pub fn new(
        base: reqwest::Url,
        email: String,
        api_key: SecretString,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(timeout)
            .user_agent(concat!("waviot-support-bot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            email,
            api_key,
            budget: std::sync::Arc::default(),
        })
    }

    fn note_budget(&self, headers: &reqwest::header::HeaderMap) {
        let left = headers
            .get("api_calls_left")
            .or_else(|| headers.get("api-calls-left"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        if let (Some(left), Ok(mut budget)) = (left, self.budget.lock()) {
            budget.left = Some(left);
            budget.seen_at = Some(std::time::Instant::now());
        }
    }

    /// How long to wait before a write so as not to exceed the per-minute budget (a
    /// create counts as 2 requests); `None` when there is room.
    pub fn budget_wait(&self) -> Option<Duration> {
        let budget = self.budget.lock().ok()?;
        let (Some(left), Some(seen)) = (budget.left, budget.seen_at) else {
            return None;
        };
        let window = Duration::from_secs(60);
        let elapsed = seen.elapsed();
        (left < 2 && elapsed < window).then(|| window - elapsed)
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url
    }

    /// Creates a case: JSON without attachments, multipart with them.
    ///
    /// # Errors
    ///
    /// See [`DeskError`] for how failures are classified.
    #[tracing::instrument(skip_all, fields(attachments = case.attachments.len()), err(Display))]
    pub async fn create_case(&self, case: NewCase) -> Result<CreatedCase, DeskError> {
        let request = self.http.post(self.url("/api/cases.json"));
        let request = if case.attachments.is_empty() {
            request.json(&serde_json::json!({ "case": case_json(&case) }))
        } else {
            request.multipart(case_form(case).map_err(|problem| DeskError::Rejected {
                status: 0,
                body: problem,
            })?)
        };
        let body = self.call(request).await?;
        let envelope: wire::CaseEnvelope = serde_json::from_str(&body)
            .map_err(|e| DeskError::Unknown(format!("unexpected answer: {e}")))?;
        Ok(CreatedCase {
            case_id: envelope.case.case_id,
            case_number: envelope
                .case
                .case_number
                .unwrap_or_else(|| envelope.case.case_id.to_string()),
            status: envelope.case.status,
        })
    }
}

impl OmnideskClient {
    /// Sends a request and reads the answer's body; 429, 5xx and other non-2xx answers
    /// become the matching [`DeskError`].
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<String, DeskError> {
        let response = request
            .basic_auth(&self.email, Some(self.api_key.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(classify_send_error)?;
        self.note_budget(response.headers());
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(DeskError::RateLimited {
                retry_after: retry_after(response.headers()),
            });
        }
        let body = response
            .text()
            .await
            .map_err(|e| DeskError::Unknown(format!("reading the answer: {e}")))?;
        if status.is_server_error() {
            return Err(DeskError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(DeskError::Rejected {
                status: status.as_u16(),
                body: body.chars().take(500).collect(),
            });
        }
        Ok(body)
    }

    /// Reads a case by id (`GET /api/cases/{id}.json`).
    ///
    /// # Errors
    ///
    /// See [`DeskError`]; a case that does not exist is `Rejected` with status 404.
    #[tracing::instrument(skip_all, fields(case.id = case_id), err(Display))]
    pub async fn case(&self, case_id: i64) -> Result<CaseInfo, DeskError> {
        let body = self
            .call(
                self.http
                    .get(self.url(&format!("/api/cases/{case_id}.json"))),
            )
            .await
            .map_err(read_only)?;
        let envelope: wire::CaseEnvelope = serde_json::from_str(&body)
            .map_err(|e| DeskError::Unavailable(format!("unexpected answer: {e}")))?;
        Ok(envelope.case.into_info())
    }

    /// The case's latest messages, newest first (at most 100).
    ///
    /// # Errors
    ///
    /// See [`DeskError`].
    #[tracing::instrument(skip_all, fields(case.id = case_id), err(Display))]
    pub async fn latest_messages(&self, case_id: i64) -> Result<Vec<CaseMessage>, DeskError> {
        let mut url = self.url(&format!("/api/cases/{case_id}/messages.json"));
        url.query_pairs_mut()
            .append_pair("order", "desc")
            .append_pair("limit", "100");
        let body = self.call(self.http.get(url)).await.map_err(read_only)?;
        let body: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| DeskError::Unavailable(format!("unexpected answer: {e}")))?;
        let mut messages = wire::messages_in_list(&body);
        messages.sort_by_key(|m| std::cmp::Reverse(m.message_id));
        Ok(messages)
    }

    /// One page (1-based, 100 cases) of the cases that changed last, newest change first,
    /// on `channel` when given.
    ///
    /// # Errors
    ///
    /// See [`DeskError`].
    #[tracing::instrument(skip_all, fields(page), err(Display))]
    pub async fn updated_cases(
        &self,
        channel: Option<&str>,
        page: u32,
    ) -> Result<Vec<ListedCase>, DeskError> {
        let mut url = self.url("/api/cases.json");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("sort", "updated_at_desc")
                .append_pair("show_active_chats", "true")
                .append_pair("limit", "100")
                .append_pair("page", &page.to_string());
            if let Some(channel) = channel {
                query.append_pair("channel", channel);
            }
        }
        let body = self.call(self.http.get(url)).await.map_err(read_only)?;
        let body: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| DeskError::Unavailable(format!("unexpected answer: {e}")))?;
        Ok(wire::cases_in_list(&body)
            .into_iter()
            .map(|(_, case)| {
                let updated_at = case.updated_at.as_deref().and_then(wire::desk_time);
                ListedCase {
                    info: case.into_info(),
                    updated_at,
                }
            })
            .collect())
    }

    /// Adds a customer's message to a case: JSON without attachments, multipart with them.
    /// Returns the new message's id (0 when the answer does not say).
    ///
    /// # Errors
    ///
    /// See [`DeskError`]; a case that does not exist is `Rejected` with status 404.
    #[tracing::instrument(skip_all, fields(case.id = case_id, attachments = message.attachments.len()), err(Display))]
    pub async fn add_message(&self, case_id: i64, message: NewMessage) -> Result<i64, DeskError> {
        let request = self
            .http
            .post(self.url(&format!("/api/cases/{case_id}/messages.json")));
        let mut fields = serde_json::Map::new();
        fields.insert("content".to_owned(), message.content.clone().into());
        if let Some(id) = message.user_id {
            fields.insert("user_id".to_owned(), id.into());
        }
        if let Some(id) = &message.user_custom_id {
            fields.insert("user_custom_id".to_owned(), id.clone().into());
        }
        let request = if message.attachments.is_empty() {
            request.json(&serde_json::json!({ "message": fields }))
        } else {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in fields {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                form = form.text(format!("message[{k}]"), text);
            }
            for (i, a) in message.attachments.into_iter().enumerate() {
                form = form.part(
                    format!("message[attachments][{i}]"),
                    file_part(a).map_err(|body| DeskError::Rejected { status: 0, body })?,
                );
            }
            request.multipart(form)
        };
        let body = self.call(request).await?;
        let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        Ok(value
            .get("message")
            .and_then(|m| m.get("message_id"))
            .and_then(|id| id.as_i64().or_else(|| id.as_str()?.parse().ok()))
            .unwrap_or(0))
    }

    /// Finds a case whose subject contains `token` (a request's `[TG-…]` marker), to
    /// adopt a case created by an attempt whose answer was lost.
    ///
    /// # Errors
    ///
    /// The lookup itself failed; the caller must not create the case then.
    #[tracing::instrument(skip_all, err(Display))]
    pub async fn find_case_by_token(&self, token: &str) -> Result<Option<CreatedCase>, DeskError> {
        let mut url = self.url("/api/cases.json");
        url.query_pairs_mut()
            .append_pair("subject", token)
            .append_pair("show_active_chats", "true")
            .append_pair("limit", "100");
        let response = self
            .http
            .get(url)
            .basic_auth(&self.email, Some(self.api_key.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| DeskError::Unavailable(e.without_url().to_string()))?;
        self.note_budget(response.headers());
        let status = response.status();
        if status.as_u16() == 429 {
            return Err(DeskError::RateLimited { retry_after: None });
        }
        if !status.is_success() {
            return Err(DeskError::Unavailable(format!("lookup: HTTP {status}")));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| DeskError::Unavailable(format!("lookup answer: {e}")))?;
        Ok(wire::cases_in_list(&body)
            .into_iter()
            .find(|(subject, _)| subject.contains(token))
            .map(|(_, case)| CreatedCase {
                case_id: case.case_id,
                case_number: case.case_number.unwrap_or_else(|| case.case_id.to_string()),
                status: case.status,
            }))
    }
}

/// A read changes nothing: an answer lost on the way means only "try again".
fn read_only(e: DeskError) -> DeskError {
    match e {
        DeskError::Unknown(m) => DeskError::Unavailable(m),
        other => other,
    }
}

/// Omnidesk's `retry_after` (or a standard `Retry-After`) in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .or_else(|| headers.get("retry_after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A streamed multipart part for an attachment.
fn file_part(a: Attachment) -> Result<reqwest::multipart::Part, String> {
    let name = a.name.clone();
    reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(a.body), a.size)
        .file_name(a.name)
        .mime_str(&a.mime)
        .map_err(|e| format!("attachment {name} has an invalid MIME type: {e}"))
}

fn classify_send_error(e: reqwest::Error) -> DeskError {
    if e.is_connect() {
        DeskError::Unavailable(format!("connect: {e}"))
    } else {
        // Timeout or a connection lost after the request left: a case may exist.
        DeskError::Unknown(e.without_url().to_string())
    }
}

fn case_json(case: &NewCase) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("subject".into(), case.subject.clone().into());
    obj.insert("content".into(), case.content.clone().into());
    obj.insert("content_html".into(), case.content_html.clone().into());
    obj.insert("priority".into(), case.priority.clone().into());
    for (k, v) in [
        ("user_email", &case.user_email),
        ("user_full_name", &case.user_full_name),
        ("user_phone", &case.user_phone),
    ] {
        if let Some(v) = v {
            obj.insert(k.into(), v.clone().into());
        }
    }
    if let Some(id) = case.language_id {
        obj.insert("language_id".into(), id.into());
    }
    for (k, v) in [
        ("channel", &case.channel),
        ("user_custom_id", &case.user_custom_id),
    ] {
        if let Some(v) = v {
            obj.insert(k.into(), v.clone().into());
        }
    }
    if let Some(id) = case.group_id {
        obj.insert("group_id".into(), id.into());
    }
    if !case.custom_fields.is_empty() {
        obj.insert(
            "custom_fields".into(),
            serde_json::json!(case.custom_fields),
        );
    }
    if !case.labels.is_empty() {
        obj.insert("labels".into(), serde_json::json!(case.labels));
    }
    serde_json::Value::Object(obj)
}

fn case_form(case: NewCase) -> Result<reqwest::multipart::Form, String> {
    let mut form = reqwest::multipart::Form::new();
    if let serde_json::Value::Object(obj) = case_json(&case) {
        for (k, v) in obj {
            match v {
                serde_json::Value::Object(fields) => {
                    for (cf, value) in fields {
                        let text = value
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| value.to_string());
                        form = form.text(format!("case[{k}][{cf}]"), text);
                    }
                }
                serde_json::Value::Array(items) => {
                    for item in items {
                        form = form.text(format!("case[{k}][]"), item.to_string());
                    }
                }
                serde_json::Value::String(s) => form = form.text(format!("case[{k}]"), s),
                other => form = form.text(format!("case[{k}]"), other.to_string()),
            }
        }
    }
    for (i, a) in case.attachments.into_iter().enumerate() {
        form = form.part(format!("case[attachments][{i}]"), file_part(a)?);
    }
    Ok(form)
}

/// Optional Omnidesk mappings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OmnideskMapping {
    /// `language_id` of created cases.
    pub language_id: Option<u64>,
    /// `group_id` of created cases.
    pub group_id: Option<u64>,
    /// Custom channel (`cchNNN`) to create cases on, with the Telegram user as
    /// `user_custom_id`; without it cases are created by e-mail identity.
    pub channel: Option<String>,
    /// Field id → custom field (`cf_N`) that also receives its value.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, String>,
    /// Kind id → label ids.
    #[serde(default)]
    pub labels: BTreeMap<String, Vec<u64>>,
    /// Custom field (`cf_N`) receiving the request token.
    pub token_field: Option<String>,
    /// Custom field (`cf_N`) receiving the reaction deadline (`YYYY-MM-DD HH:MM`).
    pub deadline_field: Option<String>,
}
