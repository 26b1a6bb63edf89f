//! What the handlers share: Redis for the remembered identification, and the Omnidesk
//! client that creates the case on Send (a plain `reqwest` POST to `/api/cases.json`:
//! JSON, or multipart when there are screenshots).

use redis::AsyncCommands;
use reqwest::multipart::{Form, Part};
use serde::Serialize;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{FileId, User};

use crate::handlers::HandlerError;
use crate::intake::{Draft, Field, Profile};
use crate::texts;

/// Shared by every handler (a dependency of the dispatcher).
pub struct Services {
    redis: redis::aio::ConnectionManager,
    /// Prefix of this bot's own Redis keys (`BOT_REDIS_PREFIX`).
    prefix: String,
    pub omnidesk: Omnidesk,
}

impl Services {
    /// From `REDIS_URL`'s Redis, `BOT_REDIS_PREFIX` and `OMNIDESK_URL`, `OMNIDESK_EMAIL`,
    /// `OMNIDESK_API_KEY`.
    ///
    /// # Errors
    ///
    /// A variable is missing or Redis does not answer.
    pub async fn from_env(redis_url: &str) -> Result<Self, HandlerError> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let redis = redis::Client::open(redis_url)?
            .get_connection_manager()
            .await?;
        Ok(Self {
            redis,
            prefix: std::env::var("BOT_REDIS_PREFIX")
                .unwrap_or_else(|_| "teloxide-bot:".to_owned()),
            omnidesk: Omnidesk {
                http: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(60))
                    .build()?,
                base_url: var("OMNIDESK_URL")?.trim_end_matches('/').to_owned(),
                email: var("OMNIDESK_EMAIL")?,
                api_key: var("OMNIDESK_API_KEY")?,
            },
        })
    }

    fn profile_key(&self, user: UserId) -> String {
        format!("{}profile:{user}", self.prefix)
    }

    /// The user's remembered identification (empty for a new user).
    pub async fn profile(&self, user: UserId) -> Result<Profile, HandlerError> {
        let raw: Option<String> = self.redis.clone().get(self.profile_key(user)).await?;
        Ok(raw
            .and_then(|r| serde_json::from_str(&r).ok())
            .unwrap_or_default())
    }

    pub async fn remember(&self, user: UserId, profile: &Profile) -> Result<(), HandlerError> {
        let json = serde_json::to_string(profile)?;
        let () = self.redis.clone().set(self.profile_key(user), json).await?;
        Ok(())
    }
}

/// Creates cases.
pub struct Omnidesk {
    http: reqwest::Client,
    base_url: String,
    email: String,
    api_key: String,
}

/// The case as Omnidesk's `POST /api/cases.json` takes it.
#[derive(Debug, Serialize)]
struct Case {
    subject: String,
    content: String,
    content_html: String,
    user_email: Option<String>,
    user_full_name: String,
    priority: &'static str,
}

impl Case {
    fn new(draft: &Draft, user: &User) -> Self {
        let mut lines = vec![
            format!("Тип обращения: {}", texts::KIND_LABEL),
            texts::URGENCY_HIGH.to_owned(),
            String::new(),
        ];
        for field in Field::ALL {
            if let Some(value) = draft.display(field) {
                lines.push(format!("{}: {value}", field.info().label));
            }
        }
        lines.push(String::new());
        lines.push(format!(
            "Отправлено через Telegram-бота: {} (Telegram id {})",
            user.full_name(),
            user.id
        ));
        let first_line = draft
            .answers
            .get(&Field::Description)
            .and_then(|d| d.lines().next())
            .unwrap_or_default();
        let subject = format!("{}: {first_line}", texts::KIND_LABEL);
        Self {
            subject: subject.chars().take(255).collect(),
            content: lines.join("\n"),
            content_html: lines
                .iter()
                .map(|l| escape_html(l))
                .collect::<Vec<_>>()
                .join("<br>\n"),
            user_email: draft.answers.get(&Field::Email).cloned(),
            user_full_name: user.full_name(),
            priority: "high",
        }
    }

    /// The fields as `case[<name>]` form fields (absent ones left out).
    fn form(self) -> Form {
        let fields = [
            ("subject", Some(self.subject)),
            ("content", Some(self.content)),
            ("content_html", Some(self.content_html)),
            ("user_email", self.user_email),
            ("user_full_name", Some(self.user_full_name)),
            ("priority", Some(self.priority.to_owned())),
        ];
        fields
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .fold(Form::new(), |form, (name, value)| {
                form.text(format!("case[{name}]"), value)
            })
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

impl Omnidesk {
    /// Creates the case; returns its number.
    ///
    /// # Errors
    ///
    /// A screenshot cannot be fetched from Telegram, Omnidesk cannot be reached or does
    /// not answer 2xx with a case.
    pub async fn create_case(
        &self,
        bot: &Bot,
        draft: &Draft,
        user: &User,
    ) -> Result<String, HandlerError> {
        let case = Case::new(draft, user);
        let request = self
            .http
            .post(format!("{}/api/cases.json", self.base_url))
            .basic_auth(&self.email, Some(&self.api_key));
        let request = if draft.screenshots.is_empty() {
            request.json(&serde_json::json!({ "case": case }))
        } else {
            let mut form = case.form();
            for (n, shot) in draft.screenshots.iter().enumerate() {
                let file = bot.get_file(FileId(shot.file_id.clone())).await?;
                let mut content = Vec::with_capacity(file.size as usize);
                bot.download_file(&file.path, &mut content).await?;
                let part = Part::bytes(content)
                    .file_name(shot.name.clone())
                    .mime_str(&shot.mime)?;
                form = form.part(format!("case[attachments][{n}]"), part);
            }
            request.multipart(form)
        };
        let response = request.send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("Omnidesk answered {status}").into());
        }
        let case = &body["case"];
        match (&case["case_number"], &case["case_id"]) {
            (serde_json::Value::String(number), _) if !number.is_empty() => Ok(number.clone()),
            (_, id) if !id.is_null() => Ok(id.to_string()),
            _ => Err("Omnidesk answered without a case".into()),
        }
    }
}
