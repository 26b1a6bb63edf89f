//! The device-malfunction intake: its ten steps, the draft they fill, and the validation
//! of each answer. The same steps, rules and texts as the aiogram peer
//! (`bench/peers/aiogram/bot.py`), which follows `crates/intake-core/src/domain`.
//!
//! Nothing here knows Telegram or Redis; the handlers in `handlers.rs` call it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::texts;

/// One step of the intake, in the order asked. Its index is the `N` of the step's buttons
/// (`back:N`, `skip:N`, `done:N`, `clear:N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    ModemId,
    MeterSerial,
    ObjectLink,
    Description,
    StepsToReproduce,
    Screenshots,
    Email,
    Organization,
    Login,
    AdditionalInfo,
}

/// What a step shows and how it behaves.
#[derive(Debug)]
pub struct StepInfo {
    /// Its name in `edit:<key>` buttons and in the remembered profile.
    pub key: &'static str,
    pub label: &'static str,
    pub prompt: &'static str,
    pub example: &'static str,
    pub optional: bool,
}

const fn info(
    key: &'static str,
    label: &'static str,
    prompt: &'static str,
    example: &'static str,
    optional: bool,
) -> StepInfo {
    StepInfo {
        key,
        label,
        prompt,
        example,
        optional,
    }
}

/// The steps, indexed by `Field as usize`. The remembered identification (e-mail,
/// organization, login) is [`Profile`].
const PLAN: [StepInfo; 10] = [
    info(
        "modem-id",
        "ID модема (устройства)",
        "Укажите ID модема — HEX-номер, как в личном кабинете. Если модемов несколько, перечислите через запятую.",
        "7A48AC или 0x7A48AC, несколько: 7A48AC, 86145D",
        false,
    ),
    info(
        "meter-serial",
        "Серийный номер счётчика",
        "Укажите серийный номер счётчика (цифры с шильдика или из ЛК).",
        "012345678901",
        false,
    ),
    info(
        "object-link",
        "Ссылка на объект",
        "Скопируйте ссылку на проблемный объект из адресной строки личного кабинета.",
        "https://lk.waviot.ru/?device=summary&id=195984",
        false,
    ),
    info(
        "description",
        "Описание проблемы",
        "Опишите проблему как можно подробнее: что происходит, с какого времени, что уже пробовали.",
        "«С 20.11 модем не передаёт показания, в ЛК последняя связь 19.11 в 14:00. Питание есть.»",
        false,
    ),
    info(
        "steps-to-reproduce",
        "Шаги для воспроизведения",
        "Перечислите по шагам, что нужно сделать, чтобы проблема повторилась.",
        "«1. Открыть отчёт «Баланс». 2. Выбрать период за октябрь. 3. Нажать «Выгрузить» — ошибка 500.»",
        true,
    ),
    info(
        "screenshots",
        "Скриншоты",
        "Приложите скриншоты, которые помогут понять проблему.",
        "снимок экрана с ошибкой (PNG)",
        true,
    ),
    info(
        "email",
        "Ваш e-mail",
        "Укажите ваш e-mail — на него придёт подтверждение с номером обращения.",
        "name@company.ru",
        false,
    ),
    info(
        "organization",
        "Организация (клиент)",
        "Укажите наименование вашей организации (клиента WAVIoT).",
        "ООО «Водоканал»",
        false,
    ),
    info(
        "login",
        "Логин в личном кабинете",
        "Укажите ваш логин в личном кабинете WAVIoT.",
        "ivanov@vodokanal.ru",
        false,
    ),
    info(
        "additional-info",
        "Дополнительная информация",
        "Есть ли ещё что-то, что поможет быстрее решить вопрос?",
        "«Проблема началась после замены счётчика 15.11.»",
        true,
    ),
];

impl Field {
    /// Every step, in the order asked.
    pub const ALL: [Self; 10] = [
        Self::ModemId,
        Self::MeterSerial,
        Self::ObjectLink,
        Self::Description,
        Self::StepsToReproduce,
        Self::Screenshots,
        Self::Email,
        Self::Organization,
        Self::Login,
        Self::AdditionalInfo,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn info(self) -> &'static StepInfo {
        &PLAN[self.index()]
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.info().key == key)
    }

    pub fn takes_files(self) -> bool {
        self == Self::Screenshots
    }
}

/// An image accepted on the screenshots step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screenshot {
    pub file_id: String,
    pub name: String,
    pub mime: String,
    pub size: u64,
}

/// The answers collected so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// Text answers.
    pub answers: BTreeMap<Field, String>,
    /// Images of the screenshots step.
    pub screenshots: Vec<Screenshot>,
    /// Steps answered from the user's remembered identification: not asked.
    pub prefilled: BTreeSet<Field>,
}

/// The identification remembered per user (`<prefix>profile:<user id>`, JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

impl Draft {
    /// A new draft with the remembered identification filled in.
    pub fn with_profile(profile: Profile) -> Self {
        let mut draft = Self::default();
        for (field, value) in [
            (Field::Email, profile.email),
            (Field::Organization, profile.organization),
            (Field::Login, profile.login),
        ] {
            if let Some(value) = value {
                draft.answers.insert(field, value);
                draft.prefilled.insert(field);
            }
        }
        draft
    }

    /// The identification to remember after Send.
    pub fn profile(&self) -> Profile {
        let get = |f: Field| self.answers.get(&f).cloned();
        Profile {
            email: get(Field::Email),
            organization: get(Field::Organization),
            login: get(Field::Login),
        }
    }

    /// The steps still asked, in order.
    pub fn asked(&self) -> impl Iterator<Item = Field> + '_ {
        Field::ALL
            .into_iter()
            .filter(|f| !self.prefilled.contains(f))
    }

    pub fn first(&self) -> Option<Field> {
        self.asked().next()
    }

    pub fn next_after(&self, field: Field) -> Option<Field> {
        self.asked().find(|f| *f > field)
    }

    pub fn previous(&self, field: Field) -> Option<Field> {
        self.asked().filter(|f| *f < field).last()
    }

    /// Forgets the answer of a step (skip, clear).
    pub fn forget(&mut self, field: Field) {
        if field.takes_files() {
            self.screenshots.clear();
        } else {
            self.answers.remove(&field);
        }
    }

    /// The answer as shown on the summary and in the case, `None` when unanswered.
    pub fn display(&self, field: Field) -> Option<String> {
        if field.takes_files() {
            if self.screenshots.is_empty() {
                return None;
            }
            let names: Vec<&str> = self.screenshots.iter().map(|s| s.name.as_str()).collect();
            return Some(format!("{} ({})", self.screenshots.len(), names.join(", ")));
        }
        self.answers.get(&field).cloned()
    }

    /// The step's prompt ("Step 2 of 10", prompt, example, …), or, after a wrong answer,
    /// the error and the example.
    pub fn prompt(&self, field: Field, error: Option<&str>) -> String {
        let step = field.info();
        let example = texts::EXAMPLE_LINE.replace("{example}", step.example);
        if let Some(error) = error {
            return format!("{error}\n\n{example}");
        }
        let position = self.asked().take_while(|f| *f != field).count() + 1;
        let counter = texts::STEP_COUNTER
            .replace("{step}", &position.to_string())
            .replace("{total}", &self.asked().count().to_string());
        let mut parts = vec![counter, step.prompt.to_owned()];
        if field.takes_files() {
            parts.push(texts::FILES_LIMITS.to_owned());
        }
        parts.push(example);
        if step.optional {
            parts.push(texts::STEP_OPTIONAL.to_owned());
        }
        parts.join("\n\n")
    }

    /// The summary shown before Send.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            texts::REVIEW_TITLE.to_owned(),
            texts::REVIEW_KIND.replace("{kind}", texts::KIND_LABEL),
            texts::URGENCY_HIGH.to_owned(),
        ];
        for field in Field::ALL {
            let value = self.display(field).unwrap_or_else(|| "—".to_owned());
            let value: String = value.chars().take(500).collect();
            parts.push(format!("{}: {value}", field.info().label));
        }
        parts.push(texts::REVIEW_HINT.to_owned());
        parts.join("\n\n")
    }
}

/// A value that does not fit the step; the text is shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

/// One or more modem ids: hexadecimal (optionally `0x`) or 9–10 decimal digits, each
/// 1..=FFFFFFFF, separated by commas, semicolons or spaces; normalised to upper-case hex,
/// duplicates dropped, at most 20.
pub fn parse_modem_ids(text: &str) -> Result<String, Invalid> {
    let tokens: Vec<&str> = text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.is_empty() {
        return Err(Invalid(texts::ERR_MODEM_ID_EMPTY.to_owned()));
    }
    let mut ids: Vec<String> = Vec::new();
    for token in &tokens {
        let body = match token.get(..2) {
            Some(p) if p.eq_ignore_ascii_case("0x") => &token[2..],
            _ => token,
        };
        let decimal = (9..=10).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit());
        let value = if decimal {
            token.parse::<u64>().ok()
        } else if (1..=8).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_hexdigit()) {
            u64::from_str_radix(body, 16).ok()
        } else {
            return Err(Invalid(
                texts::ERR_MODEM_ID_FORMAT.replace("{value}", token),
            ));
        };
        let value = value.unwrap_or(0);
        if value == 0 || value > 0xFFFF_FFFF {
            return Err(Invalid(texts::ERR_MODEM_ID_RANGE.replace("{value}", token)));
        }
        let hex = format!("{value:X}");
        if !ids.contains(&hex) {
            ids.push(hex);
        }
    }
    if ids.len() > 20 {
        return Err(Invalid(
            texts::ERR_MODEM_ID_FORMAT.replace("{value}", tokens[20]),
        ));
    }
    Ok(ids.join(", "))
}

/// A meter serial: 5–20 ASCII digits; spaces and dashes are dropped.
pub fn parse_serial(text: &str) -> Result<String, Invalid> {
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| {
            !(c.is_whitespace()
                || *c == '-'
                || ('\u{2010}'..='\u{2014}').contains(c)
                || *c == '\u{2212}')
        })
        .collect();
    if let Some(c) = compact.chars().find(|c| !c.is_ascii_digit()) {
        return Err(Invalid(
            texts::ERR_SERIAL_CHARS.replace("{char}", &c.to_string()),
        ));
    }
    let len = compact.len();
    if !(5..=20).contains(&len) {
        return Err(Invalid(
            texts::ERR_SERIAL_LENGTH.replace("{len}", &len.to_string()),
        ));
    }
    Ok(compact)
}

/// Hosts taken without asking (`*.` matches any subdomain).
const KNOWN_HOSTS: [&str; 4] = ["lk.waviot.ru", "*.waviot.ru", "*.waviot.com", "lk.curog.ru"];
/// Query parameters that carry credentials; removed from links.
const SECRET_PARAMS: [&str; 5] = ["key", "api_key", "apikey", "token", "access_token"];

/// A link to the object in the customer portal, cleaned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Without credentials and fragment.
    pub url: String,
    pub host: String,
    /// The host is one of the portal's.
    pub known: bool,
    /// Credentials were removed from the query.
    pub secrets_removed: bool,
}

/// An `https://` link with a dotted host; credential parameters are removed.
pub fn parse_link(text: &str) -> Result<Link, Invalid> {
    let raw = text.trim();
    let format = || Invalid(texts::ERR_LINK_FORMAT.to_owned());
    if !raw
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    {
        let scheme = raw.split_once("://").map(|(s, _)| s);
        if scheme.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Err(Invalid(texts::ERR_LINK_HTTPS.to_owned()));
        }
        return Err(format());
    }
    let mut url = url::Url::parse(raw).map_err(|_| format())?;
    let host = url.host_str().unwrap_or_default().to_lowercase();
    if host.is_empty() || !host.contains('.') {
        return Err(format());
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !SECRET_PARAMS.contains(&k.to_lowercase().as_str()))
        .collect();
    let secrets_removed = kept.len() != pairs.len();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.set_fragment(None);
    let known = KNOWN_HOSTS.iter().any(|p| match p.strip_prefix('*') {
        Some(suffix) => host.ends_with(suffix),
        None => host == *p,
    });
    Ok(Link {
        url: url.into(),
        host,
        known,
        secrets_removed,
    })
}

/// `local@domain.tld` (no spaces, one `@`, a letters-only top-level domain of 2+); the
/// domain is lower-cased.
pub fn parse_email(text: &str) -> Result<String, Invalid> {
    let value = text.trim();
    let invalid = || Invalid(texts::ERR_EMAIL.to_owned());
    let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
    let clean = |s: &str| !s.is_empty() && !s.contains('@') && !s.chars().any(char::is_whitespace);
    let (head, tld) = domain.rsplit_once('.').ok_or_else(invalid)?;
    if !clean(local)
        || !clean(head)
        || tld.len() < 2
        || !tld.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// Free text of `min..=max` characters (after trimming).
pub fn parse_text(text: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let value = text.trim();
    let len = value.chars().count();
    if len < min {
        return Err(Invalid(
            texts::ERR_TEXT_TOO_SHORT
                .replace("{min}", &min.to_string())
                .replace("{len}", &len.to_string()),
        ));
    }
    if len > max {
        return Err(Invalid(
            texts::ERR_TEXT_TOO_LONG
                .replace("{max}", &max.to_string())
                .replace("{len}", &len.to_string()),
        ));
    }
    Ok(value.to_owned())
}

/// Validates a text answer of `field` (not the link or screenshots steps).
pub fn parse_answer(field: Field, text: &str) -> Result<String, Invalid> {
    match field {
        Field::ModemId => parse_modem_ids(text),
        Field::MeterSerial => parse_serial(text),
        Field::Description => parse_text(text, 10, 4000),
        Field::StepsToReproduce => parse_text(text, 5, 4000),
        Field::Email => parse_email(text),
        Field::Organization => parse_text(text, 2, 200),
        Field::Login => parse_text(text, 2, 100),
        Field::AdditionalInfo => parse_text(text, 2, 4000),
        Field::ObjectLink => parse_link(text).map(|l| l.url),
        Field::Screenshots => Err(Invalid(texts::ERR_FILES_EXPECTED.to_owned())),
    }
}

/// Image types accepted as documents, by extension.
pub fn image_mime(file_name: &str) -> Option<&'static str> {
    let (_, ext) = file_name.rsplit_once('.')?;
    match ext.to_lowercase().as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "bmp" => Some("image/bmp"),
        _ => None,
    }
}

/// Largest image, bytes.
pub const MAX_FILE: u64 = 20 * 1024 * 1024;
/// Largest total of a case's images, bytes.
pub const MAX_TOTAL: u64 = 50 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modem_ids_are_normalised_to_hex_and_deduplicated() {
        assert_eq!(parse_modem_ids("7A48AC").as_deref(), Ok("7A48AC"));
        assert_eq!(
            parse_modem_ids("0x7a48ac, 86145D;7A48AC").as_deref(),
            Ok("7A48AC, 86145D")
        );
        assert_eq!(parse_modem_ids("123456789").as_deref(), Ok("75BCD15"));
        assert!(parse_modem_ids("  ").is_err());
        assert!(parse_modem_ids("XYZ").is_err());
        assert!(parse_modem_ids("0").is_err());
        assert!(parse_modem_ids("9999999999").is_err());
    }

    #[test]
    fn serials_keep_digits_only() {
        assert_eq!(
            parse_serial("0123-4567 8901").as_deref(),
            Ok("012345678901")
        );
        assert!(parse_serial("12a45").is_err());
        assert!(parse_serial("1234").is_err());
    }

    #[test]
    fn links_lose_credentials_and_unknown_hosts_are_flagged() {
        let l = parse_link("https://lk.waviot.ru/?id=195984").expect("link");
        assert_eq!(l.url, "https://lk.waviot.ru/?id=195984");
        assert!(l.known && !l.secrets_removed);
        let l = parse_link("https://example.com/x?id=1&api_key=s#top").expect("link");
        assert_eq!(l.url, "https://example.com/x?id=1");
        assert!(!l.known && l.secrets_removed);
        assert_eq!(
            parse_link("http://lk.waviot.ru"),
            Err(Invalid(texts::ERR_LINK_HTTPS.to_owned()))
        );
        assert_eq!(
            parse_link("lk.waviot.ru"),
            Err(Invalid(texts::ERR_LINK_FORMAT.to_owned()))
        );
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        assert_eq!(
            parse_email(" Ivanov@Vodokanal.RU ").as_deref(),
            Ok("Ivanov@vodokanal.ru")
        );
        assert!(parse_email("ivanov@vodokanal").is_err());
        assert!(parse_email("a b@c.ru").is_err());
        assert!(parse_email("a@b@c.ru").is_err());
    }

    #[test]
    fn remembered_identification_is_not_asked_again() {
        let draft = Draft::with_profile(Profile {
            email: Some("a@b.ru".to_owned()),
            organization: Some("ООО".to_owned()),
            login: Some("ab".to_owned()),
        });
        assert_eq!(draft.asked().count(), 7);
        assert_eq!(
            draft.next_after(Field::Screenshots),
            Some(Field::AdditionalInfo)
        );
        assert_eq!(
            draft.previous(Field::AdditionalInfo),
            Some(Field::Screenshots)
        );
        assert!(
            draft
                .prompt(Field::AdditionalInfo, None)
                .starts_with("Шаг 7 из 7")
        );
    }
}
