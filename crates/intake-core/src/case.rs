//! What a sent request becomes in the helpdesk: its token, subject and body, and the
//! urgency line with its reaction deadline. Pure rules; the adapter renders the messages
//! and adds the helpdesk's own mappings.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::dialogue::{Answer, Request};
use crate::msg::Msg;
use crate::sla::{ProductionCalendar, WorkSchedule, reaction_deadline};
use crate::urgency::Urgency;

/// Longest subject the helpdesk takes, in chars.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// Messenger user id.
    pub id: u64,
    /// `@username`, when set.
    pub username: Option<String>,
    /// First and last name.
    pub full_name: String,
}

/// A sent request with what is needed to answer its author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The request.
    pub request: Request,
    /// Chat to answer in.
    pub chat_id: i64,
    /// The author.
    pub sender: Sender,
    /// Language of the author's messages.
    pub lang: String,
}

/// Short token identifying a request in its case subject, e.g. `TG-3F2A9C1B`.
pub fn short_token(request_id: &str) -> String {
    let head: String = request_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    format!("TG-{}", head.to_ascii_uppercase())
}

/// The subject: the kind, the first line of the first text answer, and the token in
/// brackets at the end, cut to [`MAX_SUBJECT_CHARS`] (the token always stays whole).
pub fn subject(kind_label: &str, request: &Request) -> String {
    let token = short_token(&request.id);
    let first_line = request
        .fields
        .iter()
        .find_map(|(_, a)| match a {
            Answer::Text(t) => t.as_str().lines().next().map(|l| l.trim().to_owned()),
            _ => None,
        })
        .unwrap_or_default();
    let suffix = format!(" [{token}]");
    let mut subject = kind_label.to_owned();
    if !first_line.is_empty() {
        subject.push_str(": ");
        subject.push_str(&first_line);
    }
    let room = MAX_SUBJECT_CHARS - suffix.chars().count();
    if subject.chars().count() > room {
        subject = subject.chars().take(room - 1).collect::<String>() + "…";
    }
    subject.push_str(&suffix);
    subject
}

/// One line of a case body.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyLine {
    /// A message.
    Msg(Msg),
    /// `Label: value` for field `field`.
    Field {
        /// Field id (its label is `field-<id>`).
        field: String,
        /// The value.
        value: String,
    },
    /// A field whose value has several lines: `Label:` and each line quoted (`> …`), so
    /// that no line of the answer can pass for another field.
    Quoted {
        /// Field id.
        field: String,
        /// The lines.
        lines: Vec<String>,
    },
    /// An empty line.
    Blank,
}

/// The body an agent reads: the kind and urgency, every answer, the files that could not
/// be fetched (`left_out`, file ids), and who sent it when.
pub fn body(sub: &Submission, kind_label: &str, sla: &Sla, left_out: &[String]) -> Vec<BodyLine> {
    let req = &sub.request;
    let mut lines = Vec::new();
    if let Some(number) = &req.refers_to {
        lines.push(BodyLine::Msg(
            Msg::new("case-refers-to").arg("number", number.clone()),
        ));
    }
    lines.extend([
        BodyLine::Msg(Msg::new("case-kind").arg("kind", kind_label.to_owned())),
        BodyLine::Msg(sla.urgency_message(req.urgency, req.submitted_at)),
        BodyLine::Blank,
    ]);
    for (field, answer) in &req.fields {
        let value = match answer {
            Answer::Files(files) => format!(
                "{} ({})",
                files.len(),
                files
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.display(),
        };
        if value.contains('\n') {
            lines.push(BodyLine::Quoted {
                field: field.clone(),
                lines: value.lines().map(str::to_owned).collect(),
            });
        } else {
            lines.push(BodyLine::Field {
                field: field.clone(),
                value,
            });
        }
    }
    let missing: Vec<&str> = req
        .files()
        .filter(|f| left_out.contains(&f.file_id))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        lines.push(BodyLine::Msg(
            Msg::new("case-files-missing").arg("names", missing.join(", ")),
        ));
    }
    lines.push(BodyLine::Blank);
    let username = sub
        .sender
        .username
        .as_ref()
        .map(|u| format!(" @{u}"))
        .unwrap_or_default();
    lines.push(BodyLine::Msg(
        Msg::new("case-sent-by")
            .arg("name", format!("{}{username}", sub.sender.full_name))
            .arg("id", sub.sender.id.to_string())
            .arg("lang", sub.lang.clone()),
    ));
    lines.push(BodyLine::Msg(
        Msg::new("case-sent-at")
            .arg(
                "time",
                req.submitted_at.format("%d.%m.%Y %H:%M").to_string(),
            )
            .arg("token", short_token(&req.id))
            .arg("id", req.id.clone()),
    ));
    lines
}

/// The reaction-time rules: the desk's schedule on the production calendar.
#[derive(Debug, Clone)]
pub struct Sla {
    /// Working hours.
    pub schedule: WorkSchedule,
    /// Days off, working weekends, shortened days.
    pub calendar: ProductionCalendar,
}

/// The reaction deadline of a request, as far as it can be known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaction {
    /// Due within `hours` working hours, at `due` (in the schedule's zone).
    Due {
        /// Working hours allowed.
        hours: u32,
        /// Deadline.
        due: DateTime<Tz>,
    },
    /// Due within `hours` working hours; the calendar does not cover `year`.
    HoursOnly {
        /// Working hours allowed.
        hours: u32,
        /// The year the calendar lacks (it needs updating).
        year: i32,
    },
    /// Agreed with the support specialist.
    Agreed,
}

impl Sla {
    /// The reaction deadline for `urgency` of a request registered at `at`.
    pub fn reaction(&self, urgency: Urgency, at: DateTime<Utc>) -> Reaction {
        match reaction_deadline(at, urgency, &self.schedule, &self.calendar) {
            Ok(Some(due)) => Reaction::Due {
                hours: urgency.reaction_hours().unwrap_or_default(),
                due,
            },
            Ok(None) => Reaction::Agreed,
            Err(e) => Reaction::HoursOnly {
                hours: urgency.reaction_hours().unwrap_or_default(),
                year: e.year,
            },
        }
    }

    /// The urgency line: level, reaction time and, when known, the deadline.
    pub fn urgency_message(&self, urgency: Urgency, at: DateTime<Utc>) -> Msg {
        let level = format!("urgency-name-{}", urgency.as_str());
        match self.reaction(urgency, at) {
            Reaction::Due { hours, due } => {
                let msg = Msg::new("reaction-due")
                    .arg_ref("level", level)
                    .arg("hours", hours)
                    .arg("deadline", due.format("%d.%m.%Y %H:%M").to_string());
                // Moscow time has a name people know (МСК / MSK); other zones go by id.
                if self.schedule.time_zone() == chrono_tz::Europe::Moscow {
                    msg.arg_ref("zone", "zone-moscow")
                } else {
                    msg.arg("zone", self.schedule.time_zone().name())
                }
            }
            Reaction::HoursOnly { hours, .. } => Msg::new("reaction-hours")
                .arg_ref("level", level)
                .arg("hours", hours),
            Reaction::Agreed => Msg::new("reaction-agreed").arg_ref("level", level),
        }
    }
}

/// The text a follow-up adds to its case: the user's text, or for a file sent without one,
/// the files' names (`📎 leds.png`), so the message is never empty.
pub fn follow_up_content(text: &str, files: &[crate::dialogue::FileRef]) -> String {
    if text.trim().is_empty() {
        files
            .iter()
            .map(|f| format!("📎 {}", f.name))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text.to_owned()
    }
}

/// How the first answer to a case went against its reaction deadline, for `/status`
/// (times in Unix ms): "answered after 2 h 10 min — in time" once answered, "answer due by
/// …" before; `None` when there is nothing to say (no deadline and no answer).
pub fn reply_timing(
    sent_at_ms: i64,
    first_reply_ms: Option<i64>,
    due: Option<DateTime<Tz>>,
) -> Option<Msg> {
    match (first_reply_ms, due) {
        (Some(reply), due) => {
            let minutes = (reply - sent_at_ms).max(0) / 60_000;
            let msg = Msg::new("status-replied")
                .arg("hours", minutes / 60)
                .arg("minutes", minutes % 60);
            Some(match due {
                Some(due) if reply <= due.timestamp_millis() => {
                    msg.arg_ref("verdict", "status-in-time")
                }
                Some(_) => msg.arg_ref("verdict", "status-late"),
                None => msg.arg_ref("verdict", "status-no-deadline"),
            })
        }
        (None, Some(due)) => Some(
            Msg::new("status-reply-due").arg("deadline", due.format("%d.%m %H:%M").to_string()),
        ),
        (None, None) => None,
    }
}

/// The confirmation a user gets once the case exists; files in `left_out` (file ids)
/// are named as not received.
pub fn registered_messages(
    sub: &Submission,
    case_number: &str,
    sla: &Sla,
    left_out: &[String],
) -> Vec<Msg> {
    let mut msgs = vec![
        Msg::new("registered").arg("number", case_number.to_owned()),
        sla.urgency_message(sub.request.urgency, sub.request.submitted_at),
    ];
    if sub.request.urgency == Urgency::Critical {
        msgs.push(Msg::new("notice-hotline"));
    }
    for file in sub.request.files() {
        if left_out.contains(&file.file_id) {
            msgs.push(Msg::new("registered-file-missing").arg("name", file.name.clone()));
        }
    }
    msgs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FreeText;

    #[test]
    fn a_request_continuing_a_closed_case_says_so_first_in_the_body() {
        let mut req = request("Снова не работает");
        req.refers_to = Some("664-245651".to_owned());
        let sub = Submission {
            request: req,
            chat_id: 1,
            sender: Sender {
                id: 1,
                username: None,
                full_name: "A".to_owned(),
            },
            lang: "ru".to_owned(),
        };
        let sla = Sla {
            schedule: WorkSchedule::default(),
            calendar: ProductionCalendar::russia(),
        };
        let lines = body(&sub, "x", &sla, &[]);
        assert!(matches!(
            lines.first(),
            Some(BodyLine::Msg(m)) if m.id == "case-refers-to"
        ));
    }

    #[test]
    fn reply_timing_says_in_time_late_or_due() {
        use chrono::TimeZone;
        let due = chrono_tz::Europe::Moscow
            .with_ymd_and_hms(2026, 11, 5, 13, 0, 0)
            .single()
            .expect("a time");
        let sent = due.timestamp_millis() - 5 * 3_600_000;
        let early = reply_timing(sent, Some(sent + 130 * 60_000), Some(due)).expect("a line");
        assert_eq!(early.id, "status-replied");
        let arg = |m: &Msg, name: &str| {
            m.args
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(arg(&early, "hours"), Some(crate::msg::Arg::Num(2)));
        assert_eq!(arg(&early, "minutes"), Some(crate::msg::Arg::Num(10)));
        assert_eq!(
            arg(&early, "verdict"),
            Some(crate::msg::Arg::Ref("status-in-time".to_owned()))
        );
        let late = reply_timing(sent, Some(due.timestamp_millis() + 1), Some(due)).expect("a line");
        assert_eq!(
            arg(&late, "verdict"),
            Some(crate::msg::Arg::Ref("status-late".to_owned()))
        );
        let waiting = reply_timing(sent, None, Some(due)).expect("a line");
        assert_eq!(waiting.id, "status-reply-due");
        assert_eq!(reply_timing(sent, None, None), None);
    }

    fn request(description: &str) -> Request {
        Request {
            id: "3f2a9c1b00000000000000000000000a".to_owned(),
            kind: "custom-development".to_owned(),
            urgency: Urgency::Low,
            fields: vec![(
                "description".to_owned(),
                Answer::Text(FreeText::parse(description, 1, 4000).expect("text")),
            )],
            submitted_at: Utc::now(),
            refers_to: None,
        }
    }

    #[test]
    fn the_subject_keeps_the_token_whole_when_cut() {
        assert_eq!(
            subject("Доработка", &request("Форма отчёта\nвторая строка")),
            "Доработка: Форма отчёта [TG-3F2A9C1B]"
        );
        let long = subject("Доработка", &request(&"я".repeat(400)));
        assert_eq!(long.chars().count(), MAX_SUBJECT_CHARS);
        assert!(long.ends_with("… [TG-3F2A9C1B]"), "{long}");
    }

    #[test]
    fn a_multi_line_answer_is_quoted_in_the_body() {
        let sub = Submission {
            request: request("Строка один\nE-mail: чужой@example.ru"),
            chat_id: 1,
            sender: Sender {
                id: 1,
                username: Some("ivan".to_owned()),
                full_name: "Иван".to_owned(),
            },
            lang: "ru".to_owned(),
        };
        let sla = Sla {
            schedule: WorkSchedule::default(),
            calendar: ProductionCalendar::russia(),
        };
        let lines = body(&sub, "Доработка", &sla, &[]);
        assert!(lines.contains(&BodyLine::Quoted {
            field: "description".to_owned(),
            lines: vec![
                "Строка один".to_owned(),
                "E-mail: чужой@example.ru".to_owned()
            ],
        }));
        assert!(
            !lines
                .iter()
                .any(|l| matches!(l, BodyLine::Field { field, .. } if field == "email"))
        );
    }
}
