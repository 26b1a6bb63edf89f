//! Omnidesk's JSON shapes, kept private; deserialized leniently (unknown fields ignored,
//! numbers or strings accepted where the API is inconsistent).

use serde::{Deserialize, Deserializer};

/// `{"case": {...}}`.
#[derive(Debug, Deserialize)]
pub(super) struct CaseEnvelope {
    pub case: CaseBody,
}

/// The fields of a case this client reads.
#[derive(Debug, Deserialize)]
pub(super) struct CaseBody {
    #[serde(deserialize_with = "int_or_string")]
    pub case_id: i64,
    #[serde(default, deserialize_with = "opt_string_or_int")]
    pub case_number: Option<String>,
    /// `open`, `waiting`, `closed`…, when given.
    #[serde(default, deserialize_with = "opt_string_or_int")]
    pub status: Option<String>,
    /// The customer's user id, when given.
    #[serde(default, deserialize_with = "opt_int_or_string")]
    pub user_id: Option<i64>,
    /// When it last changed (`Mon, 06 May 2014 00:15:17 +0300`), when given.
    #[serde(default, deserialize_with = "opt_string_or_int")]
    pub updated_at: Option<String>,
}

/// A time as Omnidesk writes it: RFC 2822 (`Mon, 06 May 2014 00:15:17 +0300`), or RFC 3339.
pub(super) fn desk_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    chrono::DateTime::parse_from_rfc2822(text)
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl CaseBody {
    /// The case as the client reports it.
    pub fn into_info(self) -> super::CaseInfo {
        super::CaseInfo {
            case_number: self.case_number.unwrap_or_else(|| self.case_id.to_string()),
            case_id: self.case_id,
            status: self.status,
            user_id: self.user_id,
        }
    }
}

/// The messages of a list answer (`{"0":{"message":{...}},…,"total_count":N}`, or an
/// array of the same); entries that don't parse are skipped.
pub(super) fn messages_in_list(body: &serde_json::Value) -> Vec<super::CaseMessage> {
    let items: Vec<&serde_json::Value> = match body {
        serde_json::Value::Object(obj) => obj
            .iter()
            .filter(|(k, _)| k.chars().all(|c| c.is_ascii_digit()))
            .map(|(_, v)| v)
            .collect(),
        serde_json::Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|v| {
            let m = v.get("message").unwrap_or(v);
            let id = |k: &str| {
                m.get(k)
                    .and_then(|x| x.as_i64().or_else(|| x.as_str()?.trim().parse().ok()))
            };
            let text = |k: &str| {
                m.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            Some(super::CaseMessage {
                message_id: id("message_id")?,
                staff_id: id("staff_id").unwrap_or(0),
                content: text("content"),
                content_html: text("content_html"),
                note: m
                    .get("note")
                    .is_some_and(|n| n.as_bool().unwrap_or(false) || n.as_i64().unwrap_or(0) != 0),
                created_at: m.get("created_at").and_then(|t| desk_time(t.as_str()?)),
            })
        })
        .collect()
}

/// The cases of a list answer (`{"0":{"case":{...}},"1":…,"total_count":N}`), with
/// their subjects; entries that don't parse are skipped.
pub(super) fn cases_in_list(body: &serde_json::Value) -> Vec<(String, CaseBody)> {
    let Some(obj) = body.as_object() else {
        return Vec::new();
    };
    obj.iter()
        .filter(|(k, _)| k.chars().all(|c| c.is_ascii_digit()))
        .filter_map(|(_, v)| {
            let case = v.get("case")?;
            let subject = case
                .get("subject")
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_owned();
            let body: CaseBody = serde_json::from_value(case.clone()).ok()?;
            Some((subject, body))
        })
        .collect()
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
    }
    match V::deserialize(d)? {
        V::I(i) => Ok(i),
        V::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
        N(()),
    }
    Ok(match Option::<V>::deserialize(d)? {
        Some(V::I(i)) => Some(i),
        Some(V::S(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn opt_string_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        I(i64),
        S(String),
        N(()),
    }
    Ok(match Option::<V>::deserialize(d)? {
        Some(V::I(i)) => Some(i.to_string()),
        Some(V::S(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_example_response_parses() {
        let body = r#"{"case":{"case_id":2000,"case_number":"664-245651","subject":"I need help",
            "user_id":123,"staff_id":22,"group_id":44,"status":"waiting","priority":"normal",
            "channel":"web","deleted":false,"spam":false,"created_at":"Mon, 05 May 2014 00:15:17 +0300",
            "custom_fields":{"cf_25":"some text","cf_23":true},"labels":[101,102],"closed_at":"-"}}"#;
        let env: CaseEnvelope = serde_json::from_str(body).expect("parses");
        assert_eq!(env.case.case_id, 2000);
        assert_eq!(env.case.case_number.as_deref(), Some("664-245651"));
    }

    #[test]
    fn a_list_answer_yields_its_cases_with_subjects() {
        let body = serde_json::json!({
            "0": {"case": {"case_id": 7, "case_number": "664-1", "subject": "A [TG-1]"}},
            "1": {"case": {"case_id": "8", "case_number": "664-2", "subject": "B [TG-2]"}},
            "total_count": 2
        });
        let cases = cases_in_list(&body);
        assert_eq!(cases.len(), 2);
        assert!(cases.iter().any(|(s, c)| s == "B [TG-2]" && c.case_id == 8));
        assert!(cases_in_list(&serde_json::json!({"total_count": 0})).is_empty());
    }

    #[test]
    fn desk_times_are_read_in_both_formats() {
        let t = desk_time("Mon, 15 May 2023 09:28:43 +0300").expect("rfc 2822");
        assert_eq!(t.to_rfc3339(), "2023-05-15T06:28:43+00:00");
        assert!(desk_time("2023-05-15T06:28:43Z").is_some());
        assert!(desk_time("-").is_none());
    }

    #[test]
    fn ids_given_as_strings_are_accepted() {
        let env: CaseEnvelope =
            serde_json::from_str(r#"{"case":{"case_id":"2001","case_number":null}}"#)
                .expect("parses");
        assert_eq!(env.case.case_id, 2001);
        assert_eq!(env.case.case_number, None);
    }
}
