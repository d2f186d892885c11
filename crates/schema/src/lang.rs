//! The language of the headers a template or an export is written with.

use crate::profile::Column;

/// The language of written headers (`--lang en|ja`). Import matches every
/// language's headers whatever this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Lang {
    /// The English labels (`Login ID`).
    #[default]
    En,
    /// The Japanese labels, as the seed products download them
    /// (`ログインID`); a column without one keeps its English label.
    Ja,
}

impl Lang {
    /// The header a column is written with in this language.
    pub fn label(self, column: &Column) -> &str {
        match self {
            Lang::En => &column.label,
            Lang::Ja => japanese_label(column).unwrap_or(&column.label),
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Lang::En),
            "ja" | "jp" | "japanese" => Ok(Lang::Ja),
            other => Err(format!("unknown language {other:?}: use en or ja")),
        }
    }
}

/// The column's Japanese header: its first alias written in Japanese
/// (kana or kanji).
pub fn japanese_label(column: &Column) -> Option<&str> {
    column
        .aliases
        .iter()
        .map(String::as_str)
        .find(|alias| alias.chars().any(is_japanese))
}

fn is_japanese(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;

    #[test]
    fn japanese_labels_come_from_the_aliases() {
        let profile = Profile::standard();
        let label = |key: &str| Lang::Ja.label(profile.column(key).unwrap());
        assert_eq!(label("login_id"), "ログインID");
        assert_eq!(label("email"), "メールアドレス");
        assert_eq!(label("valid_days_or_due_date"), "有効日数/有効期限");
        assert_eq!(
            Lang::En.label(profile.column("email").unwrap()),
            "Email address"
        );
        let team = Profile::team();
        assert_eq!(Lang::Ja.label(team.column("role").unwrap()), "Role");
    }
}
