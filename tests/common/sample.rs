//! Sample requests for tests: one builder shared by the storage contract and the
//! end-to-end tests.

use intake_core::dialogue::{Answer, Request};
use intake_core::domain::{Email, FreeText};
use intake_core::urgency::Urgency;
use waviot_support_bot::storage::outbox::{Entry, Sender, Submission};

/// The `i`-th sample request (a custom development with identification), in the
/// outbox's form; its chat and user ids are `900_000 + i`.
pub fn entry(i: usize) -> Entry {
    let text = |s: &str| Answer::Text(FreeText::parse(s, 1, 4000).expect("valid text"));
    Entry::new(Submission {
        request: Request {
            id: uuid::Uuid::new_v4().simple().to_string(),
            kind: "custom-development".to_owned(),
            urgency: Urgency::Low,
            fields: vec![
                (
                    "description".to_owned(),
                    text(&format!("Запрос номер {i}: нужна форма отчёта")),
                ),
                (
                    "email".to_owned(),
                    Answer::Email(Email::parse("a@b.ru").expect("email")),
                ),
                ("organization".to_owned(), text("ООО Тест")),
                ("login".to_owned(), text("test")),
            ],
            submitted_at: chrono::Utc::now(),
            refers_to: None,
        },
        chat_id: 900_000 + i64::try_from(i).expect("small"),
        sender: Sender {
            id: 900_000 + u64::try_from(i).expect("small"),
            username: None,
            full_name: format!("User {i}"),
        },
        lang: "ru".to_owned(),
    })
}
