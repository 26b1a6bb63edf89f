//! The transition function.

use chrono::{DateTime, Utc};

use crate::domain::{
    BaseStations, Email, FreeText, FullName, HostPolicy, MeterSerial, ModemIds, ObjectLink, Phone,
    SiteObject,
};
use crate::form::{Catalog, FieldDef, FieldType, KindDef};
use crate::msg::Msg;

use super::effect::{Button, Effect, FollowUp, Keyboard, Part, Reply, ReplyRequest, Request};
use super::input::{Command, FileInput, Input};
use super::state::{
    Answer, Draft, FileKind, FileRef, GeoPoint, Offer, Phase, PlannedStep, Profile, Session,
};

/// Limits on attachments, told to the user before they bite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// Largest file the bot can fetch (Telegram: 20 MB).
    pub max_file_bytes: u64,
    /// Largest total per request (Omnidesk: 50 MB).
    pub max_total_bytes: u64,
    /// Most files per request.
    pub max_files: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 20 * 1024 * 1024,
            max_total_bytes: 50 * 1024 * 1024,
            max_files: 10,
        }
    }
}

/// Everything a step depends on besides state and input.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The request kinds and fields.
    pub catalog: &'a Catalog,
    /// Which link hosts are familiar.
    pub hosts: &'a HostPolicy,
    /// Attachment limits.
    pub limits: FileLimits,
    /// The current time.
    pub now: DateTime<Utc>,
    /// A fresh unique id, used if this step starts a draft.
    pub new_id: &'a str,
    /// When the user has used up their requests for now: how long until they may send
    /// again (Send keeps the draft and says so).
    pub send_blocked_for: Option<chrono::Duration>,
    /// The user's one open case (id, number), when they have exactly one: a message sent
    /// with no draft in progress is offered to it. The adapter looks it up only for a text,
    /// photo or file with no draft in progress.
    pub open_case: Option<(i64, &'a str)>,
}

/// The result of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The chat's next session.
    pub session: Session,
    /// The user's profile (possibly changed).
    pub profile: Profile,
    /// Whether `profile` differs from the one passed in.
    pub profile_changed: bool,
    /// What to do, in order.
    pub effects: Vec<Effect>,
}

/// Applies one input to a session.
///
/// Never panics; input that does not fit the current step produces a localized
/// explanation and keeps every answer collected so far.
pub fn step(ctx: &Ctx<'_>, session: Session, profile: Profile, input: Input) -> Transition {
    let mut m = Machine {
        ctx,
        profile,
        profile_changed: false,
        effects: Vec::new(),
    };
    let session = m.handle(session, input);
    Transition {
        session,
        profile: m.profile,
        profile_changed: m.profile_changed,
        effects: m.effects,
    }
}

struct Machine<'c, 'a> {
    ctx: &'c Ctx<'a>,
    profile: Profile,
    profile_changed: bool,
    effects: Vec<Effect>,
}

fn msg(id: &str) -> Msg {
    Msg::new(id)
}

fn button(id: &str, data: impl Into<String>) -> Button {
    Button::new(Msg::new(id), data)
}

/// A button of a draft, read from its callback data once. Step buttons carry the plan
/// index of their step (`skip:3`); without one they apply to the step asked now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DraftButton {
    Cancel,
    CancelYes,
    CancelNo,
    Send,
    Edit(String),
    Back(Option<usize>),
    Skip(Option<usize>),
    Keep(Option<usize>),
    Clear(Option<usize>),
    HostYes,
    HostNo,
}

impl DraftButton {
    /// `None` for data no draft button has (or a step index that is not a number).
    fn parse(name: &str, arg: Option<&str>) -> Option<Self> {
        let step = || match arg {
            None => Some(None),
            Some(a) => a.parse::<usize>().ok().map(Some),
        };
        Some(match name {
            "cancel" => Self::Cancel,
            "cancel-yes" => Self::CancelYes,
            "cancel-no" => Self::CancelNo,
            "send" => Self::Send,
            "edit" => Self::Edit(arg?.to_owned()),
            "back" => Self::Back(step()?),
            "skip" => Self::Skip(step()?),
            "keep" | "done" => Self::Keep(step()?),
            "clear" => Self::Clear(step()?),
            "host-yes" => Self::HostYes,
            "host-no" => Self::HostNo,
            _ => return None,
        })
    }
}

/// Splits `name:arg` callback data.
fn split_data(data: &str) -> (&str, Option<&str>) {
    match data.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (data, None),
    }
}

impl Machine<'_, '_> {
    fn say(&mut self, parts: Vec<Part>, keyboard: Keyboard) {
        self.effects.push(Effect::Say(Reply {
            parts,
            keyboard,
            edit_origin: false,
        }));
    }

    fn say_msg(&mut self, m: Msg) {
        self.say(vec![Part::Msg(m)], Keyboard::None);
    }

    fn toast(&mut self, m: Msg) {
        self.effects.push(Effect::Toast(m));
    }

    fn handle(&mut self, session: Session, input: Input) -> Session {
        let session = match session {
            Session::Offering(offer) => match &input {
                Input::Button(data) if data == "offer:yes" => {
                    self.effects.push(Effect::ClearOriginKeyboard);
                    let Offer {
                        id,
                        case_id,
                        case_number,
                        caption,
                        input,
                    } = *offer;
                    self.follow_up(case_id, case_number, caption, input);
                    if let Some(Effect::FollowUp(follow)) = self.effects.last_mut() {
                        follow.offer_id = Some(id);
                    }
                    return Session::Idle;
                }
                Input::Button(data) if data == "offer:no" => {
                    self.effects.push(Effect::ClearOriginKeyboard);
                    self.say(vec![Part::Msg(msg("idle-hint"))], self.menu_keyboard());
                    return Session::Idle;
                }
                // Anything else: the offer lapses.
                _ => Session::Idle,
            },
            other => other,
        };
        match input {
            Input::Command(c) => self.command(session, c),
            Input::StartPayload(payload) => self.deep_link(session, &payload),
            Input::Button(data) => self.button(session, &data),
            Input::FollowUp {
                case_id,
                case_number,
                caption,
                inner,
            } => {
                self.follow_up(case_id, case_number, caption, *inner);
                session
            }
            other => match session {
                Session::Idle | Session::Offering(_) => {
                    if let Some((case_id, number)) = self.ctx.open_case
                        && matches!(other, Input::Text(_) | Input::Photo(_) | Input::Document(_))
                    {
                        self.say(
                            vec![Part::Msg(
                                Msg::new("follow-up-offer").arg("number", number.to_owned()),
                            )],
                            Keyboard::Inline(vec![vec![
                                button("btn-offer-yes", "offer:yes"),
                                button("btn-offer-no", "offer:no"),
                            ]]),
                        );
                        return Session::Offering(Box::new(Offer {
                            id: self.ctx.new_id.to_owned(),
                            case_id,
                            case_number: number.to_owned(),
                            caption: None,
                            input: other,
                        }));
                    }
                    self.say(vec![Part::Msg(msg("idle-hint"))], self.menu_keyboard());
                    Session::Idle
                }
                Session::Drafting(draft) => self.answer(draft, other),
            },
        }
    }

    // ----- follow-ups to sent requests ----------------------------------------------

    /// A message for a sent request's case: text, or one photo or image file (with its
    /// caption) within the same limits as a request's; the draft, if any, is untouched.
    fn follow_up(
        &mut self,
        case_id: i64,
        case_number: String,
        caption: Option<String>,
        inner: Input,
    ) {
        let limits = self.ctx.limits;
        let caption = caption.map(|c| c.trim().to_owned()).unwrap_or_default();
        let checked = match inner {
            Input::Text(text) if !text.trim().is_empty() => Ok((text.trim().to_owned(), None)),
            Input::Photo(f) => Ok((caption, Some(file_ref(f, FileKind::Photo, 0)))),
            Input::Document(f) => check_document(f, 0).map(|f| (caption, Some(f))),
            Input::Sticker => Err(msg("err-sticker")),
            Input::Voice => Err(msg("err-voice")),
            Input::Video => Err(msg("err-video")),
            _ => Err(msg("follow-up-unsupported")),
        };
        let checked = checked.and_then(|(text, file)| match &file {
            Some(f) if f.size.is_some_and(|s| s > limits.max_file_bytes) => {
                Err(Msg::new("err-file-too-big")
                    .arg("name", f.name.clone())
                    .arg("size_mb", mb(f.size.unwrap_or(0)))
                    .arg("max_mb", limits.max_file_bytes / (1024 * 1024)))
            }
            _ => Ok((text, file)),
        });
        match checked {
            Ok((text, file)) => self.effects.push(Effect::FollowUp(Box::new(FollowUp {
                case_id,
                case_number,
                text,
                files: file.into_iter().collect(),
                offer_id: None,
            }))),
            Err(e) => self.say(
                vec![
                    Part::Msg(e),
                    Part::Msg(Msg::new("follow-up-prompt").arg("number", case_number.clone())),
                ],
                Keyboard::ForceReply,
            ),
        }
    }

    // ----- commands and menus -------------------------------------------------------

    fn command(&mut self, session: Session, c: Command) -> Session {
        match c {
            Command::Start | Command::New => {
                if c == Command::Start {
                    self.say_msg(msg("welcome"));
                }
                self.resume_or_menu(session)
            }
            Command::Cancel => match session {
                Session::Drafting(_) => {
                    self.say(vec![Part::Msg(msg("cancelled"))], Keyboard::RemoveReply);
                    Session::Idle
                }
                Session::Idle | Session::Offering(_) => {
                    self.say_msg(msg("nothing-to-cancel"));
                    Session::Idle
                }
            },
            Command::Help => {
                self.say_msg(msg("help"));
                session
            }
            Command::Language => {
                self.say(
                    vec![Part::Msg(msg("language-choose"))],
                    Keyboard::Inline(vec![vec![
                        button("language-ru", "lang:ru"),
                        button("language-en", "lang:en"),
                    ]]),
                );
                session
            }
            Command::Status => {
                self.effects.push(Effect::ShowRequests);
                session
            }
            Command::Forget => {
                self.say(
                    vec![Part::Msg(msg("forget-confirm"))],
                    Keyboard::Inline(vec![vec![
                        button("btn-forget-yes", "forget:yes"),
                        button("btn-forget-no", "forget:no"),
                    ]]),
                );
                session
            }
        }
    }

    /// Offers to resume a draft in progress, or shows the menu.
    fn resume_or_menu(&mut self, session: Session) -> Session {
        match session {
            Session::Drafting(draft) => {
                self.offer_resume(&draft);
                Session::Drafting(draft)
            }
            Session::Idle | Session::Offering(_) => {
                self.show_menu(false);
                Session::Idle
            }
        }
    }

    fn draft_kind_label(&self, draft: &Draft) -> String {
        self.ctx
            .catalog
            .kind(&draft.kind)
            .map(KindDef::label)
            .unwrap_or_else(|| "kind-unknown".to_owned())
    }

    fn resume_button(draft: &Draft) -> Button {
        let resume = match &draft.phase {
            Phase::Asking { index, .. } | Phase::ConfirmHost { index, .. } => {
                let (pos, total) = draft.progress(*index);
                Msg::new("btn-resume-step")
                    .arg("step", pos)
                    .arg("total", total)
            }
            Phase::Review => msg("btn-resume-review"),
        };
        Button::new(resume, "resume")
    }

    fn offer_resume(&mut self, draft: &Draft) {
        let kind_label = self.draft_kind_label(draft);
        self.say(
            vec![Part::Msg(
                Msg::new("resume-offer").arg_ref("kind", kind_label),
            )],
            Keyboard::Inline(vec![
                vec![Self::resume_button(draft)],
                vec![button("btn-restart", "restart")],
            ]),
        );
    }

    // ----- deep links (QR stickers) -------------------------------------------------

    /// `/start PAYLOAD`: greets with the object and offers the kinds that fit it; a payload
    /// that names no object gets a notice and the normal start.
    fn deep_link(&mut self, session: Session, payload: &str) -> Session {
        self.say_msg(msg("welcome"));
        let Ok(object) = SiteObject::from_payload(payload) else {
            self.say_msg(msg("deep-link-invalid"));
            return self.resume_or_menu(session);
        };
        match session {
            Session::Drafting(draft) if !draft.answers.is_empty() => {
                let kind_label = self.draft_kind_label(&draft);
                self.say(
                    vec![
                        Part::Msg(object_msg("object-greeting", &object)),
                        Part::Msg(
                            object_msg("object-draft-offer", &object).arg_ref("kind", kind_label),
                        ),
                    ],
                    Keyboard::Inline(vec![
                        vec![Self::resume_button(&draft)],
                        vec![Button::new(
                            object_msg("btn-new-for-object", &object),
                            format!("o:{}", object.payload()),
                        )],
                    ]),
                );
                Session::Drafting(draft)
            }
            other => {
                self.show_object_menu(&object, false);
                other
            }
        }
    }

    /// The kinds that have a step for `object`, each prefilling it, plus "something else".
    fn show_object_menu(&mut self, object: &SiteObject, edit_origin: bool) {
        let catalog = self.ctx.catalog;
        let payload = object.payload();
        let mut rows: Vec<Vec<Button>> = catalog
            .groups()
            .iter()
            .flat_map(|g| g.kinds.iter())
            .filter_map(|k| catalog.kind(k))
            .filter(|k| object_step(catalog, k, object).is_some())
            .map(|k| vec![button(&k.label(), format!("q:{payload}:{}", k.id))])
            .collect();
        rows.push(vec![button("btn-something-else", "menu")]);
        self.effects.push(Effect::Say(Reply {
            parts: vec![
                Part::Msg(object_msg("object-greeting", object)),
                Part::Msg(msg("object-choose-kind")),
            ],
            keyboard: Keyboard::Inline(rows),
            edit_origin,
        }));
    }

    fn menu_keyboard(&self) -> Keyboard {
        let mut rows: Vec<Vec<Button>> = self
            .ctx
            .catalog
            .groups()
            .iter()
            .map(|g| {
                if let [only] = g.kinds.as_slice() {
                    vec![button(&format!("kind-{only}"), format!("k:{only}"))]
                } else {
                    vec![button(&g.label(), format!("g:{}", g.id))]
                }
            })
            .collect();
        rows.push(vec![button("btn-my-requests", "status")]);
        Keyboard::Inline(rows)
    }

    fn show_menu(&mut self, edit_origin: bool) {
        self.effects.push(Effect::Say(Reply {
            parts: vec![Part::Msg(msg("menu-title"))],
            keyboard: self.menu_keyboard(),
            edit_origin,
        }));
    }

    fn show_group(&mut self, group_id: &str) -> bool {
        let Some(group) = self.ctx.catalog.group(group_id) else {
            return false;
        };
        let mut rows: Vec<Vec<Button>> = group
            .kinds
            .iter()
            .map(|k| vec![button(&format!("kind-{k}"), format!("k:{k}"))])
            .collect();
        rows.push(vec![button("btn-menu-back", "menu")]);
        self.effects.push(Effect::Say(Reply {
            parts: vec![
                Part::Msg(msg(&group.label())),
                Part::Msg(msg("menu-choose-kind")),
            ],
            keyboard: Keyboard::Inline(rows),
            edit_origin: true,
        }));
        true
    }

    // ----- buttons ------------------------------------------------------------------

    fn button(&mut self, session: Session, data: &str) -> Session {
        let (name, arg) = split_data(data);
        match (name, arg) {
            ("lang", Some(code)) if code == "ru" || code == "en" => {
                self.profile.lang = Some(code.to_owned());
                self.profile_changed = true;
                self.effects.push(Effect::ClearOriginKeyboard);
                self.say_msg(msg("language-set"));
                match session {
                    Session::Drafting(draft) => self.reask(draft),
                    Session::Idle | Session::Offering(_) => {
                        self.show_menu(false);
                        Session::Idle
                    }
                }
            }
            ("forget", Some("yes")) => {
                self.effects.push(Effect::ClearOriginKeyboard);
                self.effects.push(Effect::Forget);
                self.profile = Profile::default();
                self.profile_changed = false;
                self.say(vec![Part::Msg(msg("forgotten"))], Keyboard::RemoveReply);
                Session::Idle
            }
            ("forget", Some("no")) => {
                self.effects.push(Effect::ClearOriginKeyboard);
                self.say_msg(msg("forget-kept"));
                session
            }
            ("menu", None) => {
                self.show_menu(true);
                session
            }
            ("status", None) => {
                self.effects.push(Effect::ShowRequests);
                session
            }
            ("case", Some(rest)) => {
                match rest
                    .split_once(':')
                    .and_then(|(id, number)| Some((id.parse::<i64>().ok()?, number)))
                {
                    Some((case_id, number)) if !number.is_empty() => {
                        self.effects.push(Effect::ShowCase {
                            case_id,
                            case_number: number.to_owned(),
                        });
                    }
                    _ => self.toast(msg("btn-outdated")),
                }
                session
            }
            ("reply", Some(rest)) => {
                match rest
                    .split_once(':')
                    .and_then(|(id, number)| Some((id.parse::<i64>().ok()?, number)))
                {
                    Some((_, number)) if !number.is_empty() => self.say(
                        vec![Part::Msg(
                            Msg::new("follow-up-prompt").arg("number", number.to_owned()),
                        )],
                        Keyboard::ForceReply,
                    ),
                    _ => self.toast(msg("btn-outdated")),
                }
                session
            }
            ("g", Some(group)) => {
                if !self.show_group(group) {
                    self.toast(msg("btn-outdated"));
                }
                session
            }
            ("k", Some(kind)) => self.choose_kind(session, kind, None),
            ("renew", Some(rest)) => match rest.split_once(':') {
                Some((kind, number)) if !number.is_empty() => self.renew(session, kind, number),
                _ => {
                    self.toast(msg("btn-outdated"));
                    session
                }
            },
            ("q", Some(rest)) => {
                let picked = rest.split_once(':').and_then(|(payload, kind)| {
                    SiteObject::from_payload(payload).ok().map(|o| (o, kind))
                });
                match picked {
                    Some((object, kind)) => self.choose_kind(session, kind, Some(&object)),
                    None => {
                        self.toast(msg("btn-outdated"));
                        session
                    }
                }
            }
            ("o", Some(payload)) => match SiteObject::from_payload(payload) {
                Ok(object) => {
                    self.effects.push(Effect::ClearOriginKeyboard);
                    if matches!(session, Session::Drafting(_)) {
                        self.say(vec![Part::Msg(msg("restarted"))], Keyboard::RemoveReply);
                    }
                    self.show_object_menu(&object, false);
                    Session::Idle
                }
                Err(_) => {
                    self.toast(msg("btn-outdated"));
                    session
                }
            },
            ("restart", None) => {
                self.effects.push(Effect::ClearOriginKeyboard);
                self.say(vec![Part::Msg(msg("restarted"))], Keyboard::RemoveReply);
                self.show_menu(false);
                Session::Idle
            }
            ("resume", None) => match session {
                Session::Drafting(draft) => {
                    self.effects.push(Effect::ClearOriginKeyboard);
                    self.reask(draft)
                }
                Session::Idle | Session::Offering(_) => {
                    self.toast(msg("btn-outdated"));
                    Session::Idle
                }
            },
            _ => match session {
                Session::Drafting(draft) => self.draft_button(draft, name, arg),
                Session::Idle | Session::Offering(_) => {
                    let notice = if name == "send" {
                        "already-sent"
                    } else {
                        "btn-outdated"
                    };
                    self.toast(msg(notice));
                    self.effects.push(Effect::ClearOriginKeyboard);
                    Session::Idle
                }
            },
        }
    }

    /// Starts a draft of `kind_id`; with an `object` (from a sticker) its step is prefilled.
    /// A new request of `kind` continuing closed case `number`: the case says so.
    fn renew(&mut self, session: Session, kind: &str, number: &str) -> Session {
        let at = self.effects.len();
        match self.choose_kind(session, kind, None) {
            Session::Drafting(mut draft) if draft.id == self.ctx.new_id => {
                draft.refers_to = Some(number.to_owned());
                self.effects.insert(
                    at,
                    Effect::Say(Reply {
                        parts: vec![Part::Msg(
                            Msg::new("renew-started").arg("number", number.to_owned()),
                        )],
                        keyboard: Keyboard::None,
                        edit_origin: false,
                    }),
                );
                Session::Drafting(draft)
            }
            other => other,
        }
    }

    fn choose_kind(
        &mut self,
        session: Session,
        kind_id: &str,
        object: Option<&SiteObject>,
    ) -> Session {
        if let Session::Drafting(draft) = &session
            && (!draft.answers.is_empty() || draft.kind == kind_id)
        {
            self.offer_resume(draft);
            return session;
        }
        let Some(kind) = self.ctx.catalog.kind(kind_id) else {
            self.toast(msg("btn-outdated"));
            return session;
        };
        let known = match object {
            Some(o) => match object_step(self.ctx.catalog, kind, o) {
                Some(known) => Some(known),
                None => {
                    self.toast(msg("btn-outdated"));
                    return session;
                }
            },
            None => None,
        };
        let mut draft = Draft {
            id: self.ctx.new_id.to_owned(),
            kind: kind.id.clone(),
            plan: Vec::new(),
            answers: Default::default(),
            phase: Phase::Review,
            started_at: self.ctx.now,
            refers_to: None,
        };
        for step in &kind.steps {
            let remembered = self
                .ctx
                .catalog
                .field(&step.field)
                .filter(|f| f.remember)
                .and_then(|_| self.profile.saved.get(&step.field));
            let from_object = known
                .as_ref()
                .filter(|(field, _)| *field == step.field)
                .map(|(_, answer)| answer);
            let prefill = from_object.or(remembered);
            if let Some(answer) = prefill {
                draft.answers.insert(step.field.clone(), answer.clone());
            }
            draft.plan.push(PlannedStep {
                field: step.field.clone(),
                optional: step.optional,
                prompt: step.prompt.clone(),
                prefilled: prefill.is_some(),
            });
        }
        self.effects.push(Effect::Say(Reply {
            parts: vec![Part::Msg(
                Msg::new("kind-chosen").arg_ref("kind", kind.label()),
            )],
            keyboard: Keyboard::None,
            edit_origin: true,
        }));
        if let Some(notice) = &kind.notice {
            self.say_msg(msg(notice));
        }
        let first = draft.asked_steps().next().map(|(i, _)| i);
        match first {
            Some(first) => {
                draft.phase = Phase::Asking {
                    index: first,
                    edit: false,
                };
                self.ask(&draft, None);
            }
            None => self.review(&draft),
        }
        Session::Drafting(draft)
    }

    fn draft_button(&mut self, draft: Draft, name: &str, arg: Option<&str>) -> Session {
        let Some(pressed) = DraftButton::parse(name, arg) else {
            return self.outdated(draft);
        };
        // Buttons of a step carry its plan index; a stale one is refused.
        let current = match draft.phase {
            Phase::Asking { index, edit } | Phase::ConfirmHost { index, edit, .. } => {
                Some((index, edit))
            }
            Phase::Review => None,
        };
        let at_step = |step: Option<usize>| match (step, current) {
            (None, Some(c)) => Some(c),
            (Some(i), Some(c)) if i == c.0 => Some(c),
            _ => None,
        };
        match pressed {
            DraftButton::Cancel => {
                self.say(
                    vec![Part::Msg(msg("cancel-confirm"))],
                    Keyboard::Inline(vec![vec![
                        button("btn-cancel-yes", "cancel-yes"),
                        button("btn-cancel-no", "cancel-no"),
                    ]]),
                );
                Session::Drafting(draft)
            }
            DraftButton::CancelYes => {
                self.effects.push(Effect::ClearOriginKeyboard);
                self.say(vec![Part::Msg(msg("cancelled"))], Keyboard::RemoveReply);
                Session::Idle
            }
            DraftButton::CancelNo => {
                self.effects.push(Effect::ClearOriginKeyboard);
                self.reask(draft)
            }
            DraftButton::Send if current.is_none() => self.send(draft),
            DraftButton::Edit(field) if current.is_none() => self.edit_field(draft, &field),
            DraftButton::Back(step) => match at_step(step) {
                Some((index, edit)) => self.back(draft, index, edit),
                None => self.outdated(draft),
            },
            DraftButton::Skip(step) => match at_step(step) {
                Some((index, edit)) => self.skip(draft, index, edit),
                None => self.outdated(draft),
            },
            DraftButton::Keep(step) => match at_step(step) {
                Some((index, edit)) => self.keep(draft, index, edit),
                None => self.outdated(draft),
            },
            DraftButton::Clear(step) => match at_step(step) {
                Some((index, _)) => self.clear_files(draft, index),
                None => self.outdated(draft),
            },
            DraftButton::HostYes => self.confirm_host(draft, true),
            DraftButton::HostNo => self.confirm_host(draft, false),
            DraftButton::Send | DraftButton::Edit(_) => self.outdated(draft),
        }
    }

    /// Edit from the summary: asks `field` again, then returns to the summary.
    fn edit_field(&mut self, mut draft: Draft, field: &str) -> Session {
        match draft.plan.iter().position(|s| s.field == field) {
            Some(index) => {
                self.effects.push(Effect::ClearOriginKeyboard);
                draft.phase = Phase::Asking { index, edit: true };
                self.ask(&draft, None);
                Session::Drafting(draft)
            }
            None => self.outdated(draft),
        }
    }

    /// Back: the previous asked step, or the summary when editing from it.
    fn back(&mut self, mut draft: Draft, index: usize, edit: bool) -> Session {
        self.clear_reply_keyboard_if_needed(&draft, index);
        if edit {
            draft.phase = Phase::Review;
            self.review(&draft);
            return Session::Drafting(draft);
        }
        let prev = draft
            .asked_steps()
            .filter(|(i, _)| *i < index)
            .last()
            .map(|(i, _)| i);
        match prev {
            Some(p) => {
                draft.phase = Phase::Asking {
                    index: p,
                    edit: false,
                };
                self.ask(&draft, None);
            }
            None => self.toast(msg("btn-outdated")),
        }
        Session::Drafting(draft)
    }

    /// Skip an optional step (its answer, if any, is dropped).
    fn skip(&mut self, mut draft: Draft, index: usize, edit: bool) -> Session {
        let Some(step) = draft.plan.get(index).cloned() else {
            return self.outdated(draft);
        };
        if !step.optional {
            return self.outdated(draft);
        }
        self.clear_reply_keyboard_if_needed(&draft, index);
        draft.answers.remove(&step.field);
        self.advance(draft, index, edit)
    }

    /// Keep the answer given before (or Done with the files so far) and go on.
    fn keep(&mut self, draft: Draft, index: usize, edit: bool) -> Session {
        let answered = draft
            .plan
            .get(index)
            .is_some_and(|step| draft.answers.contains_key(&step.field));
        if !answered {
            return self.outdated(draft);
        }
        self.clear_reply_keyboard_if_needed(&draft, index);
        self.advance(draft, index, edit)
    }

    /// Drop the files collected at this step and ask for them again.
    fn clear_files(&mut self, mut draft: Draft, index: usize) -> Session {
        if let Some(step) = draft.plan.get(index) {
            let field = step.field.clone();
            draft.answers.remove(&field);
        }
        self.say_msg(msg("files-cleared"));
        self.ask(&draft, None);
        Session::Drafting(draft)
    }

    /// The answer to "is this unfamiliar link right?".
    fn confirm_host(&mut self, mut draft: Draft, yes: bool) -> Session {
        let Phase::ConfirmHost { index, edit, link } = draft.phase.clone() else {
            return self.outdated(draft);
        };
        self.effects.push(Effect::ClearOriginKeyboard);
        if !yes {
            draft.phase = Phase::Asking { index, edit };
            self.ask(&draft, None);
            return Session::Drafting(draft);
        }
        if let Some(step) = draft.plan.get(index) {
            let field = step.field.clone();
            draft.answers.insert(field, Answer::Link(link));
        }
        self.advance(draft, index, edit)
    }

    fn outdated(&mut self, draft: Draft) -> Session {
        self.toast(msg("btn-outdated"));
        Session::Drafting(draft)
    }

    // ----- asking -------------------------------------------------------------------

    fn field_of(&self, draft: &Draft, index: usize) -> Option<FieldDef> {
        let step = draft.plan.get(index)?;
        self.ctx.catalog.field(&step.field).cloned()
    }

    fn reask(&mut self, mut draft: Draft) -> Session {
        match draft.phase.clone() {
            Phase::Review => self.review(&draft),
            Phase::Asking { .. } => self.ask(&draft, None),
            Phase::ConfirmHost { index, edit, .. } => {
                draft.phase = Phase::Asking { index, edit };
                self.ask(&draft, None);
            }
        }
        Session::Drafting(draft)
    }

    /// The keyboard of the current step.
    fn step_keyboard(&self, draft: &Draft, index: usize, edit: bool) -> Keyboard {
        let Some(step) = draft.plan.get(index) else {
            return Keyboard::None;
        };
        let Some(field) = self.ctx.catalog.field(&step.field) else {
            return Keyboard::None;
        };
        let answer = draft.answers.get(&step.field);
        let has_prev = edit || draft.asked_steps().any(|(i, _)| i < index);
        let mut nav = Vec::new();
        if has_prev {
            nav.push(button("btn-back", format!("back:{index}")));
        }
        if step.optional && field.ty != FieldType::Files {
            nav.push(button("btn-skip", format!("skip:{index}")));
        }
        nav.push(button("btn-cancel", "cancel"));
        let mut rows = Vec::new();
        if field.ty == FieldType::Files {
            let n = answer.map(|a| a.files().len()).unwrap_or(0);
            if n > 0 {
                rows.push(vec![Button::new(
                    Msg::new("btn-done-files").arg("count", n),
                    format!("done:{index}"),
                )]);
                rows.push(vec![button("btn-clear-files", format!("clear:{index}"))]);
            } else if step.optional {
                rows.push(vec![button("btn-skip-files", format!("skip:{index}"))]);
            }
        } else if answer.is_some() {
            rows.push(vec![button("btn-keep", format!("keep:{index}"))]);
        }
        match field.ty {
            FieldType::Phone | FieldType::Location => {
                let request = if field.ty == FieldType::Phone {
                    (ReplyRequest::Contact, msg("btn-share-contact"))
                } else {
                    (ReplyRequest::Location, msg("btn-share-location"))
                };
                let mut buttons: Vec<Button> = rows.into_iter().flatten().collect();
                buttons.extend(nav);
                // Reply-keyboard labels come back as text; the adapter maps them to data
                // without the index, which means "the current step".
                for b in &mut buttons {
                    let base = split_data(&b.data).0.to_owned();
                    b.data = base;
                }
                Keyboard::Reply { request, buttons }
            }
            _ => {
                rows.push(nav);
                Keyboard::Inline(rows)
            }
        }
    }

    fn ask(&mut self, draft: &Draft, error: Option<Msg>) {
        let (index, edit) = match draft.phase {
            Phase::Asking { index, edit } | Phase::ConfirmHost { index, edit, .. } => (index, edit),
            Phase::Review => return,
        };
        let Some(step) = draft.plan.get(index) else {
            return;
        };
        let Some(field) = self.ctx.catalog.field(&step.field) else {
            return;
        };
        let mut parts = Vec::new();
        if let Some(e) = error {
            parts.push(Part::Msg(e));
            parts.push(Part::Msg(
                Msg::new("example-line").arg_ref("example", field.example()),
            ));
        } else {
            if edit {
                parts.push(Part::Msg(
                    Msg::new("editing-field").arg_ref("field", field.label()),
                ));
            } else {
                let (pos, total) = draft.progress(index);
                parts.push(Part::Msg(
                    Msg::new("step-counter")
                        .arg("step", pos)
                        .arg("total", total),
                ));
            }
            let prompt = step.prompt.clone().unwrap_or_else(|| field.prompt());
            parts.push(Part::Msg(Msg::new(prompt)));
            if field.ty == FieldType::Files {
                let l = self.ctx.limits;
                parts.push(Part::Msg(
                    Msg::new("files-limits")
                        .arg("max_files", l.max_files)
                        .arg("max_mb", l.max_file_bytes / (1024 * 1024))
                        .arg("total_mb", l.max_total_bytes / (1024 * 1024)),
                ));
            }
            parts.push(Part::Msg(
                Msg::new("example-line").arg_ref("example", field.example()),
            ));
            if step.optional {
                parts.push(Part::Msg(msg("step-optional")));
            }
            if let Some(current) = draft.answers.get(&step.field) {
                if field.ty == FieldType::Files {
                    parts.push(Part::Msg(
                        Msg::new("files-so-far").arg("count", current.files().len()),
                    ));
                } else {
                    parts.push(Part::Field {
                        label: msg("current-value"),
                        value: shorten(&current.display(), 300),
                    });
                }
            }
        }
        let keyboard = self.step_keyboard(draft, index, edit);
        self.say(parts, keyboard);
    }

    fn clear_reply_keyboard_if_needed(&mut self, draft: &Draft, index: usize) {
        if let Some(f) = self.field_of(draft, index)
            && matches!(f.ty, FieldType::Phone | FieldType::Location)
        {
            self.say(
                vec![Part::Msg(msg("reply-keyboard-closed"))],
                Keyboard::RemoveReply,
            );
        }
    }

    fn advance(&mut self, mut draft: Draft, index: usize, edit: bool) -> Session {
        let next = if edit {
            None
        } else {
            draft
                .asked_steps()
                .find(|(i, _)| *i > index)
                .map(|(i, _)| i)
        };
        match next {
            Some(n) => {
                draft.phase = Phase::Asking {
                    index: n,
                    edit: false,
                };
                self.ask(&draft, None);
            }
            None => {
                // Before the summary, make sure no required step is missing.
                let missing = draft
                    .plan
                    .iter()
                    .position(|s| !s.optional && !draft.answers.contains_key(&s.field));
                match missing {
                    Some(m) => {
                        draft.phase = Phase::Asking {
                            index: m,
                            edit: false,
                        };
                        self.ask(&draft, None);
                    }
                    None => {
                        draft.phase = Phase::Review;
                        self.review(&draft);
                    }
                }
            }
        }
        Session::Drafting(draft)
    }

    // ----- answers ------------------------------------------------------------------

    fn answer(&mut self, mut draft: Draft, input: Input) -> Session {
        let (index, edit) = match &draft.phase {
            Phase::Asking { index, edit } | Phase::ConfirmHost { index, edit, .. } => {
                (*index, *edit)
            }
            Phase::Review => {
                self.say_msg(msg("review-use-buttons"));
                return Session::Drafting(draft);
            }
        };
        // A new answer while a host confirmation is pending replaces the pending link.
        draft.phase = Phase::Asking { index, edit };
        let Some(step) = draft.plan.get(index).cloned() else {
            draft.phase = Phase::Review;
            self.review(&draft);
            return Session::Drafting(draft);
        };
        let Some(field) = self.ctx.catalog.field(&step.field).cloned() else {
            self.say_msg(msg("draft-reset"));
            return Session::Idle;
        };
        if field.ty == FieldType::Files {
            return self.file_answer(draft, index, &field, input);
        }
        let has_files_step = draft.plan.iter().any(|s| {
            self.ctx
                .catalog
                .field(&s.field)
                .is_some_and(|f| f.ty == FieldType::Files)
        });
        let parsed: Result<Answer, Msg> = match (&field.ty, input) {
            (FieldType::Phone, Input::Contact { phone, own }) => {
                if field.own_contact && !own {
                    Err(msg("err-contact-not-own"))
                } else {
                    Phone::parse(&phone).map(Answer::Phone)
                }
            }
            (FieldType::Location, Input::Location { lat, lon }) => {
                if lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
                    Ok(Answer::Location(GeoPoint { lat, lon }))
                } else {
                    Err(msg("err-location"))
                }
            }
            (ty, Input::Text(text)) => parse_text(*ty, &text, self.ctx.hosts),
            (_, Input::Photo(_) | Input::Document(_)) => Err(if has_files_step {
                msg("err-file-not-here-later")
            } else {
                msg("err-file-not-here")
            }),
            (_, Input::Sticker) => Err(msg("err-sticker")),
            (_, Input::Voice) => Err(msg("err-voice")),
            (_, Input::Video) => Err(msg("err-video")),
            (_, Input::Contact { .. }) => Err(msg("err-contact-not-here")),
            (_, Input::Location { .. }) => Err(msg("err-location-not-here")),
            _ => Err(msg("err-unsupported")),
        };
        match parsed {
            Err(e) => {
                self.ask(&draft, Some(e));
                Session::Drafting(draft)
            }
            Ok(Answer::Link(link)) => {
                if link.secrets_removed() {
                    self.say_msg(msg("link-secret-removed"));
                }
                if link.host_known() {
                    draft.answers.insert(step.field.clone(), Answer::Link(link));
                    self.after_answer(draft, index, edit, &field)
                } else {
                    let host = url::Url::parse(link.url())
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_default();
                    self.say(
                        vec![Part::Msg(Msg::new("link-host-unknown").arg("host", host))],
                        Keyboard::Inline(vec![vec![
                            button("btn-host-yes", "host-yes"),
                            button("btn-host-no", "host-no"),
                        ]]),
                    );
                    draft.phase = Phase::ConfirmHost { index, edit, link };
                    Session::Drafting(draft)
                }
            }
            Ok(answer) => {
                draft.answers.insert(step.field.clone(), answer);
                self.after_answer(draft, index, edit, &field)
            }
        }
    }

    fn after_answer(
        &mut self,
        draft: Draft,
        index: usize,
        edit: bool,
        field: &FieldDef,
    ) -> Session {
        if matches!(field.ty, FieldType::Phone | FieldType::Location) {
            let value = draft
                .answers
                .get(&field.id)
                .map(Answer::display)
                .unwrap_or_default();
            self.say(
                vec![Part::Field {
                    label: msg("accepted"),
                    value,
                }],
                Keyboard::RemoveReply,
            );
        }
        self.advance(draft, index, edit)
    }

    fn file_answer(
        &mut self,
        mut draft: Draft,
        index: usize,
        field: &FieldDef,
        input: Input,
    ) -> Session {
        let limits = self.ctx.limits;
        let existing: Vec<FileRef> = draft
            .answers
            .get(&field.id)
            .map(|a| a.files().to_vec())
            .unwrap_or_default();
        let candidate = match input {
            Input::Photo(f) => Ok(file_ref(f, FileKind::Photo, existing.len())),
            Input::Document(f) => check_document(f, existing.len()),
            Input::Text(_) => Err(msg("err-files-expected")),
            Input::Sticker => Err(msg("err-sticker")),
            Input::Voice => Err(msg("err-voice")),
            Input::Video => Err(msg("err-files-video")),
            Input::Contact { .. } | Input::Location { .. } | Input::Other => {
                Err(msg("err-files-expected"))
            }
            Input::Command(_)
            | Input::StartPayload(_)
            | Input::Button(_)
            | Input::FollowUp { .. } => Err(msg("err-unsupported")),
        };
        let file = match candidate {
            Ok(f) => f,
            Err(e) => {
                self.ask(&draft, Some(e));
                return Session::Drafting(draft);
            }
        };
        if existing.iter().any(|f| f.unique_id == file.unique_id) {
            self.say(
                vec![Part::Msg(
                    Msg::new("file-duplicate").arg("name", file.name.clone()),
                )],
                self.step_keyboard(
                    &draft,
                    index,
                    matches!(draft.phase, Phase::Asking { edit: true, .. }),
                ),
            );
            return Session::Drafting(draft);
        }
        let edit = matches!(draft.phase, Phase::Asking { edit: true, .. });
        let err = if existing.len() >= limits.max_files {
            Some(Msg::new("err-files-count").arg("max", limits.max_files))
        } else if file.size.is_some_and(|s| s > limits.max_file_bytes) {
            Some(
                Msg::new("err-file-too-big")
                    .arg("name", file.name.clone())
                    .arg("size_mb", mb(file.size.unwrap_or(0)))
                    .arg("max_mb", limits.max_file_bytes / (1024 * 1024)),
            )
        } else {
            let total: u64 =
                existing.iter().filter_map(|f| f.size).sum::<u64>() + file.size.unwrap_or(0);
            (total > limits.max_total_bytes).then(|| {
                Msg::new("err-files-total").arg("total_mb", limits.max_total_bytes / (1024 * 1024))
            })
        };
        if let Some(e) = err {
            self.say(vec![Part::Msg(e)], self.step_keyboard(&draft, index, edit));
            return Session::Drafting(draft);
        }
        let name = file.name.clone();
        let mut files = existing;
        files.push(file);
        let count = files.len();
        draft.answers.insert(field.id.clone(), Answer::Files(files));
        self.say(
            vec![Part::Msg(
                Msg::new("file-received")
                    .arg("name", name)
                    .arg("count", count)
                    .arg("max", limits.max_files),
            )],
            self.step_keyboard(&draft, index, edit),
        );
        Session::Drafting(draft)
    }

    // ----- summary and send ---------------------------------------------------------

    fn review(&mut self, draft: &Draft) {
        let Some(kind) = self.ctx.catalog.kind(&draft.kind) else {
            self.say_msg(msg("draft-reset"));
            return;
        };
        let mut parts = vec![
            Part::Msg(msg("review-title")),
            Part::Msg(Msg::new("review-kind").arg_ref("kind", kind.label())),
            Part::Msg(Msg::new(format!("urgency-{}", kind.urgency.as_str()))),
        ];
        let mut edit_buttons = Vec::new();
        for step in &draft.plan {
            let Some(field) = self.ctx.catalog.field(&step.field) else {
                continue;
            };
            let value = match draft.answers.get(&step.field) {
                Some(Answer::Files(files)) => {
                    format!(
                        "{} ({})",
                        files.len(),
                        shorten(&Answer::Files(files.clone()).display(), 200)
                    )
                }
                Some(a) => shorten(&a.display(), 500),
                None => "—".to_owned(),
            };
            parts.push(Part::Field {
                label: msg(&field.label()),
                value,
            });
            edit_buttons.push(Button::new(
                Msg::new("btn-edit").arg_ref("field", field.label()),
                format!("edit:{}", step.field),
            ));
        }
        parts.push(Part::Msg(msg("review-hint")));
        let mut rows: Vec<Vec<Button>> = vec![vec![button("btn-send", "send")]];
        for pair in edit_buttons.chunks(2) {
            rows.push(pair.to_vec());
        }
        rows.push(vec![button("btn-cancel", "cancel")]);
        self.say(parts, Keyboard::Inline(rows));
    }

    fn send(&mut self, draft: Draft) -> Session {
        let Some(kind) = self.ctx.catalog.kind(&draft.kind) else {
            self.say_msg(msg("draft-reset"));
            return Session::Idle;
        };
        if let Some(wait) = self.ctx.send_blocked_for {
            let minutes = (wait.num_seconds().max(1) + 59) / 60;
            self.say_msg(msg("send-limit").arg("minutes", minutes));
            if kind.urgency == crate::urgency::Urgency::Critical {
                self.say_msg(msg("send-limit-hotline"));
            }
            return Session::Drafting(draft);
        }
        if let Some(m) = draft
            .plan
            .iter()
            .position(|s| !s.optional && !draft.answers.contains_key(&s.field))
        {
            let mut draft = draft;
            draft.phase = Phase::Asking {
                index: m,
                edit: false,
            };
            self.ask(&draft, None);
            return Session::Drafting(draft);
        }
        for step in &draft.plan {
            let remember = self
                .ctx
                .catalog
                .field(&step.field)
                .is_some_and(|f| f.remember);
            if let (true, Some(a)) = (remember, draft.answers.get(&step.field))
                && self.profile.saved.get(&step.field) != Some(a)
            {
                self.profile.saved.insert(step.field.clone(), a.clone());
                self.profile_changed = true;
            }
        }
        let fields = draft
            .plan
            .iter()
            .filter_map(|s| {
                draft
                    .answers
                    .get(&s.field)
                    .map(|a| (s.field.clone(), a.clone()))
            })
            .collect();
        self.effects.push(Effect::ClearOriginKeyboard);
        self.effects.push(Effect::Submit(Box::new(Request {
            id: draft.id,
            kind: kind.id.clone(),
            urgency: kind.urgency,
            fields,
            submitted_at: self.ctx.now,
            refers_to: draft.refers_to,
        })));
        Session::Idle
    }
}

/// A message about a sticker's object: `$object` is `station` or `modem`, `$id` its number.
fn object_msg(id: &str, object: &SiteObject) -> Msg {
    Msg::new(id)
        .arg("object", object.kind())
        .arg("id", object.id())
}

/// The first step of `kind` that takes `object`, with the object as its answer.
fn object_step(catalog: &Catalog, kind: &KindDef, object: &SiteObject) -> Option<(String, Answer)> {
    let answer = match object {
        SiteObject::Station(_) => Answer::BaseStations(object.stations()?),
        SiteObject::Modem(_) => Answer::ModemIds(object.modems()?),
    };
    let wanted = match object {
        SiteObject::Station(_) => FieldType::BaseStations,
        SiteObject::Modem(_) => FieldType::ModemIds,
    };
    kind.steps
        .iter()
        .find(|s| catalog.field(&s.field).is_some_and(|f| f.ty == wanted))
        .map(|s| (s.field.clone(), answer))
}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// Cuts `s` to at most `max` characters, marking the cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

fn parse_text(ty: FieldType, text: &str, hosts: &HostPolicy) -> Result<Answer, Msg> {
    match ty {
        FieldType::Text { min, max } => FreeText::parse(text, min, max).map(Answer::Text),
        FieldType::ModemIds => ModemIds::parse(text).map(Answer::ModemIds),
        FieldType::MeterSerial => MeterSerial::parse(text).map(Answer::Serial),
        FieldType::BaseStations => BaseStations::parse(text).map(Answer::BaseStations),
        FieldType::Link => ObjectLink::parse(text, hosts).map(Answer::Link),
        FieldType::Email => Email::parse(text).map(Answer::Email),
        FieldType::Phone => Phone::parse(text).map(Answer::Phone),
        FieldType::FullName => FullName::parse(text).map(Answer::FullName),
        FieldType::Location => FreeText::parse(text, 3, 500).map(Answer::Text),
        FieldType::Files => Err(msg("err-files-expected")),
    }
}

const IMAGE_TYPES: [(&str, &str); 5] = [
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("bmp", "image/bmp"),
];

fn file_ref(f: FileInput, kind: FileKind, existing: usize) -> FileRef {
    let name = match (&f.name, kind) {
        (Some(n), _) if !n.trim().is_empty() => n.trim().to_owned(),
        (_, FileKind::Photo) => format!("photo-{}.jpg", existing + 1),
        (_, FileKind::Document) => format!("file-{}", existing + 1),
    };
    let mime = match kind {
        FileKind::Photo => "image/jpeg".to_owned(),
        FileKind::Document => f
            .mime
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
    };
    FileRef {
        file_id: f.file_id,
        unique_id: f.unique_id,
        name,
        mime,
        size: f.size,
        kind,
    }
}

/// Accepts a document only when it is a JPG, GIF, PNG or BMP image (regulation item 3).
fn check_document(f: FileInput, existing: usize) -> Result<FileRef, Msg> {
    let ext = f
        .name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let mime = f.mime.as_deref().map(str::to_ascii_lowercase);
    let by_ext = ext
        .as_deref()
        .and_then(|e| IMAGE_TYPES.iter().find(|(x, _)| *x == e));
    let by_mime = mime.as_deref().and_then(|m| {
        let m = if m == "image/x-ms-bmp" {
            "image/bmp"
        } else {
            m
        };
        IMAGE_TYPES.iter().find(|(_, t)| *t == m)
    });
    let shown = f.name.clone().unwrap_or_else(|| "file".to_owned());
    match (by_ext, by_mime) {
        (Some(_), _) | (None, Some(_)) if ext.is_none() || by_ext.is_some() => {
            let canonical = by_ext.or(by_mime).map(|(_, t)| (*t).to_owned());
            let mut r = file_ref(f, FileKind::Document, existing);
            if let Some(t) = canonical {
                r.mime = t;
            }
            Ok(r)
        }
        _ => Err(Msg::new("err-file-format").arg("name", shown)),
    }
}
