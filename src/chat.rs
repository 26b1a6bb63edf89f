//! `waviot-support-bot chat`: the same dialogues, validators, texts and delivery in a
//! terminal. Buttons are numbered; `/attach PATH` sends a file, `/contact PHONE` shares a
//! phone number, `/location LAT LON` a location. It reads a pipe as well as a terminal, so
//! a conversation can be scripted. Without Omnidesk settings, cases go to a dry-run folder.

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

/// Runs the conversation until the input ends (or `/quit`).
///
/// # Errors
///
/// Writing to `out` failed.
pub async fn run(
    setup: &ChatSetup,
    input: impl AsyncBufRead + Unpin,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let lang = setup.lang.as_str();
    let t = |m: &Msg| setup.i18n.render(lang, m);
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
    let mut input = input;
    let mut raw = Vec::new();
    let mut pending = Some("/start".to_owned());
    loop {
        let line = match pending.take() {
            Some(l) => l,
            None => {
                raw.clear();
                if input.read_until(b'\n', &mut raw).await? == 0 {
                    break;
                }
                match String::from_utf8(std::mem::take(&mut raw)) {
                    Ok(l) => l,
                    Err(_) => {
                        writeln!(out, "{}", setup.i18n.text(lang, "chat-invalid-utf8"))?;
                        continue;
                    }
                }
            }
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        let input =
            if let Ok(n) = line.parse::<usize>()
                && n >= 1
                && n <= buttons.len()
            {
                Input::Button(buttons[n - 1].clone())
            } else if let Some(path) = line.strip_prefix("/attach ") {
                let path = Path::new(path.trim());
                match std::fs::metadata(path) {
                    Ok(meta) if meta.is_file() => Input::Document(FileInput {
                        file_id: path.display().to_string(),
                        unique_id: path.display().to_string(),
                        name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                        mime: Some(guess_mime(path).to_owned()),
                        size: Some(meta.len()),
                    }),
                    _ => {
                        writeln!(
                            out,
                            "{}",
                            t(&Msg::new("chat-attach-missing")
                                .arg("path", path.display().to_string()))
                        )?;
                        continue;
                    }
                }
            } else if let Some(phone) = line.strip_prefix("/contact ") {
                Input::Contact {
                    phone: phone.trim().to_owned(),
                    own: true,
                }
            } else if let Some(coords) = line.strip_prefix("/location ") {
                let nums: Vec<f64> = coords
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                match nums.as_slice() {
                    [lat, lon] => Input::Location {
                        lat: *lat,
                        lon: *lon,
                    },
                    _ => Input::Text(line.to_owned()),
                }
            } else if let Some(command) = Input::from_command_line(line) {
                command
            } else {
                Input::Text(line.to_owned())
            };
        let new_id = uuid::Uuid::new_v4().simple().to_string();
        let ctx = dialogue::Ctx {
            catalog: &setup.catalog,
            hosts: &setup.hosts,
            limits: dialogue::FileLimits::default(),
            now: Utc::now(),
            new_id: &new_id,
            send_blocked_for: None,
        };
        let tr = dialogue::step(&ctx, session, profile, input);
        session = tr.session;
        profile = tr.profile;
        let lang = profile.lang.clone().unwrap_or_else(|| lang.to_owned());
        let mut next_buttons = Vec::new();
        for effect in tr.effects {
            match effect {
                Effect::Say(reply) => {
                    writeln!(
                        out,
                        "\n{}",
                        crate::telegram::render_text(&setup.i18n, &lang, &reply)
                    )?;
                    let listed: Vec<_> = match &reply.keyboard {
                        Keyboard::Inline(rows) => rows.iter().flatten().cloned().collect(),
                        Keyboard::Reply { request, buttons } => {
                            let hint = match request.0 {
                                dialogue::ReplyRequest::Contact => "/contact +7…",
                                dialogue::ReplyRequest::Location => "/location 55.75 37.61",
                            };
                            writeln!(out, "  [{}: {hint}]", setup.i18n.render(&lang, &request.1))?;
                            buttons.clone()
                        }
                        Keyboard::None | Keyboard::RemoveReply => Vec::new(),
                    };
                    for b in listed {
                        next_buttons.push(b.data.clone());
                        writeln!(
                            out,
                            "  [{}] {}",
                            next_buttons.len(),
                            setup.i18n.render(&lang, &b.label)
                        )?;
                    }
                }
                Effect::Toast(m) => writeln!(out, "  ({})", setup.i18n.render(&lang, &m))?,
                Effect::ClearOriginKeyboard | Effect::Forget => {}
                Effect::Submit(request) => {
                    writeln!(out, "\n{}", setup.i18n.text(&lang, "sending"))?;
                    let outgoing = Submission {
                        request: *request,
                        chat_id: 0,
                        sender: Sender {
                            id: 0,
                            username: None,
                            full_name: std::env::var("USER")
                                .unwrap_or_else(|_| "terminal".to_owned()),
                        },
                        lang: lang.clone(),
                    };
                    match setup.deliverer.deliver(&outgoing).await {
                        Ok(case) => {
                            for m in delivery::registered_messages(
                                &outgoing,
                                &case.case_number,
                                setup.deliverer.sla(),
                                &[],
                            ) {
                                writeln!(out, "{}", setup.i18n.render(&lang, &m))?;
                            }
                            if setup.deliverer.is_dry_run() {
                                writeln!(
                                    out,
                                    "{}",
                                    t(&Msg::new("chat-dry-run-saved")
                                        .arg("number", case.case_number))
                                )?;
                            }
                        }
                        Err(e) => {
                            writeln!(out, "{}: {e}", setup.i18n.text(&lang, "delivery-rejected"))?
                        }
                    }
                }
            }
        }
        if !next_buttons.is_empty() {
            buttons = next_buttons;
        }
        out.flush()?;
    }
    Ok(())
}
