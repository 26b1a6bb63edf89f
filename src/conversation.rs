//! The conversation after the case number: carries agents' replies into the users' chats
//! and the users' follow-ups into their cases, from the durable [`Relay`].
//!
//! Every bot process runs one, beside the delivery worker; they may share a store. The
//! relay hands out only the oldest message of each chain (a chat for replies, a case for
//! follow-ups), so messages keep their order; claims are leased and fenced as in the
//! outbox, so a message another process took over is dropped here.
//!
//! - **A reply** is sent with a "Reply" button. Telegram 429 waits in the chat's queue;
//!   a user who blocked the bot (or a chat that is gone) ends the message. Files the reply
//!   names are listed as links and, where Telegram can fetch them, sent as documents.
//! - **A follow-up** first reads its case: a closed case is not written to (the user is
//!   offered a new request); otherwise the message (with its photo) is added. Before it
//!   leaves, the time is recorded; whoever holds the message after an unknown outcome
//!   looks for it among the case's latest messages before sending it again.

use std::sync::Arc;
use std::time::Duration;

use intake_core::msg::Msg;
use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyMarkup};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::delivery::Deliverer;
use crate::i18n::Localizer;
use crate::omnidesk::{DeskError, NewMessage};
use crate::sender::Outbound;
use crate::storage::outbox::{millis, now_ms};
use crate::storage::relay::{AgentReply, Attachment, FollowUp, Held, Job, Relay, RelayEntry};
use crate::storage::{CaseRecord, Store};
use crate::worker::{WorkerConfig, backoff, drive};

/// Attempts after which a message that keeps failing is given up on (logged).
const MAX_ATTEMPTS: u32 = 30;

/// Fetches of a follow-up's file that may fail before the message goes without it.
const MAX_FILE_TRIES: u32 = 3;

/// How a held message leaves this process's hands.
enum Finish {
    /// Delivered, or given up on: the next message of its chain may go.
    Done,
    /// Try again at this time.
    Retry(i64, String),
}

/// Wakes the relay worker when something was pushed.
#[derive(Debug, Clone, Default)]
pub struct RelayHandle {
    wake: Arc<Notify>,
}

impl RelayHandle {
    /// Asks the worker to look for due messages now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The relay loop.
pub struct Conversation {
    /// The queue.
    pub relay: Relay,
    /// Storage (blocked chats, case records).
    pub store: Store,
    /// The help desk.
    pub desk: Deliverer,
    /// Bot (documents by URL).
    pub bot: Bot,
    /// Outgoing messages, one paced queue per chat (shared with the bot).
    pub outbound: Arc<Outbound>,
    /// Texts.
    pub i18n: Arc<Localizer>,
    /// Timing (lease, retries, polling, concurrency) as for deliveries.
    pub config: WorkerConfig,
    /// Wake-ups.
    pub handle: RelayHandle,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation").finish_non_exhaustive()
    }
}

impl Conversation {
    /// Runs until `stop` is cancelled; finishes the messages in hand first.
    pub async fn run(self, stop: CancellationToken) {
        let this = Arc::new(self);
        let config = this.config;
        drive(
            &stop,
            config.concurrency,
            config.poll,
            &this.handle.wake,
            "relay",
            |free| this.relay.claim(config.lease, free),
            |held| {
                let this = this.clone();
                async move { this.process(held).await }
            },
            |done| {
                if let Err(e) = done {
                    tracing::error!(error.message = %e, "a relay task failed");
                }
            },
        )
        .await;
    }

    /// One attempt at one held message, its lease kept alive meanwhile.
    async fn process(&self, held: Held) {
        let Held { mut entry, token } = held;
        entry.attempts += 1;
        let span = tracing::info_span!(
            "relay",
            relay.id = %entry.id,
            attempt = entry.attempts,
            claim = token
        );
        async move {
            let id = entry.id.clone();
            let finish = tokio::select! {
                finish = self.attempt(&mut entry, token) => finish,
                () = self.keep_lease(&id, token) => {
                    tracing::warn!("another process holds the message now; this copy is dropped");
                    return;
                }
            };
            let Some(finish) = finish else {
                tracing::warn!("another process holds the message now; this copy is dropped");
                return;
            };
            let written = match finish {
                Finish::Done => self.relay.done(&entry.id, token).await,
                Finish::Retry(at_ms, error) => {
                    tracing::warn!(error.message = %error, retry_in_ms = at_ms - now_ms(), "relay failed; will retry");
                    entry.last_error = Some(error);
                    self.relay.reschedule(&entry, token, at_ms).await
                }
            };
            match written {
                Ok(true) => {}
                Ok(false) => tracing::warn!("another process holds the message now"),
                Err(e) => {
                    tracing::warn!(error.message = %e, "could not record the outcome; the message will be claimed again");
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Extends the lease every third of it; returns once the message is lost.
    async fn keep_lease(&self, id: &str, token: i64) {
        let lease = self.config.lease;
        let mut held_until = now_ms() + millis(lease);
        loop {
            tokio::time::sleep(lease / 3).await;
            match self.relay.extend(id, token, lease).await {
                Ok(true) => held_until = now_ms() + millis(lease),
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error.message = %e, "could not extend the lease");
                    if now_ms() >= held_until {
                        return;
                    }
                }
            }
        }
    }

    /// `None` when the message turned out to be held by another process.
    async fn attempt(&self, entry: &mut RelayEntry, token: i64) -> Option<Finish> {
        let finish = match entry.job.clone() {
            Job::User(reply) => self.relay_reply(entry, &reply).await,
            Job::Case(follow) => return self.add_follow_up(entry, token, &follow).await,
        };
        Some(finish)
    }

    /// A retry after backoff, or the end after too many attempts.
    fn retry(&self, entry: &RelayEntry, error: String) -> Finish {
        if entry.attempts >= MAX_ATTEMPTS {
            tracing::error!(error.message = %error, "the message keeps failing; given up");
            self.metrics.relayed("given-up");
            return Finish::Done;
        }
        let delay = backoff(
            entry.attempts,
            self.config.retry_base,
            self.config.retry_cap,
        );
        Finish::Retry(now_ms() + millis(delay), error)
    }

    // ----- agent replies ------------------------------------------------------------

    async fn relay_reply(&self, entry: &RelayEntry, reply: &AgentReply) -> Finish {
        let chat = ChatId(reply.chat_id);
        if self.store.is_blocked(reply.chat_id).await.unwrap_or(false) {
            tracing::info!("the user blocked the bot; the reply is not sent");
            self.metrics.relayed("blocked");
            return Finish::Done;
        }
        let lang = reply.lang.as_str();
        let header = html_escape::encode_text(&self.i18n.render(
            lang,
            &Msg::new("agent-reply-header").arg("number", reply.case_number.clone()),
        ))
        .into_owned();
        let mut text = if reply.notice {
            reply.html.clone()
        } else {
            format!("<b>{header}</b>\n{}", reply.html)
        };
        if !reply.attachments.is_empty() {
            text.push_str("\n\n");
            for a in &reply.attachments {
                text.push_str(&format!(
                    "📎 <a href=\"{}\">{}</a>\n",
                    html_escape::encode_double_quoted_attribute(&a.url),
                    html_escape::encode_text(&a.name)
                ));
            }
        }
        let markup = if reply.notice {
            reply
                .renew_kind
                .as_deref()
                .and_then(|kind| self.renew_button(lang, kind, &reply.case_number))
        } else {
            Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new([[
                InlineKeyboardButton::callback(
                    self.i18n.text(lang, "btn-reply"),
                    format!("reply:{}:{}", reply.case_id, reply.case_number),
                ),
            ]])))
        };
        if !reply.notice {
            // The agent answered when Omnidesk sent the reply, whether or not it gets through.
            self.note_first_reply(reply).await;
        }
        let mut sent = self
            .outbound
            .send_html(chat, text.clone(), markup.clone())
            .await;
        if let Err(RequestError::Api(ApiError::CantParseEntities(e))) = &sent {
            tracing::warn!(error.message = %e, "Telegram refused the reply's HTML; sent as plain text");
            sent = self.outbound.send(chat, html_to_plain(&text), markup).await;
        }
        match sent {
            Ok(()) if reply.notice => {
                self.metrics.relayed("notice");
                Finish::Done
            }
            Ok(()) => {
                self.metrics.relayed("reply");
                for a in &reply.attachments {
                    // Best effort: the link is in the message already.
                    let document = self
                        .bot
                        .send_document(
                            chat,
                            InputFile::url(match a.url.parse() {
                                Ok(url) => url,
                                Err(_) => continue,
                            })
                            .file_name(a.name.clone()),
                        )
                        .await;
                    if let Err(e) = document {
                        tracing::info!(error.message = %e, "an attachment stays a link");
                    }
                }
                Finish::Done
            }
            Err(RequestError::Api(ApiError::BotBlocked)) => {
                let _ = self.store.set_blocked(reply.chat_id).await;
                tracing::info!("the user blocked the bot; the reply is not sent");
                self.metrics.relayed("blocked");
                Finish::Done
            }
            Err(RequestError::Api(
                e @ (ApiError::ChatNotFound
                | ApiError::UserDeactivated
                | ApiError::BotKicked
                | ApiError::CantInitiateConversation),
            )) => {
                tracing::info!(error.message = %e, "the user cannot be reached; the reply is not sent");
                self.metrics.relayed("blocked");
                Finish::Done
            }
            Err(RequestError::RetryAfter(wait)) => Finish::Retry(
                now_ms() + millis(wait.duration().max(Duration::from_secs(1))),
                "Telegram rate limit".to_owned(),
            ),
            Err(e) => self.retry(entry, format!("sending the reply: {e}")),
        }
    }

    /// Records when the first agent reply of a case came (for the verdict in `/status`).
    async fn note_first_reply(&self, reply: &AgentReply) {
        match self.store.case(reply.case_id).await {
            Ok(Some(mut record)) if record.first_reply_ms.is_none() => {
                record.first_reply_ms = Some(reply.received_at_ms);
                if let Err(e) = self.store.save_case(&record).await {
                    tracing::warn!(error.message = %e, "could not record the first reply");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error.message = %e, "could not read the case record"),
        }
    }

    /// The "New request for No. …" button continuing a closed case (`None` when its data
    /// would not fit Telegram's 64 bytes).
    fn renew_button(&self, lang: &str, kind: &str, number: &str) -> Option<ReplyMarkup> {
        let data = format!("renew:{kind}:{number}");
        (data.len() <= 64).then(|| {
            let label = self.i18n.render(
                lang,
                &Msg::new("btn-renew").arg("number", number.to_owned()),
            );
            ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new([[
                InlineKeyboardButton::callback(label, data),
            ]]))
        })
    }

    // ----- follow-ups ---------------------------------------------------------------

    async fn tell(&self, follow: &FollowUp, message: &Msg) {
        self.tell_with(follow, message, None).await;
    }

    async fn tell_with(&self, follow: &FollowUp, message: &Msg, markup: Option<ReplyMarkup>) {
        let text = self.i18n.render(&follow.lang, message);
        if let Err(e) = self
            .outbound
            .send(ChatId(follow.chat_id), text, markup)
            .await
        {
            tracing::info!(error.message = %e, "could not tell the user about the follow-up");
        }
    }

    /// Tells the user their case is closed and offers a new request continuing it.
    async fn tell_closed(&self, follow: &FollowUp) {
        let kind = match self.store.case(follow.case_id).await {
            Ok(record) => record.map(|r| r.kind),
            Err(e) => {
                tracing::warn!(error.message = %e, "could not read the case record");
                None
            }
        };
        let markup = kind.and_then(|k| self.renew_button(&follow.lang, &k, &follow.case_number));
        let closed = Msg::new("follow-up-closed").arg("number", follow.case_number.clone());
        self.tell_with(follow, &closed, markup).await;
    }

    async fn add_follow_up(
        &self,
        entry: &mut RelayEntry,
        token: i64,
        follow: &FollowUp,
    ) -> Option<Finish> {
        let number = Msg::new("follow-up-added").arg("number", follow.case_number.clone());
        let content = intake_core::case::follow_up_content(&follow.text, &follow.files);
        if entry.sent_at_ms.is_some() {
            // Sent before without a recorded outcome: it may be in the case already.
            match self.desk.latest_messages(follow.case_id).await {
                Ok(messages) => {
                    if messages
                        .iter()
                        .any(|m| m.staff_id == 0 && !m.note && m.content.trim() == content.trim())
                    {
                        tracing::info!("the follow-up is in the case already");
                        self.tell(follow, &number).await;
                        return Some(Finish::Done);
                    }
                }
                Err(e) => return Some(self.desk_retry(entry, &e)),
            }
        }
        let case = match self.desk.case(follow.case_id).await {
            Ok(case) => case,
            Err(DeskError::Rejected { status: 404, .. }) => {
                self.tell_closed(follow).await;
                return Some(Finish::Done);
            }
            Err(e) => return Some(self.desk_retry(entry, &e)),
        };
        if case.status.as_deref() == Some("closed") {
            self.tell_closed(follow).await;
            self.metrics.relayed("closed");
            return Some(Finish::Done);
        }
        let attachments = match self.desk.open_files(&follow.files).await {
            Ok(a) => a,
            Err(e) if !e.permanent && entry.attempts < MAX_FILE_TRIES => {
                return Some(self.retry(entry, e.to_string()));
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "the follow-up's file could not be fetched");
                self.tell(
                    follow,
                    &Msg::new("registered-file-missing").arg("name", e.name.clone()),
                )
                .await;
                Vec::new()
            }
        };
        entry.sent_at_ms = Some(now_ms());
        match self.relay.save(entry, token).await {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(self.retry(entry, e.to_string())),
        }
        let message = NewMessage {
            user_id: case.user_id,
            user_custom_id: Some(follow.user_id.to_string()),
            content: content.clone(),
            attachments,
        };
        match self.desk.add_message(follow.case_id, message).await {
            Ok(_) => {
                self.metrics.relayed("follow-up");
                self.tell(follow, &number).await;
                Some(Finish::Done)
            }
            Err(DeskError::Rejected { status, body }) => {
                tracing::error!(status, body = %body, "Omnidesk refused the follow-up");
                self.tell(
                    follow,
                    &Msg::new("follow-up-failed").arg("number", follow.case_number.clone()),
                )
                .await;
                Some(Finish::Done)
            }
            Err(e) => {
                if !matches!(e, DeskError::Unknown(_)) {
                    // Omnidesk answered: nothing was added.
                    entry.sent_at_ms = None;
                }
                Some(self.desk_retry(entry, &e))
            }
        }
    }

    /// A retry after an Omnidesk failure: its `retry_after` for 429, else backoff.
    fn desk_retry(&self, entry: &RelayEntry, error: &DeskError) -> Finish {
        match error {
            DeskError::RateLimited { retry_after } => {
                self.metrics.omnidesk_429.inc();
                let wait = retry_after
                    .unwrap_or(Duration::from_secs(60))
                    .max(Duration::from_millis(100));
                Finish::Retry(now_ms() + millis(wait), error.to_string())
            }
            _ => self.retry(entry, error.to_string()),
        }
    }
}

/// The relay entry carrying an agent's reply (`html`, Telegram HTML) to the case's chat,
/// deduplicated by Omnidesk's message id whichever way it came (webhook or polling).
pub fn agent_reply_entry(
    record: &CaseRecord,
    message_id: i64,
    html: String,
    attachments: Vec<Attachment>,
) -> RelayEntry {
    RelayEntry::new(
        format!("om-{message_id}"),
        format!("chat-{}", record.chat_id),
        Job::User(AgentReply {
            message_id,
            case_id: record.case_id,
            case_number: record.case_number.clone(),
            chat_id: record.chat_id,
            lang: record.lang.clone(),
            html,
            attachments,
            received_at_ms: now_ms(),
            notice: false,
            renew_kind: None,
        }),
    )
}

/// Records a case's status as read from Omnidesk; when it changed to closed or waiting,
/// returns the notice to queue for the user (a relay entry).
///
/// # Errors
///
/// The store is unreachable.
pub async fn status_read(
    store: &Store,
    i18n: &Localizer,
    mut record: CaseRecord,
    status: &str,
) -> anyhow::Result<Option<RelayEntry>> {
    let status = status.trim();
    if status.is_empty() || record.status.as_deref() == Some(status) {
        return Ok(None);
    }
    record.status = Some(status.to_owned());
    store.save_case(&record).await?;
    let notice = match status {
        "closed" => "case-closed",
        "waiting" => "case-waiting",
        _ => return Ok(None),
    };
    let text = i18n.render(
        &record.lang,
        &Msg::new(notice).arg("number", record.case_number.clone()),
    );
    Ok(Some(RelayEntry::new(
        format!("st-{}-{status}-{}", record.case_id, now_ms()),
        format!("chat-{}", record.chat_id),
        Job::User(AgentReply {
            message_id: 0,
            case_id: record.case_id,
            case_number: record.case_number.clone(),
            chat_id: record.chat_id,
            lang: record.lang.clone(),
            html: html_escape::encode_text(&text).into_owned(),
            attachments: Vec::new(),
            received_at_ms: now_ms(),
            notice: true,
            renew_kind: (status == "closed").then(|| record.kind.clone()),
        }),
    )))
}

/// Message lookups per poll at most: the rest wait for the next poll.
const FETCHES_PER_POLL: usize = 10;

/// List pages read per poll at most.
const PAGES_PER_POLL: u32 = 3;

/// How far back the first poll looks.
const FIRST_LOOK_BACK: Duration = Duration::from_secs(24 * 3600);

/// Polls Omnidesk for agents' replies and status changes, for a bot its webhooks cannot
/// reach (`omnidesk-poll-secs`). Each poll lists the cases changed since the last one
/// (newest first, a few pages at most), and reads the latest messages only of changed
/// cases this bot created (at most [`FETCHES_PER_POLL`]; the rest wait): never one call
/// per case per poll. Replies go through the relay, deduplicated by message id, so
/// several processes polling, or polling beside the webhook, relay each reply once.
pub struct DeskPoller {
    /// Storage (case records, the relay).
    pub store: Store,
    /// The help desk.
    pub desk: Deliverer,
    /// Texts of status notices.
    pub i18n: Arc<Localizer>,
    /// Wakes the relay worker.
    pub relay: RelayHandle,
    /// Time between polls.
    pub every: Duration,
}

impl std::fmt::Debug for DeskPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskPoller")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl DeskPoller {
    /// Polls every `every` until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut since =
            chrono::Utc::now() - chrono::Duration::from_std(FIRST_LOOK_BACK).unwrap_or_default();
        loop {
            match self.poll(since).await {
                Ok(next) => since = next,
                Err(e) => tracing::warn!(error.message = %e, "polling Omnidesk failed; will retry"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// One poll of the cases changed since `since`; returns where the next one starts.
    ///
    /// # Errors
    ///
    /// Omnidesk or the store failed; the next poll starts from `since` again.
    pub async fn poll(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        let started = chrono::Utc::now();
        let mut changed = Vec::new();
        for page in 1..=PAGES_PER_POLL {
            let cases = self.desk.updated_cases(page).await?;
            let full = cases.len() >= 100;
            let mut older_seen = false;
            for case in cases {
                match case.updated_at {
                    Some(at) if at < since => older_seen = true,
                    _ => changed.push(case),
                }
            }
            if older_seen || !full {
                break;
            }
        }
        // Oldest change first, so that a poll cut short resumes where it stopped.
        changed.sort_by_key(|c| c.updated_at);
        let mut fetched = 0;
        let mut next = started;
        for case in changed {
            let Some(record) = self.store.case(case.info.case_id).await? else {
                continue;
            };
            if fetched >= FETCHES_PER_POLL {
                next = case.updated_at.unwrap_or(started).min(started);
                break;
            }
            fetched += 1;
            let messages = self.desk.latest_messages(record.case_id).await?;
            let oldest = now_ms() - millis(crate::storage::relay::SEEN_KEPT);
            let mut replies: Vec<_> = messages
                .into_iter()
                .filter(|m| m.staff_id != 0 && !m.note)
                // Omnidesk's times have whole seconds (and clocks differ): a minute's slack.
                .filter(|m| {
                    m.created_at.is_none_or(|t| {
                        t.timestamp_millis() >= record.sent_at_ms.max(oldest) - 60_000
                    })
                })
                .collect();
            replies.sort_by_key(|m| m.message_id);
            for m in replies {
                let html = crate::omnidesk::channel::telegram_html(&m.content_html, &m.content);
                if html.trim().is_empty() {
                    continue;
                }
                if self
                    .store
                    .relay()
                    .push(&agent_reply_entry(&record, m.message_id, html, Vec::new()))
                    .await?
                {
                    self.relay.wake();
                }
            }
            if let Some(status) = &case.info.status
                && let Some(notice) = status_read(&self.store, &self.i18n, record, status).await?
                && self.store.relay().push(&notice).await?
            {
                self.relay.wake();
            }
        }
        // A change made while this poll ran is seen again by the next one.
        Ok(next - chrono::Duration::seconds(5))
    }
}

/// The text of Telegram HTML without its tags.
fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_of_html_keeps_the_words() {
        assert_eq!(
            html_to_plain("<b>Ответ</b>\n<a href=\"x\">a &lt; b</a>"),
            "Ответ\na < b"
        );
    }
}
