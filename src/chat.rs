//! `waviot-support-bot chat`: the same dialogues, validators, texts and delivery in a
//! terminal. Buttons are numbered; `/attach PATH` sends a file, `/contact PHONE` shares a
//! phone number, `/location LAT LON` a location. It reads a pipe as well as a terminal, so
//! a conversation can be scripted. Without Omnidesk settings, cases go to a dry-run folder.
//!
//! After a request is sent, `/agent TEXT` plays an agent's reply to the last case, with
//! its "Reply" button; what is typed after pressing it goes to the case (in the dry run,
//! beside the case file: `DRY-000001.messages.jsonl`).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use intake_core::dialogue::{self, Effect, FileInput, Input, Keyboard, Profile, Session};
use intake_core::domain::HostPolicy;
use intake_core::form::Catalog;
use intake_core::msg::Msg;
use intake_core::sla::ProductionCalendar;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::delivery::{self, CaseSink, Deliverer, FileSource, Sla};
use crate::i18n::Localizer;
use crate::storage::outbox::{Sender, Submission};

/// Everything the terminal chat needs.
pub struct ChatSetup {
    /// Request kinds.
    pub catalog: Catalog,
    /// Texts.
    pub i18n: Arc<Localizer>,
    /// Familiar link hosts.
    pub hosts: HostPolicy,
    /// Where cases go.
    pub deliverer: Deliverer,
    /// Language of the conversation.
    pub lang: String,
}

impl std::fmt::Debug for ChatSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatSetup")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

impl ChatSetup {
    /// Builds the setup from config: Omnidesk when `omnidesk` is given, else a dry-run folder.
    ///
    /// # Errors
    ///
    /// Dialogues or locales are invalid, or the Omnidesk client cannot be built.
    pub fn new(
        file: &crate::config::BotFile,
        omnidesk: Option<crate::config::OmnideskSettings>,
        lang: &str,
    ) -> anyhow::Result<Self> {
        let catalog = crate::startup::load_catalog(&file.dialogues_dir)?;
        let i18n = Arc::new(Localizer::load(&file.locales_dir)?);
        crate::startup::check_locales(&catalog, &i18n)?;
        let sink = match omnidesk {
            Some(o) => CaseSink::Omnidesk(crate::omnidesk::OmnideskClient::new(
                o.url,
                o.email,
                o.api_key,
                std::time::Duration::from_secs(60),
            )?),
            None => CaseSink::DryRun(crate::dry_run::DryRun::new(file.dry_run_dir.clone())),
        };
        let sla = Arc::new(Sla {
            schedule: file.schedule.clone(),
            calendar: ProductionCalendar::russia(),
        });
        let deliverer = Deliverer::new(
            sink,
            FileSource::Local,
            i18n.clone(),
            file.omnidesk.clone(),
            sla,
        );
        Ok(Self {
            catalog,
            i18n,
            hosts: HostPolicy::new(file.link_hosts.clone()),
            deliverer,
            lang: Localizer::pick(Some(lang)).to_owned(),
        })
    }
}

fn guess_mime(path: &Path) -> &'static str {
    match path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("bmp") => "image/bmp",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// What a typed line means: a pressed button (by number), a file, a contact, a location,
/// a command or text; `Err` with a message when it names a file that is not there.
fn parse_line(line: &str, buttons: &[String]) -> Result<Input, Msg> {
    if let Ok(n) = line.parse::<usize>()
        && (1..=buttons.len()).contains(&n)
    {
        return Ok(Input::Button(buttons[n - 1].clone()));
    }
    if let Some(path) = line.strip_prefix("/attach ") {
        let path = Path::new(path.trim());
        return match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => Ok(Input::Document(FileInput {
                file_id: path.display().to_string(),
                unique_id: path.display().to_string(),
                name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                mime: Some(guess_mime(path).to_owned()),
                size: Some(meta.len()),
            })),
            _ => Err(Msg::new("chat-attach-missing").arg("path", path.display().to_string())),
        };
    }
    if let Some(phone) = line.strip_prefix("/contact ") {
        return Ok(Input::Contact {
            phone: phone.trim().to_owned(),
            own: true,
        });
    }
    if let Some(coords) = line.strip_prefix("/location ") {
        let nums: Vec<f64> = coords
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [lat, lon] = nums.as_slice() {
            return Ok(Input::Location {
                lat: *lat,
                lon: *lon,
            });
        }
        return Ok(Input::Text(line.to_owned()));
    }
    Ok(Input::from_command_line(line).unwrap_or_else(|| Input::Text(line.to_owned())))
}

/// The next line of input: `Ok(None)` at the end, `Ok(Some(Err(())))` for a line that is
/// not UTF-8.
async fn next_line(
    input: &mut (impl AsyncBufRead + Unpin),
    raw: &mut Vec<u8>,
) -> std::io::Result<Option<Result<String, ()>>> {
    raw.clear();
    if input.read_until(b'\n', raw).await? == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8(std::mem::take(raw)).map_err(|_| ())))
}

/// Runs the conversation until the input ends (or `/quit`).
///
/// # Errors
///
/// Writing to `out` failed.
pub async fn run(
    setup: &ChatSetup,
    mut input: impl AsyncBufRead + Unpin,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let lang = setup.lang.as_str();
    writeln!(out, "{}", setup.i18n.text(lang, "chat-intro"))?;
    if setup.deliverer.is_dry_run() {
        writeln!(out, "{}", setup.i18n.text(lang, "chat-dry-run"))?;
    }
    let mut session = Session::Idle;
    let mut profile = Profile {
        lang: Some(lang.to_owned()),
        ..Profile::default()
    };
    let mut buttons: Vec<String> = Vec::new();
    let mut cases = Conversation::default();
    let mut raw = Vec::new();
    let mut pending = Some("/start".to_owned());
    loop {
        let line = match pending.take() {
            Some(l) => l,
            None => match next_line(&mut input, &mut raw).await? {
                None => break,
                Some(Ok(l)) => l,
                Some(Err(())) => {
                    writeln!(out, "{}", setup.i18n.text(lang, "chat-invalid-utf8"))?;
                    continue;
                }
            },
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        if let Some(text) = line.strip_prefix("/agent") {
            let lang = profile.lang.clone().unwrap_or_else(|| lang.to_owned());
            if let Some(data) = cases.agent_reply(setup, &lang, text.trim(), out)? {
                buttons = vec![data];
            }
            continue;
        }
        let mut input = match parse_line(line, &buttons) {
            Ok(input) => input,
            Err(m) => {
                writeln!(out, "{}", setup.i18n.render(lang, &m))?;
                continue;
            }
        };
        match &input {
            Input::Button(data) => cases.replying = reply_target(data),
            Input::Command(_) | Input::StartPayload(_) => cases.replying = None,
            _ => {
                if let Some((case_id, case_number)) = cases.replying.clone() {
                    input = Input::FollowUp {
                        case_id,
                        case_number,
                        caption: None,
                        inner: Box::new(input),
                    };
                }
            }
        }
        let new_id = uuid::Uuid::new_v4().simple().to_string();
        let ctx = dialogue::Ctx {
            catalog: &setup.catalog,
            hosts: &setup.hosts,
            limits: dialogue::FileLimits::default(),
            now: Utc::now(),
            new_id: &new_id,
            send_blocked_for: None,
            open_case: None,
        };
        let tr = dialogue::step(&ctx, session, profile, input);
        session = tr.session;
        profile = tr.profile;
        let lang = profile.lang.clone().unwrap_or_else(|| lang.to_owned());
        let next_buttons = perform(setup, &lang, tr.effects, &mut cases, out).await?;
        if !next_buttons.is_empty() {
            buttons = next_buttons;
        }
        out.flush()?;
    }
    Ok(())
}

/// The case `reply:<id>:<number>` button data names.
fn reply_target(data: &str) -> Option<(i64, String)> {
    let (id, number) = data.strip_prefix("reply:")?.split_once(':')?;
    Some((id.parse().ok()?, number.to_owned()))
}

/// The conversation about the cases sent from the terminal.
#[derive(Debug, Default)]
struct Conversation {
    /// The last case created (id, number).
    last_case: Option<(i64, String)>,
    /// The case lines go to after its "Reply" was pressed.
    replying: Option<(i64, String)>,
}

impl Conversation {
    /// Prints an agent's reply to the last case as the bot relays it; returns its
    /// button's data.
    fn agent_reply(
        &self,
        setup: &ChatSetup,
        lang: &str,
        text: &str,
        out: &mut impl Write,
    ) -> anyhow::Result<Option<String>> {
        let Some((case_id, number)) = &self.last_case else {
            writeln!(out, "{}", setup.i18n.text(lang, "chat-agent-no-case"))?;
            return Ok(None);
        };
        if text.is_empty() {
            writeln!(out, "{}", setup.i18n.text(lang, "chat-agent-usage"))?;
            return Ok(None);
        }
        let header = Msg::new("agent-reply-header").arg("number", number.clone());
        writeln!(out, "\n{}\n{text}", setup.i18n.render(lang, &header))?;
        writeln!(out, "  [1] {}", setup.i18n.text(lang, "btn-reply"))?;
        Ok(Some(format!("reply:{case_id}:{number}")))
    }
}

/// Adds a follow-up to its case right away and prints how it went.
async fn follow_up(
    setup: &ChatSetup,
    lang: &str,
    follow: &intake_core::dialogue::FollowUp,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let attachments = match setup.deliverer.open_files(&follow.files).await {
        Ok(a) => a,
        Err(e) => {
            let missing = Msg::new("registered-file-missing").arg("name", e.name.clone());
            writeln!(out, "{}", setup.i18n.render(lang, &missing))?;
            Vec::new()
        }
    };
    let content = intake_core::case::follow_up_content(&follow.text, &follow.files);
    let message = crate::omnidesk::NewMessage {
        user_id: None,
        user_custom_id: None,
        content,
        attachments,
    };
    let number = follow.case_number.clone();
    match setup.deliverer.add_message(follow.case_id, message).await {
        Ok(_) => {
            let added = Msg::new("follow-up-added").arg("number", number.clone());
            writeln!(out, "\n{}", setup.i18n.render(lang, &added))?;
            if setup.deliverer.is_dry_run() {
                let saved = Msg::new("chat-follow-up-saved").arg("number", number);
                writeln!(out, "{}", setup.i18n.render(lang, &saved))?;
            }
        }
        Err(e) => {
            let failed = Msg::new("follow-up-failed").arg("number", number);
            writeln!(out, "{}: {e}", setup.i18n.render(lang, &failed))?;
        }
    }
    Ok(())
}

/// Prints the effects of a step (numbering the buttons), delivers a sent request and adds
/// a follow-up; returns the numbered buttons' data.
async fn perform(
    setup: &ChatSetup,
    lang: &str,
    effects: Vec<Effect>,
    cases: &mut Conversation,
    out: &mut impl Write,
) -> anyhow::Result<Vec<String>> {
    let mut buttons = Vec::new();
    for effect in effects {
        match effect {
            Effect::Say(reply) => {
                writeln!(
                    out,
                    "\n{}",
                    crate::telegram::render_text(&setup.i18n, lang, &reply)
                )?;
                let listed: Vec<_> = match &reply.keyboard {
                    Keyboard::Inline(rows) => rows.iter().flatten().cloned().collect(),
                    Keyboard::Reply { request, buttons } => {
                        let hint = match request.0 {
                            dialogue::ReplyRequest::Contact => "/contact +7…",
                            dialogue::ReplyRequest::Location => "/location 55.75 37.61",
                        };
                        writeln!(out, "  [{}: {hint}]", setup.i18n.render(lang, &request.1))?;
                        buttons.clone()
                    }
                    Keyboard::None | Keyboard::RemoveReply | Keyboard::ForceReply => Vec::new(),
                };
                for b in listed {
                    buttons.push(b.data.clone());
                    writeln!(
                        out,
                        "  [{}] {}",
                        buttons.len(),
                        setup.i18n.render(lang, &b.label)
                    )?;
                }
            }
            Effect::Toast(m) => writeln!(out, "  ({})", setup.i18n.render(lang, &m))?,
            Effect::ClearOriginKeyboard | Effect::Forget => {}
            Effect::ShowRequests => writeln!(out, "{}", setup.i18n.text(lang, "status-chat"))?,
            Effect::Submit(request) => {
                if let Some(case) = submit(setup, lang, *request, out).await? {
                    cases.last_case = Some((case.case_id, case.case_number));
                }
            }
            Effect::FollowUp(follow) => follow_up(setup, lang, &follow, out).await?,
            Effect::ShowCase { .. } => writeln!(out, "{}", setup.i18n.text(lang, "status-chat"))?,
        }
    }
    Ok(buttons)
}

/// Creates the case of a sent request right away and prints the confirmation; returns
/// the case.
async fn submit(
    setup: &ChatSetup,
    lang: &str,
    request: intake_core::dialogue::Request,
    out: &mut impl Write,
) -> anyhow::Result<Option<crate::omnidesk::CreatedCase>> {
    writeln!(out, "\n{}", setup.i18n.text(lang, "sending"))?;
    let submission = Submission {
        request,
        chat_id: 0,
        sender: Sender {
            id: 0,
            username: None,
            full_name: std::env::var("USER").unwrap_or_else(|_| "terminal".to_owned()),
        },
        lang: lang.to_owned(),
    };
    match setup.deliverer.deliver(&submission).await {
        Ok(case) => {
            for m in delivery::registered_messages(
                &submission,
                &case.case_number,
                setup.deliverer.sla(),
                &[],
            ) {
                writeln!(out, "{}", setup.i18n.render(lang, &m))?;
            }
            if setup.deliverer.is_dry_run() {
                let saved = Msg::new("chat-dry-run-saved").arg("number", case.case_number.clone());
                writeln!(out, "{}", setup.i18n.render(lang, &saved))?;
                writeln!(out, "{}", setup.i18n.text(lang, "chat-agent-hint"))?;
            }
            Ok(Some(case))
        }
        Err(e) => {
            writeln!(out, "{}: {e}", setup.i18n.text(lang, "delivery-rejected"))?;
            Ok(None)
        }
    }
}
