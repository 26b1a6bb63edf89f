//! Telegram adapter: turns updates into core inputs, commits the outcome, then queues the
//! effects (messages through the chat's paced queue, delivery through the worker).
//!
//! One handler serves every update. Per chat, teloxide runs updates one at a time; across
//! processes (webhook replicas, a rolling restart) a commit names the session revision it
//! read, and a conflict steps the update again on what the other process wrote (which the
//! refused commit answers with). An update steps on the chat's state as this process
//! committed it last, kept in the store's cache, so it costs one round trip. The
//! session keeps the ids of the updates applied last, so an update handed out twice (after
//! a crash) is applied once. Nothing here waits for Omnidesk or for Telegram's pacing.

mod extract;
mod guard;
mod polling;
mod render;
mod status;
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

use crate::i18n::Localizer;
use crate::metrics::Metrics;
use crate::sender::{Op, Outbound};
use crate::storage::outbox::Entry;
use crate::storage::outbox::{Sender, Submission};
use crate::storage::relay::{FollowUp, Job, RelayEntry};
use crate::storage::{Change, ChatState, Committed, LoadedSession, Store};
use crate::worker::WorkerHandle;

pub use extract::command;
pub use guard::{FloodGuard, Verdict};
pub use polling::{AckPolling, InFlight};
pub use render::text as render_text;
pub use status::StatusCache;

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
    /// Outgoing messages, one paced queue per chat (shared with the worker).
    pub outbound: Arc<Outbound>,
    /// Chats sending too much.
    pub flood: FloodGuard,
    /// The help desk, for `/status` lookups.
    pub desk: crate::delivery::Deliverer,
    /// States looked up for `/status`.
    pub status_cache: Arc<StatusCache>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Updates being handled (polling confirms only up to the oldest of them).
    pub in_flight: Arc<InFlight>,
    /// How long the user waits for the case number before being told it will follow.
    pub answer_wait: Duration,
    /// Requests one user may send per hour and per day.
    pub sends_allowed: (u32, u32),
    /// Wakes the relay worker when a follow-up is queued.
    pub relay: crate::conversation::RelayHandle,
    reply_labels: Vec<(String, String)>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Bundles the parts; the worker's handle, the outgoing queues and the counters are
    /// shared with the delivery worker.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        catalog: Catalog,
        hosts: HostPolicy,
        i18n: Arc<Localizer>,
        worker: WorkerHandle,
        outbound: Arc<Outbound>,
        metrics: Arc<Metrics>,
        desk: crate::delivery::Deliverer,
        answer_wait: Duration,
        flood: FloodGuard,
    ) -> Self {
        let reply_labels = render::reply_labels(&i18n);
        Self {
            store,
            catalog,
            i18n,
            hosts,
            worker,
            outbound,
            flood,
            desk,
            status_cache: Arc::default(),
            metrics,
            in_flight: Arc::default(),
            answer_wait,
            sends_allowed: (10, 30),
            relay: crate::conversation::RelayHandle::default(),
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
        let commands: Vec<BotCommand> = [
            "start", "new", "status", "cancel", "help", "language", "forget",
        ]
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
        .get_or_create(&crate::metrics::KindLabel {
            kind: kind.to_owned(),
        })
        .inc();
    state
        .metrics
        .update_seconds
        .observe(started.elapsed().as_secs_f64());
    state.in_flight.end(update.id.0);
    let _enter = span.enter();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error.message = %e, error.cause_chain = ?e, "update failed"),
        Err(_) => tracing::error!("update handler panicked"),
    }
}

/// Whether an update of `chat` is handled, or dropped by the flood guard (the chat is
/// told once per flood).
async fn admit(
    state: &AppState,
    chat: ChatId,
    user: &teloxide::types::User,
    album: Option<&str>,
) -> bool {
    match state.flood.check(chat.0, album) {
        Verdict::Handle => true,
        Verdict::Drop => false,
        Verdict::DropAndNotify => {
            tracing::warn!(
                chat.id = chat.0,
                "the chat sends too much; its updates are dropped until it calms down"
            );
            let lang = match state.store.load_profile(user.id.0).await {
                Ok(p) => p
                    .lang
                    .unwrap_or_else(|| Localizer::pick(user.language_code.as_deref()).to_owned()),
                Err(_) => Localizer::pick(user.language_code.as_deref()).to_owned(),
            };
            state
                .outbound
                .say(chat, state.i18n.text(&lang, "flood-notice"), None);
            false
        }
    }
}

/// Where an update came from and what it says.
struct Incoming<'u> {
    chat: ChatId,
    user: &'u teloxide::types::User,
    input: Input,
    origin: Option<MessageId>,
    callback: Option<teloxide::types::CallbackQueryId>,
    /// The message's id, for a message.
    message: Option<MessageId>,
}

async fn process(bot: &Bot, update: &Update, state: &AppState, me: &Me) -> anyhow::Result<()> {
    let incoming = match &update.kind {
        UpdateKind::Message(msg) => {
            let Some(user) = msg.from.as_ref() else {
                return Ok(());
            };
            if !msg.chat.is_private() {
                if msg.text().and_then(command).is_some()
                    && state.flood.group_notice_due(msg.chat.id.0)
                {
                    let lang = Localizer::pick(user.language_code.as_deref());
                    let link = format!("https://t.me/{}", me.username());
                    let text = state
                        .i18n
                        .render(lang, &Msg::new("group-only-private").arg("link", link));
                    state.outbound.say(msg.chat.id, text, None);
                }
                return Ok(());
            }
            let album = msg.media_group_id().map(|g| g.0.as_str());
            if !admit(state, msg.chat.id, user, album).await {
                return Ok(());
            }
            let mut input = extract::input(msg, Some(user));
            if let Some(to_case) = follow_up_target(state, msg, user, me).await {
                input = Input::FollowUp {
                    case_id: to_case.case_id,
                    case_number: to_case.case_number,
                    caption: msg.caption().map(str::to_owned),
                    inner: Box::new(input),
                };
            }
            Incoming {
                chat: msg.chat.id,
                user,
                input,
                origin: None,
                callback: None,
                message: Some(msg.id),
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
            if !admit(state, message.chat().id, &q.from, None).await {
                bot.answer_callback_query(q.id.clone()).await?;
                return Ok(());
            }
            Incoming {
                chat: message.chat().id,
                user: &q.from,
                input: Input::Button(q.data.clone().unwrap_or_default()),
                origin: Some(message.id()),
                callback: Some(q.id.clone()),
                message: None,
            }
        }
        _ => return Ok(()),
    };
    tracing::Span::current().record("chat.id", incoming.chat.0);
    let toast = step_chat(update, state, &incoming).await;
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

/// The case a message is meant for: it replies to one of the bot's messages naming one
/// of the user's cases (a relayed reply, or the prompt of its "Reply" button), and is not
/// a command.
async fn follow_up_target(
    state: &AppState,
    msg: &Message,
    user: &teloxide::types::User,
    me: &Me,
) -> Option<crate::storage::CaseRecord> {
    let replied = msg.reply_to_message()?;
    if replied.from.as_ref().is_none_or(|f| f.id != me.id) {
        return None;
    }
    if msg
        .text()
        .is_some_and(|t| Input::from_command_line(t).is_some())
    {
        return None;
    }
    let quoted = replied.text().or_else(|| replied.caption())?;
    let cases = match state.store.cases_of(user.id.0).await {
        Ok(cases) => cases,
        Err(e) => {
            tracing::warn!(error.message = %e, "could not read the user's cases");
            return None;
        }
    };
    cases
        .into_iter()
        .filter(|c| names_number(quoted, &c.case_number))
        .max_by_key(|c| c.case_number.len())
}

/// The user's one case not known to be closed among those sent within [`MINE_KEPT`], when
/// they have exactly one.
///
/// [`MINE_KEPT`]: crate::storage::MINE_KEPT
async fn sole_open_case(state: &AppState, user_id: u64) -> Option<(i64, String)> {
    let since = crate::storage::outbox::now_ms()
        - crate::storage::outbox::millis(crate::storage::MINE_KEPT);
    let cases = match state.store.cases_of(user_id).await {
        Ok(cases) => cases,
        Err(e) => {
            tracing::warn!(error.message = %e, "could not read the user's cases");
            return None;
        }
    };
    let mut open = cases
        .into_iter()
        .filter(|c| c.sent_at_ms > since && c.status.as_deref() != Some("closed"));
    match (open.next(), open.next()) {
        (Some(only), None) => Some((only.case_id, only.case_number)),
        _ => None,
    }
}

/// Whether `text` names case `number` as a whole word (`664-1` is not in `664-12`).
fn names_number(text: &str, number: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '-';
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
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
    /// The chat is not as read (another writer committed it): step again on the state
    /// stored now.
    Conflict(ChatState),
    /// The store did not answer; the user is told in `lang`.
    Unavailable(String),
}

/// Loads, steps, stores and performs; returns the toast for a pressed button.
async fn step_chat(update: &Update, state: &AppState, inc: &Incoming<'_>) -> Option<String> {
    let tg_lang = Localizer::pick(inc.user.language_code.as_deref());
    let mut lang = tg_lang.to_owned();
    let mut known = None;
    for attempt in 0..COMMIT_TRIES {
        if attempt > 0 {
            let pause = rand::random_range(0..=5 * u64::from(attempt));
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        match apply(update, state, inc, tg_lang, known.take()).await {
            Applied::Stepped(stepped) => return perform(state, inc, stepped).await,
            Applied::Replayed => {
                tracing::info!("update already applied; skipped");
                return None;
            }
            Applied::Conflict(stored) => {
                tracing::debug!("the chat changed meanwhile; stepping again");
                known = Some(stored);
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
    state.outbound.say(inc.chat, text, None);
    None
}

/// Steps the dialogue on the chat's state (`known`, else the one the store has for an
/// update) and commits the result if nobody else committed the chat meanwhile.
async fn apply(
    update: &Update,
    state: &AppState,
    inc: &Incoming<'_>,
    tg_lang: &str,
    known: Option<ChatState>,
) -> Applied {
    let chat = inc.chat;
    let user_id = inc.user.id.0;
    // A follow-up is queued before the commit, so it is never stepped on a presumed chat.
    let presume = !matches!(inc.input, Input::FollowUp { .. });
    let mut read = match known {
        Some(read) => read,
        None => match state.store.chat_for_update(chat.0, user_id, presume).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(error.message = %e, "storage unavailable");
                return Applied::Unavailable(tg_lang.to_owned());
            }
        },
    };
    let lang_of = |p: &Profile| -> String { p.lang.clone().unwrap_or_else(|| tg_lang.to_owned()) };
    let mut notices = Vec::new();
    let update_id = i64::from(update.id.0);
    let mut previous = match std::mem::replace(&mut read.session, LoadedSession::None) {
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
    let session = std::mem::take(&mut previous.session);
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
    let now = Utc::now();
    let sent: Vec<chrono::DateTime<Utc>> = read
        .sent
        .iter()
        .filter_map(|ms| chrono::DateTime::from_timestamp_millis(*ms))
        .collect();
    let (per_hour, per_day) = state.sends_allowed;
    // Only a message with no draft in progress can be offered to an open case.
    let open_case = match (&session, &input) {
        (
            Session::Idle | Session::Offering(_),
            Input::Text(_) | Input::Photo(_) | Input::Document(_),
        ) => sole_open_case(state, user_id).await,
        _ => None,
    };
    let ctx = dialogue::Ctx {
        catalog: &state.catalog,
        hosts: &state.hosts,
        limits: dialogue::FileLimits::default(),
        now,
        new_id: &new_id,
        send_blocked_for: dialogue::send_blocked_for(&sent, now, per_hour, per_day),
        open_case: open_case.as_ref().map(|(id, n)| (*id, n.as_str())),
    };
    let t = dialogue::step(&ctx, session, std::mem::take(&mut read.profile), input);
    tracing::Span::current().record("step", step_label(&t.session).as_str());
    let lang = lang_of(&t.profile);
    let outgoing = t.effects.iter().find_map(|e| match e {
        Effect::Submit(req) => Some(Submission {
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
    for effect in &t.effects {
        if let Effect::FollowUp(follow) = effect {
            let entry = RelayEntry::new(
                // A message by its id; an offered one by the offer's, however often "add
                // it" is pressed, on whichever process.
                match (&follow.offer_id, inc.message) {
                    (Some(offer), _) => format!("tgo-{}-{offer}", chat.0),
                    (None, Some(m)) => format!("tg-{}-{}", chat.0, m.0),
                    (None, None) => format!("tgu-{}-{update_id}", chat.0),
                },
                format!("case-{}", follow.case_id),
                Job::Case(FollowUp {
                    case_id: follow.case_id,
                    case_number: follow.case_number.clone(),
                    chat_id: chat.0,
                    user_id,
                    lang: lang.clone(),
                    text: follow.text.clone(),
                    files: follow.files.clone(),
                    sent_at_ms: now.timestamp_millis(),
                }),
            );
            // Stored before the update counts as applied: a crash in between hands the
            // update out again, and the relay stores the message once.
            if let Err(e) = state.store.relay().push(&entry).await {
                tracing::warn!(error.message = %e, "storage unavailable");
                return Applied::Unavailable(lang);
            }
        }
    }
    let entry = outgoing.map(Entry::new);
    // Subscribe before the request can be delivered, so its outcome cannot be missed.
    let outcomes = entry.as_ref().map(|e| state.worker.expect(e.id()));
    let change = Change {
        session: previous.next(t.session, update_id, Utc::now()),
        profile: t.profile,
        profile_changed: t.profile_changed,
        outgoing: entry.as_ref(),
    };
    let committed = state
        .store
        .commit_update(chat.0, user_id, &read, change)
        .await;
    let forget_entry = || {
        if let Some(e) = &entry {
            state.worker.forget(e.id());
        }
    };
    let blocked = match committed {
        Ok(Committed::Written { blocked }) => blocked,
        Ok(Committed::Stale(stored)) => {
            forget_entry();
            return Applied::Conflict(stored);
        }
        Err(e) => {
            forget_entry();
            tracing::warn!(error.message = %e, "storage unavailable");
            return Applied::Unavailable(lang);
        }
    };
    if entry.is_some() {
        state.metrics.submitted.inc();
    }
    Applied::Stepped(Stepped {
        lang,
        notices,
        effects: t.effects,
        outcomes,
        blocked,
    })
}

/// Queues the effects of a committed step; returns the toast for a pressed button.
async fn perform(state: &AppState, inc: &Incoming<'_>, stepped: Stepped) -> Option<String> {
    let chat = inc.chat;
    let Stepped {
        lang,
        notices,
        effects,
        mut outcomes,
        blocked,
    } = stepped;
    let out = &state.outbound;
    for id in notices {
        out.say(chat, state.i18n.text(&lang, id), None);
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
                match (reply.edit_origin && editable, inc.origin) {
                    (true, Some(origin)) => out.push(
                        chat,
                        Op::Edit {
                            message: origin,
                            text,
                            keyboard: render::inline(&state.i18n, &lang, &reply.keyboard),
                        },
                    ),
                    _ => out.say(
                        chat,
                        text,
                        render::markup(&state.i18n, &lang, &reply.keyboard),
                    ),
                }
            }
            Effect::Toast(m) => toast = Some(state.i18n.render(&lang, &m)),
            Effect::ClearOriginKeyboard => {
                if let Some(origin) = inc.origin {
                    out.push(chat, Op::ClearKeyboard { message: origin });
                }
            }
            Effect::Forget => {
                if let Err(e) = state.store.forget(inc.user.id.0, chat.0).await {
                    tracing::warn!(error.message = %e, "could not forget the user");
                }
            }
            Effect::ShowRequests | Effect::ShowCase { .. } => {
                let query = status::StatusQuery {
                    store: state.store.clone(),
                    desk: state.desk.clone(),
                    outbound: out.clone(),
                    i18n: state.i18n.clone(),
                    cache: state.status_cache.clone(),
                };
                let (user, lang) = (inc.user.id.0, lang.clone());
                // Looked up in the desk on its own, so the update is not held meanwhile.
                match effect {
                    Effect::ShowCase { case_id, .. } => {
                        tokio::spawn(query.show_case(chat, user, case_id, lang))
                    }
                    _ => tokio::spawn(query.answer(chat, user, lang)),
                };
            }
            Effect::FollowUp(_) => state.relay.wake(),
            Effect::Submit(req) => {
                if let Some(outcomes) = outcomes.take() {
                    out.say(chat, state.i18n.text(&lang, "sending"), None);
                    state.worker.wake();
                    tokio::spawn(follow_delivery(
                        out.clone(),
                        state.worker.clone(),
                        state.i18n.clone(),
                        state.answer_wait,
                        chat,
                        lang.clone(),
                        req.id.clone(),
                        outcomes,
                    ));
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
        Session::Offering(_) => "offering".to_owned(),
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

/// After Send: the worker usually tells the number within a few seconds (through the
/// chat's queue); if it has not within `wait`, the user is told the request is saved and
/// the number follows. Runs on its own, so the update is not held meanwhile.
#[allow(clippy::too_many_arguments)]
async fn follow_delivery(
    out: Arc<Outbound>,
    worker: WorkerHandle,
    i18n: Arc<Localizer>,
    wait: Duration,
    chat: ChatId,
    lang: String,
    request_id: String,
    outcome: tokio::sync::oneshot::Receiver<crate::worker::Outcome>,
) {
    use crate::worker::Outcome;
    match tokio::time::timeout(wait, outcome).await {
        Ok(Ok(Outcome::Delivered(_) | Outcome::Parked)) => {}
        Ok(Ok(Outcome::Deferred | Outcome::Lost) | Err(_)) | Err(_) => {
            worker.forget(&request_id);
            out.say(chat, i18n.text(&lang, "registered-saved"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::names_number;

    #[test]
    fn a_case_number_is_found_as_a_whole_word_only() {
        let text = "💬 Ответ по обращению № 664-12:";
        assert!(names_number(text, "664-12"));
        assert!(!names_number(text, "664-1"));
        assert!(!names_number(text, "64-12"));
        assert!(names_number("No. DRY-000001.", "DRY-000001"));
    }
}
