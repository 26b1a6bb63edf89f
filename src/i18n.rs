//! Fluent localization: one concurrent bundle per language, loaded from
//! `locales/<lang>/*.ftl`, Russian as the default and fallback.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use intake_core::msg::{Arg, Msg};
use unic_langid::LanguageIdentifier;

/// Supported languages; the first is the default.
pub const LANGUAGES: [&str; 2] = ["ru", "en"];

/// Renders [`Msg`]s in a language.
pub struct Localizer {
    bundles: Vec<(String, FluentBundle<FluentResource>, BTreeSet<String>)>,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer")
            .field(
                "languages",
                &self.bundles.iter().map(|b| &b.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Localizer {
    /// Loads every `.ftl` file of every supported language under `dir`.
    ///
    /// # Errors
    ///
    /// A folder or file is unreadable, a file has syntax errors, or an id is defined twice.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut bundles = Vec::new();
        for lang in LANGUAGES {
            let langid: LanguageIdentifier = lang.parse().context("language id")?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            bundle.set_use_isolating(false);
            let lang_dir = dir.join(lang);
            let mut paths: Vec<_> = std::fs::read_dir(&lang_dir)
                .with_context(|| format!("Failed to read locale folder {}", lang_dir.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                .collect();
            paths.sort();
            let mut ids = BTreeSet::new();
            for path in paths {
                let src = std::fs::read_to_string(&path)
                    .with_context(|| format!("Failed to read {}", path.display()))?;
                let resource = match FluentResource::try_new(src) {
                    Ok(r) => r,
                    Err((_, errors)) => bail!("{}: {:?}", path.display(), errors),
                };
                for entry in resource.entries() {
                    if let fluent_syntax::ast::Entry::Message(m) = entry {
                        ids.insert(m.id.name.to_owned());
                    }
                }
                if let Err(errors) = bundle.add_resource(resource) {
                    bail!("{}: {:?}", path.display(), errors);
                }
            }
            bundles.push((lang.to_owned(), bundle, ids));
        }
        Ok(Self { bundles })
    }

    /// The supported language for a preference or Telegram `language_code`
    /// (`en*` → English, anything else → Russian).
    pub fn pick(code: Option<&str>) -> &'static str {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("en") => "en",
            _ => "ru",
        }
    }

    /// Message ids defined for `lang`.
    pub fn ids(&self, lang: &str) -> Option<&BTreeSet<String>> {
        self.bundles.iter().find(|b| b.0 == lang).map(|b| &b.2)
    }

    fn bundle(&self, lang: &str) -> &FluentBundle<FluentResource> {
        let found = self.bundles.iter().find(|b| b.0 == lang);
        &found.unwrap_or(&self.bundles[0]).1
    }

    /// Renders a message by id with no arguments.
    pub fn text(&self, lang: &str, id: &str) -> String {
        self.render(lang, &Msg::new(id))
    }

    /// Renders a message; a missing id renders as the id itself (and is logged).
    pub fn render(&self, lang: &str, msg: &Msg) -> String {
        self.render_depth(lang, msg, 0)
    }

    fn render_depth(&self, lang: &str, msg: &Msg, depth: u8) -> String {
        let mut bundle = self.bundle(lang);
        let mut message = bundle.get_message(&msg.id);
        if message.is_none() {
            bundle = self.bundle(LANGUAGES[0]);
            message = bundle.get_message(&msg.id);
        }
        let Some(pattern) = message.and_then(|m| m.value()) else {
            tracing::warn!(id = %msg.id, lang, "missing fluent message");
            return msg.id.clone();
        };
        let mut args = FluentArgs::new();
        for (name, value) in &msg.args {
            let value = match value {
                Arg::Num(n) => FluentValue::from(*n),
                Arg::Str(s) => FluentValue::from(s.clone()),
                Arg::Ref(id) if depth < 3 => {
                    FluentValue::from(self.render_depth(lang, &Msg::new(id.clone()), depth + 1))
                }
                Arg::Ref(id) => FluentValue::from(id.clone()),
            };
            args.set(name.clone(), value);
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(id = %msg.id, lang, ?errors, "fluent formatting errors");
        }
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn localizer() -> Localizer {
        Localizer::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("locales"))
            .expect("locales load")
    }

    #[test]
    fn russian_plurals_follow_the_count() {
        let l = localizer();
        let done = |n: i64| l.render("ru", &Msg::new("btn-done-files").arg("count", n));
        assert_eq!(done(1), "✅ Готово (1 файл)");
        assert_eq!(done(3), "✅ Готово (3 файла)");
        assert_eq!(done(5), "✅ Готово (5 файлов)");
    }

    #[test]
    fn a_referenced_message_is_rendered_in_the_same_language() {
        let l = localizer();
        let m = Msg::new("kind-chosen").arg_ref("kind", "kind-device-malfunction");
        assert_eq!(l.render("en", &m), "Request type: Device malfunction");
        assert_eq!(l.render("ru", &m), "Тип обращения: Неполадка устройства");
    }

    #[test]
    fn english_is_picked_only_for_english_language_codes() {
        assert_eq!(Localizer::pick(Some("en-GB")), "en");
        assert_eq!(Localizer::pick(Some("de")), "ru");
        assert_eq!(Localizer::pick(None), "ru");
    }

    #[test]
    fn every_locale_defines_the_same_ids() {
        let l = localizer();
        let ru = l.ids("ru").expect("ru");
        let en = l.ids("en").expect("en");
        let only_ru: Vec<_> = ru.difference(en).collect();
        let only_en: Vec<_> = en.difference(ru).collect();
        assert!(
            only_ru.is_empty() && only_en.is_empty(),
            "ru only: {only_ru:?}, en only: {only_en:?}"
        );
    }
}
