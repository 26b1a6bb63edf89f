//! Settings: environment variables for secrets and endpoints, an optional TOML file
//! (`BOT_CONFIG`) for mappings and tuning. A missing or malformed setting stops the start
//! with an error naming it.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::omnidesk::OmnideskMapping;

use secrecy::SecretString;
use serde::Deserialize;

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required environment variable is not set.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable is set but its value is unusable.
    #[error("environment variable {name} is invalid: {problem}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The `BOT_CONFIG` file could not be read or parsed.
    #[error("{path}: {problem}")]
    File {
        /// File path.
        path: String,
        /// What is wrong (names the key).
        problem: String,
    },
}

/// Everything the bot needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Telegram Bot API access.
    pub telegram: TelegramSettings,
    /// Omnidesk access and mappings.
    pub omnidesk: OmnideskSettings,
    /// Redis connection and key layout.
    pub redis: RedisSettings,
    /// Behaviour and data locations.
    pub bot: BotFile,
    /// Address of the `/healthz` and `/metrics` endpoint (`HTTP_ADDR`); nothing else is
    /// served there.
    pub http_addr: std::net::SocketAddr,
    /// Address of the listener for incoming webhooks (`WEBHOOK_ADDR`), the one to put
    /// behind the public HTTPS proxy.
    pub webhook_addr: std::net::SocketAddr,
    /// Webhook mode, when `WEBHOOK_URL` is set (long polling otherwise).
    pub webhook: Option<WebhookSettings>,
}

/// Webhook mode: Telegram POSTs updates to `url`, served on `WEBHOOK_ADDR` at its path.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Public HTTPS URL Telegram sends updates to (`WEBHOOK_URL`).
    pub url: reqwest::Url,
    /// Secret token Telegram sends back in every request (`WEBHOOK_SECRET`).
    pub secret: SecretString,
}

/// Telegram settings.
#[derive(Debug, Clone)]
pub struct TelegramSettings {
    /// Bot token (`TELOXIDE_TOKEN`).
    pub token: SecretString,
    /// Bot API server (`TELEGRAM_API_URL`); `None` means Telegram's.
    pub api_url: Option<reqwest::Url>,
}

/// Omnidesk settings.
#[derive(Debug, Clone)]
pub struct OmnideskSettings {
    /// Account URL, e.g. `https://waviot.omnidesk.ru` (`OMNIDESK_URL`).
    pub url: reqwest::Url,
    /// Staff e-mail used for Basic auth (`OMNIDESK_EMAIL`).
    pub email: String,
    /// API key (`OMNIDESK_API_KEY`).
    pub api_key: SecretString,
    /// The secret path part of the URL Omnidesk posts agents' replies and rule events to
    /// (`OMNIDESK_WEBHOOK_SECRET`): `https://<bot>/omnidesk/<secret>` on `WEBHOOK_ADDR`.
    /// `None`: that endpoint is not served.
    pub webhook_secret: Option<SecretString>,
}

/// Redis settings.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// Connection URL (`REDIS_URL`); may hold a password, so kept secret. `None`: the
    /// embedded store in the file `data-file` instead.
    pub url: Option<SecretString>,
}

/// The optional TOML file named by `BOT_CONFIG`; every key has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BotFile {
    /// Prefix of every Redis key.
    #[serde(default = "defaults::redis_prefix")]
    pub redis_prefix: String,
    /// File of the embedded store, used when `REDIS_URL` is not set.
    #[serde(default = "defaults::data_file")]
    pub data_file: PathBuf,
    /// Days an unfinished draft is kept.
    #[serde(default = "defaults::draft_ttl_days")]
    pub draft_ttl_days: u32,
    /// Folder with the dialogue files.
    #[serde(default = "defaults::dialogues_dir")]
    pub dialogues_dir: PathBuf,
    /// Folder with the locales (`<lang>/*.ftl`).
    #[serde(default = "defaults::locales_dir")]
    pub locales_dir: PathBuf,
    /// Folder of dry-run cases (`chat` without Omnidesk settings).
    #[serde(default = "defaults::dry_run_dir")]
    pub dry_run_dir: PathBuf,
    /// Link hosts taken without asking (`*.domain` matches subdomains).
    #[serde(default = "defaults::link_hosts")]
    pub link_hosts: Vec<String>,
    /// Long-polling timeout in seconds.
    #[serde(default = "defaults::polling_timeout_secs")]
    pub polling_timeout_secs: u32,
    /// Seconds to wait for Omnidesk before telling the user the number will follow.
    #[serde(default = "defaults::omnidesk_timeout_secs")]
    pub omnidesk_timeout_secs: u32,
    /// Seconds a delivery worker holds a request before another may take it over.
    #[serde(default = "defaults::delivery_lease_secs")]
    pub delivery_lease_secs: u32,
    /// First retry delay of a failed delivery, in milliseconds (doubles per attempt).
    #[serde(default = "defaults::delivery_retry_base_ms")]
    pub delivery_retry_base_ms: u32,
    /// Longest retry delay of a failed delivery, in seconds.
    #[serde(default = "defaults::delivery_retry_cap_secs")]
    pub delivery_retry_cap_secs: u32,
    /// Days a profile (identification) and a blocked mark are kept after their last use.
    #[serde(default = "defaults::profile_ttl_days")]
    pub profile_ttl_days: u32,
    /// Requests one user may send per hour.
    #[serde(default = "defaults::submissions_per_hour")]
    pub submissions_per_hour: u32,
    /// Requests one user may send per day.
    #[serde(default = "defaults::submissions_per_day")]
    pub submissions_per_day: u32,
    /// Updates a chat may send within `flood-window-secs` (an album counts as one)
    /// before the rest are dropped until it calms down.
    #[serde(default = "defaults::flood_max_updates")]
    pub flood_max_updates: u32,
    /// The flood guard's window, in seconds.
    #[serde(default = "defaults::flood_window_secs")]
    pub flood_window_secs: u32,
    /// Chats whose state (draft, profile, recent sends) the process keeps between updates,
    /// so that an update costs one round trip to the store; 0 keeps none.
    #[serde(default = "defaults::session_cache_chats")]
    pub session_cache_chats: usize,
    /// Requests one process delivers at once.
    #[serde(default = "defaults::delivery_concurrency")]
    pub delivery_concurrency: u32,
    /// Minutes after which a request still waiting for its case is reported as overdue.
    #[serde(default = "defaults::delivery_overdue_mins")]
    pub delivery_overdue_mins: u32,
    /// Seconds to wait for Omnidesk's answer to a create (and, after a timeout, for the
    /// case to appear before creating again).
    #[serde(default = "defaults::omnidesk_create_timeout_secs")]
    pub omnidesk_create_timeout_secs: u32,
    /// Messages per second the bot sends in total (Telegram: about 30).
    #[serde(default = "defaults::telegram_messages_per_sec")]
    pub telegram_messages_per_sec: u32,
    /// Messages per second to one chat (Telegram: about 1, short bursts allowed).
    #[serde(default = "defaults::telegram_chat_messages_per_sec")]
    pub telegram_chat_messages_per_sec: u32,
    /// Burst of messages one chat may get at once.
    #[serde(default = "defaults::telegram_chat_burst")]
    pub telegram_chat_burst: u32,
    /// Working schedule for reaction deadlines (zone, hours per weekday, break).
    #[serde(default)]
    pub schedule: intake_core::sla::WorkSchedule,
    /// Seconds between polls of Omnidesk for agents' replies and status changes, for a
    /// bot Omnidesk's webhooks cannot reach; 0 (the default) turns polling off.
    #[serde(default)]
    pub omnidesk_poll_secs: u32,
    /// Omnidesk mappings.
    #[serde(default)]
    pub omnidesk: OmnideskMapping,
}

impl Default for BotFile {
    fn default() -> Self {
        toml::from_str("").expect("an empty BOT_CONFIG is valid")
    }
}

mod defaults {
    use std::path::PathBuf;

    pub fn redis_prefix() -> String {
        "waviot-bot:".to_owned()
    }
    pub fn data_file() -> PathBuf {
        PathBuf::from("data/bot.db")
    }
    pub fn draft_ttl_days() -> u32 {
        7
    }
    pub fn dialogues_dir() -> PathBuf {
        PathBuf::from("dialogues")
    }
    pub fn locales_dir() -> PathBuf {
        PathBuf::from("locales")
    }
    pub fn dry_run_dir() -> PathBuf {
        PathBuf::from("data/dry-run")
    }
    pub fn link_hosts() -> Vec<String> {
        ["lk.waviot.ru", "*.waviot.ru", "*.waviot.com", "lk.curog.ru"]
            .map(str::to_owned)
            .to_vec()
    }
    pub fn polling_timeout_secs() -> u32 {
        10
    }
    pub fn omnidesk_timeout_secs() -> u32 {
        5
    }
    pub fn telegram_messages_per_sec() -> u32 {
        30
    }
    pub fn telegram_chat_messages_per_sec() -> u32 {
        1
    }
    pub fn telegram_chat_burst() -> u32 {
        4
    }
    pub fn delivery_lease_secs() -> u32 {
        60
    }
    pub fn delivery_retry_base_ms() -> u32 {
        2000
    }
    pub fn profile_ttl_days() -> u32 {
        365
    }
    pub fn submissions_per_hour() -> u32 {
        10
    }
    pub fn submissions_per_day() -> u32 {
        30
    }
    pub fn flood_max_updates() -> u32 {
        15
    }
    pub fn flood_window_secs() -> u32 {
        10
    }
    pub fn session_cache_chats() -> usize {
        10_000
    }
    pub fn delivery_concurrency() -> u32 {
        32
    }
    pub fn delivery_overdue_mins() -> u32 {
        30
    }
    pub fn omnidesk_create_timeout_secs() -> u32 {
        60
    }
    pub fn delivery_retry_cap_secs() -> u32 {
        600
    }
}

impl BotFile {
    /// Reads and strictly parses a config file.
    ///
    /// # Errors
    ///
    /// The file is unreadable, or a key is unknown or has a wrong type (named in the error).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file_err = |problem: String| ConfigError::File {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let file: Self = toml::from_str(&text).map_err(|e| file_err(e.to_string()))?;
        file.validate().map_err(file_err)?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), String> {
        if self.draft_ttl_days == 0 {
            return Err("draft-ttl-days: must be at least 1".to_owned());
        }
        if !(1..=50).contains(&self.polling_timeout_secs) {
            return Err("polling-timeout-secs: must be 1..=50".to_owned());
        }
        if !(1..=1000).contains(&self.delivery_concurrency) {
            return Err("delivery-concurrency: must be 1..=1000".to_owned());
        }
        if !(1..=600).contains(&self.omnidesk_create_timeout_secs) {
            return Err("omnidesk-create-timeout-secs: must be 1..=600".to_owned());
        }
        for (field, cf) in &self.omnidesk.custom_fields {
            if !is_custom_field(cf) {
                return Err(format!(
                    "omnidesk.custom-fields.{field}: `{cf}` is not of the form cf_N"
                ));
            }
        }
        if let Some(channel) = &self.omnidesk.channel
            && !(channel.len() > 3
                && channel.starts_with("cch")
                && channel[3..].chars().all(|c| c.is_ascii_digit()))
        {
            return Err(format!(
                "omnidesk.channel: `{channel}` is not a custom channel id such as cch159"
            ));
        }
        for (key, value) in [
            ("token-field", &self.omnidesk.token_field),
            ("deadline-field", &self.omnidesk.deadline_field),
        ] {
            if let Some(cf) = value
                && !is_custom_field(cf)
            {
                return Err(format!("omnidesk.{key}: `{cf}` is not of the form cf_N"));
            }
        }
        Ok(())
    }

    /// Draft expiry.
    pub fn draft_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.draft_ttl_days) * 24 * 3600)
    }

    /// How long data about people is kept.
    pub fn retention(&self) -> crate::storage::Retention {
        crate::storage::Retention {
            draft: self.draft_ttl(),
            profile: self.profile_ttl(),
        }
    }

    /// Profile expiry (after the last use).
    pub fn profile_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.profile_ttl_days.max(1)) * 24 * 3600)
    }
}

fn is_custom_field(s: &str) -> bool {
    s.strip_prefix("cf_")
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn webhook_from_env() -> Result<Option<WebhookSettings>, ConfigError> {
    let Some(raw) = std::env::var("WEBHOOK_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    let url = url("WEBHOOK_URL", raw.trim())?;
    if url.scheme() != "https" {
        return Err(ConfigError::Invalid {
            name: "WEBHOOK_URL",
            problem: "Telegram sends webhooks to https URLs only".to_owned(),
        });
    }
    let secret = required("WEBHOOK_SECRET")?;
    let valid = (1..=256).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(ConfigError::Invalid {
            name: "WEBHOOK_SECRET",
            problem: "1-256 characters of A-Z, a-z, 0-9, _ and -".to_owned(),
        });
    }
    Ok(Some(WebhookSettings {
        url,
        secret: secret.into(),
    }))
}

/// `OMNIDESK_WEBHOOK_SECRET` when set: at least 16 characters of A-Z, a-z, 0-9, _ and -
/// (it is a URL path segment and the endpoint's only protection).
fn omnidesk_webhook_secret() -> Result<Option<SecretString>, ConfigError> {
    let Ok(secret) = required("OMNIDESK_WEBHOOK_SECRET") else {
        return Ok(None);
    };
    let valid = (16..=256).contains(&secret.len())
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(ConfigError::Invalid {
            name: "OMNIDESK_WEBHOOK_SECRET",
            problem:
                "16-256 characters of A-Z, a-z, 0-9, _ and - (e.g. from `openssl rand -hex 24`)"
                    .to_owned(),
        });
    }
    Ok(Some(secret.into()))
}

/// `REDIS_URL` when set (`None`: the embedded store).
fn redis_url() -> Result<Option<SecretString>, ConfigError> {
    let Ok(redis_url) = required("REDIS_URL") else {
        return Ok(None);
    };
    if !redis_url.starts_with("redis://") && !redis_url.starts_with("rediss://") {
        return Err(ConfigError::Invalid {
            name: "REDIS_URL",
            problem: "must start with redis:// or rediss://".to_owned(),
        });
    }
    Ok(Some(redis_url.into()))
}

fn bot_file() -> Result<BotFile, ConfigError> {
    match std::env::var("BOT_CONFIG") {
        Ok(p) if !p.trim().is_empty() => BotFile::load(Path::new(p.trim())),
        _ => Ok(BotFile::default()),
    }
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(ConfigError::Missing(name)),
    }
}

fn url(name: &'static str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed = reqwest::Url::parse(value).map_err(|e| ConfigError::Invalid {
        name,
        problem: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::Invalid {
            name,
            problem: "must be an http(s) URL".to_owned(),
        });
    }
    Ok(parsed)
}

impl Settings {
    /// Omnidesk settings when all three variables are set; `None` when none is.
    ///
    /// # Errors
    ///
    /// Only some are set, or the URL is malformed.
    pub fn omnidesk_from_env() -> Result<Option<OmnideskSettings>, ConfigError> {
        let set = |n: &str| std::env::var(n).is_ok_and(|v| !v.trim().is_empty());
        if !set("OMNIDESK_URL") && !set("OMNIDESK_EMAIL") && !set("OMNIDESK_API_KEY") {
            return Ok(None);
        }
        Ok(Some(OmnideskSettings {
            url: url("OMNIDESK_URL", &required("OMNIDESK_URL")?)?,
            email: required("OMNIDESK_EMAIL")?,
            api_key: required("OMNIDESK_API_KEY")?.into(),
            webhook_secret: omnidesk_webhook_secret()?,
        }))
    }

    /// The `BOT_CONFIG` file (defaults when unset).
    ///
    /// # Errors
    ///
    /// The file is invalid.
    pub fn file_from_env() -> Result<BotFile, ConfigError> {
        bot_file()
    }

    /// Only what storage needs: `REDIS_URL` (`None` when unset: the embedded store) and
    /// `BOT_CONFIG` (for the key prefix or the data file).
    ///
    /// # Errors
    ///
    /// `REDIS_URL` is malformed, or `BOT_CONFIG` is invalid.
    pub fn storage_from_env() -> Result<(Option<SecretString>, BotFile), ConfigError> {
        let redis_url = redis_url()?;
        Ok((redis_url, bot_file()?))
    }

    /// Reads the settings from the environment (and `BOT_CONFIG`, when set).
    ///
    /// # Errors
    ///
    /// A required variable is missing or a value is malformed; the error names it.
    pub fn from_env() -> Result<Self, ConfigError> {
        let token = required("TELOXIDE_TOKEN")?;
        if !token.contains(':') {
            return Err(ConfigError::Invalid {
                name: "TELOXIDE_TOKEN",
                problem: "a bot token looks like 123456:ABC…".to_owned(),
            });
        }
        let api_url = match std::env::var("TELEGRAM_API_URL") {
            Ok(v) if !v.trim().is_empty() => Some(url("TELEGRAM_API_URL", v.trim())?),
            _ => None,
        };
        let omnidesk = match Self::omnidesk_from_env()? {
            Some(o) => o,
            None => return Err(ConfigError::Missing("OMNIDESK_URL")),
        };
        let redis_url = redis_url()?;
        let bot = bot_file()?;
        let http_addr = socket_addr("HTTP_ADDR", 8080)?;
        let webhook_addr = socket_addr("WEBHOOK_ADDR", 8081)?;
        if http_addr == webhook_addr {
            return Err(ConfigError::Invalid {
                name: "WEBHOOK_ADDR",
                problem: format!(
                    "{webhook_addr} is HTTP_ADDR too; /metrics must not share a listener with public webhooks"
                ),
            });
        }
        let webhook = webhook_from_env()?;
        Ok(Self {
            telegram: TelegramSettings {
                token: token.into(),
                api_url,
            },
            omnidesk,
            redis: RedisSettings { url: redis_url },
            bot,
            http_addr,
            webhook_addr,
            webhook,
        })
    }
}

/// A `host:port` from the environment variable `name`; `127.0.0.1:<port>` when unset.
fn socket_addr(name: &'static str, port: u16) -> Result<std::net::SocketAddr, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e| ConfigError::Invalid {
            name,
            problem: format!("{e} (expected host:port, e.g. 127.0.0.1:{port})"),
        }),
        _ => Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_sample_config_parses() {
        let sample = r#"
redis-prefix = "prod:"
draft-ttl-days = 3
dialogues-dir = "/app/dialogues"
locales-dir = "/app/locales"
link-hosts = ["lk.waviot.ru", "*.example.org"]
polling-timeout-secs = 20
omnidesk-timeout-secs = 5
session-cache-chats = 50000

[schedule]
time-zone = "Europe/Moscow"
break = "13:00-14:00"
[schedule.hours]
mon = "09:00-18:00"
tue = "09:00-18:00"
wed = "09:00-18:00"
thu = "09:00-18:00"
fri = "09:00-17:00"

[omnidesk]
deadline-field = "cf_778"
language-id = 1
group-id = 44
token-field = "cf_777"
custom-fields = { modem-id = "cf_25", meter-serial = "cf_30" }
labels = { device-malfunction = [101, 102] }
"#;
        let file: BotFile = toml::from_str(sample).expect("sample parses");
        file.validate().expect("sample is valid");
        assert_eq!(file.redis_prefix, "prod:");
        assert_eq!(file.omnidesk.custom_fields["modem-id"], "cf_25");
        assert_eq!(file.draft_ttl(), Duration::from_secs(3 * 86400));
        assert_eq!(file.session_cache_chats, 50_000);
    }

    #[test]
    fn an_unknown_key_is_rejected_with_its_name() {
        let err = toml::from_str::<BotFile>("redis-prefx = \"x\"").expect_err("typo");
        assert!(err.to_string().contains("redis-prefx"), "{err}");
    }

    #[test]
    fn a_custom_field_must_look_like_cf_n() {
        let file: BotFile = toml::from_str("[omnidesk]\ntoken-field = \"777\"").expect("parses");
        assert!(
            file.validate()
                .expect_err("invalid")
                .contains("token-field")
        );
    }

    #[test]
    fn a_custom_channel_must_look_like_cch_n() {
        let ok: Result<BotFile, _> = toml::from_str("[omnidesk]\nchannel = \"cch159\"\n");
        assert!(ok.expect("parses").validate().is_ok());
        for bad in ["159", "cch", "cchX1", "channel159"] {
            let file: BotFile =
                toml::from_str(&format!("[omnidesk]\nchannel = \"{bad}\"\n")).expect("parses");
            let err = file.validate().expect_err(bad);
            assert!(err.contains("omnidesk.channel"), "{err}");
        }
    }

    #[test]
    fn defaults_keep_drafts_a_week() {
        assert_eq!(BotFile::default().draft_ttl_days, 7);
    }

    #[test]
    fn defaults_cache_ten_thousand_chats() {
        assert_eq!(BotFile::default().session_cache_chats, 10_000);
    }
}
