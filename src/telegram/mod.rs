//! Telegram adapter: turns updates into core inputs, persists the outcome, then performs
//! the effects (messages, keyboards, delivery).
//!
//! One handler serves every update. Per chat, teloxide runs updates one at a time, so a
//! chat's session is read, stepped and written without races. The session records the
//! id of the last update applied, so an update handed out twice (after a crash) is
//! applied once.

mod extract;
mod limits;
mod polling;
mod render;
pub mod webhook;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use intake_core::dialogue::{self, Effect, Input, Keyboard, Profile, Session, StoredSession};
use intake_core::domain::HostPolicy;
use intake_core::form::Catalog;
use intake_core::msg::Msg;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, ChatId, Me, MessageId, UpdateKind};
use tracing::Instrument;

use crate::delivery::{Outgoing, Sender};
use crate::i18n::Localizer;
use crate::outbox::Entry;
use crate::storage::{LoadedSession, Store};
use crate::worker::WorkerHandle;

pub use extract::command;
pub use limits::SendLimits;
pub use polling::{AckPolling, InFlight};
pub use render::text as render_text;

/// Everything the handler needs, shared by all updates.
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Request kinds.
    pub catalog: Catalog,
    /// Texts.
    pub i18n: Arc<Localizer>,
    /// Familiar link hosts.
    pub hosts: HostPolicy,
    /// The local delivery worker.
    pub worker: WorkerHandle,
    /// Outgoing message pacing.
    pub limits: Arc<SendLimits>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::ops::Metrics>,
    /// Updates being handled (polling confirms a batch only when this is empty).
    pub in_flight: Arc<InFlight>,
    /// How long the user waits for the case number before being told it will follow.
    pub answer_wait: Duration,
    reply_labels: Vec<(String, String)>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Bundles the parts; the worker's handle, pacing and counters are shared with it.
    pub fn new(
        store: Store,
        catalog: Catalog,
        hosts: HostPolicy,
        worker: &crate::worker::Worker,
        answer_wait: Duration,
    ) -> Self {
        let i18n = worker.i18n.clone();
        let reply_labels = render::reply_labels(&i18n);
        Self {
            store,
            catalog,
            i18n,
            hosts,
            worker: worker.handle.clone(),
            limits: worker.limits.clone(),
            metrics: worker.metrics.clone(),
            in_flight: Arc::default(),
            answer_wait,
            reply_labels,
        }
    }
}

/// The dispatcher's handler tree: every update goes to [`handle_update`].
pub fn schema() -> UpdateHandler<anyhow::Error> {
    dptree::entry().endpoint(handle_update_endpoint)
}

/// Publishes the command menu in Russian (also the default) and English.
///
/// # Errors
///
/// Telegram refused the call.
pub async fn publish_commands(bot: &Bot, i18n: &Localizer) -> anyhow::Result<()> {
    for (lang, code) in [("ru", None), ("ru", Some("ru")), ("en", Some("en"))] {
        let commands: Vec<BotCommand> = ["start", "new", "cancel", "help", "language"]
            .into_iter()
            .map(|c| BotCommand::new(c, i18n.text(lang, &format!("cmd-{c}"))))
            .collect();
        let mut request = bot.set_my_commands(commands);
        if let Some(code) = code {
            request = request.language_code(code);
        }
        request.await?;
    }
    Ok(())
}

/// The dispatcher's endpoint.
async fn handle_update_endpoint(
    bot: Bot,
    update: Update,
    state: Arc<AppState>,
    me: Me,
) -> anyhow::Result<()> {
    handle_update(bot, update, state, me).await;
    Ok(())
}

/// Handles one update; a panic inside is caught and logged so the bot survives it.
pub(crate) async fn handle_update(bot: Bot, update: Update, state: Arc<AppState>, me: Me) {
    let span = tracing::info_span!(
        "update",
        update.id = update.id.0,
        chat.id = tracing::field::Empty,
        step = tracing::field::Empty
    );
    let started = std::time::Instant::now();
    let result = AssertUnwindSafe(process(&bot, &update, &state, &me).instrument(span.clone()))
        .catch_unwind()
        .await;
    let kind = match &update.kind {
        UpdateKind::Message(_) => "message",
        UpdateKind::CallbackQuery(_) => "callback_query",
        _ => "other",
    };
    state
        .metrics
        .updates
        .get_or_create(&crate::ops::KindLabel {
            kind: kind.to_owned(),
        })
        .inc();
    state
        .metrics
        .update_seconds
        .observe(started.elapsed().as_secs_f64());
    state.in_flight.end();
    let _enter = span.enter();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error.message = %e, error.cause_chain = ?e, "update failed"),
        Err(_) => tracing::error!("update handler panicked"),
    }
}

/// Where an update came from and what it says.
struct Incoming<'u> {
    chat: ChatId,
    user: &'u teloxide::types::User,
    input: Input,
    origin: Option<MessageId>,
    callback: Option<teloxide::types::CallbackQueryId>,
}

async fn process(bot: &Bot, update: &Update, state: &AppState, me: &Me) -> anyhow::Result<()> {
    let incoming = match &update.kind {
        UpdateKind::Message(msg) => {
            let Some(user) = msg.from.as_ref() else {
                return Ok(());
            };
            if !msg.chat.is_private() {
                if msg.text().and_then(command).is_some() {
                    let lang = Localizer::pick(user.language_code.as_deref());
                    let link = format!("https://t.me/{}", me.username());
                    let text = state
                        .i18n
                        .render(lang, &Msg::new("group-only-private").arg("link", link));
                    bot.send_message(msg.chat.id, text).await?;
                }
                return Ok(());
            }
            Incoming {
                chat: msg.chat.id,
                user,
                input: extract::input(msg, Some(user)),
                origin: None,
                callback: None,
            }
        }
        UpdateKind::CallbackQuery(q) => {
            let Some(message) = q.message.as_ref() else {
                bot.answer_callback_query(q.id.clone()).await?;
                return Ok(());
            };
            if !message.chat().is_private() {
                bot.answer_callback_query(q.id.clone()).await?;
                return Ok(());
            }
            Incoming {
                chat: message.chat().id,
                user: &q.from,
                input: Input::Button(q.data.clone().unwrap_or_default()),
                origin: Some(message.id()),
                callback: Some(q.id.clone()),
            }
        }
        _ => return Ok(()),
    };
    tracing::Span::current().record("chat.id", incoming.chat.0);
    let toast = step_chat(bot, update, state, &incoming).await;
    if let Some(id) = incoming.callback.clone() {
        let mut answer = bot.answer_callback_query(id);
        if let Some(text) = toast {
            answer = answer.text(render::clip(&text).chars().take(190).collect::<String>());
        }
        if let Err(e) = answer.await {
            tracing::warn!(error.message = %e, "answerCallbackQuery failed");
        }
    }
    Ok(())
}

/// How many times an update is stepped again when another process committed its chat
/// first (with a short random pause growing each time, so racing writers spread out).
const COMMIT_TRIES: u32 = 12;

/// An update applied and committed: what remains is to perform its effects.
struct Stepped {
    lang: String,
    notices: Vec<&'static str>,
    effects: Vec<Effect>,
    outcomes: Option<tokio::sync::oneshot::Receiver<crate::worker::Outcome>>,
    blocked: bool,
}

/// How applying an update to its chat's stored state went.
enum Applied {
    /// Committed.
    Stepped(Stepped),
    /// This update was applied before (Telegram handed it out again).
    Replayed,
    /// Another writer committed the chat since it was read: read and step again.
    Conflict,
    /// The store did not answer; the user is told in `lang`.
    Unavailable(String),
}

/// Loads, steps, stores and performs; returns the toast for a pressed button.
async fn step_chat(
    bot: &Bot,
    update: &Update,
    state: &AppState,
    inc: &Incoming<'_>,
) -> Option<String> {
    let tg_lang = Localizer::pick(inc.user.language_code.as_deref());
    let mut lang = tg_lang.to_owned();
    for attempt in 0..COMMIT_TRIES {
        if attempt > 0 {
            let pause = rand::random_range(0..=5 * u64::from(attempt));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        match apply(update, state, inc, tg_lang).await {
            Applied::Stepped(stepped) => return perform(bot, state, inc, stepped).await,
            Applied::Replayed => {
                tracing::info!("update already applied; skipped");
                return None;
            }
            Applied::Conflict => {
                tracing::debug!("the chat changed meanwhile; stepping again");
            }
            Applied::Unavailable(l) => {
                lang = l;
                break;
            }
        }
    }
    let text = state.i18n.text(&lang, "temporarily-unavailable");
    if inc.callback.is_some() {
        return Some(text);
    }
    let _ = bot.send_message(inc.chat, text).await;
    None
}

/// Reads the chat, steps the dialogue and commits the result if nobody else committed
/// the chat meanwhile.
async fn apply(update: &Update, state: &AppState, inc: &Incoming<'_>, tg_lang: &str) -> Applied {
    let chat = inc.chat;
    let user_id = inc.user.id.0;
    let read = match state.store.load_chat(chat.0, user_id).await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error.message = %e, "storage unavailable");
            return Applied::Unavailable(tg_lang.to_owned());
        }
    };
    let lang_of = |p: &Profile| -> String { p.lang.clone().unwrap_or_else(|| tg_lang.to_owned()) };
    let mut notices = Vec::new();
    let update_id = i64::from(update.id.0);
    let previous = match read.session {
        LoadedSession::None => StoredSession::fresh(),
        LoadedSession::Found(stored) => {
            let recent = stored
                .updated_at
                .is_some_and(|t| Utc::now() - t < chrono::Duration::days(6));
            if recent && stored.has_applied(update_id) {
                return Applied::Replayed;
            }
            *stored
        }
        LoadedSession::Undecodable => {
            notices.push("state-reset");
            StoredSession::fresh()
        }
    };
    let session = previous.session.clone();
    let mut input = inc.input.clone();
    if let Input::Text(t) = &input
        && let Some((_, data)) = state
            .reply_labels
            .iter()
            .find(|(label, _)| label == t.trim())
    {
        input = Input::Button(data.clone());
    }
    let new_id = uuid::Uuid::new_v4().simple().to_string();
    let ctx = dialogue::Ctx {
        catalog: &state.catalog,
        hosts: &state.hosts,
        limits: dialogue::FileLimits::default(),
        now: Utc::now(),
        new_id: &new_id,
    };
    let t = dialogue::step(&ctx, session, read.profile, input);
    tracing::Span::current().record("step", step_label(&t.session).as_str());
    let lang = lang_of(&t.profile);
    let outgoing = t.effects.iter().find_map(|e| match e {
        Effect::Submit(req) => Some(Outgoing {
            request: (**req).clone(),
            chat_id: chat.0,
            sender: Sender {
                id: user_id,
                username: inc.user.username.clone(),
                full_name: inc.user.full_name(),
            },
            lang: lang.clone(),
        }),
        _ => None,
    });
    let stored = previous.next(t.session, update_id, Utc::now());
    let profile = t.profile_changed.then_some((user_id, &t.profile));
    let entry = outgoing.map(Entry::new);
    // Subscribe before the request can be delivered, so its outcome cannot be missed.
    let outcomes = entry.as_ref().map(|e| state.worker.expect(e.id()));
    let committed = state
        .store
        .commit(chat.0, read.revision, &stored, profile, entry.as_ref())
        .await;
    match committed {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            if let Some(e) = &entry {
                state.worker.forget(e.id());
            }
            return match committed {
                Err(e) => {
                    tracing::warn!(error.message = %e, "storage unavailable");
                    Applied::Unavailable(lang)
                }
                _ => Applied::Conflict,
            };
        }
    }
    if entry.is_some() {
        state.metrics.submitted.inc();
    }
    Applied::Stepped(Stepped {
        lang,
        notices,
        effects: t.effects,
        outcomes,
        blocked: read.blocked,
    })
}

/// Performs the effects of a committed step; returns the toast for a pressed button.
async fn perform(
    bot: &Bot,
    state: &AppState,
    inc: &Incoming<'_>,
    stepped: Stepped,
) -> Option<String> {
    let chat = inc.chat;
    let Stepped {
        lang,
        notices,
        effects,
        mut outcomes,
        blocked,
    } = stepped;
    for id in notices {
        send(state, bot, chat, state.i18n.text(&lang, id), None).await;
    }
    if blocked && let Err(e) = state.store.clear_blocked(chat.0).await {
        tracing::debug!(error.message = %e, "could not clear the blocked mark");
    }
    let mut toast = None;
    for effect in effects {
        match effect {
            Effect::Say(reply) => {
                let text = render::text(&state.i18n, &lang, &reply);
                let editable = matches!(reply.keyboard, Keyboard::None | Keyboard::Inline(_));
                if let (true, true, Some(origin)) = (reply.edit_origin, editable, inc.origin) {
                    state.limits.wait(chat.0).await;
                    let mut edit = bot.edit_message_text(chat, origin, text.clone());
                    if let Some(kb) = render::inline(&state.i18n, &lang, &reply.keyboard) {
                        edit = edit.reply_markup(kb);
                    }
                    if edit.await.is_ok() {
                        continue;
                    }
                }
                send(
                    state,
                    bot,
                    chat,
                    text,
                    render::markup(&state.i18n, &lang, &reply.keyboard),
                )
                .await;
            }
            Effect::Toast(m) => toast = Some(state.i18n.render(&lang, &m)),
            Effect::ClearOriginKeyboard => {
                if let Some(origin) = inc.origin {
                    let _ = bot.edit_message_reply_markup(chat, origin).await;
                }
            }
            Effect::Submit(req) => {
                if let Some(outcomes) = outcomes.take() {
                    await_delivery(bot, state, chat, &lang, &req.id, outcomes).await;
                }
            }
        }
    }
    toast
}

/// Where a session stands, for logs: `idle`, `<kind>/<field>` or `<kind>/review`.
fn step_label(session: &Session) -> String {
    match session {
        Session::Idle => "idle".to_owned(),
        Session::Drafting(d) => match &d.phase {
            dialogue::Phase::Asking { index, .. } | dialogue::Phase::ConfirmHost { index, .. } => {
                format!(
                    "{}/{}",
                    d.kind,
                    d.plan.get(*index).map_or("?", |s| s.field.as_str())
                )
            }
            dialogue::Phase::Review => format!("{}/review", d.kind),
        },
    }
}

async fn send(
    state: &AppState,
    bot: &Bot,
    chat: ChatId,
    text: String,
    markup: Option<teloxide::types::ReplyMarkup>,
) {
    if let Err(e) = send_text(bot, &state.limits, chat, text, markup).await {
        tracing::warn!(error.message = %e, "sendMessage failed");
    }
}

/// Sends a message, waiting out Telegram's 429 `retry_after` (up to 3 tries, at most a
/// minute each).
///
/// # Errors
///
/// The last error when the message could not be sent.
pub async fn send_text(
    bot: &Bot,
    limits: &SendLimits,
    chat: ChatId,
    text: String,
    markup: Option<teloxide::types::ReplyMarkup>,
) -> Result<(), teloxide::RequestError> {
    let mut tries = 0;
    loop {
        tries += 1;
        limits.wait(chat.0).await;
        let mut request = bot.send_message(chat, text.clone());
        if let Some(m) = markup.clone() {
            request = request.reply_markup(m);
        }
        match request.await {
            Ok(_) => return Ok(()),
            Err(teloxide::RequestError::RetryAfter(wait)) if tries < 3 => {
                limits.too_many_requests.inc();
                let wait = wait.duration().min(Duration::from_secs(60));
                tracing::warn!(wait_secs = wait.as_secs(), "Telegram rate limit; waiting");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// After Send: the worker usually answers with the number within a few seconds; if it
/// has not within the wait, tell the user the request is saved and the number follows.
async fn await_delivery(
    bot: &Bot,
    state: &AppState,
    chat: ChatId,
    lang: &str,
    request_id: &str,
    outcome: tokio::sync::oneshot::Receiver<crate::worker::Outcome>,
) {
    use crate::worker::Outcome;
    send(state, bot, chat, state.i18n.text(lang, "sending"), None).await;
    state.worker.wake();
    let waited = tokio::time::timeout(state.answer_wait, outcome).await;
    match waited {
        Ok(Ok(Outcome::Delivered(_) | Outcome::Parked)) => {}
        Ok(Ok(Outcome::Deferred | Outcome::Lost) | Err(_)) | Err(_) => {
            state.worker.forget(request_id);
            send(
                state,
                bot,
                chat,
                state.i18n.text(lang, "registered-saved"),
                None,
            )
            .await;
        }
    }
}
