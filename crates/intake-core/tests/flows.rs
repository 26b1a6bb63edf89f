//! Every request kind walked through the real `dialogues/` catalog, plus properties of the
//! machine under arbitrary input.

use std::path::Path;

use chrono::{TimeZone, Utc};
use intake_core::dialogue::{
    self, Answer, Effect, FileInput, Input, Keyboard, Part, Phase, Profile, Request, Session,
};
use intake_core::domain::HostPolicy;
use intake_core::form::{Catalog, FieldType};
use proptest::prelude::*;

fn catalog() -> Catalog {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dialogues");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("dialogues folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).expect("readable"),
            )
        })
        .collect();
    files.sort();
    Catalog::parse(&files).expect("the repository's dialogues are valid")
}

struct Chat {
    catalog: Catalog,
    hosts: HostPolicy,
    session: Session,
    profile: Profile,
    counter: u32,
    send_blocked_for: Option<chrono::Duration>,
    open_case: Option<(i64, String)>,
}

impl Chat {
    fn new() -> Self {
        Self {
            catalog: catalog(),
            hosts: HostPolicy::default(),
            session: Session::Idle,
            profile: Profile::default(),
            counter: 0,
            send_blocked_for: None,
            open_case: None,
        }
    }

    fn send(&mut self, input: Input) -> Vec<Effect> {
        self.counter += 1;
        let id = format!("req{}", self.counter);
        let ctx = dialogue::Ctx {
            catalog: &self.catalog,
            hosts: &self.hosts,
            limits: dialogue::FileLimits::default(),
            now: Utc
                .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
                .single()
                .expect("valid time"),
            new_id: &id,
            send_blocked_for: self.send_blocked_for,
            open_case: self.open_case.as_ref().map(|(id, n)| (*id, n.as_str())),
        };
        let t = dialogue::step(&ctx, self.session.clone(), self.profile.clone(), input);
        self.session = t.session;
        self.profile = t.profile;
        t.effects
    }

    fn press(&mut self, data: &str) -> Vec<Effect> {
        self.send(Input::Button(data.to_owned()))
    }

    fn text(&mut self, t: &str) -> Vec<Effect> {
        self.send(Input::Text(t.to_owned()))
    }

    /// The field asked now, with its plan index.
    fn asking(&self) -> Option<(usize, String, FieldType, bool)> {
        let Session::Drafting(d) = &self.session else {
            return None;
        };
        let Phase::Asking { index, .. } = d.phase else {
            return None;
        };
        let step = &d.plan[index];
        let ty = self.catalog.field(&step.field).expect("field").ty;
        Some((index, step.field.clone(), ty, step.optional))
    }

    fn in_review(&self) -> bool {
        matches!(&self.session, Session::Drafting(d) if d.phase == Phase::Review)
    }
}

fn message_ids(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .flat_map(|e| match e {
            Effect::Say(r) => r
                .parts
                .iter()
                .filter_map(|p| match p {
                    Part::Msg(m) => Some(m.id.clone()),
                    Part::Field { .. } => None,
                })
                .collect(),
            Effect::Toast(m) => vec![m.id.clone()],
            _ => vec![],
        })
        .collect()
}

fn valid_answer(ty: FieldType) -> Input {
    match ty {
        FieldType::Text { .. } => Input::Text("Модем не выходит на связь с 20.11".to_owned()),
        FieldType::ModemIds => Input::Text("7a48ac, 8787037".to_owned()),
        FieldType::MeterSerial => Input::Text("0123-4567-8901".to_owned()),
        FieldType::BaseStations => Input::Text("1234".to_owned()),
        FieldType::Link => Input::Text("https://lk.waviot.ru/?id=195984&key=SECRET123".to_owned()),
        FieldType::Email => Input::Text("Ivan@Example.ru".to_owned()),
        FieldType::Phone => Input::Contact {
            phone: "79123456789".to_owned(),
            own: true,
        },
        FieldType::FullName => Input::Text("Иванов Иван Иванович".to_owned()),
        FieldType::Files => Input::Photo(FileInput {
            file_id: "photo-file".to_owned(),
            unique_id: "photo-unique".to_owned(),
            name: None,
            mime: None,
            size: Some(100_000),
        }),
        FieldType::Location => Input::Location {
            lat: 55.75,
            lon: 37.61,
        },
    }
}

/// Answers every asked step (skipping optional ones) and returns the fields asked, in order.
fn walk(chat: &mut Chat) -> Vec<String> {
    let mut asked = Vec::new();
    while let Some((index, field, ty, optional)) = chat.asking() {
        asked.push(field);
        if optional {
            chat.press(&format!("skip:{index}"));
        } else {
            chat.send(valid_answer(ty));
        }
    }
    asked
}

/// Fills a kind: required steps answered, optional ones answered when `answer_optional`.
fn fill(chat: &mut Chat, kind: &str, answer_optional: bool) -> Request {
    chat.press(&format!("k:{kind}"));
    finish(chat, kind, answer_optional)
}

/// Answers the draft in progress up to the summary and sends it.
fn finish(chat: &mut Chat, kind: &str, answer_optional: bool) -> Request {
    for _ in 0..40 {
        if chat.in_review() {
            break;
        }
        let (index, _field, ty, optional) = chat.asking().expect("a step is asked");
        if optional && !answer_optional {
            chat.press(&format!("skip:{index}"));
            continue;
        }
        chat.send(valid_answer(ty));
        if ty == FieldType::Files {
            chat.press(&format!("done:{index}"));
        }
    }
    assert!(chat.in_review(), "{kind}: reached the summary");
    let effects = chat.press("send");
    let submitted = effects.iter().find_map(|e| match e {
        Effect::Submit(r) => Some((**r).clone()),
        _ => None,
    });
    assert_eq!(
        chat.session,
        Session::Idle,
        "{kind}: the draft is closed after send"
    );
    submitted.expect("send submits the request")
}

#[test]
fn every_kind_can_be_filled_and_sent_with_required_fields_only() {
    let kinds: Vec<String> = catalog().kinds().map(|k| k.id.clone()).collect();
    assert_eq!(kinds.len(), 14, "the regulation lists 14 kinds");
    for kind in kinds {
        let mut chat = Chat::new();
        let req = fill(&mut chat, &kind, false);
        let def = chat.catalog.kind(&kind).expect("kind").clone();
        for step in def.steps.iter().filter(|s| !s.optional) {
            assert!(
                req.answer(&step.field).is_some(),
                "{kind}: required {} sent",
                step.field
            );
        }
        assert_eq!(req.kind, kind);
        assert_eq!(req.urgency, def.urgency);
    }
}

#[test]
fn every_kind_can_be_filled_with_every_optional_field() {
    for kind in catalog().kinds().map(|k| k.id.clone()).collect::<Vec<_>>() {
        let mut chat = Chat::new();
        let req = fill(&mut chat, &kind, true);
        let def = chat.catalog.kind(&kind).expect("kind").clone();
        assert_eq!(
            req.fields.len(),
            def.steps.len(),
            "{kind}: every field sent"
        );
    }
}

#[test]
fn the_device_malfunction_form_asks_the_fields_of_the_regulation_in_order() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    let asked = walk(&mut chat);
    assert_eq!(
        asked,
        [
            "modem-id",
            "meter-serial",
            "object-link",
            "description",
            "steps-to-reproduce",
            "screenshots",
            "email",
            "organization",
            "login",
            "additional-info"
        ]
    );
}

#[test]
fn identification_is_remembered_and_not_asked_the_second_time() {
    let mut chat = Chat::new();
    fill(&mut chat, "critical-error", false);
    assert!(chat.profile.saved.contains_key("email"));
    chat.press("k:critical-error");
    let asked = walk(&mut chat);
    assert!(
        !asked
            .iter()
            .any(|f| f == "email" || f == "organization" || f == "login"),
        "{asked:?}"
    );
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(
        d.answers.get("email").map(Answer::display).as_deref(),
        Some("Ivan@example.ru")
    );
}

#[test]
fn a_wrong_answer_is_explained_with_an_example_and_the_step_stays() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    let before = chat.asking();
    let effects = chat.text("ZZZ-not-an-id");
    let ids = message_ids(&effects);
    assert!(ids.iter().any(|i| i.starts_with("err-modem-id")), "{ids:?}");
    assert!(ids.contains(&"example-line".to_owned()), "{ids:?}");
    assert_eq!(chat.asking(), before);
}

#[test]
fn non_text_input_at_a_text_step_gets_a_specific_answer() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    let cases = [
        (Input::Sticker, "err-sticker"),
        (Input::Voice, "err-voice"),
        (valid_answer(FieldType::Files), "err-file-not-here-later"),
        (
            Input::Location { lat: 1.0, lon: 2.0 },
            "err-location-not-here",
        ),
    ];
    for (input, expected) in cases {
        let ids = message_ids(&chat.send(input));
        assert!(ids.contains(&expected.to_owned()), "{expected}: {ids:?}");
    }
}

#[test]
fn a_pdf_and_a_30_mb_file_are_refused_with_the_reason() {
    let mut chat = Chat::new();
    chat.press("k:services-down");
    chat.send(valid_answer(FieldType::Text { min: 10, max: 4000 }));
    let (index, ..) = chat.asking().expect("object link");
    chat.press(&format!("skip:{index}"));
    assert_eq!(chat.asking().map(|a| a.2), Some(FieldType::Files));
    let pdf = Input::Document(FileInput {
        file_id: "f1".into(),
        unique_id: "u1".into(),
        name: Some("act.pdf".into()),
        mime: Some("application/pdf".into()),
        size: Some(10_000),
    });
    assert!(message_ids(&chat.send(pdf)).contains(&"err-file-format".to_owned()));
    let big = Input::Document(FileInput {
        file_id: "f2".into(),
        unique_id: "u2".into(),
        name: Some("screen.png".into()),
        mime: Some("image/png".into()),
        size: Some(30 * 1024 * 1024),
    });
    assert!(message_ids(&chat.send(big)).contains(&"err-file-too-big".to_owned()));
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert!(
        d.answers.contains_key("description"),
        "nothing collected was lost"
    );
    assert!(!d.answers.contains_key("screenshots"));
}

#[test]
fn an_album_of_three_photos_is_collected_and_done_shows_the_count() {
    let mut chat = Chat::new();
    chat.press("k:services-down");
    chat.send(valid_answer(FieldType::Text { min: 10, max: 4000 }));
    let (index, ..) = chat.asking().expect("object link");
    chat.press(&format!("skip:{index}"));
    let mut last = Vec::new();
    for i in 0..3 {
        last = chat.send(Input::Photo(FileInput {
            file_id: format!("p{i}"),
            unique_id: format!("pu{i}"),
            name: None,
            mime: None,
            size: Some(50_000),
        }));
    }
    let done = last.iter().find_map(|e| match e {
        Effect::Say(r) => match &r.keyboard {
            Keyboard::Inline(rows) => rows
                .iter()
                .flatten()
                .find(|b| b.label.id == "btn-done-files")
                .cloned(),
            _ => None,
        },
        _ => None,
    });
    let done = done.expect("a Done button");
    assert_eq!(done.label.args[0].1, intake_core::msg::Arg::Num(3));
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(d.answers["screenshots"].files().len(), 3);
}

#[test]
fn over_the_send_limit_the_draft_stays_and_a_critical_kind_shows_the_hotline() {
    for (kind, critical) in [("report-problem", false), ("base-station-install", true)] {
        let mut chat = Chat::new();
        chat.press(&format!("k:{kind}"));
        for _ in 0..40 {
            if chat.in_review() {
                break;
            }
            let (index, _field, ty, optional) = chat.asking().expect("a step is asked");
            if optional {
                chat.press(&format!("skip:{index}"));
            } else {
                chat.send(valid_answer(ty));
                if ty == FieldType::Files {
                    chat.press(&format!("done:{index}"));
                }
            }
        }
        assert!(chat.in_review(), "{kind}");
        chat.send_blocked_for = Some(chrono::Duration::seconds(61));
        let effects = chat.press("send");
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Submit(_))),
            "{kind}"
        );
        let ids = message_ids(&effects);
        assert!(ids.contains(&"send-limit".to_owned()), "{kind}: {ids:?}");
        assert_eq!(
            ids.contains(&"send-limit-hotline".to_owned()),
            critical,
            "{kind}"
        );
        assert!(chat.in_review(), "{kind}: the draft is kept at the summary");
        chat.send_blocked_for = None;
        let effects = chat.press("send");
        assert!(
            effects.iter().any(|e| matches!(e, Effect::Submit(_))),
            "{kind}: sent later"
        );
    }
}

#[test]
fn a_second_tap_on_send_submits_nothing() {
    let mut chat = Chat::new();
    fill(&mut chat, "report-problem", false);
    let effects = chat.press("send");
    assert!(!effects.iter().any(|e| matches!(e, Effect::Submit(_))));
    assert!(message_ids(&effects).contains(&"already-sent".to_owned()));
}

#[test]
fn a_link_with_a_key_is_stored_without_it_and_the_user_is_warned() {
    let mut chat = Chat::new();
    chat.press("k:report-problem");
    let effects = chat.text("https://lk.waviot.ru/?id=5&key=TOPSECRET");
    assert!(message_ids(&effects).contains(&"link-secret-removed".to_owned()));
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    let stored = serde_json::to_string(d).expect("serializes");
    assert!(!stored.contains("TOPSECRET"));
}

#[test]
fn an_unfamiliar_host_is_confirmed_before_it_is_taken() {
    let mut chat = Chat::new();
    chat.press("k:report-problem");
    let ids = message_ids(&chat.text("https://example.org/object/5"));
    assert!(ids.contains(&"link-host-unknown".to_owned()), "{ids:?}");
    assert!(chat.asking().is_none());
    chat.press("host-yes");
    assert_eq!(chat.asking().map(|a| a.1), Some("description".to_owned()));
}

#[test]
fn back_returns_to_the_previous_step_and_keeps_the_answer() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    chat.text("7A48AC");
    let (index, ..) = chat.asking().expect("serial");
    chat.press(&format!("back:{index}"));
    assert_eq!(chat.asking().map(|a| a.1), Some("modem-id".to_owned()));
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert!(d.answers.contains_key("modem-id"));
    let (index, ..) = chat.asking().expect("modem");
    chat.press(&format!("keep:{index}"));
    assert_eq!(chat.asking().map(|a| a.1), Some("meter-serial".to_owned()));
}

#[test]
fn a_stale_button_from_an_earlier_step_does_nothing() {
    let mut chat = Chat::new();
    chat.press("k:critical-error");
    chat.text("Система не открывает отчёты");
    let (index, ..) = chat.asking().expect("steps");
    chat.press(&format!("skip:{index}"));
    let before = chat.session.clone();
    let ids = message_ids(&chat.press(&format!("skip:{index}")));
    assert_eq!(ids, ["btn-outdated"]);
    assert_eq!(chat.session, before);
}

#[test]
fn editing_a_field_from_the_summary_returns_to_the_summary() {
    let mut chat = Chat::new();
    chat.press("k:report-problem");
    for _ in 0..20 {
        if chat.in_review() {
            break;
        }
        let (index, _, ty, optional) = chat.asking().expect("step");
        if optional {
            chat.press(&format!("skip:{index}"));
        } else {
            chat.send(valid_answer(ty));
        }
    }
    chat.press("edit:description");
    assert_eq!(chat.asking().map(|a| a.1), Some("description".to_owned()));
    chat.text("Отчёт за октябрь выгружается пустым");
    assert!(chat.in_review());
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(
        d.answers["description"].display(),
        "Отчёт за октябрь выгружается пустым"
    );
}

#[test]
fn start_with_a_draft_offers_to_continue_at_its_step() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    chat.text("7A48AC");
    let effects = chat.send(Input::Command(dialogue::Command::Start));
    let resume = effects.iter().find_map(|e| match e {
        Effect::Say(r) => match &r.keyboard {
            Keyboard::Inline(rows) => rows.iter().flatten().find(|b| b.data == "resume").cloned(),
            _ => None,
        },
        _ => None,
    });
    let resume = resume.expect("a resume button");
    assert_eq!(resume.label.id, "btn-resume-step");
    assert_eq!(resume.label.args[0].1, intake_core::msg::Arg::Num(2));
    chat.press("resume");
    assert_eq!(chat.asking().map(|a| a.1), Some("meter-serial".to_owned()));
}

#[test]
fn a_contact_of_someone_else_is_refused_for_the_users_own_phone() {
    let mut chat = Chat::new();
    chat.press("k:consultation-now");
    chat.text("Как перевести модем в режим частой передачи?");
    assert_eq!(chat.asking().map(|a| a.1), Some("phone".to_owned()));
    let ids = message_ids(&chat.send(Input::Contact {
        phone: "+79120000000".into(),
        own: false,
    }));
    assert!(ids.contains(&"err-contact-not-own".to_owned()));
    chat.text("8 (912) 345-67-89");
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(d.answers["phone"].display(), "+79123456789");
}

/// The buttons of the last inline keyboard among `effects`, as (label id, data).
fn inline_buttons(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::Say(r) => match &r.keyboard {
                Keyboard::Inline(rows) => Some(
                    rows.iter()
                        .flatten()
                        .map(|b| (b.label.id.clone(), b.data.clone()))
                        .collect(),
                ),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default()
}

fn deep_link(chat: &mut Chat, payload: &str) -> Vec<Effect> {
    chat.send(Input::StartPayload(payload.to_owned()))
}

#[test]
fn a_station_sticker_offers_station_kinds_and_prefills_the_station() {
    let mut chat = Chat::new();
    let effects = deep_link(&mut chat, "bs-1234");
    let ids = message_ids(&effects);
    assert!(ids.contains(&"object-greeting".to_owned()), "{ids:?}");
    let data: Vec<String> = inline_buttons(&effects).into_iter().map(|b| b.1).collect();
    assert_eq!(
        data,
        [
            "q:bs-1234:base-station-install",
            "q:bs-1234:batch-transfer",
            "menu"
        ]
    );
    for d in &data {
        assert!(d.len() <= 64, "callback data fits Telegram: {d}");
    }

    chat.press("q:bs-1234:base-station-install");
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(d.answers["base-station"].display(), "1234");
    assert!(d.plan[0].prefilled, "the station step is not asked");
    let (_, field, ty, _) = chat.asking().expect("a step is asked");
    assert_eq!(
        (field.as_str(), ty),
        ("location", FieldType::Location),
        "on site, the location button comes first"
    );
    let asked = walk(&mut chat);
    assert!(!asked.contains(&"base-station".to_owned()), "{asked:?}");
    assert!(chat.in_review());
}

#[test]
fn a_modem_sticker_offers_device_kinds_and_the_summary_can_edit_the_modem() {
    let mut chat = Chat::new();
    let effects = deep_link(&mut chat, "m-7A48AC");
    let data: Vec<String> = inline_buttons(&effects).into_iter().map(|b| b.1).collect();
    assert_eq!(
        data,
        [
            "q:m-7A48AC:device-malfunction",
            "q:m-7A48AC:wrong-readings",
            "q:m-7A48AC:pre-warranty-check",
            "q:m-7A48AC:modem-setup",
            "menu"
        ]
    );
    chat.press("q:m-7A48AC:wrong-readings");
    let asked = walk(&mut chat);
    assert!(!asked.contains(&"modem-id".to_owned()), "{asked:?}");
    assert!(chat.in_review());

    chat.press("edit:modem-id");
    assert_eq!(chat.asking().map(|a| a.1), Some("modem-id".to_owned()));
    chat.text("86145D");
    assert!(chat.in_review());
    let req = fill_sent(&mut chat);
    assert_eq!(
        req.answer("modem-id").map(Answer::display).as_deref(),
        Some("86145D")
    );
}

fn fill_sent(chat: &mut Chat) -> Request {
    chat.press("send")
        .into_iter()
        .find_map(|e| match e {
            Effect::Submit(r) => Some(*r),
            _ => None,
        })
        .expect("send submits the request")
}

#[test]
fn the_sticker_value_reaches_the_request() {
    let mut chat = Chat::new();
    deep_link(&mut chat, "bs-00AB_v2");
    chat.press("q:bs-00AB:batch-transfer");
    walk(&mut chat);
    let req = fill_sent(&mut chat);
    assert_eq!(
        req.answer("base-station").map(Answer::display).as_deref(),
        Some("00AB")
    );
}

#[test]
fn a_bad_payload_gets_a_notice_and_the_normal_start() {
    for payload in ["bs-12x", "x-1", "m-0", "bs 1234", ""] {
        let mut chat = Chat::new();
        let effects = deep_link(&mut chat, payload);
        let ids = message_ids(&effects);
        assert_eq!(
            ids,
            ["welcome", "deep-link-invalid", "menu-title"],
            "{payload:?}"
        );
        assert_eq!(chat.session, Session::Idle);
    }
}

#[test]
fn a_sticker_during_a_draft_asks_whether_to_continue_or_start_anew() {
    let mut chat = Chat::new();
    chat.press("k:device-malfunction");
    chat.text("7A48AC");
    let before = chat.session.clone();

    let effects = deep_link(&mut chat, "bs-1234");
    assert!(message_ids(&effects).contains(&"object-draft-offer".to_owned()));
    let data: Vec<String> = inline_buttons(&effects).into_iter().map(|b| b.1).collect();
    assert_eq!(data, ["resume", "o:bs-1234"]);
    assert_eq!(
        chat.session, before,
        "nothing is lost while the user decides"
    );

    chat.press("resume");
    assert_eq!(chat.session, before);

    deep_link(&mut chat, "bs-1234");
    let effects = chat.press("o:bs-1234");
    assert_eq!(chat.session, Session::Idle);
    assert!(message_ids(&effects).contains(&"restarted".to_owned()));
    assert!(
        inline_buttons(&effects)
            .iter()
            .any(|b| b.1 == "q:bs-1234:base-station-install")
    );
    chat.press("q:bs-1234:base-station-install");
    let Session::Drafting(d) = &chat.session else {
        panic!("drafting")
    };
    assert_eq!(d.kind, "base-station-install");
}

#[test]
fn a_kind_without_the_object_step_is_refused_and_something_else_opens_the_menu() {
    let mut chat = Chat::new();
    deep_link(&mut chat, "m-7A48AC");
    let effects = chat.press("q:m-7A48AC:base-station-install");
    assert_eq!(message_ids(&effects), ["btn-outdated"]);
    assert_eq!(chat.session, Session::Idle);
    let effects = chat.press("menu");
    assert_eq!(message_ids(&effects), ["menu-title"]);
}

fn arb_input() -> impl Strategy<Value = Input> {
    let buttons = prop::sample::select(vec![
        "k:device-malfunction",
        "k:base-station-install",
        "k:access-request",
        "k:consultation-now",
        "g:devices",
        "menu",
        "back",
        "skip",
        "keep",
        "done",
        "clear",
        "cancel",
        "cancel-yes",
        "cancel-no",
        "send",
        "edit:description",
        "edit:email",
        "host-yes",
        "host-no",
        "resume",
        "restart",
        "lang:en",
        "back:0",
        "skip:3",
        "done:5",
        "edit:nope",
        "k:nope",
        "q:bs-1234:base-station-install",
        "q:m-7A48AC:device-malfunction",
        "q:m-7A48AC:base-station-install",
        "q:nope",
        "o:bs-1234",
        "o:x-1",
        "",
    ]);
    prop_oneof![
        buttons.prop_map(|b| Input::Button(b.to_owned())),
        any::<String>().prop_map(Input::Text),
        prop::sample::select(vec![
            "7A48AC",
            "012345678",
            "https://lk.waviot.ru/?id=1",
            "a@b.ru",
            "Иванов Иван",
            "ООО Ромашка",
            "Описание проблемы подробное",
            "1234",
            "+79123456789"
        ])
        .prop_map(|s| Input::Text(s.to_owned())),
        (any::<u8>(), any::<u32>()).prop_map(|(n, size)| Input::Document(FileInput {
            file_id: format!("d{n}"),
            unique_id: format!("u{n}"),
            name: Some(format!("f{n}.png")),
            mime: Some("image/png".into()),
            size: Some(u64::from(size)),
        })),
        Just(Input::Sticker),
        Just(Input::Voice),
        (any::<f64>(), any::<f64>()).prop_map(|(lat, lon)| Input::Location { lat, lon }),
        any::<bool>().prop_map(|own| Input::Contact {
            phone: "+79123456789".into(),
            own
        }),
        prop::sample::select(vec![
            dialogue::Command::Start,
            dialogue::Command::New,
            dialogue::Command::Help,
            dialogue::Command::Language
        ])
        .prop_map(Input::Command),
        prop::sample::select(vec!["bs-1234", "m-7A48AC", "bs-", "x-1", "m-0_v2"])
            .prop_map(|p| Input::StartPayload(p.to_owned())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// No input sequence panics, and an answer once collected stays until the user
    /// cancels, restarts, sends, skips or clears it.
    #[test]
    fn no_input_sequence_panics_or_drops_a_collected_field(inputs in prop::collection::vec(arb_input(), 1..40)) {
        let mut chat = Chat::new();
        for input in inputs {
            let before = match &chat.session {
                Session::Drafting(d) => Some((d.id.clone(), d.answers.keys().cloned().collect::<Vec<_>>())),
                Session::Idle | Session::Offering(_) => None,
            };
            let discards = matches!(&input, Input::Button(b) if ["cancel-yes", "restart", "send"].contains(&b.as_str())
                || b.starts_with("skip") || b.starts_with("clear") || b.starts_with("o:"));
            chat.send(input);
            if let (Some((id, keys)), false) = (before, discards) {
                let Session::Drafting(d) = &chat.session else {
                    return Err(TestCaseError::fail("a draft vanished without cancel/send"));
                };
                if keys.is_empty() {
                    // An empty draft may be replaced by another kind's.
                    continue;
                }
                prop_assert_eq!(&d.id, &id);
                for k in keys {
                    prop_assert!(d.answers.contains_key(&k), "field {} was dropped", k);
                }
            }
        }
    }
}

// ----- follow-ups to sent requests ----------------------------------------------------

fn follow_up(inner: Input, caption: Option<&str>) -> Input {
    Input::FollowUp {
        case_id: 2000,
        case_number: "664-245651".to_owned(),
        caption: caption.map(str::to_owned),
        inner: Box::new(inner),
    }
}

fn follow_ups(effects: &[Effect]) -> Vec<&dialogue::FollowUp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::FollowUp(f) => Some(&**f),
            _ => None,
        })
        .collect()
}

#[test]
fn the_reply_button_opens_a_reply_box_naming_the_case() {
    let mut chat = Chat::new();
    let effects = chat.press("reply:2000:664-245651");
    let Some(Effect::Say(reply)) = effects.first() else {
        panic!("a prompt: {effects:?}");
    };
    assert_eq!(reply.keyboard, Keyboard::ForceReply);
    assert!(matches!(&reply.parts[0], Part::Msg(m) if m.id == "follow-up-prompt"));
    assert!(follow_ups(&effects).is_empty());
    assert_eq!(chat.session, Session::Idle);
}

#[test]
fn a_follow_up_carries_text_or_a_photo_and_leaves_a_draft_alone() {
    let mut chat = Chat::new();
    chat.text("/new");
    let first_kind = chat
        .catalog
        .kinds()
        .next()
        .map(|k| k.id.clone())
        .expect("a kind");
    chat.press(&format!("k:{first_kind}"));
    let drafting = chat.session.clone();
    assert!(matches!(drafting, Session::Drafting(_)));

    let effects = chat.send(follow_up(Input::Text("  Still broken  ".to_owned()), None));
    let sent = follow_ups(&effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].case_id, 2000);
    assert_eq!(sent[0].text, "Still broken");
    assert!(sent[0].files.is_empty());
    assert_eq!(chat.session, drafting, "the draft is untouched");

    let photo = FileInput {
        file_id: "ph1".to_owned(),
        unique_id: "u1".to_owned(),
        name: None,
        mime: None,
        size: Some(1000),
    };
    let effects = chat.send(follow_up(Input::Photo(photo), Some("the display")));
    let sent = follow_ups(&effects);
    assert_eq!(sent[0].text, "the display");
    assert_eq!(sent[0].files.len(), 1);
    assert_eq!(sent[0].files[0].mime, "image/jpeg");
}

#[test]
fn a_follow_up_that_cannot_go_to_the_case_is_explained_and_asked_again() {
    let mut chat = Chat::new();
    let pdf = FileInput {
        file_id: "d1".to_owned(),
        unique_id: "u2".to_owned(),
        name: Some("act.pdf".to_owned()),
        mime: Some("application/pdf".to_owned()),
        size: Some(1000),
    };
    for (inner, expected) in [
        (Input::Document(pdf), "err-file-format"),
        (Input::Voice, "err-voice"),
        (Input::Text("   ".to_owned()), "follow-up-unsupported"),
    ] {
        let effects = chat.send(follow_up(inner, None));
        assert!(follow_ups(&effects).is_empty());
        let Some(Effect::Say(reply)) = effects.first() else {
            panic!("an explanation: {effects:?}");
        };
        assert!(matches!(&reply.parts[0], Part::Msg(m) if m.id == expected));
        assert_eq!(reply.keyboard, Keyboard::ForceReply);
    }
}

#[test]
fn with_one_open_case_a_message_without_a_draft_is_offered_to_it_and_goes_on_yes() {
    let mut chat = Chat::new();
    chat.open_case = Some((2000, "664-245651".to_owned()));
    let effects = chat.text("Модем снова не на связи");
    let Some(Effect::Say(offer)) = effects.first() else {
        panic!("an offer: {effects:?}");
    };
    assert!(matches!(&offer.parts[0], Part::Msg(m) if m.id == "follow-up-offer"));
    assert!(
        follow_ups(&effects).is_empty(),
        "nothing is sent before the user says so"
    );
    assert!(matches!(chat.session, Session::Offering(_)));
    let effects = chat.press("offer:yes");
    let sent = follow_ups(&effects);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].text, "Модем снова не на связи",
        "typed once, sent as typed"
    );
    assert!(
        sent[0].offer_id.is_some(),
        "keyed by the offer, so two presses on two processes add it once"
    );
    assert_eq!(chat.session, Session::Idle);
}

#[test]
fn an_offer_declined_or_ignored_sends_nothing_and_commands_work_as_usual() {
    let mut chat = Chat::new();
    chat.open_case = Some((2000, "664-245651".to_owned()));
    chat.text("Новый вопрос");
    let effects = chat.press("offer:no");
    assert!(follow_ups(&effects).is_empty());
    assert_eq!(chat.session, Session::Idle);
    chat.text("Ещё вопрос");
    let effects = chat.send(Input::Command(dialogue::Command::New));
    assert!(follow_ups(&effects).is_empty());
    assert_eq!(
        chat.session,
        Session::Idle,
        "the offer lapsed; /new shows the menu"
    );
    // A draft in progress is never interrupted by an offer.
    let kind = chat
        .catalog
        .kinds()
        .next()
        .map(|k| k.id.clone())
        .expect("a kind");
    chat.press(&format!("k:{kind}"));
    let effects = chat.text("Описание проблемы");
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Say(r) if matches!(&r.parts[0], Part::Msg(m) if m.id == "follow-up-offer")))
    );
}

#[test]
fn a_new_request_from_a_closed_case_carries_its_number_to_the_case() {
    let mut chat = Chat::new();
    let effects = chat.press("renew:custom-development:664-245651");
    let Some(Effect::Say(first)) = effects.first() else {
        panic!("a notice: {effects:?}");
    };
    assert!(matches!(&first.parts[0], Part::Msg(m) if m.id == "renew-started"));
    let req = finish(&mut chat, "custom-development", false);
    assert_eq!(req.refers_to.as_deref(), Some("664-245651"));
    // A request started the usual way refers to nothing.
    let plain = fill(&mut Chat::new(), "custom-development", false);
    assert_eq!(plain.refers_to, None);
}
