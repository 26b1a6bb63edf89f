//! The dialogue: a [`State`] per step whose variant carries the draft, a dptree handler
//! tree entered through `RedisStorage<Json>`, and one handler per state, the way
//! teloxide's `purchase` and `db_remember` examples write a bot.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use teloxide::dispatching::UpdateHandler;
use teloxide::dispatching::dialogue::{self, RedisStorage, RedisStorageError, serializer::Json};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::utils::command::BotCommands;

use crate::intake::{self, Draft, Field, Invalid, Screenshot};
use crate::omnidesk::Services;
use crate::texts;

pub type IntakeDialogue = Dialogue<State, RedisStorage<Json>>;
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;
type HandlerResult = Result<(), HandlerError>;

/// Where a chat is in the intake; every step's variant carries the draft so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum State {
    #[default]
    Idle,
    ModemId(Draft),
    MeterSerial(Draft),
    ObjectLink(Draft),
    /// The link's host is not the portal's: asking whether it is right.
    ConfirmHost {
        draft: Draft,
        link: String,
    },
    Description(Draft),
    StepsToReproduce(Draft),
    Screenshots(Draft),
    Email(Draft),
    Organization(Draft),
    Login(Draft),
    AdditionalInfo(Draft),
    Review(Draft),
}

impl State {
    fn asking(field: Field, draft: Draft) -> Self {
        match field {
            Field::ModemId => Self::ModemId(draft),
            Field::MeterSerial => Self::MeterSerial(draft),
            Field::ObjectLink => Self::ObjectLink(draft),
            Field::Description => Self::Description(draft),
            Field::StepsToReproduce => Self::StepsToReproduce(draft),
            Field::Screenshots => Self::Screenshots(draft),
            Field::Email => Self::Email(draft),
            Field::Organization => Self::Organization(draft),
            Field::Login => Self::Login(draft),
            Field::AdditionalInfo => Self::AdditionalInfo(draft),
        }
    }

    /// The step being asked and the draft, if a step is being asked.
    fn into_step(self) -> Option<(Field, Draft)> {
        Some(match self {
            Self::ModemId(d) => (Field::ModemId, d),
            Self::MeterSerial(d) => (Field::MeterSerial, d),
            Self::ObjectLink(d) => (Field::ObjectLink, d),
            Self::Description(d) => (Field::Description, d),
            Self::StepsToReproduce(d) => (Field::StepsToReproduce, d),
            Self::Screenshots(d) => (Field::Screenshots, d),
            Self::Email(d) => (Field::Email, d),
            Self::Organization(d) => (Field::Organization, d),
            Self::Login(d) => (Field::Login, d),
            Self::AdditionalInfo(d) => (Field::AdditionalInfo, d),
            Self::Idle | Self::ConfirmHost { .. } | Self::Review(_) => return None,
        })
    }
}

/// These commands are supported:
#[derive(BotCommands, Clone, Debug)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// `/start`, with or without a deep-link payload (not used).
    #[command(description = "Начать")]
    Start(#[allow(dead_code)] String),
    #[command(description = "Новое обращение")]
    New,
    #[command(description = "Отменить")]
    Cancel,
    #[command(description = "Помощь")]
    Help,
}

/// A button press, parsed from its callback data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Press {
    /// `menu`
    Menu,
    /// `g:<group>`
    Group(String),
    /// `k:<kind>`
    Kind(String),
    /// `skip:N`, `done:N`, `back:N`, `clear:N`
    Step(StepPress),
    /// `host-yes`
    HostYes,
    /// `host-no`
    HostNo,
    /// `edit:<field>`
    Edit(Field),
    /// `cancel`
    Cancel,
    /// `send`
    Send,
}

/// A step's own button; `field` is the step it was shown with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepPress {
    pub action: StepAction,
    pub field: Field,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepAction {
    Skip,
    Done,
    Back,
    Clear,
}

impl Press {
    pub fn parse(data: &str) -> Option<Self> {
        match data {
            "menu" => return Some(Self::Menu),
            "host-yes" => return Some(Self::HostYes),
            "host-no" => return Some(Self::HostNo),
            "cancel" => return Some(Self::Cancel),
            "send" => return Some(Self::Send),
            _ => {}
        }
        let (name, arg) = data.split_once(':')?;
        let action = match name {
            "g" => return Some(Self::Group(arg.to_owned())),
            "k" => return Some(Self::Kind(arg.to_owned())),
            "edit" => return Field::from_key(arg).map(Self::Edit),
            "skip" => StepAction::Skip,
            "done" => StepAction::Done,
            "back" => StepAction::Back,
            "clear" => StepAction::Clear,
            _ => return None,
        };
        if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let field = *Field::ALL.get(arg.parse::<usize>().ok()?)?;
        Some(Self::Step(StepPress { action, field }))
    }
}

pub fn schema() -> UpdateHandler<HandlerError> {
    use dptree::case;

    let commands = teloxide::filter_command::<Command, _>()
        .branch(
            dptree::filter(|cmd: Command| matches!(cmd, Command::Start(_) | Command::New))
                .endpoint(start),
        )
        .branch(case![Command::Cancel].endpoint(cancel_command))
        .branch(case![Command::Help].endpoint(help));

    let text_steps = dptree::filter(|msg: Message| msg.text().is_some())
        .branch(case![State::ModemId(draft)].endpoint(receive_modem_id))
        .branch(case![State::MeterSerial(draft)].endpoint(receive_meter_serial))
        .branch(case![State::ObjectLink(draft)].endpoint(receive_object_link))
        .branch(case![State::Description(draft)].endpoint(receive_description))
        .branch(case![State::StepsToReproduce(draft)].endpoint(receive_steps_to_reproduce))
        .branch(case![State::Email(draft)].endpoint(receive_email))
        .branch(case![State::Organization(draft)].endpoint(receive_organization))
        .branch(case![State::Login(draft)].endpoint(receive_login))
        .branch(case![State::AdditionalInfo(draft)].endpoint(receive_additional_info));

    let message_handler = Update::filter_message()
        .branch(commands)
        .branch(text_steps)
        .branch(case![State::Screenshots(draft)].endpoint(receive_screenshot))
        .branch(dptree::endpoint(idle));

    let presses = dptree::filter_map(|q: CallbackQuery| q.data.as_deref().and_then(Press::parse))
        .branch(case![Press::Menu].endpoint(menu))
        .branch(case![Press::Group(group)].endpoint(choose_group))
        .branch(case![Press::Kind(kind)].endpoint(choose_kind))
        .branch(case![Press::Step(press)].endpoint(step_button))
        .branch(
            dptree::filter(|press: Press| matches!(press, Press::HostYes | Press::HostNo))
                .branch(case![State::ConfirmHost { draft, link }].endpoint(confirm_host)),
        )
        .branch(case![Press::Edit(field)].endpoint(edit_field))
        .branch(case![Press::Cancel].endpoint(cancel_button))
        .branch(case![Press::Send].branch(case![State::Review(draft)].endpoint(send)));

    let callback_query_handler = Update::filter_callback_query()
        .branch(presses)
        .branch(dptree::endpoint(stale_button));

    dialogue::enter::<Update, RedisStorage<Json>, State, _>()
        .branch(message_handler)
        .branch(callback_query_handler)
}

// ---------------------------------------------------------------------------------------
// Keyboards
// ---------------------------------------------------------------------------------------

fn button(text: impl Into<String>, data: impl Into<String>) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, data)
}

fn menu_keyboard() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(
        texts::GROUPS
            .iter()
            .map(|(id, label)| [button(*label, format!("g:{id}"))]),
    )
}

fn step_keyboard(field: Field, draft: &Draft) -> InlineKeyboardMarkup {
    let i = field.index();
    let optional = field.info().optional;
    let mut nav = Vec::new();
    if draft.previous(field).is_some() {
        nav.push(button(texts::BTN_BACK, format!("back:{i}")));
    }
    if optional && !field.takes_files() {
        nav.push(button(texts::BTN_SKIP, format!("skip:{i}")));
    }
    nav.push(button(texts::BTN_CANCEL, "cancel"));
    let mut rows = Vec::new();
    if field.takes_files() {
        if !draft.screenshots.is_empty() {
            let done =
                texts::BTN_DONE_FILES.replace("{count}", &draft.screenshots.len().to_string());
            rows.push(vec![button(done, format!("done:{i}"))]);
            rows.push(vec![button(texts::BTN_CLEAR_FILES, format!("clear:{i}"))]);
        } else if optional {
            rows.push(vec![button(texts::BTN_SKIP_FILES, format!("skip:{i}"))]);
        }
    }
    rows.push(nav);
    InlineKeyboardMarkup::new(rows)
}

fn review_keyboard() -> InlineKeyboardMarkup {
    let edits: Vec<InlineKeyboardButton> = Field::ALL
        .into_iter()
        .map(|f| {
            let info = f.info();
            button(
                texts::BTN_EDIT.replace("{field}", info.label),
                format!("edit:{}", info.key),
            )
        })
        .collect();
    let mut rows = vec![vec![button(texts::BTN_SEND, "send")]];
    rows.extend(edits.chunks(2).map(<[InlineKeyboardButton]>::to_vec));
    rows.push(vec![button(texts::BTN_CANCEL, "cancel")]);
    InlineKeyboardMarkup::new(rows)
}

// ---------------------------------------------------------------------------------------
// Moving through the steps
// ---------------------------------------------------------------------------------------

async fn ask(bot: &Bot, dialogue: &IntakeDialogue, field: Field, draft: Draft) -> HandlerResult {
    let text = draft.prompt(field, None);
    let keyboard = step_keyboard(field, &draft);
    dialogue.update(State::asking(field, draft)).await?;
    bot.send_message(dialogue.chat_id(), text)
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

/// Asks the step after `field`, or shows the summary after the last one.
async fn advance(
    bot: &Bot,
    dialogue: &IntakeDialogue,
    draft: Draft,
    field: Field,
) -> HandlerResult {
    if let Some(next) = draft.next_after(field) {
        return ask(bot, dialogue, next, draft).await;
    }
    let text = draft.summary();
    dialogue.update(State::Review(draft)).await?;
    bot.send_message(dialogue.chat_id(), text)
        .reply_markup(review_keyboard())
        .await?;
    Ok(())
}

/// Shows the error and the example again, with the step's buttons.
async fn reprompt(
    bot: &Bot,
    msg: &Message,
    field: Field,
    draft: &Draft,
    error: &str,
) -> HandlerResult {
    bot.send_message(msg.chat.id, draft.prompt(field, Some(error)))
        .reply_markup(step_keyboard(field, draft))
        .await?;
    Ok(())
}

/// Ends the dialogue; a chat with none is fine.
async fn clear(dialogue: &IntakeDialogue) -> HandlerResult {
    match dialogue.exit().await {
        Ok(()) | Err(RedisStorageError::DialogueNotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn answer_outdated(bot: &Bot, q: &CallbackQuery) -> HandlerResult {
    bot.answer_callback_query(q.id.clone())
        .text(texts::BTN_OUTDATED)
        .await?;
    Ok(())
}

/// Removes the inline keyboard of the pressed message.
async fn remove_keyboard(bot: &Bot, q: &CallbackQuery) -> HandlerResult {
    if let Some(m) = &q.message {
        bot.edit_message_reply_markup(m.chat().id, m.id()).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

async fn start(bot: Bot, msg: Message, cmd: Command) -> HandlerResult {
    if matches!(cmd, Command::Start(_)) {
        bot.send_message(msg.chat.id, texts::WELCOME).await?;
    }
    bot.send_message(msg.chat.id, texts::MENU_TITLE)
        .reply_markup(menu_keyboard())
        .await?;
    Ok(())
}

async fn cancel_command(bot: Bot, dialogue: IntakeDialogue, msg: Message) -> HandlerResult {
    clear(&dialogue).await?;
    bot.send_message(msg.chat.id, texts::CANCELLED).await?;
    Ok(())
}

async fn help(bot: Bot, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, texts::HELP).await?;
    Ok(())
}

async fn idle(bot: Bot, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, texts::IDLE_HINT)
        .reply_markup(menu_keyboard())
        .await?;
    Ok(())
}

/// A text step: the answer is validated, stored, and the next step asked; a wrong one is
/// explained.
async fn receive_answer(
    bot: Bot,
    dialogue: IntakeDialogue,
    mut draft: Draft,
    msg: Message,
    field: Field,
) -> HandlerResult {
    match intake::parse_answer(field, msg.text().unwrap_or_default()) {
        Ok(value) => {
            draft.answers.insert(field, value);
            advance(&bot, &dialogue, draft, field).await
        }
        Err(Invalid(error)) => reprompt(&bot, &msg, field, &draft, &error).await,
    }
}

async fn receive_modem_id(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::ModemId).await
}

async fn receive_meter_serial(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::MeterSerial).await
}

async fn receive_description(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::Description).await
}

async fn receive_steps_to_reproduce(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::StepsToReproduce).await
}

async fn receive_email(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::Email).await
}

async fn receive_organization(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::Organization).await
}

async fn receive_login(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::Login).await
}

async fn receive_additional_info(
    bot: Bot,
    dialogue: IntakeDialogue,
    draft: Draft,
    msg: Message,
) -> HandlerResult {
    receive_answer(bot, dialogue, draft, msg, Field::AdditionalInfo).await
}

/// The link step: credentials are removed (and the user told), a host that is not the
/// portal's is confirmed first.
async fn receive_object_link(
    bot: Bot,
    dialogue: IntakeDialogue,
    mut draft: Draft,
    msg: Message,
) -> HandlerResult {
    let field = Field::ObjectLink;
    let link = match intake::parse_link(msg.text().unwrap_or_default()) {
        Ok(link) => link,
        Err(Invalid(error)) => return reprompt(&bot, &msg, field, &draft, &error).await,
    };
    if link.secrets_removed {
        bot.send_message(msg.chat.id, texts::LINK_SECRET_REMOVED)
            .await?;
    }
    if !link.known {
        let text = texts::LINK_HOST_UNKNOWN.replace("{host}", &link.host);
        dialogue
            .update(State::ConfirmHost {
                draft,
                link: link.url,
            })
            .await?;
        let keyboard = InlineKeyboardMarkup::new([[
            button(texts::BTN_HOST_YES, "host-yes"),
            button(texts::BTN_HOST_NO, "host-no"),
        ]]);
        bot.send_message(msg.chat.id, text)
            .reply_markup(keyboard)
            .await?;
        return Ok(());
    }
    draft.answers.insert(field, link.url);
    advance(&bot, &dialogue, draft, field).await
}

/// The screenshots step: an image (photo, or a document of an image type) within the
/// limits is added; anything else is explained.
async fn receive_screenshot(
    bot: Bot,
    dialogue: IntakeDialogue,
    mut draft: Draft,
    msg: Message,
) -> HandlerResult {
    let field = Field::Screenshots;
    let n = draft.screenshots.len() + 1;
    let shot = if let Some(photo) = msg.photo().and_then(<[_]>::last) {
        Screenshot {
            file_id: photo.file.id.0.clone(),
            name: format!("photo-{n}.jpg"),
            mime: "image/jpeg".to_owned(),
            size: u64::from(photo.file.size),
        }
    } else if let Some(doc) = msg.document() {
        let name = doc.file_name.clone().unwrap_or_else(|| format!("file-{n}"));
        let Some(mime) = intake::image_mime(&name) else {
            let text = texts::ERR_FILE_FORMAT.replace("{name}", &name);
            bot.send_message(msg.chat.id, text)
                .reply_markup(step_keyboard(field, &draft))
                .await?;
            return Ok(());
        };
        Screenshot {
            file_id: doc.file.id.0.clone(),
            name,
            mime: mime.to_owned(),
            size: u64::from(doc.file.size),
        }
    } else {
        return reprompt(&bot, &msg, field, &draft, texts::ERR_FILES_EXPECTED).await;
    };
    let error = if shot.size > intake::MAX_FILE {
        Some(
            texts::ERR_FILE_TOO_BIG
                .replace("{name}", &shot.name)
                .replace("{size_mb}", &shot.size.div_ceil(1024 * 1024).to_string()),
        )
    } else if draft.screenshots.iter().map(|s| s.size).sum::<u64>() + shot.size > intake::MAX_TOTAL
    {
        Some(texts::ERR_FILES_TOTAL.to_owned())
    } else {
        None
    };
    if let Some(error) = error {
        bot.send_message(msg.chat.id, error)
            .reply_markup(step_keyboard(field, &draft))
            .await?;
        return Ok(());
    }
    let text = texts::FILE_RECEIVED
        .replace("{name}", &shot.name)
        .replace("{count}", &n.to_string());
    draft.screenshots.push(shot);
    let keyboard = step_keyboard(field, &draft);
    dialogue.update(State::Screenshots(draft)).await?;
    bot.send_message(msg.chat.id, text)
        .reply_markup(keyboard)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Buttons
// ---------------------------------------------------------------------------------------

async fn menu(bot: Bot, q: CallbackQuery) -> HandlerResult {
    if let Some(m) = &q.message {
        bot.edit_message_text(m.chat().id, m.id(), texts::MENU_TITLE)
            .reply_markup(menu_keyboard())
            .await?;
    }
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

async fn choose_group(bot: Bot, q: CallbackQuery, group: String) -> HandlerResult {
    let Some((_, label)) = texts::GROUPS.iter().find(|(id, _)| *id == group) else {
        return answer_outdated(&bot, &q).await;
    };
    let kinds: &[(&str, &str)] = if group == "devices" {
        &texts::DEVICE_KINDS
    } else {
        &[]
    };
    let mut rows: Vec<Vec<InlineKeyboardButton>> = kinds
        .iter()
        .map(|(id, label)| vec![button(*label, format!("k:{id}"))])
        .collect();
    rows.push(vec![button(texts::BTN_MENU_BACK, "menu")]);
    if let Some(m) = &q.message {
        bot.edit_message_text(
            m.chat().id,
            m.id(),
            format!("{label}\n\n{}", texts::MENU_CHOOSE_KIND),
        )
        .reply_markup(InlineKeyboardMarkup::new(rows))
        .await?;
    }
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

/// The kind is chosen: a new draft, with the user's remembered identification.
async fn choose_kind(
    bot: Bot,
    dialogue: IntakeDialogue,
    q: CallbackQuery,
    kind: String,
    services: Arc<Services>,
) -> HandlerResult {
    if kind != texts::KIND {
        return answer_outdated(&bot, &q).await;
    }
    let draft = Draft::with_profile(services.profile(q.from.id).await?);
    if let Some(m) = &q.message {
        let text = texts::KIND_CHOSEN.replace("{kind}", texts::KIND_LABEL);
        bot.edit_message_text(m.chat().id, m.id(), text).await?;
    }
    let first = draft.first().unwrap_or(Field::ModemId);
    ask(&bot, &dialogue, first, draft).await?;
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

/// `skip`, `done`, `back` and `clear` of the step being asked; a button of another step
/// is outdated.
async fn step_button(
    bot: Bot,
    dialogue: IntakeDialogue,
    q: CallbackQuery,
    press: StepPress,
    state: State,
) -> HandlerResult {
    let Some((field, mut draft)) = state.into_step().filter(|(f, _)| *f == press.field) else {
        return answer_outdated(&bot, &q).await;
    };
    match press.action {
        StepAction::Skip if field.info().optional => {
            draft.forget(field);
            advance(&bot, &dialogue, draft, field).await?;
        }
        StepAction::Done if draft.display(field).is_some() => {
            advance(&bot, &dialogue, draft, field).await?;
        }
        StepAction::Clear => {
            draft.forget(field);
            ask(&bot, &dialogue, field, draft).await?;
        }
        StepAction::Back => {
            if let Some(previous) = draft.previous(field) {
                ask(&bot, &dialogue, previous, draft).await?;
            }
        }
        StepAction::Skip | StepAction::Done => return answer_outdated(&bot, &q).await,
    }
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

async fn confirm_host(
    bot: Bot,
    dialogue: IntakeDialogue,
    q: CallbackQuery,
    press: Press,
    (mut draft, link): (Draft, String),
) -> HandlerResult {
    remove_keyboard(&bot, &q).await?;
    if press == Press::HostYes {
        draft.answers.insert(Field::ObjectLink, link);
        advance(&bot, &dialogue, draft, Field::ObjectLink).await?;
    } else {
        ask(&bot, &dialogue, Field::ObjectLink, draft).await?;
    }
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

/// A field button on the summary: that step is asked again.
async fn edit_field(
    bot: Bot,
    dialogue: IntakeDialogue,
    q: CallbackQuery,
    field: Field,
    state: State,
) -> HandlerResult {
    let State::Review(draft) = state else {
        return answer_outdated(&bot, &q).await;
    };
    remove_keyboard(&bot, &q).await?;
    ask(&bot, &dialogue, field, draft).await?;
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

async fn cancel_button(bot: Bot, dialogue: IntakeDialogue, q: CallbackQuery) -> HandlerResult {
    clear(&dialogue).await?;
    bot.send_message(dialogue.chat_id(), texts::CANCELLED)
        .await?;
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

/// Send: the identification is remembered, the dialogue ends, the case is created in
/// Omnidesk (at most 20 s) and its number sent.
async fn send(
    bot: Bot,
    dialogue: IntakeDialogue,
    q: CallbackQuery,
    draft: Draft,
    services: Arc<Services>,
) -> HandlerResult {
    let chat_id = dialogue.chat_id();
    services.remember(q.from.id, &draft.profile()).await?;
    clear(&dialogue).await?;
    remove_keyboard(&bot, &q).await?;
    bot.send_message(chat_id, texts::SENDING).await?;
    let created = tokio::time::timeout(
        Duration::from_secs(20),
        services.omnidesk.create_case(&bot, &draft, &q.from),
    )
    .await;
    match created {
        Ok(Ok(number)) => {
            let text = format!(
                "{}\n{}",
                texts::REGISTERED.replace("{number}", &number),
                texts::URGENCY_HIGH
            );
            bot.send_message(chat_id, text).await?;
        }
        Ok(Err(e)) => {
            log::error!("delivery failed: {e}");
            bot.send_message(chat_id, texts::REGISTERED_SAVED).await?;
        }
        Err(_) => {
            log::error!("delivery failed: Omnidesk did not answer in 20 s");
            bot.send_message(chat_id, texts::REGISTERED_SAVED).await?;
        }
    }
    bot.answer_callback_query(q.id).await?;
    Ok(())
}

async fn stale_button(bot: Bot, q: CallbackQuery) -> HandlerResult {
    answer_outdated(&bot, &q).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_parses_into_presses() {
        assert_eq!(Press::parse("menu"), Some(Press::Menu));
        assert_eq!(
            Press::parse("k:device-malfunction"),
            Some(Press::Kind("device-malfunction".to_owned()))
        );
        assert_eq!(
            Press::parse("skip:4"),
            Some(Press::Step(StepPress {
                action: StepAction::Skip,
                field: Field::StepsToReproduce
            }))
        );
        assert_eq!(Press::parse("edit:email"), Some(Press::Edit(Field::Email)));
        assert_eq!(Press::parse("skip:10"), None);
        assert_eq!(Press::parse("skip:+1"), None);
        assert_eq!(Press::parse("edit:nope"), None);
        assert_eq!(Press::parse("other"), None);
    }

    #[test]
    fn step_buttons_carry_the_step_index_the_bench_waits_for() {
        let draft = Draft::default();
        let has = |kb: &InlineKeyboardMarkup, data: &str| {
            kb.inline_keyboard.iter().flatten().any(|b| {
                matches!(&b.kind, teloxide::types::InlineKeyboardButtonKind::CallbackData(d) if d == data)
            })
        };
        let first = step_keyboard(Field::ModemId, &draft);
        assert!(has(&first, "cancel") && !has(&first, "back:0"));
        assert!(has(&step_keyboard(Field::MeterSerial, &draft), "back:1"));
        assert!(has(
            &step_keyboard(Field::StepsToReproduce, &draft),
            "skip:4"
        ));
        assert!(has(&step_keyboard(Field::Screenshots, &draft), "skip:5"));
        assert!(has(&review_keyboard(), "send"));
    }
}
