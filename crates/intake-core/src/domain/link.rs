//! Links to an object in the personal account (LK), as pasted from the address bar.
//!
//! The LK routes with query parameters on `/` and the exact page URLs are not documented,
//! so no path is required. The link must be `https` and have a host; a link without a scheme
//! (`lk.waviot.ru/?id=5`) is taken as `https`. Credentials are removed before the link is
//! stored or echoed: user info, query (and fragment) parameters named like a key or token,
//! and any parameter value that looks like a JWT. A host outside the [`HostPolicy`] is kept
//! but flagged so the dialogue can ask whether the link is right.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::ModemId;
use crate::msg::Msg;

/// Message id: not a link (or too long, or no usable host).
pub const ERR_FORMAT: &str = "err-link-format";
/// Message id: the link uses a scheme other than `https`.
pub const ERR_HTTPS: &str = "err-link-https";
/// Message id (note): an API key or token was removed from the link; regenerate it.
pub const NOTE_SECRET_REMOVED: &str = "link-secret-removed";
/// Message id (note): the host is not a known WAVIoT one; `$host` asks to confirm.
pub const NOTE_HOST_UNKNOWN: &str = "link-host-unknown";

/// Longest accepted link, in chars.
pub const MAX_LINK_CHARS: usize = 2048;

/// Query or fragment parameter names (compared lowercase) whose values are credentials.
pub(crate) const SECRET_PARAMS: &[&str] = &[
    "key",
    "apikey",
    "api_key",
    "api-key",
    "token",
    "access_token",
    "auth_token",
    "refresh_token",
    "id_token",
    "jwt",
    "waviot_jwt",
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
];

/// Which hosts count as WAVIoT personal-account hosts.
///
/// A pattern is an exact host (`lk.waviot.ru`) or `*.` plus a suffix (`*.waviot.ru`), which
/// matches any subdomain but **not** the bare domain: `waviot.ru` and `waviot.com` are the
/// company sites, so a link there is likely a wrong paste and worth a question. Matching
/// ignores case and a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPolicy {
    /// Host patterns: exact hosts or `*.suffix`.
    allowed: Vec<String>,
}

impl HostPolicy {
    /// A policy allowing exactly these patterns (exact host or `*.suffix`).
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            allowed: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// The patterns, as configured.
    pub fn patterns(&self) -> &[String] {
        &self.allowed
    }

    /// Whether `host` matches one of the patterns.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_lowercase();
        self.allowed.iter().any(|pattern| {
            let pattern = pattern.trim_end_matches('.').to_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => host
                    .strip_suffix(suffix)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => host == pattern,
            }
        })
    }
}

impl Default for HostPolicy {
    /// `lk.waviot.ru`, `*.waviot.ru`, `*.waviot.com`, `lk.curog.ru`.
    fn default() -> Self {
        Self::new(["lk.waviot.ru", "*.waviot.ru", "*.waviot.com", "lk.curog.ru"])
    }
}

/// An `https` link to an object, free of credentials.
///
/// `Display` and [`AsRef<str>`] give the cleaned URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ObjectLinkRepr")]
pub struct ObjectLink {
    url: String,
    host_known: bool,
    secrets_removed: bool,
}

impl ObjectLink {
    /// Parses a pasted link, checking its host against `policy`.
    ///
    /// # Errors
    ///
    /// [`ERR_HTTPS`] for a scheme other than `https` (`http://`, `mailto:`, …), [`ERR_FORMAT`] for
    /// anything that is not a URL with a domain (or IP address) host, or is longer than
    /// [`MAX_LINK_CHARS`].
    pub fn parse(input: &str, policy: &HostPolicy) -> Result<Self, Msg> {
        let input = input.trim();
        if input.is_empty()
            || input.chars().any(char::is_whitespace)
            || input.chars().nth(MAX_LINK_CHARS).is_some()
        {
            return Err(Msg::new(ERR_FORMAT));
        }
        let with_scheme = if has_scheme(input) {
            input.to_owned()
        } else {
            format!("https://{}", input.trim_start_matches('/'))
        };
        let (url, secrets_removed) = clean(&with_scheme)?;
        let host = url.host_str().unwrap_or_default();
        if matches!(url.host(), Some(Host::Ipv4(_))) && !input.contains(host) {
            // "https://8013997" is a valid URL whose host is read as an IPv4 address;
            // a number typed into the link field is not a link.
            return Err(Msg::new(ERR_FORMAT));
        }
        let host_known = matches!(url.host(), Some(Host::Domain(_))) && policy.allows(host);
        Ok(Self {
            url: url.into(),
            host_known,
            secrets_removed,
        })
    }

    /// The cleaned URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the host matched the [`HostPolicy`].
    pub fn host_known(&self) -> bool {
        self.host_known
    }

    /// Whether credentials were removed from the link as typed.
    pub fn secrets_removed(&self) -> bool {
        self.secrets_removed
    }

    /// The host of the link (punycode for non-ASCII domains).
    pub fn host(&self) -> String {
        Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The LK element (object) ID from an `id`, `elementId` or `element_id` parameter, if
    /// the link carries a decimal one.
    pub fn element_id(&self) -> Option<u64> {
        self.query_value(&["id", "elementid", "element_id"])
            .and_then(|v| parse_element_id(&v))
    }

    /// The modem ID from a `modem_id` or `modem` parameter, if the link carries a valid one.
    pub fn modem_id(&self) -> Option<ModemId> {
        self.query_value(&["modem_id", "modem"])
            .and_then(|v| ModemId::parse(&v).ok())
    }

    /// Notes to show after accepting the link: [`NOTE_SECRET_REMOVED`] when credentials were
    /// removed, [`NOTE_HOST_UNKNOWN`] (with `$host`) when the host is not a known one.
    pub fn notes(&self) -> Vec<Msg> {
        let mut notes = Vec::new();
        if self.secrets_removed {
            notes.push(Msg::new(NOTE_SECRET_REMOVED));
        }
        if !self.host_known {
            notes.push(Msg::new(NOTE_HOST_UNKNOWN).arg("host", self.host()));
        }
        notes
    }

    /// The first value of a query parameter whose lowercase name is in `names`.
    fn query_value(&self, names: &[&str]) -> Option<String> {
        let url = Url::parse(&self.url).ok()?;
        url.query_pairs()
            .find(|(k, _)| names.contains(&k.to_lowercase().as_str()))
            .map(|(_, v)| v.into_owned())
    }
}

impl fmt::Display for ObjectLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl AsRef<str> for ObjectLink {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl From<ObjectLink> for String {
    fn from(link: ObjectLink) -> Self {
        link.url
    }
}

/// The stored shape; deserialization re-checks the URL and strips any credentials again.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectLinkRepr {
    url: String,
    host_known: bool,
    secrets_removed: bool,
}

impl TryFrom<ObjectLinkRepr> for ObjectLink {
    type Error = String;

    fn try_from(repr: ObjectLinkRepr) -> Result<Self, Self::Error> {
        let (url, removed_now) =
            clean(&repr.url).map_err(|m| format!("invalid object link: {}", m.id))?;
        Ok(Self {
            url: url.into(),
            host_known: repr.host_known,
            secrets_removed: repr.secrets_removed || removed_now,
        })
    }
}

/// Whether the input starts with a scheme (`https:`, `mailto:`, …) rather than with a host,
/// possibly followed by a port (`lk.waviot.ru:8443`).
fn has_scheme(input: &str) -> bool {
    let Some((scheme, rest)) = input.split_once(':') else {
        return false;
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid_scheme && !rest.starts_with(|c: char| c.is_ascii_digit())
}

/// Parses an absolute URL, requires `https` and a host, and removes credentials.
/// Returns the cleaned URL and whether anything was removed.
fn clean(input: &str) -> Result<(Url, bool), Msg> {
    let mut url = Url::parse(input).map_err(|_| Msg::new(ERR_FORMAT))?;
    if url.scheme() != "https" {
        return Err(Msg::new(ERR_HTTPS));
    }
    let host_ok = match url.host() {
        Some(Host::Domain(d)) => d.trim_end_matches('.').contains('.'),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => true,
        None => false,
    };
    if !host_ok {
        return Err(Msg::new(ERR_FORMAT));
    }

    let mut removed = false;
    if !url.username().is_empty() || url.password().is_some() {
        // An https URL with a host always accepts these.
        let cleared = url.set_username("").is_ok() && url.set_password(None).is_ok();
        if !cleared {
            return Err(Msg::new(ERR_FORMAT));
        }
        removed = true;
    }
    if let Some(query) = url.query() {
        let (kept, dropped) = strip_secret_pairs(query);
        if dropped {
            let kept = kept.clone();
            url.set_query((!kept.is_empty()).then_some(kept.as_str()));
            removed = true;
        }
    }
    if let Some(fragment) = url.fragment() {
        let (route, params) = match fragment.split_once('?') {
            Some((route, params)) => (Some(route), params),
            None if fragment.contains('=') => (None, fragment),
            None => (None, ""),
        };
        let (kept, dropped) = strip_secret_pairs(params);
        if dropped {
            let new_fragment = match (route, kept.is_empty()) {
                (Some(route), true) => route.to_owned(),
                (Some(route), false) => format!("{route}?{kept}"),
                (None, _) => kept,
            };
            url.set_fragment((!new_fragment.is_empty()).then_some(new_fragment.as_str()));
            removed = true;
        }
    }
    Ok((url, removed))
}

/// Removes `name=value` pairs that carry credentials from an `&`-separated list, keeping
/// the other pairs exactly as written. Returns the kept list and whether any pair was
/// dropped.
fn strip_secret_pairs(params: &str) -> (String, bool) {
    let mut dropped = false;
    let kept: Vec<&str> = params
        .split('&')
        .filter(|pair| {
            let secret = url::form_urlencoded::parse(pair.as_bytes())
                .next()
                .is_some_and(|(name, value)| {
                    SECRET_PARAMS.contains(&name.to_lowercase().as_str()) || looks_like_jwt(&value)
                });
            dropped |= secret;
            !secret
        })
        .collect();
    (kept.join("&"), dropped)
}

/// A JSON Web Token: three base64url parts, the first starting with `eyJ` (`{"`).
fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.trim().split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().take(2).all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='))
        })
}

/// A decimal element ID: 1–10 digits, no leading zero.
fn parse_element_id(v: &str) -> Option<u64> {
    let ok =
        (1..=10).contains(&v.len()) && !v.starts_with('0') && v.chars().all(|c| c.is_ascii_digit());
    if ok { v.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::tests::assert_known_id;

    fn link(input: &str) -> ObjectLink {
        ObjectLink::parse(input, &HostPolicy::default()).expect(input)
    }

    fn err(input: &str) -> Msg {
        let msg = ObjectLink::parse(input, &HostPolicy::default()).expect_err(input);
        assert_known_id(&msg);
        msg
    }

    #[test]
    fn a_link_without_scheme_is_taken_as_https() {
        let l = link("lk.waviot.ru/?id=5");
        assert_eq!(l.url(), "https://lk.waviot.ru/?id=5");
        assert!(l.host_known());
        assert!(!l.secrets_removed());
        assert!(l.notes().is_empty());
        assert_eq!(link("//lk.waviot.ru/").url(), "https://lk.waviot.ru/");
        assert_eq!(
            link("lk.waviot.ru:8443/x").url(),
            "https://lk.waviot.ru:8443/x"
        );
    }

    #[test]
    fn https_links_are_kept_and_http_or_other_schemes_are_refused() {
        assert_eq!(
            link("HTTPS://LK.WAVIOT.RU/?device=summary").url(),
            "https://lk.waviot.ru/?device=summary"
        );
        for input in [
            "http://lk.waviot.ru/?id=5",
            "ftp://lk.waviot.ru/",
            "HTTP:lk.waviot.ru",
            "mailto:support@waviot.ru",
            "javascript:alert(1)",
        ] {
            assert_eq!(err(input), Msg::new(ERR_HTTPS), "{input}");
        }
    }

    #[test]
    fn text_that_is_not_a_link_is_refused() {
        for input in [
            "",
            "   ",
            "привет",
            "lk.waviot.ru страница",
            "https://",
            "https://localhost/",
            "8013997",
            "https://[::1",
            "https://lk.waviot.ru:99999/",
        ] {
            assert_eq!(err(input), Msg::new(ERR_FORMAT), "{input:?}");
        }
        let long = format!("lk.waviot.ru/?x={}", "a".repeat(MAX_LINK_CHARS));
        assert_eq!(err(&long), Msg::new(ERR_FORMAT));
    }

    #[test]
    fn host_policy_matches_exact_hosts_and_subdomains_but_not_the_bare_domain() {
        let policy = HostPolicy::default();
        for host in [
            "lk.waviot.ru",
            "LK.WAVIOT.RU",
            "auth.waviot.ru",
            "a.b.waviot.com",
            "lk.curog.ru",
            "lk.waviot.ru.",
        ] {
            assert!(policy.allows(host), "{host}");
        }
        for host in [
            "waviot.ru",
            "waviot.com",
            "evilwaviot.ru",
            "waviot.ru.evil.com",
            "curog.ru",
            "x.lk.curog.ru",
            "",
        ] {
            assert!(!policy.allows(host), "{host}");
        }
    }

    #[test]
    fn an_unknown_host_is_accepted_but_flagged_with_a_note() {
        let l = link("https://example.com/page?id=1");
        assert!(!l.host_known());
        assert_eq!(
            l.notes(),
            vec![Msg::new(NOTE_HOST_UNKNOWN).arg("host", "example.com")]
        );
        l.notes().iter().for_each(assert_known_id);
        assert!(!link("https://192.168.1.10/?id=1").host_known());
        assert_eq!(link("https://почта.рф/").host(), "xn--80a1acny.xn--p1ai");
    }

    #[test]
    fn secret_parameters_are_removed_and_flagged() {
        let cases = [
            (
                "https://lk.waviot.ru/api.tree/get_element/?key=S3CR3T",
                "https://lk.waviot.ru/api.tree/get_element/",
            ),
            (
                "lk.waviot.ru/?id=5&KEY=S3CR3T&from=1",
                "https://lk.waviot.ru/?id=5&from=1",
            ),
            (
                "lk.waviot.ru/?token=S3CR3T&jwt=S3CR3T&api_key=S3CR3T&access_token=S3CR3T",
                "https://lk.waviot.ru/",
            ),
            (
                "lk.waviot.ru/?%6Bey=S3CR3T&id=5",
                "https://lk.waviot.ru/?id=5",
            ),
            (
                "https://user:S3CR3T@lk.waviot.ru/?id=5",
                "https://lk.waviot.ru/?id=5",
            ),
            (
                "lk.waviot.ru/#/objects?id=5&token=S3CR3T",
                "https://lk.waviot.ru/#/objects?id=5",
            ),
            ("lk.waviot.ru/#access_token=S3CR3T", "https://lk.waviot.ru/"),
            (
                "lk.waviot.ru/?id=5&session=eyJhbGciOiJIUzI1NiJ9.eyJTM0NSM1QifQ.sig",
                "https://lk.waviot.ru/?id=5",
            ),
        ];
        for (input, want) in cases {
            let l = link(input);
            assert_eq!(l.url(), want, "{input}");
            assert!(l.secrets_removed(), "{input}");
            assert_eq!(l.notes(), vec![Msg::new(NOTE_SECRET_REMOVED)]);
        }
    }

    #[test]
    fn the_secret_never_appears_in_debug_display_or_serialized_output() {
        let secret = "S3CR3T-9f8e7d";
        let l = link(&format!(
            "https://lk.waviot.ru/?id=5&key={secret}&jwt={secret}#token={secret}"
        ));
        let outputs = [
            format!("{l:?}"),
            l.to_string(),
            l.url().to_owned(),
            serde_json::to_string(&l).unwrap(),
            format!("{:?}", l.notes()),
        ];
        for out in outputs {
            assert!(!out.contains(secret), "{out}");
        }
    }

    #[test]
    fn ordinary_parameters_are_kept_as_written() {
        let l = link("lk.waviot.ru/?id=5&name=%D0%94%D0%BE%D0%BC+1&keys=2&monkey=3");
        assert_eq!(
            l.url(),
            "https://lk.waviot.ru/?id=5&name=%D0%94%D0%BE%D0%BC+1&keys=2&monkey=3"
        );
        assert!(!l.secrets_removed());
    }

    #[test]
    fn element_and_modem_ids_are_read_from_the_query() {
        let l = link("lk.waviot.ru/?elementId=195984&modem_id=7a48ac");
        assert_eq!(l.element_id(), Some(195_984));
        assert_eq!(
            l.modem_id().map(|m| m.to_string()).as_deref(),
            Some("7A48AC")
        );
        let none = link("lk.waviot.ru/?id=abc");
        assert_eq!(none.element_id(), None);
        assert_eq!(none.modem_id(), None);
    }

    #[test]
    fn serde_round_trips_and_strips_secrets_from_tampered_input() {
        let l = link("lk.waviot.ru/?id=5&key=S3CR3T");
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(
            json,
            r#"{"url":"https://lk.waviot.ru/?id=5","host_known":true,"secrets_removed":true}"#
        );
        assert_eq!(serde_json::from_str::<ObjectLink>(&json).unwrap(), l);

        let tampered = r#"{"url":"https://lk.waviot.ru/?key=S3CR3T","host_known":true,"secrets_removed":false}"#;
        let back = serde_json::from_str::<ObjectLink>(tampered).unwrap();
        assert_eq!(back.url(), "https://lk.waviot.ru/");
        assert!(back.secrets_removed());
        let http = r#"{"url":"http://lk.waviot.ru/","host_known":true,"secrets_removed":false}"#;
        assert!(serde_json::from_str::<ObjectLink>(http).is_err());
    }

    #[test]
    fn a_host_policy_reads_from_toml() {
        let policy: HostPolicy =
            toml::from_str(r#"allowed = ["lk.example.org", "*.example.net"]"#).unwrap();
        assert!(policy.allows("lk.example.org"));
        assert!(policy.allows("a.example.net"));
        assert!(!policy.allows("lk.waviot.ru"));
        assert!(toml::from_str::<HostPolicy>(r#"allow = []"#).is_err());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in any::<String>()) {
            let _ = ObjectLink::parse(&s, &HostPolicy::default());
        }

        #[test]
        fn parsing_url_like_text_never_panics_and_reparses_to_itself(
            s in "(https?://)?[a-zа-я0-9.:@\\[\\]-]{0,20}(/[a-z0-9%?#=&;._-]{0,30})?"
        ) {
            if let Ok(l) = ObjectLink::parse(&s, &HostPolicy::default()) {
                let again = ObjectLink::parse(&format!("{l}"), &HostPolicy::default()).unwrap();
                prop_assert_eq!(again.url(), l.url());
                let json = serde_json::to_string(&l).unwrap();
                prop_assert_eq!(serde_json::from_str::<ObjectLink>(&json).unwrap(), l);
            }
        }

        #[test]
        fn no_secret_value_survives_parsing(
            name in "(key|KEY|Token|jwt|api_key|access_token)",
            secret in "[A-Za-z0-9]{12}",
            before in "(id=5&)?",
        ) {
            let input = format!("lk.waviot.ru/?{before}{name}={secret}");
            let l = ObjectLink::parse(&input, &HostPolicy::default()).unwrap();
            prop_assert!(!l.url().contains(&secret));
            prop_assert!(l.secrets_removed());
        }
    }
}
