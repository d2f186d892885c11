//! Store URLs: `--db sqlite://userimport.db`, `sqlite:///abs/path.db`, a bare
//! path, or `postgres://…`.

use std::path::PathBuf;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_string()));
        }
        let path = match url.strip_prefix("sqlite://") {
            Some(rest) => rest,
            None if url.contains("://") => {
                return Err(format!(
                    "unsupported store {url:?}: use sqlite://FILE, a file path, or postgres://…"
                ));
            }
            None => url.strip_prefix("sqlite:").unwrap_or(url),
        };
        if path.is_empty() {
            return Err("the store URL names no file: use sqlite://userimport.db".to_string());
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(path)))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres(url) => {
                // Never print a password that may sit in the URL.
                match url.split_once('@') {
                    Some((head, tail)) if head.contains(':') && head.matches(':').count() > 1 => {
                        let scheme_user = head.rsplit_once(':').map_or(head, |(a, _)| a);
                        write!(f, "{scheme_user}:***@{tail}")
                    }
                    _ => f.write_str(url),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_the_cli_documents() {
        let sqlite = |p: &str| Ok(StoreUrl::Sqlite(PathBuf::from(p)));
        assert_eq!("sqlite://userimport.db".parse(), sqlite("userimport.db"));
        assert_eq!("sqlite:///abs/path.db".parse(), sqlite("/abs/path.db"));
        assert_eq!("users.db".parse(), sqlite("users.db"));
        assert_eq!("/tmp/x.db".parse(), sqlite("/tmp/x.db"));
        assert!(matches!(
            "postgres://u@h/db".parse(),
            Ok(StoreUrl::Postgres(_))
        ));
        assert!("mysql://x".parse::<StoreUrl>().is_err());
        let shown = "postgres://me:secret@localhost/db"
            .parse::<StoreUrl>()
            .unwrap()
            .to_string();
        assert!(!shown.contains("secret"), "{shown}");
    }
}
