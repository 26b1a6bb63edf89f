//! The device-malfunction intake a synthetic user walks through, as a list of steps.
//!
//! Each [`Step`] is one update the user sends and what the bot must do before the user
//! sends the next one ([`Expect`]). Expectations are stated in callback data, which is the
//! same in every language and in both bots: "a message (new or edited) carrying a button
//! `back:4`", "the callback query answered", "a message containing `BENCH-`" (the fake
//! Omnidesk's case numbers). A step is complete when all of its conditions hold; the
//! update's latency is measured to that moment.

/// What the user does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Sends a text message (a leading `/` makes it a command with a `bot_command` entity).
    Text(&'static str),
    /// Presses the inline button with this callback data on the message that satisfied
    /// the previous step's button expectation.
    Press(&'static str),
    /// Sends a PNG document of the scenario's attachment size.
    Document,
}

/// What the bot must do in answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expect {
    /// A sent or edited message in the chat whose inline keyboard has this callback data.
    pub button: Option<&'static str>,
    /// The callback query of this step answered (`answerCallbackQuery`).
    pub callback_answered: bool,
    /// A sent message whose text contains this.
    pub text: Option<&'static str>,
}

/// One update and its expected answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the user does.
    pub action: Action,
    /// When the user may go on.
    pub expect: Expect,
}

impl Step {
    /// Short description: `/start`, `text`, `press skip:4`, `document`.
    pub fn label(&self) -> String {
        match &self.action {
            Action::Text(t) if t.starts_with('/') => (*t).to_owned(),
            Action::Text(_) => "text".to_owned(),
            Action::Press(d) => format!("press {d}"),
            Action::Document => "document".to_owned(),
        }
    }
}

/// Marker the fake Omnidesk puts in every case number (`BENCH-<n>`).
pub const CASE_MARK: &str = "BENCH-";

fn text(t: &'static str, next_back: &'static str) -> Step {
    Step {
        action: Action::Text(t),
        expect: Expect {
            button: Some(next_back),
            ..Expect::default()
        },
    }
}

fn press(data: &'static str, then: Expect) -> Step {
    Step {
        action: Action::Press(data),
        expect: Expect {
            callback_answered: true,
            ..then
        },
    }
}

fn button(b: &'static str) -> Expect {
    Expect {
        button: Some(b),
        ..Expect::default()
    }
}

/// A complete device-malfunction intake by a new user (identification asked), with
/// `attachments` PNG documents on the screenshots step (0: the step is skipped).
///
/// 14 updates without attachments; `14 + attachments` with (the documents and "Done"
/// replace the skip).
pub fn device_malfunction(attachments: usize) -> Vec<Step> {
    let mut steps = vec![
        text("/start", "g:devices"),
        press("g:devices", button("k:device-malfunction")),
        press("k:device-malfunction", button("cancel")),
        text("7A48AC", "back:1"),
        text("012345678901", "back:2"),
        text("https://lk.waviot.ru/?id=195984", "back:3"),
        text(
            "С 20.11 модем не передаёт показания, в ЛК последняя связь 19.11. Питание есть.",
            "back:4",
        ),
        press("skip:4", button("skip:5")),
    ];
    if attachments == 0 {
        steps.push(press("skip:5", button("back:6")));
    } else {
        for _ in 0..attachments {
            steps.push(Step {
                action: Action::Document,
                expect: button("done:5"),
            });
        }
        steps.push(press("done:5", button("back:6")));
    }
    steps.extend([
        text("ivanov@vodokanal.ru", "back:7"),
        text("ООО «Водоканал»", "back:8"),
        text("ivanov", "back:9"),
        press("skip:9", button("send")),
        press(
            "send",
            Expect {
                text: Some(CASE_MARK),
                ..Expect::default()
            },
        ),
    ]);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_intake_is_fourteen_updates_ending_with_send() {
        let s = device_malfunction(0);
        assert_eq!(s.len(), 14);
        assert_eq!(s[0].action, Action::Text("/start"));
        let last = s.last().expect("steps");
        assert_eq!(last.action, Action::Press("send"));
        assert!(last.expect.callback_answered);
        assert_eq!(last.expect.text, Some(CASE_MARK));
    }

    #[test]
    fn attachments_replace_the_skip_with_documents_and_done() {
        let s = device_malfunction(2);
        assert_eq!(s.len(), 16);
        assert_eq!(s.iter().filter(|x| x.action == Action::Document).count(), 2);
        assert!(s.iter().any(|x| x.action == Action::Press("done:5")));
        assert!(!s.iter().any(|x| x.action == Action::Press("skip:5")));
    }
}
