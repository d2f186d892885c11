//! Japanese and English: chosen by `?lang=`, then the `ui_lang` cookie,
//! then the browser's `Accept-Language`.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::cookies::{LANG_COOKIE, cookie};

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

/// The page's texts: key, then language code, then the text (see
/// `texts.toml`; a test checks that every text a template shows exists in
/// every language).
type Texts = BTreeMap<String, BTreeMap<String, String>>;

static TEXTS: LazyLock<Texts> =
    LazyLock::new(|| toml::from_str(include_str!("../texts.toml")).unwrap_or_default());

impl Lang {
    /// The language a request asks for.
    pub fn of(headers: &HeaderMap, query: Option<&str>) -> Lang {
        let asked = query
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("lang=")))
            .or_else(|| cookie(headers, LANG_COOKIE));
        if let Some(code) = asked.and_then(Lang::parse) {
            return code;
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best = (Lang::En, -1.0f32);
        for part in accept.split(',') {
            let mut bits = part.split(';');
            let tag = bits.next().unwrap_or("").trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Lang::parse(tag)
                && q > best.1
            {
                best = (lang, q);
            }
        }
        best.0
    }

    fn parse(tag: &str) -> Option<Lang> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code (`en`, `ja`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// The other language (for the switch link).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// A text of the page (empty for an unknown key).
    pub fn t(self, key: &str) -> &'static str {
        TEXTS
            .get(key)
            .and_then(|by_lang| by_lang.get(self.code()))
            .map_or("", String::as_str)
    }

    /// Every text, for a template.
    pub fn texts(self) -> BTreeMap<&'static str, &'static str> {
        TEXTS
            .iter()
            .filter_map(|(key, by_lang)| Some((key.as_str(), by_lang.get(self.code())?.as_str())))
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(&parts.headers, parts.uri.query()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `t.KEY` names a template uses.
    fn keys_in(source: &str) -> Vec<&str> {
        source
            .match_indices("t.")
            .filter(|(i, _)| {
                // `{{ t.x }}`, `{% if t.x %}`: a word boundary before `t`.
                *i == 0 || !source.as_bytes()[i - 1].is_ascii_alphanumeric()
            })
            .map(|(i, _)| {
                let rest = &source[i + 2..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|k| !k.is_empty())
            .collect()
    }

    #[test]
    fn every_text_is_written_in_every_language_and_nothing_else() {
        assert!(
            TEXTS.len() > 90,
            "texts.toml was read ({} texts)",
            TEXTS.len()
        );
        for (key, by_lang) in TEXTS.iter() {
            let langs: Vec<&str> = by_lang.keys().map(String::as_str).collect();
            assert_eq!(langs, ["en", "ja"], "{key}");
            assert!(by_lang.values().all(|t| !t.trim().is_empty()), "{key}");
        }
        assert_eq!(Lang::Ja.t("sign_in"), "サインイン");
        assert_eq!(Lang::En.t("no such text"), "");
    }

    #[test]
    fn every_text_a_template_shows_exists_in_both_languages() {
        let templates = [
            include_str!("../templates/base.html"),
            include_str!("../templates/login.html"),
            include_str!("../templates/start.html"),
            include_str!("../templates/check.html"),
            include_str!("../templates/jobs.html"),
        ];
        let mut seen = 0;
        for source in templates {
            for key in keys_in(source) {
                seen += 1;
                assert!(!Lang::En.t(key).is_empty(), "no English text for {key}");
                assert!(!Lang::Ja.t(key).is_empty(), "no Japanese text for {key}");
            }
        }
        assert!(seen > 50, "the templates were read ({seen} texts)");
        for key in [
            "header_lang",
            "delete_results",
            "choose_template",
            "check_template",
        ] {
            assert_ne!(Lang::En.t(key), Lang::Ja.t(key), "{key} is translated");
        }
    }
}
