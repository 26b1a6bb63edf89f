//! What Omnidesk sends to the bot: a custom channel's message webhook (JSON or
//! form-encoded, fields read leniently), a rule webhook's body, and reply HTML made into
//! what Telegram shows.

use serde_json::Value;

/// A message Omnidesk posted to the channel's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMessage {
    /// Event type (`message_new`), when given.
    pub event: Option<String>,
    /// Omnidesk's message id.
    pub message_id: i64,
    /// The case's id.
    pub case_id: i64,
    /// The staff member who wrote it (0 or absent for a customer's message).
    pub staff_id: i64,
    /// The channel user id it is for (our Telegram user id), when given.
    pub custom_user_id: Option<String>,
    /// Plain text, when given.
    pub content: String,
    /// HTML, when given.
    pub content_html: String,
    /// An internal note (never shown to the customer).
    pub note: bool,
    /// Files the message names: (name, URL).
    pub attachments: Vec<(String, String)>,
}

impl ChannelMessage {
    /// Whether it is a staff member's reply meant for the customer.
    pub fn is_agent_reply(&self) -> bool {
        !self.note && self.staff_id != 0 && self.event.as_deref().is_none_or(|e| e == "message_new")
    }
}

/// Why a webhook body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON nor a form.
    #[error("the body is neither JSON nor a form: {0}")]
    Unreadable(String),
    /// A field every message has is missing.
    #[error("the body has no {0}")]
    Missing(&'static str),
}

/// The body as JSON: JSON as is, a form (`object[case_id]=…`) as nested objects.
fn body_value(content_type: Option<&str>, body: &[u8]) -> Result<Value, BodyError> {
    let form = content_type.is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form && let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    if !form && body.trim_ascii_start().first().is_some_and(|b| *b == b'{') {
        return Err(BodyError::Unreadable("invalid JSON".to_owned()));
    }
    let mut root = serde_json::Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        insert_form_field(&mut root, &key, Value::String(value.into_owned()));
    }
    if root.is_empty() {
        return Err(BodyError::Unreadable("empty body".to_owned()));
    }
    Ok(Value::Object(root))
}

/// Puts `a[b][c]=v` (and `a[b][]=v`) into nested objects (and arrays).
fn insert_form_field(root: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    let (head, rest) = key.split_once('[').unwrap_or((key, ""));
    let path: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.trim_end_matches(']').split("][").collect()
    };
    let mut slot = root.entry(head.to_owned()).or_insert(Value::Null);
    for part in path {
        if part.is_empty() {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                items.push(Value::Null);
                slot = items
                    .last_mut()
                    .unwrap_or_else(|| unreachable!("just pushed"));
            }
            continue;
        }
        if !slot.is_object() {
            *slot = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = slot else {
            unreachable!("just made an object")
        };
        slot = map.entry(part.to_owned()).or_insert(Value::Null);
    }
    *slot = value;
}

/// An integer given as a number or a string.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text given as a string or a number.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A flag given as a bool, 0/1 or "0"/"1"/"true"/"false".
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "yes"),
        _ => false,
    }
}

/// Attachments in any of the shapes seen: a list or an object of entries, each a URL or
/// an object with a URL (`url`, `file_url`, `link`) and a name (`file_name`, `name`).
fn attachments(v: Option<&Value>) -> Vec<(String, String)> {
    let items: Vec<&Value> = match v {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| {
            let (url, name) = match item {
                Value::String(url) => (url.clone(), None),
                Value::Object(o) => (
                    ["url", "file_url", "link", "download_url"]
                        .iter()
                        .find_map(|k| text(o.get(*k)))?,
                    ["file_name", "name", "title"]
                        .iter()
                        .find_map(|k| text(o.get(*k))),
                ),
                _ => return None,
            };
            let url = url.trim().to_owned();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return None;
            }
            let name = name
                .filter(|n| !n.trim().is_empty())
                .or_else(|| {
                    url.rsplit('/')
                        .next()
                        .and_then(|n| n.split('?').next())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "file".to_owned());
            Some((name, url))
        })
        .collect()
}

/// Reads a channel webhook body (JSON or form-encoded).
///
/// # Errors
///
/// The body cannot be read, or names no message or case.
pub fn parse_message(content_type: Option<&str>, body: &[u8]) -> Result<ChannelMessage, BodyError> {
    let root = body_value(content_type, body)?;
    // `{"type":…, "object":{…}}`, or the message's fields at the top.
    let object = root
        .get("object")
        .filter(|o| o.is_object())
        .unwrap_or(&root);
    let object = object
        .get("message")
        .filter(|o| o.is_object())
        .unwrap_or(object);
    Ok(ChannelMessage {
        event: text(root.get("type")),
        message_id: int(object.get("message_id")).ok_or(BodyError::Missing("message_id"))?,
        case_id: int(object.get("case_id")).ok_or(BodyError::Missing("case_id"))?,
        staff_id: int(object.get("staff_id")).unwrap_or(0),
        custom_user_id: text(object.get("custom_user_id"))
            .or_else(|| text(object.get("user_custom_id"))),
        content: text(object.get("content")).unwrap_or_default(),
        content_html: text(object.get("content_html")).unwrap_or_default(),
        note: flag(object.get("note")),
        attachments: attachments(object.get("attachments")),
    })
}

/// Reads the case id from a rule webhook's body (written by the admin from variables:
/// `case_id`, at the top or under `case`/`object`).
///
/// # Errors
///
/// The body cannot be read or names no case id.
pub fn parse_event(content_type: Option<&str>, body: &[u8]) -> Result<i64, BodyError> {
    let root = body_value(content_type, body)?;
    [Some(&root), root.get("case"), root.get("object")]
        .into_iter()
        .flatten()
        .find_map(|o| int(o.get("case_id")))
        .ok_or(BodyError::Missing("case_id"))
}

/// The reply as Telegram HTML: the HTML when given (tags Telegram cannot show dropped,
/// paragraphs and lists as lines, links kept), else the plain text escaped.
pub fn telegram_html(content_html: &str, content: &str) -> String {
    if content_html.trim().is_empty() {
        return html_escape::encode_text(content.trim()).into_owned();
    }
    let kept: std::collections::HashSet<&str> = [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "blockquote",
        "br",
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
    ]
    .into_iter()
    .collect();
    let clean = ammonia::Builder::default()
        .tags(kept)
        .tag_attributes(
            [("a", ["href"].into_iter().collect())]
                .into_iter()
                .collect(),
        )
        .generic_attributes(std::collections::HashSet::new())
        .link_rel(None)
        .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
        .clean(content_html)
        .to_string();
    // What is left has no attributes except a link's href, so the tags are exactly these.
    let mut out = clean;
    for (tag, with) in [
        ("<br>", "\n"),
        ("<p>", ""),
        ("</p>", "\n\n"),
        ("<div>", ""),
        ("</div>", "\n"),
        ("<ul>", ""),
        ("</ul>", "\n"),
        ("<ol>", ""),
        ("</ol>", "\n"),
        ("<li>", "• "),
        ("</li>", "\n"),
        ("<tr>", ""),
        ("</tr>", "\n"),
        ("&nbsp;", "\u{a0}"),
    ] {
        out = out.replace(tag, with);
    }
    for level in 1..=6 {
        out = out
            .replace(&format!("<h{level}>"), "<b>")
            .replace(&format!("</h{level}>"), "</b>\n");
    }
    collapse_blank_lines(unwrap_bare_links(&out).trim())
}

/// At most one blank line in a row; no trailing spaces.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// Drops links left without an address (`<a>…</a>` → `…`): Telegram refuses them.
/// Links do not nest in sanitized HTML, so each `<a>` closes at the next `</a>`.
fn unwrap_bare_links(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<a>") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "<a>".len()..];
        match rest.find("</a>") {
            Some(end) => {
                out.push_str(&rest[..end]);
                rest = &rest[end + "</a>".len()..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"{"type":"message_new","object":{"message_id":42577887,"case_id":985687,
        "staff_id":7235,"user_id":5654846848,"custom_user_id":"123456","content":"Help is coming!",
        "note":0,"sent_via_rule":0}}"#;

    #[test]
    fn the_documented_json_payload_is_an_agent_reply() {
        let m = parse_message(Some("application/json"), JSON.as_bytes()).expect("parses");
        assert_eq!(m.message_id, 42_577_887);
        assert_eq!(m.case_id, 985_687);
        assert_eq!(m.custom_user_id.as_deref(), Some("123456"));
        assert_eq!(m.content, "Help is coming!");
        assert!(m.is_agent_reply());
    }

    #[test]
    fn the_form_encoded_payload_reads_the_same() {
        let body = "type=message_new&object%5Bmessage_id%5D=42577887&object%5Bcase_id%5D=985687\
            &object%5Bstaff_id%5D=7235&object%5Bcustom_user_id%5D=123456\
            &object%5Bcontent%5D=Help+is+coming%21&object%5Bnote%5D=0";
        let m = parse_message(Some("application/x-www-form-urlencoded"), body.as_bytes())
            .expect("parses");
        let j = parse_message(None, JSON.as_bytes()).expect("parses");
        assert_eq!(m, j);
    }

    #[test]
    fn notes_and_customer_messages_are_not_agent_replies() {
        let note = JSON.replace(r#""note":0"#, r#""note":"1""#);
        assert!(
            !parse_message(None, note.as_bytes())
                .expect("parses")
                .is_agent_reply()
        );
        let own = JSON.replace(r#""staff_id":7235"#, r#""staff_id":0"#);
        assert!(
            !parse_message(None, own.as_bytes())
                .expect("parses")
                .is_agent_reply()
        );
    }

    #[test]
    fn a_body_without_ids_or_unreadable_is_an_error() {
        assert_eq!(
            parse_message(None, br#"{"object":{"case_id":1}}"#),
            Err(BodyError::Missing("message_id"))
        );
        assert!(parse_message(Some("application/json"), b"{oops").is_err());
        assert!(parse_message(None, b"").is_err());
    }

    #[test]
    fn attachments_are_read_from_lists_and_objects() {
        let body = r#"{"object":{"message_id":1,"case_id":2,"staff_id":3,
            "attachments":[{"file_name":"act.pdf","url":"https://x.omnidesk.ru/f/1"},
                           "https://x.omnidesk.ru/f/photo.jpg?sig=1", {"name":"bad","url":"ftp://x"}]}}"#;
        let m = parse_message(None, body.as_bytes()).expect("parses");
        assert_eq!(
            m.attachments,
            vec![
                ("act.pdf".to_owned(), "https://x.omnidesk.ru/f/1".to_owned()),
                (
                    "photo.jpg".to_owned(),
                    "https://x.omnidesk.ru/f/photo.jpg?sig=1".to_owned()
                ),
            ]
        );
        let form = "object[message_id]=1&object[case_id]=2&object[attachments][0][file_name]=a.png\
            &object[attachments][0][url]=https%3A%2F%2Fh%2Fa.png";
        let m = parse_message(Some("application/x-www-form-urlencoded"), form.as_bytes())
            .expect("parses");
        assert_eq!(
            m.attachments,
            vec![("a.png".to_owned(), "https://h/a.png".to_owned())]
        );
    }

    #[test]
    fn an_event_body_names_its_case() {
        assert_eq!(
            parse_event(None, br#"{"case_id":"985687","status":"closed"}"#),
            Ok(985_687)
        );
        assert_eq!(
            parse_event(
                Some("application/x-www-form-urlencoded"),
                b"case[case_id]=7"
            ),
            Ok(7)
        );
        assert!(parse_event(None, br#"{"status":"closed"}"#).is_err());
    }

    #[test]
    fn reply_html_becomes_telegram_html_with_links_kept() {
        let html = r#"<p>Здравствуйте!</p><p>Проверьте <a href="https://lk.waviot.ru/x" target="_blank">объект</a>&nbsp;и <b>перезагрузите</b> модем.<br>Шаги:</p><ul><li>один</li><li>два &lt;3&gt;</li></ul><script>alert(1)</script><img src="x"><span style="color:red">Алексей</span>"#;
        let out = telegram_html(html, "ignored");
        assert_eq!(
            out,
            "Здравствуйте!\n\nПроверьте <a href=\"https://lk.waviot.ru/x\">объект</a>\u{a0}и <b>перезагрузите</b> модем.\nШаги:\n\n• один\n• два &lt;3&gt;\n\nАлексей"
        );
    }

    #[test]
    fn plain_text_is_escaped_when_there_is_no_html() {
        assert_eq!(telegram_html("", " a < b & c "), "a &lt; b &amp; c");
        assert_eq!(
            telegram_html(r#"<a href="javascript:alert(1)">x</a>"#, ""),
            "x"
        );
    }
}
