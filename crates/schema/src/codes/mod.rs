//! Code tables: countries, languages, time zones, date and time formats, and the
//! lookup rules that turn what a spreadsheet user typed into one canonical value.

mod japanese;
mod seed_tables;

use std::collections::HashMap;
use std::sync::OnceLock;

use japanese::{COUNTRIES_JA, LANGUAGES_JA, TIME_ZONE_ABBREVIATIONS, TIME_ZONE_LINKS};
use seed_tables::{COUNTRIES, LANGUAGES, SEED_TIME_ZONES};

/// One country row of the learning platform's code table (seed 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryRow {
    /// The seed's "Screen Display Format" (kept as written, typos included).
    pub display: &'static str,
    /// The seed's "CSV input value", typos included (`Djibouti.`).
    pub seed: &'static str,
    /// The clean canonical value written on export (`Djibouti`).
    pub canonical: &'static str,
    /// ISO 3166-1 alpha-2 code.
    pub alpha2: &'static str,
}

/// One language row of the seed's code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanguageRow {
    /// The seed's display name (`Japanese (language)`).
    pub display: &'static str,
    /// The seed's CSV input value (`TH_TH`).
    pub seed: &'static str,
    /// The canonical value (`th_TH`).
    pub canonical: &'static str,
}

/// One time zone row of the seed's code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneRow {
    /// The seed's display name (`Tokyo Standard Time (UTC + 09:00)`).
    pub display: &'static str,
    /// The IANA name (`Asia/Tokyo`).
    pub iana: &'static str,
}

/// Which code table a field draws its values from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeTable {
    /// Countries and regions (seed 002 plus ISO 3166 codes, English and
    /// Japanese names: `日本`).
    Country,
    /// The 18 interface languages (`ja_JP` …; also their display and
    /// Japanese names: `日本語`).
    Language,
    /// The 56 time zones of seed 002, by IANA name or the seed's display
    /// name. A tzdata link of a listed zone (`Asia/Calcutta`) is stored as
    /// the listed zone (`Asia/Kolkata`); any other zone is unknown, and an
    /// abbreviation (`JST`) suggests the zone it usually means.
    TimeZone,
    /// Every IANA time zone chrono-tz knows, plus the seed's display names:
    /// for a profile that allows any zone
    /// (`kind = { type = "code", table = "any_time_zone" }`).
    AnyTimeZone,
    /// The 7 date display formats.
    DateFormat,
    /// The 3 time display formats.
    TimeFormat,
}

/// A value not found in a code table, with the nearest canonical values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Up to three canonical values closest to the input, best first.
    pub suggestions: Vec<String>,
}

/// The 7 date formats: canonical value, then accepted aliases (seed typos included).
pub const DATE_FORMATS: &[(&str, &[&str])] = &[
    ("YYYY-MM-DD", &["YYYYY-MM-DD", "2022-07-27"]),
    ("YYYY/MM/DD", &["YYYYY/MM/DD", "2022/07/27"]),
    ("DD/MM/YYYY", &["DD/MM/YYYYYY", "DD/MM/YYYYY", "27/07/2022"]),
    ("MM/DD/YYYY", &["MM/DD/YYYYYY", "MM/DD/YYYYY", "07/27/2022"]),
    (
        "DD/MMM/YYYY",
        &["DD/MMM/YYYYYY", "DD/MMM/YYYYY", "27/Jul/2022"],
    ),
    (
        "MMM/DD/YYYY",
        &["MMM/DD/YYYYYY", "MMM/DD/YYYYY", "Jul/27/2022"],
    ),
    (
        "YYYY year M month D day",
        &[
            "YYYY年M月D日",
            "YYYY年MM月DD日",
            "YYYYY year M year D day",
            "YYYYY year M month D day",
            "YYYY year M year D day",
            "July 27, 2022",
        ],
    ),
];

/// The 3 time formats: canonical value, then accepted aliases.
pub const TIME_FORMATS: &[(&str, &[&str])] = &[
    ("HH:mm:ss", &["22:08:42"]),
    ("H hour mm minute ss second", &[]),
    ("hh:mm:ss a", &["10:08:42 pm"]),
];

impl CodeTable {
    /// Resolves what a user typed to the table's canonical value.
    ///
    /// Matching ignores case, spaces and the punctuation spreadsheet users vary
    /// (`.` `-` `_` `'` `,` parentheses), so `united arab emirates`,
    /// `UnitedArabEmirates`, `AE` and `ARE` all give `UnitedArabEmirates`.
    pub fn resolve(self, input: &str) -> Result<&'static str, Unknown> {
        let key = fold(input);
        if key.is_empty() {
            return Err(Unknown {
                suggestions: Vec::new(),
            });
        }
        // IANA names first: folding would merge `Etc/GMT-0` with `Etc/GMT0`.
        if self == CodeTable::AnyTimeZone
            && let Ok(tz) = chrono_tz::Tz::from_str_insensitive(input.trim())
        {
            return Ok(tz.name());
        }
        if let Some(found) = self.index().get(key.as_str()) {
            return Ok(found);
        }
        let mut suggestions = Vec::new();
        if self == CodeTable::TimeZone {
            let abbreviation = TIME_ZONE_ABBREVIATIONS
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(input.trim()));
            if let Some((_, zone)) = abbreviation {
                suggestions.push(zone.to_string());
            }
        }
        for found in self.suggest(&key) {
            if suggestions.len() < 3 && !suggestions.contains(&found) {
                suggestions.push(found);
            }
        }
        Err(Unknown { suggestions })
    }

    /// Every canonical value of the table, in the seed's order.
    pub fn canonical_values(self) -> Vec<&'static str> {
        match self {
            CodeTable::Country => COUNTRIES.iter().map(|c| c.canonical).collect(),
            CodeTable::Language => LANGUAGES.iter().map(|l| l.canonical).collect(),
            CodeTable::TimeZone => SEED_TIME_ZONES.iter().map(|z| z.iana).collect(),
            CodeTable::AnyTimeZone => chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect(),
            CodeTable::DateFormat => DATE_FORMATS.iter().map(|(c, _)| *c).collect(),
            CodeTable::TimeFormat => TIME_FORMATS.iter().map(|(c, _)| *c).collect(),
        }
    }

    /// The folded-key index of every accepted spelling, built once per table.
    fn index(self) -> &'static HashMap<String, &'static str> {
        static TABLES: [OnceLock<HashMap<String, &'static str>>; 6] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let slot = match self {
            CodeTable::Country => 0,
            CodeTable::Language => 1,
            CodeTable::TimeZone => 2,
            CodeTable::DateFormat => 3,
            CodeTable::TimeFormat => 4,
            CodeTable::AnyTimeZone => 5,
        };
        TABLES[slot].get_or_init(|| self.build_index())
    }

    fn build_index(self) -> HashMap<String, &'static str> {
        let mut map = HashMap::new();
        // Earlier insertions win, so canonical and seed spellings beat derived ones.
        let mut add = |spelling: &str, canonical: &'static str| {
            let key = fold(spelling);
            if !key.is_empty() {
                map.entry(key).or_insert(canonical);
            }
        };
        match self {
            CodeTable::Country => {
                for row in COUNTRIES {
                    add(row.canonical, row.canonical);
                    add(row.seed, row.canonical);
                    add(row.alpha2, row.canonical);
                }
                for row in COUNTRIES {
                    if let Ok(code) = isocountry::CountryCode::for_alpha2(row.alpha2) {
                        add(code.alpha3(), row.canonical);
                        add(code.name(), row.canonical);
                    }
                    add(row.display, row.canonical);
                }
                add_japanese(&mut add, COUNTRIES, COUNTRIES_JA, |r| r.canonical);
            }
            CodeTable::Language => {
                for row in LANGUAGES {
                    add(row.canonical, row.canonical);
                    add(row.seed, row.canonical);
                    add(row.display, row.canonical);
                }
                add_japanese(&mut add, LANGUAGES, LANGUAGES_JA, |r| r.canonical);
            }
            CodeTable::TimeZone => {
                for row in SEED_TIME_ZONES {
                    add(row.iana, row.iana);
                }
                for row in SEED_TIME_ZONES {
                    add(row.display, row.iana);
                }
                for (link, target) in TIME_ZONE_LINKS {
                    if let Some(row) = SEED_TIME_ZONES.iter().find(|r| r.iana == *target) {
                        add(link, row.iana);
                    }
                }
            }
            CodeTable::AnyTimeZone => {
                for tz in chrono_tz::TZ_VARIANTS {
                    add(tz.name(), tz.name());
                }
                for row in SEED_TIME_ZONES {
                    if let Ok(tz) = row.iana.parse::<chrono_tz::Tz>() {
                        add(row.display, tz.name());
                    }
                }
            }
            CodeTable::DateFormat | CodeTable::TimeFormat => {
                let formats = if self == CodeTable::DateFormat {
                    DATE_FORMATS
                } else {
                    TIME_FORMATS
                };
                for (canonical, aliases) in formats {
                    add(canonical, canonical);
                    for alias in *aliases {
                        add(alias, canonical);
                    }
                }
            }
        }
        map
    }

    fn suggest(self, key: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &'static str)> = self
            .index()
            .iter()
            .map(|(spelling, canonical)| (strsim::jaro_winkler(key, spelling), *canonical))
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut out: Vec<String> = Vec::new();
        for (_, canonical) in scored {
            if !out.iter().any(|s| s == canonical) {
                out.push(canonical.to_string());
            }
            if out.len() == 3 {
                break;
            }
        }
        out
    }
}

/// Adds the Japanese names of `rows` (by canonical value) to an index.
fn add_japanese<R>(
    add: &mut impl FnMut(&str, &'static str),
    rows: &'static [R],
    names: &[(&str, &[&str])],
    canonical: impl Fn(&R) -> &'static str,
) {
    for (value, japanese) in names {
        if let Some(row) = rows.iter().find(|r| canonical(r) == *value) {
            for name in *japanese {
                add(name, canonical(row));
            }
        }
    }
}

/// The seed's country rows, for documentation, tests and templates.
pub fn countries() -> &'static [CountryRow] {
    COUNTRIES
}

/// The seed's 18 language rows.
pub fn languages() -> &'static [LanguageRow] {
    LANGUAGES
}

/// The seed's time zone rows.
pub fn seed_time_zones() -> &'static [TimeZoneRow] {
    SEED_TIME_ZONES
}

/// Folds a spelling to its comparison key: lowercase, accents dropped, spaces
/// and common punctuation removed, full-width ASCII made half-width.
fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for ch in input.chars() {
        let ch = crate::fold_width(ch);
        let ch = match ch {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                'a'
            }
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            c => c,
        };
        if ch.is_whitespace() || matches!(ch, '.' | '-' | '_' | '\'' | ',' | '(' | ')' | '’') {
            continue;
        }
        out.extend(ch.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_country_resolves_to_its_clean_value_both_ways() {
        assert_eq!(COUNTRIES.len(), 196);
        for row in COUNTRIES {
            assert_eq!(
                CodeTable::Country.resolve(row.seed),
                Ok(row.canonical),
                "{row:?}"
            );
            assert_eq!(CodeTable::Country.resolve(row.canonical), Ok(row.canonical));
            assert_eq!(CodeTable::Country.resolve(row.alpha2), Ok(row.canonical));
            // The canonical value is clean: no spaces, no trailing dots.
            assert!(!row.canonical.contains(' ') && !row.canonical.ends_with('.'));
        }
    }

    #[test]
    fn country_codes_and_english_names_resolve() {
        let cases = [
            ("ae", "UnitedArabEmirates"),
            ("ARE", "UnitedArabEmirates"),
            ("United Arab Emirates", "UnitedArabEmirates"),
            ("jpn", "Japan"),
            ("Côte d'Ivoire", "CoteD'Ivoire"),
            ("cote d'ivoire", "CoteD'Ivoire"),
            ("Djibouti.", "Djibouti"),
            ("Jordan.", "Jordan"),
            ("San Marino", "SanMarino"),
            ("GBR", "UnitedKingdomOfGreatBritainAndNorthernIreland"),
            ("United States of America", "UnitedStatesOfAmerica"),
            ("Ｊａｐａｎ", "Japan"),
        ];
        for (input, want) in cases {
            assert_eq!(CodeTable::Country.resolve(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn unknown_country_is_refused_with_nearest_suggestions() {
        let err = CodeTable::Country.resolve("Japn").unwrap_err();
        assert_eq!(err.suggestions.first().map(String::as_str), Some("Japan"));
        let err = CodeTable::Country.resolve("Atlantis").unwrap_err();
        assert!(!err.suggestions.iter().any(|s| s == "Japan"));
        assert!(CodeTable::Country.resolve("").is_err());
    }

    #[test]
    fn every_seed_language_parses_case_insensitively() {
        assert_eq!(LANGUAGES.len(), 18);
        for row in LANGUAGES {
            assert_eq!(CodeTable::Language.resolve(row.seed), Ok(row.canonical));
            assert_eq!(
                CodeTable::Language.resolve(&row.seed.to_uppercase()),
                Ok(row.canonical)
            );
            assert_eq!(CodeTable::Language.resolve(row.display), Ok(row.canonical));
        }
        assert_eq!(CodeTable::Language.resolve("TH_TH"), Ok("th_TH"));
        assert_eq!(CodeTable::Language.resolve("ja-jp"), Ok("ja_JP"));
        assert!(CodeTable::Language.resolve("xx_XX").is_err());
    }

    #[test]
    fn every_seed_time_zone_and_every_iana_name_parses() {
        for row in SEED_TIME_ZONES {
            assert_eq!(
                CodeTable::TimeZone.resolve(row.iana),
                Ok(row.iana),
                "{row:?}"
            );
            assert_eq!(CodeTable::TimeZone.resolve(row.display), Ok(row.iana));
        }
        assert_eq!(SEED_TIME_ZONES.len(), 56);
        assert_eq!(CodeTable::TimeZone.canonical_values().len(), 56);
        for tz in chrono_tz::TZ_VARIANTS {
            assert_eq!(CodeTable::AnyTimeZone.resolve(tz.name()), Ok(tz.name()));
        }
        assert_eq!(CodeTable::TimeZone.resolve("asia/tokyo"), Ok("Asia/Tokyo"));
        let err = CodeTable::TimeZone.resolve("Asia/Tokio").unwrap_err();
        assert!(err.suggestions.iter().any(|s| s == "Asia/Tokyo"), "{err:?}");
    }

    #[test]
    fn time_zones_are_the_listed_ones_with_links_stored_as_listed() {
        for (input, want) in [
            ("Asia/Calcutta", "Asia/Kolkata"),
            ("asia/calcutta", "Asia/Kolkata"),
            ("Asia/Rangoon", "Asia/Yangon"),
            ("America/Buenos_Aires", "America/Argentina/Buenos_Aires"),
            ("Etc/UTC", "UTC"),
            ("GMT", "UTC"),
        ] {
            assert_eq!(CodeTable::TimeZone.resolve(input), Ok(want), "{input}");
        }
        // Real IANA zones that the seed does not list.
        for input in ["America/New_York", "Europe/London", "Asia/Riyadh", "EST"] {
            assert!(CodeTable::TimeZone.resolve(input).is_err(), "{input}");
            assert!(CodeTable::AnyTimeZone.resolve(input).is_ok(), "{input}");
        }
        let err = CodeTable::TimeZone.resolve("JST").unwrap_err();
        assert_eq!(
            err.suggestions.first().map(String::as_str),
            Some("Asia/Tokyo")
        );
        // Every link points at a listed zone.
        for (link, target) in TIME_ZONE_LINKS {
            assert_eq!(CodeTable::TimeZone.resolve(link), Ok(*target), "{link}");
        }
        for (_, zone) in TIME_ZONE_ABBREVIATIONS {
            assert_eq!(CodeTable::TimeZone.resolve(zone), Ok(*zone));
        }
    }

    #[test]
    fn japanese_names_of_countries_and_languages_resolve() {
        assert_eq!(CodeTable::Country.resolve("日本"), Ok("Japan"));
        assert_eq!(
            CodeTable::Country.resolve("アメリカ合衆国"),
            Ok("UnitedStatesOfAmerica")
        );
        assert_eq!(CodeTable::Country.resolve("韓国"), Ok("RepublicOfKorea"));
        assert_eq!(CodeTable::Language.resolve("日本語"), Ok("ja_JP"));
        assert_eq!(CodeTable::Language.resolve("英語"), Ok("en_US"));
        assert_eq!(CodeTable::Language.resolve("中国語（繁体字）"), Ok("zh_TW"));
        // Every Japanese name belongs to a row of the seed.
        for (canonical, _) in COUNTRIES_JA {
            assert!(
                COUNTRIES.iter().any(|r| r.canonical == *canonical),
                "{canonical}"
            );
        }
        for (canonical, _) in LANGUAGES_JA {
            assert!(
                LANGUAGES.iter().any(|r| r.canonical == *canonical),
                "{canonical}"
            );
        }
        assert_eq!(COUNTRIES_JA.len(), COUNTRIES.len());
        assert_eq!(
            CodeTable::DateFormat.resolve("YYYY年M月D日"),
            Ok("YYYY year M month D day")
        );
    }

    #[test]
    fn date_and_time_formats_tolerate_seed_typos() {
        assert_eq!(
            CodeTable::DateFormat.resolve("YYYYY-MM-DD"),
            Ok("YYYY-MM-DD")
        );
        assert_eq!(
            CodeTable::DateFormat.resolve("DD/MM/YYYYYY"),
            Ok("DD/MM/YYYY")
        );
        assert_eq!(
            CodeTable::DateFormat.resolve("YYYYY year M year D day"),
            Ok("YYYY year M month D day")
        );
        assert_eq!(CodeTable::DateFormat.canonical_values().len(), 7);
        assert_eq!(
            CodeTable::TimeFormat.resolve("hh:mm:ss A"),
            Ok("hh:mm:ss a")
        );
        assert_eq!(CodeTable::TimeFormat.canonical_values().len(), 3);
        assert!(CodeTable::DateFormat.resolve("YY").is_err());
    }
}
