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
            // Never print a password that may sit in the URL.
            StoreUrl::Postgres(url) => f.write_str(&mask_url_password(url)),
        }
    }
}

/// A URL with its password shown as `***`: the one of `user:password@`
/// and every `password=` query parameter (`?password=X`, `&password=X`).
pub fn mask_url_password(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            // The host follows the last `@` (a password may hold `/` or `@`).
            let host_at = rest.rfind('@').unwrap_or(0);
            let end = rest[host_at..]
                .find('/')
                .map_or(rest.len(), |i| host_at + i);
            let (authority, path) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => authority.to_string(),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
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

    #[test]
    fn passwords_are_masked_in_every_place_a_url_holds_them() {
        for (url, shown) in [
            (
                "postgres://me:secret@localhost/db",
                "postgres://me:***@localhost/db",
            ),
            (
                "postgres://me@localhost/db?password=secret",
                "postgres://me@localhost/db?password=***",
            ),
            (
                "postgresql://h/db?sslmode=disable&PASSWORD=secret&user=me",
                "postgresql://h/db?sslmode=disable&PASSWORD=***&user=me",
            ),
            (
                "postgres://me:p@ss:w@rd@h:5432/db?options=-csearch_path%3Dx",
                "postgres://me:***@h:5432/db?options=-csearch_path%3Dx",
            ),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://me:a/b@h/db", "postgres://me:***@h/db"),
        ] {
            let got = url.parse::<StoreUrl>().unwrap().to_string();
            assert_eq!(got, shown, "{url}");
        }
    }
}
