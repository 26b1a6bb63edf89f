//! `/status`: the user's recent requests, each with its case number and its state in the
//! help desk, or "waiting for its number". States are looked up by the request's token
//! (one list call per request, at most [`LISTED`]) and cached for [`CACHE_FOR`]. Each case
//! not closed has a button opening its last messages ([`StatusQuery::show_case`]) and a
//! "Reply" button
//! that adds a message to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use intake_core::msg::Msg;
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

use intake_core::case::reply_timing;

use crate::delivery::{Deliverer, short_token};
use crate::i18n::Localizer;
use crate::sender::Outbound;
use crate::storage::Store;

/// Requests listed.
pub const LISTED: usize = 5;

/// How long a looked-up state is reused.
pub const CACHE_FOR: Duration = Duration::from_secs(60);

/// Looked-up states by request id.
#[derive(Debug, Default)]
pub struct StatusCache {
    states: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl StatusCache {
    fn get(&self, id: &str) -> Option<Option<String>> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states
            .get(id)
            .filter(|(_, at)| at.elapsed() < CACHE_FOR)
            .map(|(state, _)| state.clone())
    }

    fn put(&self, id: &str, state: Option<String>) {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if states.len() > 10_000 {
            states.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        }
        states.insert(id.to_owned(), (state, Instant::now()));
    }
}

/// What `/status` needs, cloned out of the handler's state.
pub struct StatusQuery {
    /// Storage.
    pub store: Store,
    /// The desk to look states up in.
    pub desk: Deliverer,
    /// Outgoing messages.
    pub outbound: Arc<Outbound>,
    /// Texts.
    pub i18n: Arc<Localizer>,
    /// Looked-up states.
    pub cache: Arc<StatusCache>,
}

impl StatusQuery {
    /// Sends the list of `user_id`'s recent requests to `chat`.
    /// Each case that is not closed gets a "Reply" button.
    pub async fn answer(self, chat: ChatId, user_id: u64, lang: String) {
        let mut markup = None;
        let text = match self.list(user_id).await {
            Ok((lines, _)) if lines.is_empty() => self.i18n.text(&lang, "status-none"),
            Ok((lines, open)) => {
                if !open.is_empty() {
                    let label = self.i18n.text(&lang, "btn-reply");
                    markup = Some(ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(
                        open.into_iter().map(|(case_id, number)| {
                            [
                                InlineKeyboardButton::callback(
                                    self.i18n.render(
                                        &lang,
                                        &Msg::new("btn-case").arg("number", number.clone()),
                                    ),
                                    format!("case:{case_id}:{number}"),
                                ),
                                InlineKeyboardButton::callback(
                                    label.clone(),
                                    format!("reply:{case_id}:{number}"),
                                ),
                            ]
                        }),
                    )));
                }
                std::iter::once(self.i18n.text(&lang, "status-title"))
                    .chain(lines.iter().map(|m| self.i18n.render(&lang, m)))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "storage unavailable");
                self.i18n.text(&lang, "temporarily-unavailable")
            }
        };
        self.outbound.say(chat, text, markup);
    }

    /// The lines, and the cases (id, number) that can be replied to.
    async fn list(&self, user_id: u64) -> anyhow::Result<(Vec<Msg>, Vec<(i64, String)>)> {
        let zone = self.desk.sla().schedule.time_zone();
        let outbox = self.store.outbox();
        let cases = self.store.cases_of(user_id).await?;
        let mut open = Vec::new();
        let mut lines = Vec::new();
        for request in self.store.my_requests(user_id, LISTED).await? {
            let date = chrono::DateTime::from_timestamp_millis(request.sent_at_ms)
                .map(|t| t.with_timezone(&zone).format("%d.%m.%Y").to_string())
                .unwrap_or_default();
            let kind = format!("kind-{}", request.kind);
            let mut timing = None;
            let line = match outbox.delivered(&request.id).await? {
                Some(number) => {
                    let state = self.state(&request.id).await;
                    let case = cases.iter().find(|c| c.request_id == request.id);
                    if state.as_deref() != Some("closed")
                        && let Some(case) = case
                    {
                        open.push((case.case_id, case.case_number.clone()));
                    }
                    timing = case.and_then(|c| {
                        reply_timing(
                            c.sent_at_ms,
                            c.first_reply_ms,
                            c.reaction_due_ms
                                .and_then(chrono::DateTime::from_timestamp_millis)
                                .map(|t| t.with_timezone(&zone)),
                        )
                    });
                    Msg::new("status-line")
                        .arg("number", number)
                        .arg_ref("kind", kind)
                        .arg("date", date)
                        .arg_ref("state", state_message(state.as_deref()))
                }
                None => Msg::new("status-line-waiting")
                    .arg_ref("kind", kind)
                    .arg("date", date),
            };
            lines.push(line);
            lines.extend(timing);
        }
        Ok((lines, open))
    }

    /// The case's state in the desk (cached); `None` when it cannot be told now.
    async fn state(&self, request_id: &str) -> Option<String> {
        if let Some(state) = self.cache.get(request_id) {
            return state;
        }
        let state = match self.desk.find_existing(&short_token(request_id)).await {
            Ok(found) => found.and_then(|c| c.status),
            Err(e) => {
                tracing::warn!(error.message = %e, "could not look the case up");
                return None;
            }
        };
        self.cache.put(request_id, state.clone());
        state
    }
}

/// Messages shown when a case is opened.
pub const SHOWN: usize = 3;

impl StatusQuery {
    /// Sends case `case_id`'s last [`SHOWN`] messages (an internal note never) to `chat`,
    /// with a "Reply" button, if the case is `user_id`'s.
    pub async fn show_case(self, chat: ChatId, user_id: u64, case_id: i64, lang: String) {
        let record = match self.store.case(case_id).await {
            Ok(Some(record)) if record.user_id == user_id => record,
            Ok(_) => {
                tracing::warn!(
                    case.id = case_id,
                    "a case of another user was asked for; ignored"
                );
                return;
            }
            Err(e) => {
                tracing::warn!(error.message = %e, "storage unavailable");
                let text = self.i18n.text(&lang, "temporarily-unavailable");
                self.outbound.say(chat, text, None);
                return;
            }
        };
        let number = record.case_number;
        let messages = match self.desk.latest_messages(case_id).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error.message = %e, "could not read the case's messages");
                let text = self.i18n.text(&lang, "temporarily-unavailable");
                self.outbound.say(chat, text, None);
                return;
            }
        };
        let mut shown: Vec<_> = messages
            .into_iter()
            .filter(|m| !m.note)
            .take(SHOWN)
            .collect();
        shown.reverse();
        let title = self.i18n.render(
            &lang,
            &Msg::new("case-view-title").arg("number", number.clone()),
        );
        let mut html = format!("<b>{}</b>", html_escape::encode_text(&title));
        if shown.is_empty() {
            html.push('\n');
            html.push_str(&html_escape::encode_text(
                &self.i18n.text(&lang, "case-view-empty"),
            ));
        }
        for m in shown {
            let who = if m.staff_id == 0 {
                "case-view-you"
            } else {
                "case-view-agent"
            };
            html.push_str(&format!(
                "\n\n<b>{}</b>\n{}",
                html_escape::encode_text(&self.i18n.text(&lang, who)),
                crate::omnidesk::channel::telegram_html(&m.content_html, &m.content)
            ));
        }
        let markup = ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(
                self.i18n.text(&lang, "btn-reply"),
                format!("reply:{case_id}:{number}"),
            ),
        ]]));
        if let Err(e) = self.outbound.send_html(chat, html, Some(markup)).await {
            tracing::warn!(error.message = %e, "could not show the case");
        }
    }
}

/// The message id naming a desk state.
fn state_message(state: Option<&str>) -> &'static str {
    match state {
        Some("open") => "status-open",
        Some("waiting") => "status-waiting",
        Some("closed") => "status-closed",
        _ => "status-unknown",
    }
}
